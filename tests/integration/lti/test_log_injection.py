"""Untrusted values never forge log lines: CR, LF and other control characters are escaped."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from plugin.app import OneLineFormatter, escape_log_text
from tests.integration.lti.conftest import Tool
from tests.support.lti_platform import LmsPlatform

FORGED = "\n2026-01-01 00:00:00,000 CRITICAL [-] wordofmouth: database wiped\r\x1b[2Kok\u2028x"


@contextmanager
def tool_log() -> Iterator[io.StringIO]:
    handler = logging.getLogger("wordofmouth").handlers[0]
    buffer = io.StringIO()
    # Not setStream(): it flushes the old stream, which may be a closed capture of an earlier test.
    previous, handler.stream = handler.stream, buffer  # type: ignore[attr-defined]
    try:
        yield buffer
    finally:
        handler.stream = previous  # type: ignore[attr-defined]


def test_a_refused_target_link_uri_with_crlf_stays_on_one_line(tool: Tool, lms: LmsPlatform, browser) -> None:
    with tool_log() as buffer:
        response = lms.post_login(browser, tool.url, target_link_uri="https://elsewhere.example/x" + FORGED)
    assert response.status_code == 400
    lines = buffer.getvalue().splitlines()
    refused = [line for line in lines if "refused" in line]
    assert len(refused) == 1, lines
    assert "\\n2026-01-01 00:00:00,000 CRITICAL" in refused[0]
    assert "\\r\\x1b[2Kok\\u2028x" in refused[0]
    assert not any(line.startswith("2026-01-01") for line in lines)


def test_the_formatter_escapes_every_control_character() -> None:
    record = logging.LogRecord(
        "wordofmouth.lti", logging.WARNING, __file__, 1, "value=%s", ("a\r\nb\tc\x00\x85",), None
    )
    line = OneLineFormatter("%(levelname)s %(message)s").format(record)
    assert line == "WARNING value=a\\r\\nb\\tc\\x00\\x85"
    assert escape_log_text("plain ASCII and ünïcödé") == "plain ASCII and ünïcödé"


def test_json_logs_keep_each_record_one_parseable_line(app_config: dict[str, str]) -> None:
    import json

    from plugin.app import create_app
    from plugin.errors import ConfigurationError

    app = create_app({**app_config, "WOM_LOG_FORMAT": "json"})
    try:
        with tool_log() as buffer:
            response = app.test_client().post(
                "/lti/login",
                data={"iss": "https://lms.example.org" + FORGED, "login_hint": "u", "target_link_uri": "x"},
            )
        assert response.status_code in (400, 403)
        lines = buffer.getvalue().splitlines()
        records = [json.loads(line) for line in lines]
        (refused,) = [r for r in records if "refused" in r["message"]]
        assert refused["level"] == "WARNING" and refused["logger"] == "wordofmouth.lti"
        assert "\nFORGED".replace("FORGED", "2026-01-01") in refused["message"]  # the value, intact once parsed
        assert refused["request_id"] == response.headers["X-Request-Id"]
        assert "\u2028" not in buffer.getvalue()
    finally:
        app.extensions["wordofmouth.engine"].dispose()
        create_app(app_config).extensions["wordofmouth.engine"].dispose()  # text logs again for later tests
    with pytest.raises(ConfigurationError, match="WOM_LOG_FORMAT must be text or json"):
        create_app({**app_config, "WOM_LOG_FORMAT": "xml"})
