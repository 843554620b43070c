"""Delivering the outbox: the ``xapi-deliver`` worker job (``wordofmouth xapi deliver``).

One run (:func:`deliver_once`) reads the outbox in id order until nothing is due:

1. **Claim** up to ``WOM_XAPI_BATCH_SIZE`` due rows (status pending, ``next_attempt_at``
   reached, no live lease) of platforms that have an LRS, in one statement:
   ``UPDATE ... SET claimed_until = now + lease WHERE id IN (SELECT ... ORDER BY id LIMIT n
   FOR UPDATE SKIP LOCKED) RETURNING ...``. On PostgreSQL several workers claim side by side and
   never share a row; SQLite runs the statement under its single writer lock, so claims are
   disjoint there too. The claim is committed before its batch is sent: no transaction is ever
   open across an HTTP request. A run starts at the first claimable id (found through the
   ``(status, next_attempt_at)`` index) and each claim reads on from the last id claimed, so a
   claim costs the same however many delivered rows the table holds.
2. **Send** each LRS's rows as one batch over that LRS's kept-alive client
   (:mod:`xapi.transport`), the stored JSON texts byte for byte. One batch is on the wire at a
   time (a sender thread), while this thread records the previous outcome and claims the next
   batch: the database work hides behind the LRS's.
3. **Record** the outcome with bulk UPDATEs by id (only rows still pending change), in the same
   transaction as the next claim:

   - stored: ``delivered``;
   - the LRS already holds the id (409): ``delivered`` too (an identical resend is answered 200
     anyway); the answer is kept in ``last_error`` for the curious;
   - refused (4xx): the batch is split to isolate the statement(s) the LRS refuses. The
     positions its answer points at (``statements.3.timestamp``) are sent alone first, otherwise
     the batch is halved (bisection). Only a statement refused on its own is ``failed``, with the
     LRS's reason; every other one is delivered;
   - 5xx, timeouts, connection errors (and wrong credentials or endpoint, see
     :mod:`xapi.transport`): the rows sent go back to ``pending`` with ``attempts + 1`` and
     ``next_attempt_at = now + backoff`` (:func:`backoff`: exponential, full jitter, capped at 10
     minutes, at least the LRS's ``Retry-After``); nothing more goes to that LRS in this run.

A worker killed at any moment leaves rows that are pending with a lease: when the lease expires
(``WOM_XAPI_LEASE_SECONDS``, default 300 s) another run takes them again and resends the same
JSON, which the LRS stores once. Nothing is lost and nothing is stored twice. For the same reason
the loop's own commits on PostgreSQL do not wait for the WAL flush (:func:`_relax`).

Order: rows are sent in id order, but a batch that must wait (backoff) can be overtaken by later
ones. That is harmless: whether a statement is voided does not depend on which of it and its
voiding statement arrived first (xAPI 1.0.3, part 2, 2.3.2; checked on the test LRS).

``claimed_until`` is also what erasure (:func:`xapi.outbox._erase`) reads as "may have reached
the LRS": a row released after an attempt keeps a (past) ``claimed_until``; one never sent and a
refused one get NULL.

Statements of platforms without an LRS (:mod:`xapi.lrs`) are never claimed: they wait, and
:func:`outbox_status` (``wordofmouth xapi status``) says so.
"""

from __future__ import annotations

import logging
import random
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import Flask
from sqlalchemy import ColumnElement, Text, case, cast, func, or_, select, text, update
from sqlalchemy.orm import Session

from plugin.db import utcnow
from plugin.models import OutboxStatement, OutboxStatus, Platform
from plugin.services import delivery_health
from plugin.settings import Settings
from plugin.web import get_settings
from plugin.worker import register_job
from xapi.lrs import DEFAULT_SETTINGS, Lrs, resolve_all
from xapi.transport import REASON_MAX_LENGTH, Answer, LrsClient, Outcome

log = logging.getLogger("wordofmouth.xapi")

JOB_NAME = "xapi-deliver"
BACKOFF_BASE = timedelta(seconds=10)
BACKOFF_CAP = timedelta(minutes=10)
JOB_BUDGET = timedelta(minutes=2)  # a worker run yields after this (and runs again at once when work is left)


def lease_from(settings: Settings) -> timedelta:
    """How long a claim holds (``WOM_XAPI_LEASE_SECONDS``, default 5 min; tests make it short).

    It must exceed one batch's worst case (the transport's 60 s deadline per POST); a lease that
    expires early only costs a duplicate POST, which the LRS stores once.
    """
    return timedelta(seconds=settings.xapi_lease_seconds)


def backoff(
    attempts: int,
    rng: random.Random | None = None,
    base: timedelta = BACKOFF_BASE,
    cap: timedelta = BACKOFF_CAP,
) -> timedelta:
    """The pause after the ``attempts``-th failed attempt in a row: "full jitter", a uniform draw
    from 0 to ``min(cap, base * 2 ** (attempts - 1))`` (10 s, 20 s, 40 s ... 10 min), so workers and
    rows that failed together do not all come back at the same moment."""
    exponent = min(max(attempts - 1, 0), 30)
    ceiling = min(base.total_seconds() * (2**exponent), cap.total_seconds())
    return timedelta(seconds=(rng or random).uniform(0, ceiling))


@dataclass(frozen=True)
class Claimed:
    """A claimed outbox row: just what sending needs (the stored JSON as UTF-8 bytes)."""

    id: int
    platform_id: int
    statement_id: str
    attempts: int
    document: bytes


def _claimable(now: datetime, platform_ids: Sequence[int]) -> tuple[ColumnElement[bool], ...]:
    return (
        OutboxStatement.status == OutboxStatus.PENDING,
        OutboxStatement.next_attempt_at <= now,
        or_(OutboxStatement.claimed_until.is_(None), OutboxStatement.claimed_until <= now),
        OutboxStatement.platform_id.in_(list(platform_ids)),
    )


def first_claimable_id(session: Session, now: datetime, platform_ids: Sequence[int]) -> int | None:
    """The lowest id :func:`claim_due` would take now, or None: where a run starts reading.

    Found through the ``(status, next_attempt_at)`` index (``id + 0`` keeps the planner off the
    primary key, whose scan would walk every delivered row first), so the cost follows the number
    of due rows, not the outbox's history.
    """
    if not platform_ids:
        return None
    return session.scalar(select(func.min(OutboxStatement.id + 0)).where(*_claimable(now, platform_ids)))


def claim_due(
    session: Session,
    now: datetime,
    platform_ids: Sequence[int],
    limit: int,
    lease: timedelta,
    after_id: int = 0,
) -> list[Claimed]:
    """Lease up to ``limit`` due rows of ``platform_ids`` with ids above ``after_id``, in id order;
    the caller commits at once. A run passes the last id it claimed as ``after_id``, so each
    claim reads on from there along the primary key instead of from the oldest row."""
    if not platform_ids or limit <= 0:
        return []
    # A materialised CTE, not ``id IN (subquery)``: PostgreSQL may run such a subquery again for
    # every row of a nested loop, and each run skips the rows this UPDATE already changed, so the
    # LIMIT would be exceeded (30 rows claimed of 20 asked, seen under load when the statistics
    # changed the plan). The CTE is selected and locked once.
    due = (
        select(OutboxStatement.id)
        .where(OutboxStatement.id > after_id, *_claimable(now, platform_ids))
        .order_by(OutboxStatement.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .cte("due")
        .prefix_with("MATERIALIZED", dialect="postgresql")
    )
    claim = (
        update(OutboxStatement)
        .where(OutboxStatement.id.in_(select(due.c.id)))
        .values(claimed_until=now + lease)
        .returning(
            OutboxStatement.id,
            OutboxStatement.platform_id,
            OutboxStatement.statement_id,
            OutboxStatement.attempts,
            cast(OutboxStatement.statement, Text),  # the stored text itself, never re-serialised
        )
        .execution_options(synchronize_session=False)
    )
    rows = session.execute(claim).all()
    claimed = [Claimed(r[0], r[1], r[2], r[3], r[4].encode("utf-8")) for r in rows]
    claimed.sort(key=lambda row: row.id)
    return claimed


@dataclass
class BatchResult:
    """What happened to one LRS's claimed rows."""

    delivered: list[int] = field(default_factory=list)
    conflicts: list[tuple[int, str]] = field(default_factory=list)  # already in the LRS: delivered
    failed: list[tuple[int, str]] = field(default_factory=list)
    deferred: list[Claimed] = field(default_factory=list)  # sent, not stored: back off
    unsent: list[int] = field(default_factory=list)  # never sent in this run
    retry: Answer | None = None  # set when the LRS must not be asked again in this run
    posts: int = 0


def send(client: LrsClient, rows: Sequence[Claimed], renew: Callable[[list[int]], None] | None = None) -> BatchResult:
    """POST ``rows`` as one batch; on a refusal, split until each refused statement stands alone."""
    result = BatchResult()
    queue: deque[list[Claimed]] = deque([list(rows)])
    while queue:
        part = queue.popleft()
        if renew is not None and result.posts:
            renew([r.id for p in (part, *queue) for r in p])
        answer = client.post_statements([r.document for r in part])
        result.posts += 1
        if answer.outcome is Outcome.STORED:
            result.delivered.extend(r.id for r in part)
        elif answer.outcome is Outcome.CONFLICT:
            named = set(answer.ids)
            held = [r for r in part if r.statement_id.lower() in named] or (part if len(part) == 1 else [])
            if held:
                result.conflicts.extend((r.id, answer.reason) for r in held)
                held_ids = {r.id for r in held}
                rest = [r for r in part if r.id not in held_ids]
                if rest:
                    queue.appendleft(rest)
            else:
                queue.extendleft(reversed(_halves(part)))
        elif answer.outcome is Outcome.REJECTED:
            if len(part) == 1:
                result.failed.append((part[0].id, answer.reason))
                continue
            pointed = [part[i] for i in answer.positions if i < len(part)]
            if pointed and len(pointed) < len(part):
                pointed_ids = {r.id for r in pointed}
                rest = [r for r in part if r.id not in pointed_ids]
                queue.extendleft(reversed([[r] for r in pointed] + [rest]))
            else:
                queue.extendleft(reversed(_halves(part)))
        else:
            result.retry = answer
            result.deferred.extend(part)
            result.unsent.extend(r.id for p in queue for r in p)
            queue.clear()
    return result


def _halves(part: list[Claimed]) -> list[list[Claimed]]:
    middle = len(part) // 2
    return [part[:middle], part[middle:]]


def record(session: Session, result: BatchResult, now: datetime, rng: random.Random | None = None) -> None:
    """Write ``result`` with bulk UPDATEs by id (only rows still pending change); the caller commits."""
    pending = OutboxStatement.status == OutboxStatus.PENDING

    def change(ids: Iterable[int], **values: object) -> None:
        wanted = list(ids)
        if wanted:
            session.execute(
                update(OutboxStatement)
                .where(OutboxStatement.id.in_(wanted), pending)
                .values(**values)
                .execution_options(synchronize_session=False)
            )

    change(result.delivered, status=OutboxStatus.DELIVERED, delivered_at=now, claimed_until=None, last_error=None)
    for row_id, reason in result.conflicts:
        change(
            [row_id],
            status=OutboxStatus.DELIVERED,
            delivered_at=now,
            claimed_until=None,
            last_error=f"the LRS already held this id: {reason}"[:REASON_MAX_LENGTH],
        )
    for row_id, reason in result.failed:
        change(
            [row_id],
            status=OutboxStatus.FAILED,
            attempts=OutboxStatement.attempts + 1,
            claimed_until=None,
            last_error=reason[:REASON_MAX_LENGTH],
        )
    if result.deferred:
        answer = result.retry
        tries = max(r.attempts for r in result.deferred) + 1
        pause = backoff(tries, rng)
        if answer is not None and answer.retry_after:
            pause = max(pause, min(timedelta(seconds=answer.retry_after), BACKOFF_CAP))
        change(
            [r.id for r in result.deferred],
            attempts=OutboxStatement.attempts + 1,
            next_attempt_at=now + pause,
            claimed_until=now,  # past: claimable again, and "may have reached the LRS" for erasure
            last_error=(answer.reason if answer else "")[:REASON_MAX_LENGTH] or None,
        )
    # Rows never sent in this run: released; one attempted before keeps a past lease (see module doc).
    change(result.unsent, claimed_until=case((OutboxStatement.attempts > 0, now), else_=None))


def deliver_once(
    app: Flask,
    *,
    lease: timedelta | None = None,
    budget: timedelta | None = None,
    rng: random.Random | None = None,
) -> dict[str, int]:
    """Deliver everything due, LRS by LRS, until nothing is due (or ``budget`` is spent).

    Returns counts: ``delivered`` (conflicts included), ``failed`` (refused by the LRS),
    ``deferred`` (to be retried after a backoff), ``batches`` (POSTs).
    """
    settings = get_settings(app)
    lease = lease or lease_from(settings)
    size = settings.xapi_batch_size
    counts: Counter[str] = Counter(delivered=0, failed=0, deferred=0, batches=0)
    clients: dict[Lrs, LrsClient] = {}
    stopped: set[Lrs] = set()
    started = time.monotonic()
    wire = ThreadPoolExecutor(max_workers=1, thread_name_prefix="xapi-send")  # one batch on the wire at a time

    def send_claim(claimed: list[Claimed]) -> list[tuple[Lrs, BatchResult]]:
        """Runs on the wire thread: each LRS's rows of one claim, one LRS after the other."""
        results = []
        for lrs, rows in _by_lrs(claimed, routes).items():
            client = clients.get(lrs) or clients.setdefault(lrs, LrsClient(lrs))
            results.append((lrs, send(client, rows, renew=_renewer(app, lease))))
        return results

    def out_of_time() -> bool:
        return budget is not None and time.monotonic() - started > budget.total_seconds()

    session: Session = app.extensions["wordofmouth.sessions"]()
    try:
        routes = {pid: lrs for pid, lrs in resolve_all(session, settings).items() if lrs is not None}
        session.commit()

        def open_ids() -> list[int]:
            return [pid for pid, lrs in routes.items() if lrs not in stopped]

        # Each pass reads the outbox once in id order from the first claimable row; a row that became
        # claimable behind the reading position meanwhile (an expired lease) is found by the next pass.
        while not out_of_time():
            _relax(session)
            start = first_claimable_id(session, utcnow(), open_ids())
            claimed = [] if start is None else claim_due(session, utcnow(), open_ids(), size, lease, start - 1)
            session.commit()
            if not claimed:
                break
            # Pipelined: while one batch is on the wire, this thread records the outcome of the one
            # before and claims the one after, in ONE transaction (one commit per batch), committed
            # before that batch is sent: no transaction is ever open across a request.
            on_wire: Future[list[tuple[Lrs, BatchResult]]] | None = wire.submit(send_claim, claimed)
            after = claimed[-1].id
            _relax(session)
            upcoming = [] if out_of_time() else claim_due(session, utcnow(), open_ids(), size, lease, after)
            session.commit()
            while on_wire is not None:
                results = on_wire.result()
                for lrs, result in results:
                    if result.retry is not None:
                        stopped.add(lrs)
                held_back = [row for row in upcoming if routes[row.platform_id] in stopped]
                upcoming = [row for row in upcoming if routes[row.platform_id] not in stopped]
                on_wire = wire.submit(send_claim, upcoming) if upcoming else None
                _relax(session)
                for lrs, result in results:
                    record(session, result, utcnow(), rng)
                    _count(counts, lrs, result)
                if held_back:
                    record(session, BatchResult(unsent=[row.id for row in held_back]), utcnow(), rng)
                if on_wire is not None and not out_of_time():
                    after = upcoming[-1].id
                    upcoming = claim_due(session, utcnow(), open_ids(), size, lease, after)
                else:
                    upcoming = []
                session.commit()
    finally:
        wire.shutdown(wait=True)
        session.rollback()
        session.close()
        for client in clients.values():
            client.close()
    return dict(counts)


def _by_lrs(claimed: list[Claimed], routes: dict[int, Lrs]) -> dict[Lrs, list[Claimed]]:
    groups: dict[Lrs, list[Claimed]] = {}
    for row in claimed:
        groups.setdefault(routes[row.platform_id], []).append(row)
    return groups


def _count(counts: Counter[str], lrs: Lrs, result: BatchResult) -> None:
    counts["batches"] += result.posts
    counts["delivered"] += len(result.delivered) + len(result.conflicts)
    counts["failed"] += len(result.failed)
    counts["deferred"] += len(result.deferred)
    for row_id, reason in result.failed:
        log.warning("xapi: %s refused outbox row %s: %s", lrs.endpoint, row_id, reason)
    if result.retry is not None:
        log.warning(
            "xapi: %s unavailable, %d statement(s) retried later: %s",
            lrs.endpoint,
            len(result.deferred),
            result.retry.reason,
        )


def _relax(session: Session) -> None:
    """On PostgreSQL, this transaction's commit does not wait for the WAL flush.

    Safe here because every write of the delivery loop is idempotent bookkeeping: a claim, a
    delivered/failed mark or a backoff lost in a database crash only means a statement is sent
    again, which the LRS stores once. Visibility to other workers is unchanged (only durability
    is relaxed), so SKIP LOCKED and the leases work as before. The outbox rows themselves are
    written by the learners' requests with ordinary commits.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL synchronous_commit TO OFF"))


def _renewer(app: Flask, lease: timedelta) -> Callable[[list[int]], None]:
    """Extend the lease of rows still to send when half of it has passed (a long bisection), in
    a short transaction of its own."""
    taken = utcnow()

    def renew(ids: list[int]) -> None:
        nonlocal taken
        now = utcnow()
        if ids and now - taken > lease / 2:
            with app.extensions["wordofmouth.sessions"]() as session:
                session.execute(
                    update(OutboxStatement)
                    .where(OutboxStatement.id.in_(ids), OutboxStatement.status == OutboxStatus.PENDING)
                    .values(claimed_until=now + lease)
                    .execution_options(synchronize_session=False)
                )
                session.commit()
            taken = now

    return renew


def job(app: Flask) -> dict[str, int]:
    """The worker job: one run, yielding after :data:`JOB_BUDGET` so a shutdown is not kept waiting."""
    return deliver_once(app, budget=JOB_BUDGET)


# --- status and retry (wordofmouth xapi status / retry) ------------------------------------------


@dataclass
class LrsStatus:
    """The outbox of one LRS endpoint (never its credentials)."""

    endpoint: str
    pending: int = 0
    delivered: int = 0
    failed: int = 0
    oldest_pending_at: datetime | None = None
    platforms: int = 0


@dataclass
class OutboxReport:
    lrs: list[LrsStatus]
    unrouted_pending: int = 0  # waiting because their platform has no LRS
    unrouted_oldest_at: datetime | None = None
    unrouted_platforms: list[str] = field(default_factory=list)  # issuers (client ids)
    settings_to_set: tuple[str, ...] = DEFAULT_SETTINGS


def outbox_status(session: Session, settings: Settings) -> OutboxReport:
    """Counts per LRS endpoint and per status, the oldest pending statement, and what waits for
    want of an LRS. Platforms sharing an endpoint are summed (two stores on one server are one
    line here)."""
    routes = resolve_all(session, settings)
    rows = delivery_health.outbox_counts(session)  # the console shows the same counts per platform
    by_endpoint: dict[str, LrsStatus] = {}
    for lrs in routes.values():
        if lrs is not None:
            entry = by_endpoint.setdefault(lrs.endpoint, LrsStatus(lrs.endpoint))
            entry.platforms += 1
    report = OutboxReport(lrs=[])
    unrouted: set[int] = set()
    for pid, status, count, oldest in ((r.platform_id, r.status, r.count, r.oldest_at) for r in rows):
        lrs = routes.get(pid)
        if lrs is None:
            if status is OutboxStatus.PENDING:
                report.unrouted_pending += count
                unrouted.add(pid)
                report.unrouted_oldest_at = _earliest(report.unrouted_oldest_at, oldest)
            continue
        entry = by_endpoint[lrs.endpoint]
        setattr(entry, status.value, getattr(entry, status.value) + count)
        if status is OutboxStatus.PENDING:
            entry.oldest_pending_at = _earliest(entry.oldest_pending_at, oldest)
    report.lrs = [by_endpoint[k] for k in sorted(by_endpoint)]
    if unrouted:
        names = session.execute(
            select(Platform.issuer, Platform.client_id).where(Platform.id.in_(unrouted)).order_by(Platform.issuer)
        )
        report.unrouted_platforms = [f"{issuer} (client {client_id})" for issuer, client_id in names]
    return report


def retry_failed(session: Session, now: datetime | None = None) -> int:
    """Failed statements back to pending, attempts reset, due now; how many. The caller commits."""
    now = now or utcnow()
    result = session.execute(
        update(OutboxStatement)
        .where(OutboxStatement.status == OutboxStatus.FAILED)
        .values(status=OutboxStatus.PENDING, attempts=0, next_attempt_at=now, claimed_until=None, last_error=None)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


def _earliest(a: datetime | None, b: datetime | None) -> datetime | None:
    if a is None:
        return b
    if b is None:
        return a
    return min(a, b)


def init_app(app: Flask) -> None:
    """Register the ``xapi-deliver`` job, run every ``WOM_XAPI_DELIVER_SECONDS``."""
    settings = get_settings(app)
    register_job(app, JOB_NAME, job, every=timedelta(seconds=settings.xapi_deliver_seconds))
