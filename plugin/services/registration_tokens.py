"""One-time tokens for LTI Dynamic Registration (``/lti/register?wom_token=...``).

An operator makes one (``wordofmouth registration-url --expires 24h`` or the console) and pastes
the URL into the LMS. Only the token's SHA-256 is stored. A token is consumed by the registration
it allows, in the same transaction that stores the platform, so two registrations with one token
cannot both succeed.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from plugin.db import utcnow
from plugin.errors import DomainError
from plugin.models import RegistrationToken

MAX_LIFETIME = timedelta(days=30)


@dataclass(frozen=True)
class IssuedToken:
    token: str  # shown once, in the URL; never stored
    expires_at: datetime
    id: int


class TokenRefusedError(Exception):
    """Why a registration token cannot be used; the message is meant for the LMS admin."""


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue(session: Session, lifetime: timedelta, note: str = "", now: datetime | None = None) -> IssuedToken:
    if lifetime <= timedelta(0) or lifetime > MAX_LIFETIME:
        raise DomainError(f"a registration URL must expire within {MAX_LIFETIME.days} days (asked: {lifetime})")
    now = now or utcnow()
    token = secrets.token_urlsafe(24)
    row = RegistrationToken(token_sha256=_digest(token), created_at=now, expires_at=now + lifetime, note=note[:255])
    session.add(row)
    session.flush()
    return IssuedToken(token=token, expires_at=row.expires_at, id=row.id)


def check(session: Session, token: str, now: datetime | None = None) -> RegistrationToken:
    """The unused, unexpired token row, or :class:`TokenRefusedError` saying why not."""
    now = now or utcnow()
    row = session.scalar(select(RegistrationToken).where(RegistrationToken.token_sha256 == _digest(token)))
    if row is None:
        raise TokenRefusedError("this registration URL is not one Word of Mouth issued (or it was revoked)")
    if row.used_at is not None:
        raise TokenRefusedError(f"this registration URL was already used at {row.used_at:%Y-%m-%d %H:%M} UTC")
    if row.expires_at <= now:
        raise TokenRefusedError(f"this registration URL expired at {row.expires_at:%Y-%m-%d %H:%M} UTC")
    return row


def consume(session: Session, token: str, platform_id: int, now: datetime | None = None) -> None:
    """Mark the token used by ``platform_id``; of two registrations at once only one succeeds."""
    now = now or utcnow()
    check(session, token, now)
    done = session.execute(
        update(RegistrationToken)
        .where(RegistrationToken.token_sha256 == _digest(token), RegistrationToken.used_at.is_(None))
        .values(used_at=now, platform_id=platform_id)
    )
    if done.rowcount != 1:
        raise TokenRefusedError("this registration URL was used by another registration at the same time")


def revoke(session: Session, token_id: int) -> None:
    row = session.get(RegistrationToken, token_id)
    if row is None:
        raise DomainError(f"no registration URL with id {token_id}")
    session.delete(row)


def listing(session: Session, limit: int = 50) -> list[RegistrationToken]:
    """The newest tokens first (used and expired ones included, for the console)."""
    return list(session.scalars(select(RegistrationToken).order_by(RegistrationToken.id.desc()).limit(limit)))
