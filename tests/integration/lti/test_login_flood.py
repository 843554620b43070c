"""Login floods are bounded (issue 9, item 10).

Reproduced before: each ``/lti/login`` inserted a login state row (kept ~20 minutes) and set a
cookie named after its state, path ``/lti/launch``. One address got 1,194 of 2,000 logins through
in 18.6 s across 4 gunicorn workers (the ``/lti/*`` limit counted per process), and ~84 unused
logins made the browser's next launch fail with 431 (request headers too large).

Now a browser keeps the cookies of its newest pending logins only (older ones are expired in the
Set-Cookie of each new login), and logins per client address have a limit of their own
(``WOM_RATE_LIMIT_LOGIN``), counted across workers when the limits live in Redis.
"""

from __future__ import annotations

import logging
import os
import random
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from flask import Flask
from sqlalchemy import func, select

from plugin.app import create_app
from plugin.models import LoginState
from plugin.services.login_states import LOGIN_COOKIES_KEPT
from tests.integration.lti.conftest import Tool, register
from tests.support.lti_platform import LmsPlatform, running_platform
from tests.support.processes import BIN, free_port, stop, wait_for_http

REDIS_URL = os.environ.get("WOM_TEST_REDIS_URL", "redis://127.0.0.1:6379")
IN_CI = os.environ.get("CI", "").lower() == "true"


class Browser:
    """A cookie jar that behaves as a browser's does for our cookies: names, paths, deletions.

    (requests and Flask's test client do not send ``Secure`` cookies over http, or ignore paths.)
    """

    def __init__(self) -> None:
        self.cookies: dict[tuple[str, str], str] = {}  # (path, name) -> value

    def take(self, response: requests.Response | object) -> None:
        headers = response.raw.headers if isinstance(response, requests.Response) else response.headers  # type: ignore[attr-defined]
        for header in headers.getlist("Set-Cookie"):
            pair, *attributes = (part.strip() for part in header.split(";"))
            name, _, value = pair.partition("=")
            options = {k.lower(): v for k, _, v in (a.partition("=") for a in attributes)}
            key = (options.get("path") or "/", name)
            if options.get("max-age") == "0" or "1970" in options.get("expires", ""):
                self.cookies.pop(key, None)
            else:
                self.cookies[key] = value

    def header(self, path: str) -> str:
        sent = [f"{n}={v}" for (p, n), v in self.cookies.items() if path == p or path.startswith(p.rstrip("/") + "/")]
        return "; ".join(sent)

    def login_cookies(self) -> int:
        return sum(1 for (_, name) in self.cookies if name.startswith("wom_lti_"))


def login(lms: LmsPlatform, url: str, browser: Browser, address: str | None = None) -> requests.Response:
    headers = {"Cookie": browser.header("/lti/login")}
    if address:
        headers["X-Forwarded-For"] = address
    response = requests.post(
        url + "/lti/login",
        data={
            "iss": lms.issuer,
            "login_hint": "user-1",
            "target_link_uri": url + "/lti/launch",
            "client_id": lms.client_id,
        },
        headers=headers,
        allow_redirects=False,
        timeout=30,
    )
    browser.take(response)
    return response


def state_of(response: requests.Response) -> tuple[str, str]:
    from urllib.parse import parse_qs, urlsplit

    query = parse_qs(urlsplit(response.headers["Location"]).query)
    return query["state"][0], query["nonce"][0]


def test_a_browser_keeps_only_its_newest_login_cookies_and_its_launch_stays_bound(
    tool: Tool, lms: LmsPlatform, caplog: pytest.LogCaptureFixture
) -> None:
    browser = Browser()
    for _ in range(100):  # unused logins: a reload loop, or a page of many placements
        assert login(lms, tool.url, browser).status_code == 302
        assert browser.login_cookies() <= LOGIN_COOKIES_KEPT
    last = login(lms, tool.url, browser)
    state, nonce = state_of(last)
    cookie_header = browser.header("/lti/launch")
    assert browser.login_cookies() == LOGIN_COOKIES_KEPT
    assert len(cookie_header) < 1200, len(cookie_header)  # ~100 bytes a login; 84 of them made a 431
    assert f"wom_lti_{state}=" in cookie_header

    logger = logging.getLogger("wordofmouth")
    logger.addHandler(caplog.handler)
    try:
        launch = requests.post(
            tool.url + "/lti/launch",
            data={"id_token": lms.sign(lms.claims(nonce, tool.url)), "state": state},
            headers={"Cookie": cookie_header},
            allow_redirects=False,
            timeout=30,
        )
    finally:
        logger.removeHandler(caplog.handler)
    assert launch.status_code == 200, launch.text
    assert any("browser_bound=True" in r.getMessage() for r in caplog.records)
    browser.take(launch)
    assert f"wom_lti_{state}" not in browser.header("/lti/launch")  # the launch removed its own cookie


def test_used_expired_and_foreign_login_cookies_are_expired_at_the_next_login(tool: Tool, lms: LmsPlatform) -> None:
    browser = Browser()
    first = login(lms, tool.url, browser)
    used_state, nonce = state_of(first)
    requests.post(  # launched without its cookie (a browser that dropped it): the state is used
        tool.url + "/lti/launch",
        data={"id_token": lms.sign(lms.claims(nonce, tool.url)), "state": used_state},
        timeout=30,
    )
    browser.cookies[("/lti", "wom_lti_made-up")] = "x"
    browser.cookies[("/lti", "wom_lti_" + "y" * 300)] = "x"
    pending = login(lms, tool.url, browser)
    held = {name for _, name in browser.cookies}
    assert held == {"wom_lti_" + state_of(pending)[0]}


def test_login_cookies_are_sent_to_logins_and_launches(tool: Tool, lms: LmsPlatform) -> None:
    response = login(lms, tool.url, Browser())
    cookie = response.headers["Set-Cookie"]
    for attribute in ("Secure", "HttpOnly", "SameSite=None", "Partitioned", "Path=/lti;"):
        assert attribute in cookie + ";"


# -- rows per address ------------------------------------------------------------------------------
@pytest.fixture
def registered_lms() -> Iterator[LmsPlatform]:
    with running_platform() as platform:
        yield platform


def limited_app(app_config: dict[str, str], lms: LmsPlatform, **settings: str) -> Flask:
    app = create_app({**app_config, **settings})
    register(Tool("http://localhost", app), lms)
    return app


def random_address() -> str:
    """An address no other test run used this minute (Redis keeps counts between runs)."""
    return f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}"


def test_logins_per_address_are_limited_and_bound_the_rows_one_address_creates(
    app_config: dict[str, str], registered_lms: LmsPlatform
) -> None:
    app = limited_app(app_config, registered_lms, WOM_RATE_LIMIT_LOGIN="5 per minute")
    client = app.test_client()
    form = {
        "iss": registered_lms.issuer,
        "login_hint": "u",
        "client_id": registered_lms.client_id,
        "target_link_uri": "http://localhost/lti/launch",
    }
    flood = [client.post("/lti/login", data=form).status_code for _ in range(20)]
    assert flood == [302] * 5 + [429] * 15
    refused = client.post("/lti/login", data=form, headers={"Accept": "text/html"})
    assert refused.headers["Retry-After"] == "60"
    other = client.post("/lti/login", data=form, environ_base={"REMOTE_ADDR": "10.9.8.7"})
    assert other.status_code == 302
    assert client.get("/lti/jwks").status_code == 200  # other /lti/* endpoints keep their own limit
    session = app.extensions["wordofmouth.sessions"]()
    try:
        assert session.scalar(select(func.count()).select_from(LoginState)) == 6
    finally:
        session.close()
        app.extensions["wordofmouth.engine"].dispose()


def redis_problem() -> str | None:
    try:
        import redis
    except ImportError as exc:
        return f"the redis package is not installed ({exc}); pip install -c constraints.txt -e '.[dev]'"
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2, socket_timeout=2).ping()
    except redis.RedisError as exc:
        return f"Redis at {REDIS_URL} does not answer: {exc}"
    return None


@pytest.fixture
def redis_url() -> str:
    problem = redis_problem()
    if problem:
        if IN_CI:
            pytest.fail(f"Redis is required in CI (.ci/run starts it): {problem}", pytrace=False)
        pytest.skip(problem)
    return REDIS_URL


def test_with_redis_two_workers_share_one_count(
    app_config: dict[str, str], registered_lms: LmsPlatform, redis_url: str
) -> None:
    """Two apps stand for two gunicorn workers: with Redis, an address's logins add up across them."""
    settings = {"WOM_RATE_LIMIT_LOGIN": "6 per minute", "WOM_RATE_LIMIT_STORAGE_URL": redis_url}
    first = limited_app(app_config, registered_lms, **settings)
    second = create_app({**app_config, **settings})
    address = {"REMOTE_ADDR": random_address()}
    form = {
        "iss": registered_lms.issuer,
        "login_hint": "u",
        "client_id": registered_lms.client_id,
        "target_link_uri": "http://localhost/lti/launch",
    }
    try:
        clients = [first.test_client(), second.test_client()]
        statuses = [clients[i % 2].post("/lti/login", data=form, environ_base=address).status_code for i in range(10)]
        assert statuses == [302] * 6 + [429] * 4
    finally:
        first.extensions["wordofmouth.engine"].dispose()
        second.extensions["wordofmouth.engine"].dispose()


def test_in_process_memory_each_worker_counts_alone(app_config: dict[str, str], registered_lms: LmsPlatform) -> None:
    """Why Redis is the production setting: with memory:// each worker lets the whole limit through."""
    settings = {"WOM_RATE_LIMIT_LOGIN": "6 per minute", "WOM_RATE_LIMIT_STORAGE_URL": "memory://"}
    first = limited_app(app_config, registered_lms, **settings)
    second = create_app({**app_config, **settings})
    form = {
        "iss": registered_lms.issuer,
        "login_hint": "u",
        "client_id": registered_lms.client_id,
        "target_link_uri": "http://localhost/lti/launch",
    }
    try:
        clients = [first.test_client(), second.test_client()]
        statuses = [clients[i % 2].post("/lti/login", data=form).status_code for i in range(12)]
        assert statuses == [302] * 12
    finally:
        first.extensions["wordofmouth.engine"].dispose()
        second.extensions["wordofmouth.engine"].dispose()


def test_gunicorn_workers_with_redis_let_one_address_through_once(
    app_config: dict[str, str], tmp_path: Path, redis_url: str
) -> None:
    """The reproduction, small: 4 workers, 60 logins from one address, a limit of 20 a minute."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    config = {
        **app_config,
        "WOM_BASE_URL": base_url,
        "WOM_RATE_LIMIT_LOGIN": "20 per minute",
        "WOM_RATE_LIMIT_STORAGE_URL": redis_url,
        "WOM_TRUSTED_PROXIES": "1",  # the test names its address in X-Forwarded-For
    }
    with running_platform() as lms:
        admin = create_app(config)
        register(Tool(base_url, admin), lms)
        admin.extensions["wordofmouth.engine"].dispose()
        env = {k: v for k, v in os.environ.items() if not k.startswith("WOM_")}
        env.update(config)
        server = subprocess.Popen(
            [str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", "4", "plugin:create_app()"],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            wait_for_http(base_url + "/healthz", server)
            address = random_address()
            statuses = [login(lms, base_url, Browser(), address).status_code for _ in range(60)]
        finally:
            stop(server)
    assert statuses.count(302) == 20, statuses
    assert statuses.count(429) == 40
