"""Tool key rotation and registration URLs from the console."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from plugin.db import utcnow
from plugin.models import RegistrationToken
from plugin.models.platform import KeyStatus
from plugin.services import registration_tokens, tool_keys
from plugin.services.registration_tokens import TokenRefusedError
from tests.integration.console.conftest import csrf_of, post, session_of
from tests.support.factories import make_platform


def _active_kid(app: Flask) -> str:
    session = session_of(app)
    try:
        return next(k.kid for k in tool_keys.list_keys(session) if k.status == KeyStatus.ACTIVE)
    finally:
        session.close()


def _next_kid(app: Flask) -> str:
    session = session_of(app)
    try:
        return next(k.kid for k in tool_keys.list_keys(session) if k.status == KeyStatus.NEXT)
    finally:
        session.close()


def test_rotation_promotes_the_next_key(operator: FlaskClient, console_app: Flask) -> None:
    page = operator.get("/admin/keys")
    assert page.status_code == 200
    before, upcoming = _active_kid(console_app), _next_kid(console_app)
    assert before in page.text and upcoming in page.text
    assert "stays published for 2 days" in page.text
    confirm = operator.get("/admin/keys/rotate")
    assert "The published next key starts signing now." in confirm.text
    answer = operator.post("/admin/keys/rotate", data={"csrf_token": csrf_of(confirm.text)})
    assert answer.status_code == 303 and answer.headers["Location"] == "/admin/keys"
    assert _active_kid(console_app) == upcoming != before
    after = operator.get("/admin/keys").text
    assert f"Keys rotated: now signing with {upcoming}" in after
    assert "retired: still published" in after


def _url_in(page: str) -> str:
    start = page.index('id="created-url" value="') + len('id="created-url" value="')
    return page[start : page.index('"', start)]


def test_a_registration_url_is_shown_once_and_its_token_works(operator: FlaskClient, console_app: Flask) -> None:
    answer = post(operator, "/admin/registration", "/admin/registration", expires="24h", note="Acme <Moodle>")
    assert answer.status_code == 201
    assert "shown only once" in answer.text
    url = _url_in(answer.text)
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == "http://localhost/lti/register"
    token = parse_qs(parts.query)["wom_token"][0]
    session = session_of(console_app)
    try:
        row = registration_tokens.check(session, token)
        assert row.note == "Acme <Moodle>"
        assert timedelta(hours=23, minutes=59) < row.expires_at - utcnow() <= timedelta(hours=24)
    finally:
        session.close()
    later = operator.get("/admin/registration").text
    assert token not in later  # shown once: the database keeps only its digest
    assert "Acme &lt;Moodle&gt;" in later and "unused" in later


@pytest.mark.parametrize(("choice", "hours"), [("1h", 1), ("7d", 24 * 7)])
def test_expiry_choices(operator: FlaskClient, console_app: Flask, choice: str, hours: int) -> None:
    post(operator, "/admin/registration", "/admin/registration", expires=choice)
    session = session_of(console_app)
    try:
        row = session.scalars(select(RegistrationToken)).one()
        assert timedelta(hours=hours) - timedelta(minutes=1) < row.expires_at - utcnow() <= timedelta(hours=hours)
    finally:
        session.close()


def test_an_unknown_expiry_or_long_note_is_refused(operator: FlaskClient, console_app: Flask) -> None:
    answer = post(operator, "/admin/registration", "/admin/registration", expires="30d", note="x" * 256)
    assert answer.status_code == 422
    assert "Choose when the URL expires." in answer.text and "at most 255 characters" in answer.text
    session = session_of(console_app)
    try:
        assert session.scalars(select(RegistrationToken)).all() == []
    finally:
        session.close()


def test_revoke_and_the_states_of_a_listing(operator: FlaskClient, console_app: Flask) -> None:
    session = session_of(console_app)
    try:
        platform = make_platform(session, "used")
        used = registration_tokens.issue(session, timedelta(hours=1), "for the used one")
        registration_tokens.consume(session, used.token, platform.id)
        registration_tokens.issue(session, timedelta(hours=1), "expired", now=utcnow() - timedelta(hours=2))
        unused = registration_tokens.issue(session, timedelta(hours=1), "still good")
        session.commit()
    finally:
        session.close()
    page = operator.get("/admin/registration").text
    assert "LMS USED" in page and "expired" in page and "unused" in page
    assert page.count(">Revoke<") == 1  # only the unused one can be revoked
    answer = post(operator, "/admin/registration", f"/admin/registration/{unused.id}/revoke")
    assert answer.status_code == 303
    assert "Revoked the registration URL." in operator.get("/admin/registration").text
    session = session_of(console_app)
    try:
        with pytest.raises(TokenRefusedError):
            registration_tokens.check(session, unused.token)
    finally:
        session.close()
    assert post(operator, "/admin/registration", f"/admin/registration/{unused.id}/revoke").status_code == 404
