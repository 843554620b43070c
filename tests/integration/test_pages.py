"""Pages an admin or a client meets outside a launch (issue 9, item 19)."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from flask import Flask

from plugin.app import create_app
from tests.integration.test_cli import WORDOFMOUTH, run_cli
from tests.integration.test_rate_limits import limited_app  # noqa: F401 -- a fixture
from tests.support.processes import BIN, free_port, stop, wait_for_http

JSON = {"Accept": "application/json"}
HTML = {"Accept": "text/html"}


def test_the_launch_address_opened_in_a_browser_says_what_it_is_for(client) -> None:  # type: ignore[no-untyped-def]
    page = client.get("/lti/launch", headers=HTML)
    assert page.status_code == 405 and page.headers["Allow"] == "POST"
    text = page.get_data(as_text=True)
    assert page.mimetype == "text/html"
    assert "This is the LTI launch address" in text and "open Word of Mouth from a course" in text
    assert page.headers["X-Request-Id"] in text
    problem = client.get("/lti/launch", headers=JSON)
    assert problem.status_code == 405 and problem.mimetype == "application/problem+json"
    assert problem.get_json()["title"] == "This is the LTI launch address"


def test_json_clients_of_lti_get_problem_details(client) -> None:  # type: ignore[no-untyped-def]
    refused = client.post("/lti/login", data={}, headers=JSON)
    assert refused.status_code == 400 and refused.mimetype == "application/problem+json"
    body = refused.get_json()
    assert body["status"] == 400 and body["instance"] == "/lti/login"
    assert body["request_id"] == refused.headers["X-Request-Id"]
    assert client.post("/lti/launch", data={}, headers=JSON).mimetype == "application/problem+json"
    assert client.get("/lti/nothing-here", headers=JSON).mimetype == "application/problem+json"
    assert client.post("/lti/login", data={}, headers=HTML).mimetype == "text/html"


def test_the_429_page_carries_the_request_id(limited_app: Flask) -> None:  # noqa: F811
    client = limited_app.test_client()
    statuses = [client.post("/lti/login", data={}, headers=HTML) for _ in range(4)]
    limited = statuses[-1]
    assert limited.status_code == 429
    assert f"request id <code>{limited.headers['X-Request-Id']}</code>" in limited.get_data(as_text=True)


def test_favicon_is_served(client) -> None:  # type: ignore[no-untyped-def]
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.mimetype == "image/vnd.microsoft.icon"
    assert icon.data[:4] == b"\x00\x00\x01\x00"  # an ICO header
    assert "max-age" in icon.headers["Cache-Control"]
    assert '<link rel="icon" href="/favicon.ico">' in client.get("/").get_data(as_text=True)


def test_the_home_page_links_the_pages_a_person_may_open(app_config: dict[str, str]) -> None:
    app = create_app({**app_config, "WOM_DEMO": "1"})
    try:
        page = app.test_client().get("/")
        text = page.get_data(as_text=True)
        assert page.status_code == 200 and "Word of Mouth is running" in text
        assert '<a href="http://localhost/demo/">http://localhost/demo/</a>' in text
        assert '<a href="http://localhost/healthz">' in text
        assert '<a href="http://localhost/lti/launch">' not in text  # an address for the LMS, not a page
    finally:
        app.extensions["wordofmouth.engine"].dispose()


def test_the_home_page_does_not_say_running_without_its_database(app_config: dict[str, str], tmp_path: Path) -> None:
    unreachable = f"sqlite:///{tmp_path / 'missing-folder' / 'wom.db'}"
    app = create_app({**app_config, "WOM_DATABASE_URL": unreachable})
    try:
        client = app.test_client()
        assert client.get("/healthz").status_code == 503
        page = client.get("/")
        text = page.get_data(as_text=True)
        assert page.status_code == 503
        assert "Word of Mouth is running" not in text and "cannot reach its database" in text
    finally:
        app.extensions["wordofmouth.engine"].dispose()


@pytest.fixture(params=["wordofmouth run", "gunicorn"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The service on a free loopback port, as `make run` or production starts it."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("WOM_")}
    env.update(WOM_BASE_URL=f"http://127.0.0.1:{port}", WOM_INSTANCE_PATH=str(tmp_path / "instance"))
    assert run_cli("db", "upgrade", env={"WOM_INSTANCE_PATH": env["WOM_INSTANCE_PATH"]}, cwd=tmp_path).returncode == 0
    if request.param == "gunicorn":
        command = [str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", "1", "plugin:create_app()"]
    else:
        command = [WORDOFMOUTH, "run", "--host", "127.0.0.1", "--port", str(port)]
    process = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_for_http(f"http://127.0.0.1:{port}/healthz", process)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(process)


def test_an_address_too_long_gets_our_page(server: str) -> None:
    response = requests.get(f"{server}/?q={'a' * 100_000}", timeout=60)
    assert response.status_code == 414
    assert response.headers["Content-Type"].startswith("text/html")
    text = response.text
    assert "<title>Request URI Too Long \N{EN DASH} Word of Mouth</title>" in text
    assert "The address is too long to read" in text
    request_id = response.headers["X-Request-Id"]
    assert re.fullmatch(r"[0-9a-f]{32}", request_id) and f"<code>{request_id}</code>" in text
    assert "Content-Security-Policy" in response.headers
    # The server is still fine afterwards.
    assert requests.get(f"{server}/healthz", timeout=60).status_code == 200
