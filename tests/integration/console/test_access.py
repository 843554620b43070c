"""Who gets into the console: the password (plain or hashed), production without one, loopback in
development, the session cookie (fixation, expiry, sign-out) and the headers of every console page."""

from __future__ import annotations

import time

from cryptography.fernet import Fernet
from flask import Flask
from werkzeug.security import generate_password_hash

from plugin.console import auth
from tests.integration.console.conftest import OUTSIDE, PASSWORD, csrf_of, make_app, sign_in


def _cookie(client) -> auth.ConsoleSession | None:  # type: ignore[no-untyped-def]
    cookie = client.get_cookie(auth.COOKIE, path="/admin")
    secret = client.application.extensions["wordofmouth.settings"].secret_key
    return auth.load(secret, cookie.value) if cookie else None


def test_the_right_password_signs_in_and_a_wrong_one_does_not(console_app: Flask) -> None:
    client = console_app.test_client()
    client.environ_base.update(OUTSIDE)
    first = client.get("/admin/platforms")
    assert first.status_code == 303 and "/admin/sign-in?next=/admin/platforms" in first.headers["Location"]
    page = client.get("/admin/sign-in")
    wrong = client.post("/admin/sign-in", data={"password": "guess", "csrf_token": csrf_of(page.text)})
    assert wrong.status_code == 401
    assert "That is not the console password." in wrong.text
    assert 'aria-invalid="true"' in wrong.text and 'class="error-summary"' in wrong.text
    assert client.get("/admin/").status_code == 303  # still signed out
    right = client.post(
        "/admin/sign-in",
        data={"password": PASSWORD, "csrf_token": csrf_of(wrong.text), "next": "/admin/platforms"},
    )
    assert right.status_code == 303 and right.headers["Location"] == "/admin/platforms"
    overview = client.get("/admin/")
    assert overview.status_code == 200 and "Sign out" in overview.text


def test_a_hashed_password_is_checked_as_a_hash(app_config: dict[str, str]) -> None:
    for hashed in (generate_password_hash("s3cret-words", "scrypt"), generate_password_hash("s3cret-words", "pbkdf2")):
        app = make_app(app_config, WOM_ADMIN_PASSWORD=hashed)
        client = app.test_client()
        page = client.get("/admin/sign-in")
        # The hash itself is not the password.
        as_typed = client.post("/admin/sign-in", data={"password": hashed, "csrf_token": csrf_of(page.text)})
        assert as_typed.status_code == 401
        sign_in(client, "s3cret-words")
        assert client.get("/admin/").status_code == 200
        app.extensions["wordofmouth.engine"].dispose()


def test_password_matching() -> None:
    assert auth.password_matches("plain", "plain")
    assert not auth.password_matches("plain", "plain ")
    assert not auth.password_matches("", "")
    assert not auth.password_matches("scrypt:broken", "anything")  # a malformed hash matches nothing


def test_production_without_a_password_closes_the_console_only(app_config: dict[str, str]) -> None:
    app = make_app(
        app_config,
        WOM_ENV="production",
        WOM_BASE_URL="https://wom.example.org",
        WOM_KEY_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
    )
    client = app.test_client()
    for path in ("/admin/", "/admin/sign-in", "/admin/failures"):
        answer = client.get(path, base_url="https://wom.example.org")
        assert answer.status_code == 503, path
        assert "WOM_ADMIN_PASSWORD" in answer.text
    assert client.get("/healthz", base_url="https://wom.example.org").status_code == 200  # the service runs on
    app.extensions["wordofmouth.engine"].dispose()


def test_production_cookie_is_secure(app_config: dict[str, str]) -> None:
    app = make_app(
        app_config,
        WOM_ENV="production",
        WOM_BASE_URL="https://wom.example.org",
        WOM_KEY_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
        WOM_ADMIN_PASSWORD=PASSWORD,
    )
    answer = app.test_client().get("/admin/sign-in", base_url="https://wom.example.org")
    cookie = answer.headers["Set-Cookie"]
    assert cookie.startswith(auth.COOKIE + "=")
    for flag in ("Secure", "HttpOnly", "SameSite=Strict", "Path=/admin"):
        assert flag in cookie, cookie
    app.extensions["wordofmouth.engine"].dispose()


def test_development_without_a_password_is_open_to_loopback_only(app: Flask) -> None:
    local = app.test_client()
    page = local.get("/admin/")
    assert page.status_code == 200
    assert "Open without a password." in page.text and "Sign out" not in page.text
    assert local.get("/admin/sign-in").status_code == 303  # nothing to sign in to
    ipv6 = app.test_client()
    ipv6.environ_base["REMOTE_ADDR"] = "::1"
    assert ipv6.get("/admin/").status_code == 200
    outside = app.test_client()
    outside.environ_base.update(OUTSIDE)
    refused = outside.get("/admin/")
    assert refused.status_code == 403 and "WOM_ADMIN_PASSWORD" in refused.text
    assert outside.post("/admin/keys/rotate").status_code == 403


def test_behind_a_trusted_proxy_the_forwarded_client_counts(app_config: dict[str, str]) -> None:
    app = make_app(app_config, WOM_TRUSTED_PROXIES="1")
    client = app.test_client()
    assert client.get("/admin/", headers={"X-Forwarded-For": "203.0.113.9"}).status_code == 403
    assert client.get("/admin/", headers={"X-Forwarded-For": "127.0.0.1"}).status_code == 200
    app.extensions["wordofmouth.engine"].dispose()


def test_sign_in_attempts_are_rate_limited(console_app: Flask) -> None:
    client = console_app.test_client()
    token = csrf_of(client.get("/admin/sign-in").text)
    codes = [
        client.post("/admin/sign-in", data={"password": f"guess {n}", "csrf_token": token}).status_code
        for n in range(11)
    ]
    assert codes[:10] == [401] * 10
    assert codes[10] == 429
    # The limit is per address: another one still gets in.
    other = console_app.test_client()
    other.environ_base.update(OUTSIDE)
    sign_in(other)


def test_sign_in_starts_a_fresh_session(console_app: Flask) -> None:
    client = console_app.test_client()
    client.get("/admin/sign-in")
    before = _cookie(client)
    assert before is not None and not before.signed_in
    sign_in(client)
    after = _cookie(client)
    assert after is not None and after.signed_in
    assert after.sid != before.sid and after.csrf != before.csrf


def test_a_forged_or_tampered_cookie_is_ignored(console_app: Flask) -> None:
    client = console_app.test_client()
    forged = auth.dump("another-secret-key-of-someone-else-0123456789", auth.ConsoleSession(signed_in=True))
    client.set_cookie(auth.COOKIE, forged, path="/admin")
    assert client.get("/admin/").status_code == 303
    # Signed with our key but without the password's tag (e.g. made before the password changed).
    secret = console_app.extensions["wordofmouth.settings"].secret_key
    client.set_cookie(auth.COOKIE, auth.dump(secret, auth.ConsoleSession(signed_in=True, password="x")), path="/admin")
    assert client.get("/admin/").status_code == 303


def test_the_session_expires_when_idle_and_after_a_day(console_app: Flask) -> None:
    secret = console_app.extensions["wordofmouth.settings"].secret_key
    tag = auth.password_digest(secret, PASSWORD)
    now = time.time()
    for since, seen in ((now - 9 * 3600, now - 8 * 3600 - 1), (now - 24 * 3600 - 1, now - 60)):
        client = console_app.test_client()
        stale = auth.ConsoleSession(signed_in=True, password=tag, since=since, seen=seen)
        client.set_cookie(auth.COOKIE, auth.dump(secret, stale), path="/admin")
        answer = client.get("/admin/")
        assert answer.status_code == 303 and "/admin/sign-in" in answer.headers["Location"]
        assert "Your console session ended. Sign in again." in client.get("/admin/sign-in").text
    fresh = console_app.test_client()
    recent = auth.ConsoleSession(signed_in=True, password=tag, since=now - 3600, seen=now - 7 * 3600)
    fresh.set_cookie(auth.COOKIE, auth.dump(secret, recent), path="/admin")
    assert fresh.get("/admin/").status_code == 200
    assert _cookie(fresh).seen >= int(now)  # used: the idle clock starts again


def test_changing_the_password_ends_every_session(console_app: Flask, app_config: dict[str, str]) -> None:
    client = console_app.test_client()
    sign_in(client)
    cookie = client.get_cookie(auth.COOKIE, path="/admin").value
    changed = make_app(app_config, WOM_ADMIN_PASSWORD="a new password")
    other = changed.test_client()
    other.set_cookie(auth.COOKIE, cookie, path="/admin")
    assert other.get("/admin/").status_code == 303
    changed.extensions["wordofmouth.engine"].dispose()


def test_sign_out(operator) -> None:  # type: ignore[no-untyped-def]
    page = operator.get("/admin/")
    answer = operator.post("/admin/sign-out", data={"csrf_token": csrf_of(page.text)})
    assert answer.status_code == 303 and answer.headers["Location"].endswith("/admin/sign-in")
    assert "You signed out." in operator.get("/admin/sign-in").text
    assert operator.get("/admin/").status_code == 303


def test_sign_in_only_sends_people_back_into_the_console(console_app: Flask) -> None:
    client = console_app.test_client()
    for target in ("https://evil.example/admin/", "//evil.example/admin/", "/lti/login", "/admin/../x", "/\\evil"):
        page = client.get("/admin/sign-in")
        answer = client.post(
            "/admin/sign-in", data={"password": PASSWORD, "csrf_token": csrf_of(page.text), "next": target}
        )
        assert answer.status_code == 303
        assert answer.headers["Location"] == "/admin/", target
        client.post("/admin/sign-out", data={"csrf_token": csrf_of(client.get("/admin/").text)})


def test_console_pages_are_never_framed_nor_cached(operator) -> None:  # type: ignore[no-untyped-def]
    for path in ("/admin/", "/admin/platforms", "/admin/failures", "/admin/no-such-page", "/admin/platforms/999999"):
        answer = operator.get(path)
        assert answer.headers["Content-Security-Policy"].endswith("frame-ancestors 'none'"), path
        if answer.status_code != 404 or path != "/admin/no-such-page":
            assert answer.headers["X-Frame-Options"] == "DENY", path
            assert answer.headers["Cache-Control"] == "no-store", path
    signed_out = operator.application.test_client()
    page = signed_out.get("/admin/sign-in")
    assert page.headers["X-Frame-Options"] == "DENY" and page.headers["Cache-Control"] == "no-store"
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
