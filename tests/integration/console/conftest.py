"""The operator console under test: an app with an operator password, and a signed-in client."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from plugin.app import create_app

PASSWORD = "correct horse battery staple"
OUTSIDE = {"REMOTE_ADDR": "203.0.113.7"}  # a client that is not on this computer
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def make_app(app_config: dict[str, str], **overrides: str) -> Flask:
    application = create_app({**app_config, **overrides})
    application.testing = True
    return application


@pytest.fixture
def console_app(app_config: dict[str, str]) -> Iterator[Flask]:
    application = make_app(app_config, WOM_ADMIN_PASSWORD=PASSWORD)
    yield application
    application.extensions["wordofmouth.engine"].dispose()


def csrf_of(page: str) -> str:
    match = _CSRF.search(page)
    assert match, page
    return match.group(1)


def sign_in(client: FlaskClient, password: str = PASSWORD) -> None:
    page = client.get("/admin/sign-in")
    assert page.status_code == 200, page.text
    answer = client.post("/admin/sign-in", data={"password": password, "csrf_token": csrf_of(page.text)})
    assert answer.status_code == 303, answer.text
    assert answer.headers["Location"].endswith("/admin/")


@pytest.fixture
def operator(console_app: Flask) -> FlaskClient:
    """A client signed in to the console (from outside this computer: the password is what counts)."""
    client = console_app.test_client()
    client.environ_base.update(OUTSIDE)
    sign_in(client)
    return client


def post(client: FlaskClient, form_page: str, action: str, **data: str):  # type: ignore[no-untyped-def]
    """Post ``data`` to ``action`` with the CSRF token of ``form_page`` (as a browser would)."""
    page = client.get(form_page)
    assert page.status_code == 200, page.text
    return client.post(action, data={"csrf_token": csrf_of(page.text), **data})


def session_of(app: Flask):  # type: ignore[no-untyped-def]
    return app.extensions["wordofmouth.sessions"]()
