"""xAPI delivery health per platform, for the operator console (``/admin/delivery``).

``wordofmouth xapi status`` sums the outbox per LRS endpoint (two platforms on one LRS are one
line); the console shows each platform on its own line: its pending, delivered and failed
statements, the age of its oldest pending one, the newest error an LRS gave, and where its
statements go (its own LRS, the ``WOM_LRS_ENDPOINT`` default, or nowhere: they wait).

Three grouped queries, whatever the outbox holds; never a username or password.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from plugin.models import LrsSettings, OutboxStatement, OutboxStatus, Platform

LRS_OWN = "platform"  # the platform's own LRS (``wordofmouth lrs set``)
LRS_DEFAULT = "default"  # WOM_LRS_ENDPOINT
LRS_NONE = "none"  # statements wait in the outbox


@dataclass(frozen=True)
class PlatformDelivery:
    platform_id: int
    name: str
    issuer: str
    client_id: str
    endpoint: str | None
    lrs_source: str  # LRS_OWN, LRS_DEFAULT or LRS_NONE
    pending: int = 0
    delivered: int = 0
    failed: int = 0
    oldest_pending_at: datetime | None = None
    last_error: str | None = None

    @property
    def configured(self) -> bool:
        return self.lrs_source != LRS_NONE


def _aware(value: datetime | str | None) -> datetime | None:
    """SQLite's ``min()`` of a date column comes back as text, without a zone."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


@dataclass(frozen=True)
class OutboxCount:
    """How many of a platform's statements are in one state, and when the oldest was made."""

    platform_id: int
    status: OutboxStatus
    count: int
    oldest_at: datetime | None


def outbox_counts(session: Session) -> list[OutboxCount]:
    """The outbox grouped by platform and state (one query); ``wordofmouth xapi status`` sums it per LRS."""
    rows = session.execute(
        select(
            OutboxStatement.platform_id,
            OutboxStatement.status,
            func.count(),
            func.min(OutboxStatement.created_at),
        ).group_by(OutboxStatement.platform_id, OutboxStatement.status)
    )
    return [OutboxCount(pid, OutboxStatus(status), count, _aware(oldest)) for pid, status, count, oldest in rows]


def per_platform(session: Session, default_endpoint: str = "") -> list[PlatformDelivery]:
    """Every platform's delivery health, by name; ``default_endpoint`` is ``WOM_LRS_ENDPOINT``."""
    platforms = list(session.execute(select(Platform.id, Platform.name, Platform.issuer, Platform.client_id)))
    own = dict(
        session.execute(
            select(LrsSettings.platform_id, LrsSettings.endpoint).where(
                LrsSettings.endpoint.is_not(None), LrsSettings.endpoint != ""
            )
        ).all()
    )
    counts: dict[int, dict[str, object]] = {}
    for row in outbox_counts(session):
        entry = counts.setdefault(row.platform_id, {})
        entry[row.status.value] = row.count
        if row.status is OutboxStatus.PENDING:
            entry["oldest_pending_at"] = row.oldest_at
    # The newest error per platform: of the rows that carry one, the one with the highest id.
    newest = (
        select(func.max(OutboxStatement.id))
        .where(OutboxStatement.last_error.is_not(None))
        .group_by(OutboxStatement.platform_id)
    )
    errors = dict(
        session.execute(
            select(OutboxStatement.platform_id, OutboxStatement.last_error).where(OutboxStatement.id.in_(newest))
        ).all()
    )
    report = []
    for platform_id, name, issuer, client_id in platforms:
        if platform_id in own:
            endpoint, source = own[platform_id], LRS_OWN
        elif default_endpoint:
            endpoint, source = default_endpoint, LRS_DEFAULT
        else:
            endpoint, source = None, LRS_NONE
        entry = counts.get(platform_id, {})
        report.append(
            PlatformDelivery(
                platform_id=platform_id,
                name=name or issuer,
                issuer=issuer,
                client_id=client_id,
                endpoint=endpoint,
                lrs_source=source,
                pending=int(entry.get("pending", 0)),  # type: ignore[call-overload]
                delivered=int(entry.get("delivered", 0)),  # type: ignore[call-overload]
                failed=int(entry.get("failed", 0)),  # type: ignore[call-overload]
                oldest_pending_at=entry.get("oldest_pending_at"),  # type: ignore[arg-type]
                last_error=errors.get(platform_id),
            )
        )
    report.sort(key=lambda p: (p.name.lower(), p.issuer, p.client_id))
    return report
