"""Issue and consume OIDC login state (see :mod:`plugin.models.lti_state`)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from plugin.db import utcnow
from plugin.models import LoginState

LOGIN_STATE_LIFETIME = timedelta(minutes=10)


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


def purge_expired(session: Session, now: datetime | None = None) -> int:
    """Delete login states that can no longer be used; returns how many."""
    now = now or utcnow()
    result = session.execute(
        delete(LoginState)
        .where(LoginState.expires_at < now - LOGIN_STATE_LIFETIME)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0
