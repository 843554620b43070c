"""Refused launches kept for the console (recorded in their own transaction, bounded, escaped,
found by the code a learner gives) and LRS delivery per platform."""

from __future__ import annotations

import html
import logging
from datetime import timedelta

import requests
from flask import Flask
from sqlalchemy import func, select

from plugin.db import utcnow
from plugin.models import LaunchFailure, LrsSettings, OutboxStatement, OutboxStatus
from plugin.services import launch_failures
from tests.integration.console.conftest import make_app, session_of
from tests.integration.lti import conftest as lti_fixtures
from tests.integration.lti.conftest import Tool
from tests.support.factories import make_platform
from tests.support.lti_platform import LmsPlatform

tool = lti_fixtures.tool
lms = lti_fixtures.lms

HOSTILE_ISSUER = 'https://evil.example/"><script>alert("issuer")</script>'


def _failures(app: Flask) -> list[LaunchFailure]:
    session = session_of(app)
    try:
        return launch_failures.recent(session, 1000)
    finally:
        session.close()


def test_a_refused_launch_is_found_by_its_code(tool: Tool, lms: LmsPlatform) -> None:
    with requests.Session() as browser:
        refused = lms.launch(
            browser, tool.url, token=lambda body, _r: lms.sign({**body, "iss": "https://moodle.unknown.example"})
        )
    assert refused.status_code == 403
    code = refused.headers["X-Request-Id"]
    assert f'<code class="refusal-code">{code}</code>' in refused.text
    assert "tell your LMS administrator this code:" in refused.text
    console = tool.app.test_client()  # development without a password: open to loopback
    page = console.get("/admin/failures", query_string={"code": f"  {code} "})
    assert page.status_code == 200
    assert "1 failure with the code" in page.text
    assert "unknown issuer https://moodle.unknown.example" in page.text
    assert html.escape("Register it with `wordofmouth platform add", quote=True) in page.text  # the fix
    assert "lti.launch" in page.text
    (failure,) = [f for f in _failures(tool.app) if f.request_id == code]
    assert failure.status == 403 and failure.issuer == "https://moodle.unknown.example"
    assert "0 failures with the code no-such-code." in console.get("/admin/failures?code=no-such-code").text


def test_every_refused_login_is_kept_newest_first_and_bounded(app_config: dict[str, str]) -> None:
    app = make_app(app_config, WOM_LAUNCH_FAILURES_KEPT="10")
    client = app.test_client()
    codes = []
    for n in range(12):
        answer = client.post(
            "/lti/login",
            data={
                "iss": f"https://lms{n}.example",
                "login_hint": "u",
                "target_link_uri": "http://localhost/lti/launch",
            },
        )
        assert answer.status_code == 400 or answer.status_code == 403, answer.text
        codes.append(answer.headers["X-Request-Id"])
    kept = _failures(app)
    assert [f.request_id for f in kept] == list(reversed(codes))[:10]
    assert all(f.endpoint == "lti.login" for f in kept)
    assert kept[0].issuer == "https://lms11.example"  # what the login named, for the console
    page = client.get("/admin/failures").text
    assert page.index(codes[-1]) < page.index(codes[-2])  # newest first
    assert codes[0] not in page
    assert "the newest 10 are kept" in page
    app.extensions["wordofmouth.engine"].dispose()


def test_hostile_values_are_shown_as_text(app: Flask) -> None:
    session = session_of(app)
    try:
        launch_failures.record(
            session,
            launch_failures.Refusal(
                request_id="code-<b>bold</b>",
                endpoint="lti.launch",
                status=400,
                reason='the claim said <img src=x onerror="alert(1)">',
                hint="<script>alert('hint')</script>",
                issuer=HOSTILE_ISSUER,
                client_id="<svg onload=alert(2)>",
                deployment_id="</td></tr><tr><td>forged",
            ),
            keep=100,
        )
        session.commit()
    finally:
        session.close()
    client = app.test_client()
    for page in (client.get("/admin/failures").text, client.get("/admin/failures?code=code-<b>bold</b>").text):
        for raw in ("<script>", "<img src=x", "<svg", "<b>bold", "</td></tr><tr><td>forged"):
            assert raw not in page, raw
        assert "&lt;script&gt;alert(&#34;issuer&#34;)&lt;/script&gt;" in page
        assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in page
    assert client.get("/admin/").status_code == 200


def test_recording_never_fails_the_refusal(app: Flask, monkeypatch, caplog) -> None:  # type: ignore[no-untyped-def]
    def broken(*_args, **_kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("the database is having a bad day")

    monkeypatch.setattr(launch_failures, "record", broken)
    client = app.test_client()
    with caplog.at_level(logging.ERROR, logger="wordofmouth.lti"):
        answer = client.post(
            "/lti/login",
            data={
                "iss": "https://unknown.example",
                "login_hint": "u",
                "target_link_uri": "http://localhost/lti/launch",
            },
        )
    assert answer.status_code in (400, 403)
    assert "refusal-code" in answer.text
    assert "could not record the refusal" in caplog.text


def test_a_refused_placement_form_is_kept(app: Flask) -> None:
    client = app.test_client()
    answer = client.post("/lti/deep-linking/respond", data={})
    assert answer.status_code == 403
    (failure,) = _failures(app)
    assert failure.endpoint == "lti.deep_linking_respond" and failure.status == 403
    assert failure.reason == "This placement form was not issued by Word of Mouth for this launch."
    assert failure.request_id == answer.headers["X-Request-Id"]
    assert failure.hint


def test_delivery_per_platform(app_config: dict[str, str]) -> None:
    app = make_app(app_config, WOM_LRS_ENDPOINT="https://lrs.example/xAPI/")
    session = session_of(app)
    try:
        own = make_platform(session, "own")
        default = make_platform(session, "default")
        session.add(LrsSettings(platform_id=own.id, endpoint="https://own-lrs.example/xAPI/", password="secret-pw"))
        old = utcnow() - timedelta(hours=2, minutes=5)
        rows = [
            (own, OutboxStatus.PENDING, old, None),
            (own, OutboxStatus.PENDING, utcnow(), "HTTP 503 <b>busy</b>"),
            (own, OutboxStatus.DELIVERED, old, None),
            (own, OutboxStatus.FAILED, old, "HTTP 400: <script>bad statement</script>"),
            (default, OutboxStatus.DELIVERED, old, None),
        ]
        for n, (platform, status, created, error) in enumerate(rows):
            session.add(
                OutboxStatement(
                    platform_id=platform.id,
                    statement_id=f"00000000-0000-4000-8000-{n:012d}",
                    verb="http://adlnet.gov/expapi/verbs/rated",
                    statement={"id": n},
                    status=status,
                    created_at=created,
                    last_error=error,
                )
            )
        session.commit()
    finally:
        session.close()
    page = app.test_client().get("/admin/delivery").text
    own_row = page[page.index("LMS OWN") : page.index("</tr>", page.index("LMS OWN"))]
    cells = [c.split(">", 1)[1].split("</td>")[0].strip() for c in own_row.split("<td")[1:]]
    assert "https://own-lrs.example/xAPI/" in cells[0] and "its own" in cells[0]
    assert cells[1:4] == ["2", "2 h 5 min", "1"]
    assert ">1<" in cells[4]
    assert "&lt;script&gt;bad statement&lt;/script&gt;" in cells[5]  # the newest error, escaped
    default_row = page[page.index("LMS DEFAULT") : page.index("</tr>", page.index("LMS DEFAULT"))]
    assert "https://lrs.example/xAPI/" in default_row and "(default)" in default_row
    assert "secret-pw" not in page
    overview = app.test_client().get("/admin/").text
    assert "statements waiting" in overview and "1 refused by the LRS" in overview
    app.extensions["wordofmouth.engine"].dispose()


def test_no_lrs_configured(app: Flask) -> None:
    session = session_of(app)
    try:
        make_platform(session, "lonely")
        session.commit()
    finally:
        session.close()
    page = app.test_client().get("/admin/delivery").text
    assert "none configured" in page and "No default LRS is set" in page
    session = session_of(app)
    try:
        assert session.scalar(select(func.count()).select_from(OutboxStatement)) == 0
    finally:
        session.close()


def test_a_refused_dynamic_registration_is_kept(app: Flask) -> None:
    client = app.test_client()
    answer = client.get(
        "/lti/register",
        query_string={
            "openid_configuration": "https://lms.example/conf",
            "registration_token": "t",
            "wom_token": "not-issued",
        },
    )
    assert answer.status_code == 403
    (failure,) = _failures(app)
    assert failure.endpoint == "lti.register" and failure.request_id == answer.headers["X-Request-Id"]
    assert "registration URL is not one Word of Mouth issued" in client.get("/admin/failures").text
