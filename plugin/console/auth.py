"""Who may use the operator console, and the console's own session cookie.

**Access.** ``WOM_ADMIN_PASSWORD`` set: a sign-in form. Not set: in production the console answers
503 and says to set it (the rest of the service runs on); in development it is open to loopback
clients only (``127.0.0.1``/``::1``, as the trusted proxies of ``WOM_TRUSTED_PROXIES`` report the
client), so ``make run`` shows it, with a banner saying so.

**The password** is compared in constant time: a werkzeug hash (``scrypt:...``, ``pbkdf2:...``)
with :func:`werkzeug.security.check_password_hash`, a plain value with :func:`hmac.compare_digest`.

**The session** is a cookie of its own (``wom_console``), not Flask's app-wide session: signed with
the secret key (itsdangerous, as Flask's session), scoped to the console's path, ``HttpOnly``,
``SameSite=Strict``, ``Secure`` when ``WOM_BASE_URL`` is https. It holds a random session id made
fresh at sign-in (no fixation), a CSRF token, the sign-in time and the last time it was used: it
expires after :data:`IDLE` without use and :data:`LONGEST` after sign-in, and when the password
changes (it carries a digest bound to the configured password). Every POST must carry the CSRF
token of the cookie (``csrf_token``); the cookie itself is only sent by the console's own pages
(``SameSite=Strict``), so another site cannot make the browser post with it either.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer
from werkzeug.security import check_password_hash

COOKIE = "wom_console"
IDLE = 8 * 3600  # seconds a signed-in session lasts without use
LONGEST = 24 * 3600  # seconds a session lasts after sign-in, however busy
HASH_PREFIXES = ("scrypt:", "pbkdf2:")

# How the console is reached under the current settings.
PASSWORD = "password"  # noqa: S105 -- a mode name: WOM_ADMIN_PASSWORD is set: sign in with it
LOOPBACK = "loopback"  # development without a password: loopback clients only
CLOSED = "closed"  # production without a password: 503


def access_mode(admin_password: str, is_production: bool) -> str:
    if admin_password:
        return PASSWORD
    return CLOSED if is_production else LOOPBACK


def is_loopback(address: str | None) -> bool:
    if not address:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)  # an IPv4 client of a dual-stack server: ::ffff:127.0.0.1
    return (mapped or ip).is_loopback


def password_matches(configured: str, given: str) -> bool:
    """Whether ``given`` is the operator password ``configured`` (plain, or a werkzeug hash)."""
    if not configured:
        return False
    if configured.startswith(HASH_PREFIXES):
        try:
            return check_password_hash(configured, given)
        except (ValueError, TypeError):  # a malformed hash: nothing matches it
            return False
    return hmac.compare_digest(configured.encode(), given.encode())


def password_digest(secret_key: str, admin_password: str) -> str:
    """A short tag of the configured password: changing it ends every session."""
    return hmac.new(secret_key.encode(), b"console password\0" + admin_password.encode(), hashlib.sha256).hexdigest()[
        :16
    ]


@dataclass
class ConsoleSession:
    """The console cookie's content. ``signed_in`` is False for a visitor who has only a CSRF token."""

    sid: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    signed_in: bool = False
    since: float = field(default_factory=time.time)
    seen: float = field(default_factory=time.time)
    password: str = ""  # password_digest at sign-in
    notice: list[Any] | None = None  # a message for the next page: [key, {params}]

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"sid": self.sid, "csrf": self.csrf, "in": self.signed_in, "since": int(self.since)}
        data["seen"] = int(self.seen)
        if self.password:
            data["pw"] = self.password
        if self.notice:
            data["notice"] = self.notice
        return data

    @classmethod
    def from_dict(cls, data: Any) -> ConsoleSession | None:
        if not isinstance(data, dict):
            return None
        try:
            return cls(
                sid=str(data["sid"]),
                csrf=str(data["csrf"]),
                signed_in=bool(data.get("in")),
                since=float(data["since"]),
                seen=float(data["seen"]),
                password=str(data.get("pw", "")),
                notice=data.get("notice") if isinstance(data.get("notice"), list) else None,
            )
        except (KeyError, TypeError, ValueError):
            return None

    def valid_sign_in(self, password_tag: str, now: float | None = None) -> bool:
        """Signed in, not idle too long, not too old, and under the password configured now."""
        now = time.time() if now is None else now
        return (
            self.signed_in
            and now - self.seen < IDLE
            and now - self.since < LONGEST
            and hmac.compare_digest(self.password, password_tag)
        )

    def csrf_matches(self, given: str | None) -> bool:
        return bool(given) and hmac.compare_digest(self.csrf.encode(), str(given).encode())


def serializer(secret_key: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret_key, salt="wordofmouth.console")


def load(secret_key: str, raw: str | None) -> ConsoleSession | None:
    if not raw:
        return None
    try:
        return ConsoleSession.from_dict(serializer(secret_key).loads(raw))
    except BadSignature:
        return None


def dump(secret_key: str, session: ConsoleSession) -> str:
    return serializer(secret_key).dumps(session.to_dict())
