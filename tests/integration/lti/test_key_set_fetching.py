"""Fetching a platform's key set is bounded: no cross-origin redirects, a size cap, a total
deadline and https in production (issue 9, item 2). Tiny servers on 127.0.0.1 misbehave on purpose."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import update

from lti.keysets import KeySetError, PlatformKeySets
from plugin.models import Platform
from tests.integration.lti.conftest import Tool
from tests.support.lti_platform import LmsPlatform


class Behaviour:
    """What a handler does: a function of (handler, stop event); counts requests."""

    def __init__(self, respond) -> None:  # type: ignore[no-untyped-def]
        self.respond = respond
        self.requests = 0
        self.stop = threading.Event()


@contextmanager
def tiny_server(behaviour: Behaviour) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            behaviour.requests += 1
            with contextlib.suppress(OSError):  # the client hung up: expected
                behaviour.respond(self, behaviour.stop)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        behaviour.stop.set()
        server.shutdown()
        server.server_close()


def redirect_to(location: str) -> Behaviour:
    def respond(handler: BaseHTTPRequestHandler, _stop: threading.Event) -> None:
        handler.send_response(302)
        handler.send_header("Location", location)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    return Behaviour(respond)


def serve_json(body: dict[str, Any]) -> Behaviour:
    def respond(handler: BaseHTTPRequestHandler, _stop: threading.Event) -> None:
        data = json.dumps(body).encode()
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    return Behaviour(respond)


def set_key_set_url(tool: Tool, url: str) -> None:
    session = tool.session()
    session.execute(update(Platform).values(key_set_url=url))
    session.commit()
    session.close()


def test_a_redirect_to_another_origin_is_not_followed(tool: Tool, lms: LmsPlatform, browser) -> None:
    # The real key set, one port away: following the redirect would make the launch succeed.
    with tiny_server(redirect_to(lms.base_url + "/jwks")) as redirector:
        set_key_set_url(tool, redirector + "/jwks")
        response = lms.launch(browser, tool.url)
    assert response.status_code == 400, response.text
    assert "redirects to another origin" in response.text
    assert lms.jwks_requests == 0


def test_a_redirect_within_the_origin_is_followed(tool: Tool, lms: LmsPlatform, browser) -> None:
    keys = {"keys": [k.public_jwk() for k in lms.keys]}

    def respond(handler: BaseHTTPRequestHandler, stop: threading.Event) -> None:
        if handler.path == "/old":
            return redirect_to("/new").respond(handler, stop)
        return serve_json(keys).respond(handler, stop)

    with tiny_server(Behaviour(respond)) as server:
        set_key_set_url(tool, server + "/old")
        response = lms.launch(browser, tool.url)
    assert response.status_code == 200, response.text


def endless_body(declare_length: bool) -> Behaviour:
    """A 300 MB answer, sent as fast as the client reads it."""

    def respond(handler: BaseHTTPRequestHandler, stop: threading.Event) -> None:
        total = 300 * 1024 * 1024
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        if declare_length:
            handler.send_header("Content-Length", str(total))
        handler.end_headers()
        chunk = b'{"keys": [' + b" " * (64 * 1024 - 10)
        sent = 0
        while sent < total and not stop.is_set():
            handler.wfile.write(chunk)
            sent += len(chunk)
            behaviour.sent = sent

    behaviour = Behaviour(respond)
    behaviour.sent = 0  # type: ignore[attr-defined]
    return behaviour


@pytest.mark.parametrize("declare_length", [True, False], ids=["content-length", "no-length"])
def test_a_huge_key_set_is_not_read(declare_length: bool) -> None:
    behaviour = endless_body(declare_length)
    with tiny_server(behaviour) as server, pytest.raises(KeySetError, match="larger than 1024 KB"):
        PlatformKeySets().key(server + "/jwks", "kid")
    assert behaviour.sent < 32 * 1024 * 1024  # type: ignore[attr-defined] # stopped near the cap, not at 300 MB


def test_a_huge_key_set_refuses_the_launch(tool: Tool, lms: LmsPlatform, browser) -> None:
    with tiny_server(endless_body(False)) as server:
        set_key_set_url(tool, server + "/jwks")
        response = lms.launch(browser, tool.url)
    assert response.status_code == 400, response.text
    assert "larger than 1024 KB" in response.text


def trickle(every: float) -> Behaviour:
    """Headers, then one byte of a body every ``every`` seconds: no read ever times out."""

    def respond(handler: BaseHTTPRequestHandler, stop: threading.Event) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.end_headers()
        handler.wfile.flush()
        while not stop.wait(every):
            handler.wfile.write(b" ")
            handler.wfile.flush()

    return Behaviour(respond)


def slow_headers(every: float) -> Behaviour:
    """A status line, then one header byte every ``every`` seconds."""

    def respond(handler: BaseHTTPRequestHandler, stop: threading.Event) -> None:
        handler.wfile.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
        handler.wfile.flush()
        while not stop.wait(every):
            handler.wfile.write(b"a")
            handler.wfile.flush()

    return Behaviour(respond)


@pytest.mark.parametrize("make", [trickle, slow_headers], ids=["body", "headers"])
def test_a_trickling_key_set_is_given_up_at_the_deadline(make) -> None:  # type: ignore[no-untyped-def]
    behaviour = make(0.3)
    key_sets = PlatformKeySets(timeout=2.0, deadline=1.5)
    with tiny_server(behaviour) as server:
        started = time.monotonic()
        with pytest.raises(KeySetError, match=r"no complete answer within 1\.5 s"):
            key_sets.key(server + "/jwks", "kid")
        elapsed = time.monotonic() - started
    assert behaviour.requests == 1
    # The deadline, not the per-read timeout times the number of bytes (generous for a loaded machine).
    assert elapsed < 1.5 + 3.0


def test_production_fetches_https_only(tool: Tool, lms: LmsPlatform) -> None:
    with pytest.raises(KeySetError, match="must be https in production"):
        PlatformKeySets(https_only=True).key(lms.base_url + "/jwks", lms.key.kid)
    assert lms.jwks_requests == 0
    # Development accepts http (the demo LMS and tests serve key sets on loopback).
    assert PlatformKeySets().key(lms.base_url + "/jwks", lms.key.kid) is not None


def test_the_app_fetches_https_only_in_production(app_config: dict[str, str]) -> None:
    from plugin.app import create_app

    production = create_app(
        {**app_config, "WOM_ENV": "production", "WOM_BASE_URL": "https://tool.example.org", **PRODUCTION_EXTRA}
    )
    try:
        assert production.extensions["wordofmouth.key_sets"].https_only is True
    finally:
        production.extensions["wordofmouth.engine"].dispose()
    development = create_app(app_config)
    try:
        assert development.extensions["wordofmouth.key_sets"].https_only is False
    finally:
        development.extensions["wordofmouth.engine"].dispose()


PRODUCTION_EXTRA: dict[str, str] = {"WOM_KEY_ENCRYPTION_KEYS": Fernet.generate_key().decode()}
