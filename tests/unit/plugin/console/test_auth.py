"""The console's access rules and session cookie, without an app."""

from __future__ import annotations

import time

import pytest
from werkzeug.security import generate_password_hash

from plugin.console import auth

SECRET = "a-secret-key-that-is-long-enough-for-tests-0123"


@pytest.mark.parametrize(
    ("password", "production", "mode"),
    [("x", True, auth.PASSWORD), ("x", False, auth.PASSWORD), ("", True, auth.CLOSED), ("", False, auth.LOOPBACK)],
)
def test_access_mode(password: str, production: bool, mode: str) -> None:
    assert auth.access_mode(password, production) == mode


@pytest.mark.parametrize(
    ("address", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),  # an IPv4 client of a server listening on "::"
        ("::ffff:10.0.0.1", False),
        ("10.0.0.1", False),
        ("203.0.113.7", False),
        ("", False),
        (None, False),
        ("localhost", False),
        ("fe80::1%eth0", False),
    ],
)
def test_is_loopback(address: str | None, loopback: bool) -> None:
    assert auth.is_loopback(address) is loopback


def test_password_matches_plain_and_hashed() -> None:
    assert auth.password_matches("s3cret", "s3cret")
    assert not auth.password_matches("s3cret", "S3cret")
    hashed = generate_password_hash("s3cret")
    assert auth.password_matches(hashed, "s3cret")
    assert not auth.password_matches(hashed, hashed)
    assert not auth.password_matches("pbkdf2:sha256:1$$", "s3cret")


def test_the_cookie_round_trips_and_refuses_tampering() -> None:
    session = auth.ConsoleSession(signed_in=True, password="tag", notice=["signed-out", {}])
    raw = auth.dump(SECRET, session)
    loaded = auth.load(SECRET, raw)
    assert loaded is not None
    assert (loaded.sid, loaded.csrf, loaded.signed_in, loaded.password, loaded.notice) == (
        session.sid,
        session.csrf,
        True,
        "tag",
        ["signed-out", {}],
    )
    assert auth.load(SECRET + "x", raw) is None
    assert auth.load(SECRET, raw[:-2] + ("A" if raw[-2] != "A" else "B") + raw[-1]) is None
    assert auth.load(SECRET, "") is None
    assert auth.load(SECRET, auth.serializer(SECRET).dumps({"sid": 1})) is None  # signed but malformed


def test_valid_sign_in_limits() -> None:
    now = time.time()
    tag = auth.password_digest(SECRET, "pw")
    assert tag != auth.password_digest(SECRET, "pw2") != auth.password_digest(SECRET + "x", "pw")
    assert auth.ConsoleSession(signed_in=True, password=tag, since=now, seen=now).valid_sign_in(tag, now)
    assert not auth.ConsoleSession(signed_in=False, password=tag).valid_sign_in(tag, now)
    idle = auth.ConsoleSession(signed_in=True, password=tag, since=now - 100, seen=now - auth.IDLE)
    assert not idle.valid_sign_in(tag, now)
    old = auth.ConsoleSession(signed_in=True, password=tag, since=now - auth.LONGEST, seen=now)
    assert not old.valid_sign_in(tag, now)
    assert not auth.ConsoleSession(signed_in=True, password="other", since=now, seen=now).valid_sign_in(tag, now)


def test_csrf_matches() -> None:
    session = auth.ConsoleSession()
    assert session.csrf_matches(session.csrf)
    assert not session.csrf_matches(None)
    assert not session.csrf_matches("")
    assert not session.csrf_matches(auth.ConsoleSession().csrf)
