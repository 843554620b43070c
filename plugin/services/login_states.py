"""Issue and consume OIDC login state (see :mod:`plugin.models.lti_state`)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from plugin.db import utcnow
from plugin.models import LoginState

LOGIN_STATE_LIFETIME = timedelta(minutes=10)
# Login cookies one browser keeps (the newest pending logins): each is ~100 bytes of every launch's
# Cookie header, and ~84 unused logins made the next launch fail with 431 (headers too large).
LOGIN_COOKIES_KEPT = 10
STATE_MAX_LENGTH = 64  # LoginState.state's column; longer names in cookies are not ours


@dataclass(frozen=True)
class IssuedLogin:
    state: str
    nonce: str
    binding: str  # the secret to put in the browser's partitioned cookie


class StateRefusedError(Exception):
    """Why a presented state cannot be accepted; the message is meant for people."""


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def issue_login(session: Session, platform_id: int, target_link_uri: str, now: datetime | None = None) -> IssuedLogin:
    now = now or utcnow()
    issued = IssuedLogin(
        state=secrets.token_urlsafe(32), nonce=secrets.token_urlsafe(32), binding=secrets.token_urlsafe(32)
    )
    session.add(
        LoginState(
            platform_id=platform_id,
            state=issued.state,
            nonce=issued.nonce,
            browser_binding=digest(issued.binding),
            target_link_uri=target_link_uri,
            created_at=now,
            expires_at=now + LOGIN_STATE_LIFETIME,
        )
    )
    session.flush()
    return issued


def consume_login(
    session: Session, *, platform_id: int, state: str, nonce: str, binding: str | None, now: datetime | None = None
) -> bool:
    """Accept ``state`` once for this platform and nonce. Returns whether the browser binding was checked.

    Raises :class:`StateRefusedError` when the state is unknown, expired, used, issued for another
    platform, paired with another nonce, or presented by a browser whose cookie contradicts it.
    """
    now = now or utcnow()
    row = session.scalars(select(LoginState).where(LoginState.state == state)).one_or_none()
    if row is None or row.platform_id != platform_id:
        raise StateRefusedError("the login state is unknown: the launch did not start with a login at this tool")
    if row.used_at is not None:
        raise StateRefusedError("this launch was already used (a reload or a replay); start it again from the LMS")
    if row.expires_at <= now:
        raise StateRefusedError("the login expired before the launch arrived; start it again from the LMS")
    if not hmac.compare_digest(row.nonce, nonce):
        raise StateRefusedError("the id_token's nonce does not belong to this login")
    bound = binding is not None
    if bound and not (row.browser_binding and hmac.compare_digest(row.browser_binding, digest(binding))):
        raise StateRefusedError("this browser did not start this login (the login cookie does not match)")
    # Compare-and-set: of two concurrent launches with the same state, exactly one wins.
    claimed = session.execute(
        update(LoginState)
        .where(LoginState.id == row.id, LoginState.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        raise StateRefusedError("this launch was already used (a reload or a replay); start it again from the LMS")
    return bound


def stale_bindings(
    session: Session, states: Iterable[str], keep: int = LOGIN_COOKIES_KEPT, now: datetime | None = None
) -> list[str]:
    """Of the states a browser holds login cookies for, those whose cookie should be expired now.

    Kept: the ``keep`` newest logins that can still be launched (issued, unused, unexpired). Every
    other cookie goes: older pending logins, used or expired ones, and names we never issued. One
    look-up by the unique ``state`` index, for at most the few dozen cookies a request can carry.
    """
    now = now or utcnow()
    states = list(dict.fromkeys(states))
    candidates = [s for s in states if 0 < len(s) <= STATE_MAX_LENGTH]
    pending: list[tuple[datetime, int, str]] = []
    if candidates and keep > 0:
        rows = session.execute(
            select(LoginState.created_at, LoginState.id, LoginState.state).where(
                LoginState.state.in_(candidates), LoginState.used_at.is_(None), LoginState.expires_at > now
            )
        ).all()
        pending = sorted(((r.created_at, r.id, r.state) for r in rows), reverse=True)
    kept = {state for _, _, state in pending[:keep]}
    return [s for s in states if s not in kept]


def purge_expired(session: Session, now: datetime | None = None) -> int:
    """Delete login states that can no longer be used; returns how many."""
    now = now or utcnow()
    result = session.execute(
        delete(LoginState)
        .where(LoginState.expires_at < now - LOGIN_STATE_LIFETIME)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0
