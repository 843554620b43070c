"""Course rosters (who is *enrolled*), as the platform lists them through NRPS.

The LTI adapter fetches the membership container (``lti.nrps``) and hands this module plain
:class:`RosterEntry` values; this module knows nothing of HTTP or of LTI role URIs.

- :func:`claim_due` hands a worker the sources whose sync is due, leasing each one
  (``claimed_until``) so no other worker takes it meanwhile. On PostgreSQL the rows are selected
  ``FOR UPDATE SKIP LOCKED``: several workers claiming at the same moment each get different
  rows, and none waits for another. A worker killed mid-sync leaves a lease that simply expires.
- :func:`apply_roster` is idempotent: learners and members are upserted, so a repeated or resumed
  sync converges on the same rows. It never writes :class:`~plugin.models.learning.Enrolment`
  (enrolled is not "took"), and a member whose roles make them staff is flagged ``staff``, so
  "colleagues who took this" never counts them.
- :func:`record_failure` backs off exponentially (capped) so a broken platform is not hammered.

Services never commit: the worker job commits after each source.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from plugin.models import Learner, RosterMember, RosterSource

DEFAULT_INTERVAL = timedelta(hours=6)
DEFAULT_LEASE = timedelta(minutes=15)
FIRST_BACKOFF = timedelta(minutes=5)
MAX_BACKOFF = timedelta(hours=24)
ERROR_MAX_LENGTH = 500
_CHUNK = 500


@dataclass(frozen=True)
class RosterEntry:
    """One member of a course roster, as the platform lists them."""

    sub: str
    roles: tuple[str, ...]
    staff: bool
    active: bool
    name: str = ""
    email: str | None = None


@dataclass(frozen=True)
class ClaimedSource:
    """A roster source a worker holds until ``claimed_until`` (plain values, no session needed)."""

    id: int
    platform_id: int
    item_id: int
    context_id: str
    memberships_url: str
    claimed_until: datetime


@dataclass(frozen=True)
class RosterResult:
    members: int
    active: int
    staff: int
    new_learners: int
    deactivated: int


def claim_due(
    session: Session, now: datetime, limit: int = 20, lease: timedelta = DEFAULT_LEASE
) -> list[ClaimedSource]:
    """Lease up to ``limit`` sources that are due and not leased by another worker; the caller commits.

    ``FOR UPDATE SKIP LOCKED`` is rendered on PostgreSQL and ignored by SQLite, where one worker
    per database is the supported setup (SQLite serialises writers anyway).
    """
    ids = list(
        session.scalars(
            select(RosterSource.id)
            .where(
                RosterSource.next_sync_at <= now,
                or_(RosterSource.claimed_until.is_(None), RosterSource.claimed_until <= now),
            )
            .order_by(RosterSource.next_sync_at, RosterSource.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    if not ids:
        return []
    until = now + lease
    session.execute(
        update(RosterSource)
        .where(RosterSource.id.in_(ids))
        .values(claimed_until=until)
        .execution_options(synchronize_session=False)
    )
    rows = session.execute(
        select(
            RosterSource.id,
            RosterSource.platform_id,
            RosterSource.item_id,
            RosterSource.context_id,
            RosterSource.memberships_url,
        )
        .where(RosterSource.id.in_(ids))
        .order_by(RosterSource.next_sync_at, RosterSource.id)
    )
    return [ClaimedSource(*row, claimed_until=until) for row in rows]


def _learners(session: Session, platform_id: int, subs: Sequence[str]) -> dict[str, Learner]:
    found: dict[str, Learner] = {}
    for start in range(0, len(subs), _CHUNK):
        chunk = subs[start : start + _CHUNK]
        for learner in session.scalars(
            select(Learner).where(Learner.platform_id == platform_id, Learner.sub.in_(chunk))
        ):
            found[learner.sub] = learner
    return found


def _create_learners(session: Session, platform_id: int, entries: Sequence[RosterEntry]) -> list[Learner]:
    """Insert learners the roster names for the first time; a launch racing us wins politely."""
    made = [
        Learner(platform_id=platform_id, sub=e.sub, name=e.name[:255], email=(e.email or None) and e.email[:320])
        for e in entries
    ]
    try:
        with session.begin_nested():
            session.add_all(made)
            session.flush()
        return made
    except IntegrityError:
        pass
    # Someone created one of them meanwhile: one savepoint per learner, reading the winner's row.
    made = []
    for entry in entries:
        try:
            with session.begin_nested():
                learner = Learner(
                    platform_id=platform_id,
                    sub=entry.sub,
                    name=entry.name[:255],
                    email=(entry.email or None) and entry.email[:320],
                )
                session.add(learner)
                session.flush()
            made.append(learner)
        except IntegrityError:
            continue
    return made


def apply_roster(
    session: Session,
    source: RosterSource,
    entries: Sequence[RosterEntry],
    now: datetime,
    interval: timedelta = DEFAULT_INTERVAL,
) -> RosterResult:
    """Make the stored roster of ``source`` match ``entries`` and schedule the next sync.

    Learners are upserted by (platform, sub); their name and email are filled in only while they
    have none (a launch is the better source). Members missing from this sync become inactive.
    """
    by_sub: dict[str, RosterEntry] = {}
    for entry in entries:
        if entry.sub:
            by_sub[entry.sub] = entry  # a platform listing someone twice: the last listing wins
    subs = list(by_sub)
    learners = _learners(session, source.platform_id, subs)
    missing = [by_sub[s] for s in subs if s not in learners]
    new = _create_learners(session, source.platform_id, missing) if missing else []
    if len(new) < len(missing):
        learners = _learners(session, source.platform_id, subs)
    else:
        learners.update({learner.sub: learner for learner in new})

    members = {
        m.learner_id: m for m in session.scalars(select(RosterMember).where(RosterMember.item_id == source.item_id))
    }
    listed: set[int] = set()
    for sub, entry in by_sub.items():
        learner = learners.get(sub)
        if learner is None:
            continue
        if entry.name and not learner.name:
            learner.name = entry.name[:255]
        if entry.email and not learner.email:
            learner.email = entry.email[:320]
        member = members.get(learner.id)
        if member is None:
            member = RosterMember(platform_id=source.platform_id, item_id=source.item_id, learner_id=learner.id)
            session.add(member)
            members[learner.id] = member
        member.roles = list(entry.roles)
        member.staff = entry.staff
        member.active = entry.active
        member.synced_at = now
        listed.add(learner.id)
    deactivated = 0
    for learner_id, member in members.items():
        if learner_id not in listed and member.active:
            member.active = False
            member.synced_at = now
            deactivated += 1

    source.synced_at = now
    source.members = len(listed)
    source.next_sync_at = now + interval
    source.failures = 0
    source.last_error = None
    source.claimed_until = None
    session.flush()
    chosen = [by_sub[s] for s in subs if s in learners]
    return RosterResult(
        members=len(listed),
        active=sum(1 for e in chosen if e.active),
        staff=sum(1 for e in chosen if e.staff),
        new_learners=len(new),
        deactivated=deactivated,
    )


def backoff(failures: int) -> timedelta:
    """Wait after the ``failures``-th failure in a row: 5 min, 10, 20 ... at most a day."""
    exponent = min(max(failures - 1, 0), 20)
    return min(FIRST_BACKOFF * (2**exponent), MAX_BACKOFF)


def record_failure(session: Session, source: RosterSource, reason: str, now: datetime) -> None:
    """Count a failed sync, keep its one-line reason and try again after a growing pause."""
    source.failures = (source.failures or 0) + 1
    source.last_error = " ".join(reason.split())[:ERROR_MAX_LENGTH]
    source.next_sync_at = now + backoff(source.failures)
    source.claimed_until = None
    session.flush()
