from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from plugin.app import create_app
from tests.conftest import TEST_SECRET


def test_healthz_reports_a_reachable_database(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok"}


@pytest.mark.parametrize(
    "unreachable_url",
    [
        "sqlite:////nonexistent-folder-for-wom/wordofmouth.db",
        "postgresql+psycopg://postgres@127.0.0.1:1/test?connect_timeout=2",
    ],
    ids=["sqlite-missing-folder", "postgresql-closed-port"],
)
def test_healthz_answers_503_when_the_database_is_unreachable(tmp_path: Path, unreachable_url: str) -> None:
    app = create_app(
        {"WOM_DATABASE_URL": unreachable_url, "WOM_INSTANCE_PATH": str(tmp_path), "WOM_SECRET_KEY": TEST_SECRET}
    )
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json() == {"status": "unavailable", "database": "unreachable"}


def test_unknown_api_route_gets_problem_details(client: FlaskClient) -> None:
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["status"] == 404
    assert body["title"] == "Not Found"
    assert body["type"] == "about:blank"
    assert body["instance"] == "/api/v1/nothing-here"
    assert body["detail"]
    assert body["request_id"] == response.headers["X-Request-Id"]


def test_unknown_page_gets_a_friendly_html_page(client: FlaskClient) -> None:
    response = client.get("/no/such/page", headers={"Accept": "text/html"})
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert "<h1>Not Found</h1>" in page
    assert response.headers["X-Request-Id"] in page


def test_json_clients_get_problem_details_anywhere(client: FlaskClient) -> None:
    response = client.get("/no/such/page", headers={"Accept": "application/json"})
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["status"] == 404


def test_wrong_method_is_a_405_problem_with_allow(client: FlaskClient) -> None:
    response = client.post("/healthz")
    assert response.status_code == 405
    assert response.get_json()["status"] == 405
    assert "GET" in response.headers["Allow"]


def test_unexpected_error_shows_no_stack_trace_and_logs_request_id(
    app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    app.testing = False  # let the error handler answer, as in production

    @app.get("/boom")
    def boom() -> str:
        raise RuntimeError("secret internals")

    import logging

    logging.getLogger("wordofmouth").addHandler(caplog.handler)
    try:
        response = app.test_client().get("/boom", headers={"X-Request-Id": "req-12345678"})
    finally:
        logging.getLogger("wordofmouth").removeHandler(caplog.handler)
    page = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "Traceback" not in page and "secret internals" not in page
    assert "req-12345678" in page
    assert any(getattr(r, "request_id", None) == "req-12345678" for r in caplog.records)


def test_unsafe_incoming_request_id_is_replaced(client: FlaskClient) -> None:
    response = client.get("/healthz", headers={"X-Request-Id": "<script>alert(1)</script>"})
    assert "<" not in response.headers["X-Request-Id"]
    assert len(response.headers["X-Request-Id"]) == 32


def test_landing_page_lists_admin_urls_from_base_url(client: FlaskClient) -> None:
    page = client.get("/").get_data(as_text=True)
    assert "http://localhost/healthz" in page


def test_pages_carry_a_strict_script_policy_but_may_be_framed(client: FlaskClient) -> None:
    response = client.get("/")
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
    assert "X-Frame-Options" not in response.headers
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_unreachable_database_on_a_page_is_a_503_with_retry(tmp_path: Path) -> None:
    app = create_app(
        {
            "WOM_DATABASE_URL": "sqlite:////nonexistent-folder-for-wom/wordofmouth.db",
            "WOM_INSTANCE_PATH": str(tmp_path),
            "WOM_SECRET_KEY": TEST_SECRET,
        }
    )
    response = app.test_client().get("/lti/jwks")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert response.get_json()["detail"].startswith("The database is busy or cannot be reached")
