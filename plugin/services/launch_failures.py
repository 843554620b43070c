"""Refused logins, launches and registrations, kept for the operator console.

The refusal page shows its request id as the code a learner gives their LMS administrator; the
console finds the failure under that code. The table is bounded: each new failure drops the rows
beyond the newest ``keep``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from plugin.db import utcnow
from plugin.models import LaunchFailure

REASON_MAX = 2000  # characters of a reason or hint kept (values sent by anyone can be long)


@dataclass(frozen=True)
class Refusal:
    request_id: str
    endpoint: str
    status: int
    reason: str
    hint: str = ""
    issuer: str | None = None
    client_id: str | None = None
    deployment_id: str | None = None


def _clip(value: str | None, limit: int) -> str | None:
    return None if value is None else value[:limit]


def record(session: Session, refusal: Refusal, keep: int, now: datetime | None = None) -> LaunchFailure:
    """Store one refusal and drop the oldest beyond ``keep``. The caller commits."""
    row = LaunchFailure(
        request_id=refusal.request_id[:64],
        endpoint=refusal.endpoint[:64],
        status=refusal.status,
        reason=refusal.reason[:REASON_MAX],
        hint=refusal.hint[:REASON_MAX],
        issuer=_clip(refusal.issuer, 2048),
        client_id=_clip(refusal.client_id, 255),
        deployment_id=_clip(refusal.deployment_id, 255),
        occurred_at=now or utcnow(),
    )
    session.add(row)
    session.flush()
    cutoff = select(LaunchFailure.id).order_by(LaunchFailure.id.desc()).offset(keep).limit(1).scalar_subquery()
    session.execute(delete(LaunchFailure).where(LaunchFailure.id <= cutoff))
    return row


def recent(session: Session, limit: int = 100) -> list[LaunchFailure]:
    """The newest failures first."""
    return list(session.scalars(select(LaunchFailure).order_by(LaunchFailure.id.desc()).limit(limit)))


def by_request_id(session: Session, request_id: str) -> list[LaunchFailure]:
    return list(session.scalars(select(LaunchFailure).where(LaunchFailure.request_id == request_id)))


def count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(LaunchFailure)) or 0
