"""Rate limits: the LTI endpoints per client address, the widget API per launch token."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask

from plugin.app import create_app
from plugin.errors import ConfigurationError
from plugin.settings import load_settings


@pytest.fixture
def limited_app(app_config: dict[str, str]):  # type: ignore[no-untyped-def]
    app = create_app({**app_config, "WOM_RATE_LIMIT_LTI": "3 per minute", "WOM_RATE_LIMIT_API": "2 per minute"})
    yield app
    app.extensions["wordofmouth.engine"].dispose()


def test_lti_endpoints_answer_429_with_a_readable_page(limited_app: Flask) -> None:
    client = limited_app.test_client()
    statuses = [client.post("/lti/login", data={}).status_code for _ in range(4)]
    assert statuses == [400, 400, 400, 429]
    response = client.post("/lti/login", data={}, headers={"Accept": "text/html"})
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "60"
    assert "Wait a minute, then try again" in response.get_data(as_text=True)
    other_address = client.post("/lti/login", data={}, environ_base={"REMOTE_ADDR": "10.9.8.7"})
    assert other_address.status_code == 400


def test_widget_api_is_limited_per_token_not_per_address(limited_app: Flask) -> None:
    client = limited_app.test_client()
    first = [client.get("/api/v1/me", headers={"Authorization": "Bearer a"}).status_code for _ in range(3)]
    assert first == [401, 401, 429]
    other_learner = client.get("/api/v1/me", headers={"Authorization": "Bearer b"})
    assert other_learner.status_code == 401
    assert client.get("/api/v1/me", headers={"Authorization": "Bearer a"}).get_json()["status"] == 429


def test_limits_can_be_switched_off(app_config: dict[str, str]) -> None:
    app = create_app({**app_config, "WOM_RATE_LIMIT_LTI": "off"})
    client = app.test_client()
    assert {client.post("/lti/login", data={}).status_code for _ in range(5)} == {400}
    app.extensions["wordofmouth.engine"].dispose()


def test_behind_a_proxy_the_forwarded_address_counts(app_config: dict[str, str]) -> None:
    app = create_app({**app_config, "WOM_RATE_LIMIT_LTI": "1 per minute", "WOM_TRUSTED_PROXIES": "1"})
    client = app.test_client()
    assert client.post("/lti/login", headers={"X-Forwarded-For": "198.51.100.1"}).status_code == 400
    assert client.post("/lti/login", headers={"X-Forwarded-For": "198.51.100.2"}).status_code == 400
    assert client.post("/lti/login", headers={"X-Forwarded-For": "198.51.100.2"}).status_code == 429
    app.extensions["wordofmouth.engine"].dispose()


@pytest.mark.parametrize(
    ("name", "value", "reason"),
    [("WOM_RATE_LIMIT_LTI", "lots", "must look like"), ("WOM_TRUSTED_PROXIES", "-1", "must not be negative")],
)
def test_bad_limit_settings_are_refused(tmp_path: Path, name: str, value: str, reason: str) -> None:
    with pytest.raises(ConfigurationError, match=reason):
        load_settings(environ={"WOM_INSTANCE_PATH": str(tmp_path), name: value})
