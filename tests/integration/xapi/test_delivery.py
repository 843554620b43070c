"""Delivering the outbox to a real LRS (tests/support/lrs.py) from SQLite and PostgreSQL.

What the LRS answers for ids it already holds is pinned here too, because delivery relies on it:
an identical resend (alone or inside a batch) is stored once and answered 200; a batch with one id
held under different content is answered 409 naming that id, and none of the batch is stored.
"""

from __future__ import annotations

import http.server
import itertools
import json
import logging
import random
import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from plugin.app import create_app
from plugin.db import utcnow
from plugin.models import OutboxStatement, OutboxStatus
from plugin.services import comments, ratings
from tests.support.factories import World, at, make_world
from tests.support.lrs import RunningLrs
from xapi import delivery, outbox
from xapi import lrs as lrs_settings
from xapi import statements as build
from xapi.delivery import backoff, claim_due, deliver_once
from xapi.lrs import Lrs
from xapi.transport import LrsClient, Outcome

SECRET = "s3cret-LRS-pa55word"
HELD_LIMIT = 10_000


@pytest.fixture
def lrs_app(app_config: dict[str, str], lrs: RunningLrs) -> Iterator[Flask]:
    """The app with the test LRS as the default LRS (WOM_LRS_*)."""
    application = create_app(
        {
            **app_config,
            "WOM_LRS_ENDPOINT": lrs.endpoint,
            "WOM_LRS_USERNAME": lrs.username,
            "WOM_LRS_PASSWORD": SECRET,
        }
    )
    yield application
    application.extensions["wordofmouth.engine"].dispose()


@pytest.fixture
def session(lrs_app: Flask) -> Iterator[Session]:
    db = lrs_app.extensions["wordofmouth.sessions"]()
    yield db
    db.rollback()
    db.close()


def held(lrs: RunningLrs) -> list[dict[str, Any]]:
    """Every statement the LRS lists, in ONE page. Its in-memory store pages with ``_id < cursor``
    over uuid1 strings while it sorts by ``stored``: when the uuid1 clock field wraps (every ~7
    minutes) its more links repeat and skip statements, so a count must not span pages."""
    found = lrs.get_statements(limit=HELD_LIMIT)
    assert len(found) < HELD_LIMIT
    return found


class ZeroJitter(random.Random):
    """A random source whose draws are always the lowest value: a failed row is due again at once."""

    def uniform(self, a: float, b: float) -> float:
        return a


def rows(session: Session) -> list[OutboxStatement]:
    session.rollback()  # see what the worker committed: a new transaction, fresh attribute values
    session.expire_all()
    return list(session.scalars(select(OutboxStatement).order_by(OutboxStatement.id)))


def comment_many(session: Session, world: World, count: int, start: int = 0) -> None:
    """``count`` real comments (one statement each) by ada, committed."""
    for n in range(start, start + count):
        comments.post_comment(session, world.ada, world.thread(), f"Comment number {n}", now=at(n / 60))
    session.commit()


def stored_document(row: OutboxStatement) -> dict[str, Any]:
    return json.loads(json.dumps(row.statement))


def assert_in_lrs_as_stored(lrs: RunningLrs, row: OutboxStatement) -> None:
    held = lrs.get_statement(row.statement_id) or lrs.get_statement(row.statement_id, voided=True)
    assert held is not None, f"{row.statement_id} is not in the LRS"
    document = stored_document(row)
    # Everything we stored arrives as stored; the LRS only adds its own properties.
    assert {k: held[k] for k in document} == document
    assert set(held) - set(document) <= {"stored", "authority", "version"}


# --- what the LRS does with ids it already holds (pinned; delivery relies on it) -------------------


def _statement(**fields: Any) -> dict[str, Any]:
    body = {
        "id": str(uuid.uuid4()),
        "actor": {"objectType": "Agent", "account": {"homePage": "https://a.lms.example", "name": "ada"}},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/commented", "display": {"en-US": "commented"}},
        "object": {"objectType": "Activity", "id": "https://a.lms.example/course/1"},
        "timestamp": "2026-03-02T09:00:00.000Z",
    }
    body.update(fields)
    return body


def test_the_lrs_stores_a_batch_repeating_a_held_statement_identically_and_refuses_one_that_differs(
    lrs: RunningLrs,
) -> None:
    stored = _statement()
    with LrsClient(Lrs(lrs.endpoint, lrs.username, SECRET)) as client:
        assert client.post_statements([stored]).outcome is Outcome.STORED

        fresh = [_statement(), _statement()]
        same = client.post_statements([fresh[0], stored, fresh[1]])
        assert same.outcome is Outcome.STORED and same.status == 200
        assert same.ids == (fresh[0]["id"], stored["id"], fresh[1]["id"])
        assert all(lrs.get_statement(s["id"]) is not None for s in fresh)  # the new ones are stored

        others = [_statement(), _statement()]
        changed = dict(stored, timestamp="2026-03-02T10:00:00.000Z")
        different = client.post_statements([others[0], changed, others[1]])
        assert different.outcome is Outcome.CONFLICT and different.status == 409
        assert different.ids == (stored["id"],)
        assert f"{stored['id']} is conflicting" in different.reason
        assert all(lrs.get_statement(s["id"]) is None for s in others)  # nothing of that batch is stored
    assert len(held(lrs)) == 3


# --- delivered as stored ----------------------------------------------------------------------------


def test_real_actions_arrive_in_the_lrs_exactly_as_stored(lrs_app: Flask, session: Session, lrs: RunningLrs) -> None:
    world = make_world(session)
    review = ratings.rate(session, world.ada, 4, "Short and practical", now=at(1))
    ratings.set_helpful(session, world.bob, review.id, True)
    top = comments.post_comment(session, world.bob, world.thread(), "Is the quiz graded?", now=at(2))
    comments.post_comment(session, world.ada, world.thread(), "No, practice only.", top.id, now=at(3))
    ratings.rate(session, world.ada, 5, "Even better the second time", now=at(4))  # voids the first rating
    ratings.rate(session, world.foreign_learner, 3, now=at(5))  # platform B: same default LRS
    session.commit()
    queued = rows(session)
    assert len(queued) == 7 and {r.status for r in queued} == {OutboxStatus.PENDING}

    counts = deliver_once(lrs_app)

    assert counts == {"delivered": 7, "failed": 0, "deferred": 0, "batches": 1}
    for row in rows(session):
        assert row.status is OutboxStatus.DELIVERED
        assert row.delivered_at is not None and row.claimed_until is None and row.last_error is None
        assert_in_lrs_as_stored(lrs, row)
    voided_first = lrs.get_statement(queued[0].statement_id, voided=True)
    assert voided_first is not None and voided_first["result"]["score"]["raw"] == 4
    # Nothing else arrived, and another run finds nothing to do.
    held_ids = {s["id"] for s in held(lrs)} | {queued[0].statement_id}
    assert held_ids == {r.statement_id for r in queued}
    assert deliver_once(lrs_app) == {"delivered": 0, "failed": 0, "deferred": 0, "batches": 0}


def test_statements_of_a_platform_without_an_lrs_wait_unclaimed(app: Flask, db: Session) -> None:
    world = make_world(db)
    ratings.rate(db, world.ada, 5, now=at(1))
    db.commit()

    assert deliver_once(app) == {"delivered": 0, "failed": 0, "deferred": 0, "batches": 0}
    [row] = rows(db)
    assert row.status is OutboxStatus.PENDING and row.claimed_until is None and row.attempts == 0
    report = delivery.outbox_status(db, app.extensions["wordofmouth.settings"])
    assert report.lrs == [] and report.unrouted_pending == 1
    assert report.unrouted_platforms == ["https://a.lms.example (client client-a)"]


def test_each_platform_goes_to_its_own_lrs_or_waits(app: Flask, db: Session, lrs: RunningLrs) -> None:
    world = make_world(db)  # no default LRS in ``app``
    lrs_settings.update_settings(db, world.platform_b, endpoint=lrs.endpoint, username="b-user", password=SECRET)
    ratings.rate(db, world.ada, 5, now=at(1))
    foreign = ratings.rate(db, world.foreign_learner, 2, now=at(2))
    db.commit()

    assert deliver_once(app)["delivered"] == 1
    waiting, sent = rows(db)
    assert waiting.platform_id == world.platform_a.id and waiting.status is OutboxStatus.PENDING
    assert sent.platform_id == world.platform_b.id and sent.status is OutboxStatus.DELIVERED
    assert [s["id"] for s in held(lrs)] == [sent.statement_id]
    assert held(lrs)[0]["result"]["score"]["raw"] == foreign.stars


# --- the LRS down, then back -----------------------------------------------------------------------


def test_a_thousand_actions_while_the_lrs_is_down_are_all_delivered_once_when_it_is_back(
    lrs_app: Flask, session: Session, lrs: RunningLrs
) -> None:
    world = make_world(session)
    with lrs.down():
        for round_ in range(10):
            comment_many(session, world, 100, start=round_ * 100)
            counts = deliver_once(lrs_app, rng=ZeroJitter())  # the worker keeps trying meanwhile
            assert counts["delivered"] == 0 and counts["deferred"] > 0
            assert counts["batches"] == 1  # one refused connection, then nothing more to that LRS this run
        queued = rows(session)
        assert len(queued) == 1000
        assert {r.status for r in queued} == {OutboxStatus.PENDING}
        assert all(r.claimed_until is None or r.claimed_until <= utcnow() for r in queued)  # none left leased
        tried = [r for r in queued if r.attempts]
        assert tried and all("cannot connect" in (r.last_error or "") for r in tried)

    counts = deliver_once(lrs_app)  # the LRS is back (empty, same port)

    assert counts["delivered"] == 1000 and counts["failed"] == 0 and counts["deferred"] == 0
    delivered = rows(session)
    assert {r.status for r in delivered} == {OutboxStatus.DELIVERED}
    in_lrs = [s["id"] for s in held(lrs)]
    assert len(in_lrs) == len(set(in_lrs)) == 1000
    assert set(in_lrs) == {r.statement_id for r in delivered}


class _Answering(http.server.ThreadingHTTPServer):
    """A tiny local HTTP server answering every POST with one canned status (a mock LRS for the
    answers a real one cannot give on demand, e.g. 503)."""

    daemon_threads = True

    def __init__(self, status: int, headers: dict[str, str] | None = None, body: bytes = b"") -> None:
        self.status, self.extra, self.body = status, headers or {}, body
        self.posts = 0
        self.authorizations: list[str] = []
        super().__init__(("127.0.0.1", 0), _AnsweringHandler)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/xAPI/"


class _AnsweringHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Answering

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.server.posts += 1
        self.server.authorizations.append(self.headers.get("Authorization", ""))
        self.send_response(self.server.status)
        for name, value in self.server.extra.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(self.server.body)))
        self.end_headers()
        self.wfile.write(self.server.body)

    def log_message(self, *_args: object) -> None:
        pass


@contextmanager
def answering(status: int, headers: dict[str, str] | None = None, body: bytes = b"") -> Iterator[_Answering]:
    server = _Answering(status, headers, body)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def test_a_503_releases_the_batch_with_backoff_and_stops_that_lrs_for_the_run(app: Flask, db: Session) -> None:
    world = make_world(db)
    comment_many(db, world, 250)
    body = json.dumps({"message": "maintenance until noon"}).encode()
    with answering(503, {"Content-Type": "application/json", "Retry-After": "30"}, body) as server:
        lrs_settings.update_settings(db, world.platform_a, endpoint=server.endpoint, username="u", password=SECRET)
        db.commit()
        before = utcnow()
        counts = deliver_once(app, rng=random.Random(7))
        assert server.posts == 1
    assert counts == {"delivered": 0, "failed": 0, "deferred": 100, "batches": 1}
    queued = rows(db)
    tried, untouched = queued[:100], queued[100:]
    for row in tried:
        assert row.status is OutboxStatus.PENDING and row.attempts == 1
        assert row.last_error == "503 Service Unavailable: maintenance until noon"
        # At least the LRS's Retry-After; never more than the cap.
        assert before + timedelta(seconds=30) <= row.next_attempt_at <= utcnow() + delivery.BACKOFF_CAP
        assert row.claimed_until is not None and row.claimed_until <= utcnow()  # released
    assert len({r.next_attempt_at for r in tried}) == 1  # the batch comes back together
    assert all(r.attempts == 0 and r.claimed_until is None and r.last_error is None for r in untouched)


def test_a_wrong_endpoint_keeps_statements_pending_instead_of_failing_them(
    app: Flask, db: Session, lrs: RunningLrs
) -> None:
    world = make_world(db)
    comment_many(db, world, 3)
    wrong = lrs.endpoint.replace("/xAPI/", "/xapi-typo/")
    lrs_settings.update_settings(db, world.platform_a, endpoint=wrong, username="u", password=SECRET)
    db.commit()

    counts = deliver_once(app, rng=ZeroJitter())

    assert counts == {"delivered": 0, "failed": 0, "deferred": 3, "batches": 1}  # not refused one by one
    for row in rows(db):
        assert row.status is OutboxStatus.PENDING and row.attempts == 1
        assert row.last_error == "404 Not Found: Cannot POST /xapi-typo/statements"  # its HTML page, as text
    lrs_settings.update_settings(db, world.platform_a, endpoint=lrs.endpoint)  # fixed by the admin
    db.commit()
    assert deliver_once(app)["delivered"] == 3


def test_backoff_grows_exponentially_with_full_jitter_up_to_the_cap() -> None:
    rng = random.Random(20260302)
    ceilings = {n: min(10 * 2 ** (n - 1), 600) for n in range(1, 12)}
    draws = {n: [backoff(n, rng).total_seconds() for _ in range(400)] for n in ceilings}
    for n, values in draws.items():
        assert all(0 <= value <= ceilings[n] for value in values)
        assert max(values) > 0.9 * ceilings[n]  # it reaches near its ceiling ...
        assert min(values) < 0.1 * ceilings[n]  # ... and near zero: full jitter, not "ceiling +- a bit"
        assert len(set(values)) == len(values)  # jittered: no two rows wait the same
    means = [sum(draws[n]) / len(draws[n]) for n in range(1, 8)]
    assert all(later > 1.5 * earlier for earlier, later in itertools.pairwise(means))  # doubling
    assert max(draws[11]) <= 600 and max(draws[11]) > 540  # capped at 10 minutes
    again = random.Random(20260302)
    assert [backoff(n, again).total_seconds() for n in ceilings for _ in range(400)] == [
        v for n in ceilings for v in draws[n]
    ]  # seeded: reproducible


def test_a_silent_lrs_is_a_timeout_to_retry_and_nothing_hangs() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)  # the kernel accepts connections; nobody ever answers
        port = listener.getsockname()[1]
        client = LrsClient(Lrs(f"http://127.0.0.1:{port}/xAPI/", "u", SECRET), read_timeout=0.5, deadline=5)
        with client:
            answer = client.post_statements([_statement()])
    assert answer.outcome is Outcome.RETRY and answer.status is None
    assert answer.reason == f"no answer from http://127.0.0.1:{port}/xAPI/ for 0.5 s"
    assert answer.seconds < 5


@pytest.mark.parametrize(
    "opening",
    [
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n[",
        b"HTTP/1.1 200 OK\r\nX-Slow: ",
    ],
    ids=["body", "headers"],
)
def test_an_answer_that_trickles_in_is_cut_at_the_total_deadline(opening: bytes) -> None:
    """Each byte comes well within the read timeout, so only the total deadline can stop it."""
    stop = threading.Event()

    def trickle(listener: socket.socket) -> None:
        connection, _ = listener.accept()
        with connection:
            connection.recv(65536)
            connection.sendall(opening)
            while not stop.wait(0.05):
                try:
                    connection.sendall(b"x")
                except OSError:  # the client gave up
                    return

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        server = threading.Thread(target=trickle, args=(listener,), daemon=True)
        server.start()
        lrs = Lrs(f"http://127.0.0.1:{listener.getsockname()[1]}/xAPI/", "u", SECRET)
        try:
            with LrsClient(lrs, read_timeout=30, deadline=1) as client:
                answer = client.post_statements([_statement()])
        finally:
            stop.set()
            server.join(timeout=30)
    assert answer.outcome is Outcome.RETRY and answer.reason == f"no complete answer from {lrs.endpoint} within 1 s"
    assert 1 <= answer.seconds < 30


# --- refused statements ------------------------------------------------------------------------------


def _insert_raw(session: Session, platform_id: int, document: dict[str, Any]) -> OutboxStatement:
    """A row as the outbox would hold it, but with JSON the LRS refuses (enqueue would check it)."""
    row = OutboxStatement(
        platform_id=platform_id,
        learner_id=None,
        statement_id=document["id"],
        verb=document["verb"]["id"],
        statement=document,
        status=OutboxStatus.PENDING,
        next_attempt_at=utcnow(),
    )
    session.add(row)
    session.flush()
    return row


def test_one_malformed_statement_in_a_batch_fails_alone_and_the_others_are_delivered(
    lrs_app: Flask, session: Session, lrs: RunningLrs
) -> None:
    world = make_world(session)
    comment_many(session, world, 5)
    bad = _insert_raw(session, world.platform_a.id, _statement(timestamp="2026-03-02T09:00:00"))  # no zone
    comment_many(session, world, 5, start=5)

    counts = deliver_once(lrs_app)

    assert counts["delivered"] == 10 and counts["failed"] == 1 and counts["deferred"] == 0
    assert counts["batches"] == 3  # the batch, the statement its answer points at alone, the rest
    for row in rows(session):
        if row.id == bad.id:
            assert row.status is OutboxStatus.FAILED and row.attempts == 1 and row.delivered_at is None
            assert row.last_error == (
                "400 Bad Request: Problem in 'statements.0.timestamp'. Received '\"2026-03-02T09:00:00\"'"
            )
            assert lrs.get_statement(row.statement_id) is None
        else:
            assert row.status is OutboxStatus.DELIVERED
            assert_in_lrs_as_stored(lrs, row)
    assert len(held(lrs)) == 10


def test_refusals_without_a_position_are_isolated_by_bisection(
    lrs_app: Flask, session: Session, lrs: RunningLrs
) -> None:
    world = make_world(session)
    comment_many(session, world, 3)
    [target] = rows(session)[:1]
    settings = lrs_app.extensions["wordofmouth.settings"]
    tool = build.tool_agent(outbox.options_for(session, settings, world.platform_a.id))
    voider = build.voided(tool, str(uuid.uuid4()), at(10), target.statement_id)
    outbox.enqueue(session, world.platform_a.id, voider, learner_id=None, current=False)
    session.commit()
    assert deliver_once(lrs_app)["delivered"] == 4
    # Two statements that void the voider: the LRS refuses them with a message naming no position.
    comment_many(session, world, 6, start=3)
    bad = []
    for n in range(2):
        again = build.voided(tool, str(uuid.uuid4()), at(11 + n), str(voider.id))
        bad.append(outbox.enqueue(session, world.platform_a.id, again, learner_id=None, current=False))
    session.flush()
    bad_ids = {row.id for row in bad}
    comment_many(session, world, 7, start=9)

    counts = deliver_once(lrs_app)

    assert counts["delivered"] == 13 and counts["failed"] == 2
    assert counts["batches"] > 3  # halving, not one guess
    for row in rows(session):
        if row.id in bad_ids:
            assert row.status is OutboxStatus.FAILED
            assert row.last_error == f"400 Bad Request: Voider cannot void another voider ({voider.id})"
        else:
            assert row.status is OutboxStatus.DELIVERED
    assert len(held(lrs)) == 3 + 13  # 2 comments and the voider, then 13 (the voided one is hidden)


def test_an_identical_resend_of_a_delivered_statement_counts_as_delivered(
    lrs_app: Flask, session: Session, lrs: RunningLrs
) -> None:
    world = make_world(session)
    comment_many(session, world, 4)
    assert deliver_once(lrs_app)["delivered"] == 4
    # The acknowledgement was lost (say the worker died after the LRS stored the batch): all pending again.
    session.execute(update(OutboxStatement).values(status=OutboxStatus.PENDING, delivered_at=None))
    comment_many(session, world, 2, start=4)

    counts = deliver_once(lrs_app)

    assert counts == {"delivered": 6, "failed": 0, "deferred": 0, "batches": 1}
    assert {r.status for r in rows(session)} == {OutboxStatus.DELIVERED}
    assert all(r.last_error is None for r in rows(session))
    assert len(held(lrs)) == 6


def test_an_id_the_lrs_holds_with_other_content_counts_as_delivered_and_the_rest_is_sent(
    lrs_app: Flask, session: Session, lrs: RunningLrs
) -> None:
    world = make_world(session)
    comment_many(session, world, 5)
    clash = rows(session)[2]
    other = dict(stored_document(clash), timestamp="2020-01-01T00:00:00.000Z")
    assert lrs.post_statements([other]).status_code == 200

    counts = deliver_once(lrs_app)

    assert counts == {"delivered": 5, "failed": 0, "deferred": 0, "batches": 2}
    for row in rows(session):
        assert row.status is OutboxStatus.DELIVERED
        if row.id == clash.id:
            assert row.last_error and f"409 Conflict: {row.statement_id} is conflicting" in row.last_error
        else:
            assert row.last_error is None
            assert_in_lrs_as_stored(lrs, row)
    assert lrs.get_statement(clash.statement_id)["timestamp"] == "2020-01-01T00:00:00.000Z"  # theirs stays


# --- several workers ---------------------------------------------------------------------------------


@pytest.mark.postgres_only
def test_a_claim_takes_at_most_its_limit_whatever_plan_postgresql_picks(
    backend: str, lrs_app: Flask, session: Session
) -> None:
    """``UPDATE ... WHERE id IN (SELECT ... LIMIT n FOR UPDATE SKIP LOCKED)`` may run its subquery
    again for every outer row (a nested loop, chosen once the table's statistics change, as under
    load); rows the same UPDATE already changed are then skipped and the LIMIT is exceeded. The
    claim must run its selection once, whatever the plan."""
    world = make_world(session)
    comment_many(session, world, 30)
    claimer = lrs_app.extensions["wordofmouth.sessions"]()
    try:
        # The plan that exceeded the limit: a nested loop whose inner side is the subquery.
        for setting in ("enable_hashjoin", "enable_mergejoin", "enable_material", "enable_hashagg", "enable_sort"):
            claimer.execute(text(f"SET LOCAL {setting} = off"))
        claimed = claim_due(claimer, utcnow(), [world.platform_a.id, world.platform_b.id], 20, timedelta(minutes=5))
        assert len(claimed) == 20
        claimer.commit()
    finally:
        claimer.close()
    leased = [r for r in rows(session) if r.claimed_until is not None]
    assert len(leased) == 20


@pytest.mark.postgres_only
def test_two_workers_on_postgresql_claim_disjoint_rows(backend: str, lrs_app: Flask, session: Session) -> None:
    world = make_world(session)
    comment_many(session, world, 30)
    all_ids = {r.id for r in rows(session)}
    platform_ids = [world.platform_a.id, world.platform_b.id]
    sessions = lrs_app.extensions["wordofmouth.sessions"]
    first, second = sessions(), sessions()
    try:
        now = utcnow()
        mine = claim_due(first, now, platform_ids, 20, timedelta(minutes=5))  # locked until committed
        theirs = claim_due(second, now, platform_ids, 20, timedelta(minutes=5))  # skips them, does not wait
        assert len(mine) == 20 and len(theirs) == 10
        assert {c.id for c in mine}.isdisjoint({c.id for c in theirs})
        assert {c.id for c in mine} | {c.id for c in theirs} == all_ids
        assert [c.id for c in mine] == sorted(c.id for c in mine)  # in id order
        first.commit()
        second.commit()
        third = sessions()
        assert claim_due(third, utcnow(), platform_ids, 20, timedelta(minutes=5)) == []  # all leased
        third.close()
    finally:
        first.close()
        second.close()


@pytest.mark.postgres_only
def test_two_workers_running_side_by_side_deliver_everything_once(
    backend: str, lrs_app: Flask, session: Session, lrs: RunningLrs
) -> None:
    world = make_world(session)
    comment_many(session, world, 600)
    results: list[dict[str, int]] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            results.append(deliver_once(lrs_app))
        except BaseException as exc:  # reported below
            errors.append(exc)

    workers = [threading.Thread(target=work) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=300)
    assert not errors and len(results) == 2
    assert sum(r["delivered"] for r in results) == 600  # each row was delivered by exactly one of them
    assert {r.status for r in rows(session)} == {OutboxStatus.DELIVERED}
    in_lrs = [s["id"] for s in held(lrs)]
    assert len(in_lrs) == len(set(in_lrs)) == 600


# --- credentials -------------------------------------------------------------------------------------


def test_credentials_never_reach_logs_reprs_or_stored_errors(
    app: Flask, db: Session, caplog: pytest.LogCaptureFixture, lrs: RunningLrs
) -> None:
    caplog.set_level(logging.DEBUG)  # urllib3's and ours
    world = make_world(db)
    comment_many(db, world, 3)
    user = "lrs-user-name"
    with answering(401, {"Content-Type": "application/json"}, json.dumps({"message": "Unauthorised"}).encode()) as s:
        lrs_settings.update_settings(db, world.platform_a, endpoint=s.endpoint, username=user, password=SECRET)
        db.commit()
        counts = deliver_once(app, rng=ZeroJitter())
        assert s.authorizations and all(a.startswith("Basic ") for a in s.authorizations)  # it was sent ...
    assert counts["deferred"] == 3  # wrong credentials are no reason to refuse the statements
    with lrs.down():
        assert deliver_once(app, rng=ZeroJitter())["deferred"] == 3  # connection refused
    lrs_settings.update_settings(db, world.platform_a, endpoint=lrs.endpoint, username=user, password=SECRET)
    db.commit()
    assert deliver_once(app)["delivered"] == 3

    target = lrs_settings.resolve_lrs(db, app.extensions["wordofmouth.settings"], world.platform_a.id)
    assert target is not None and target.password == SECRET
    seen = "\n".join(
        [caplog.text, repr(target), str(target), target.key, repr(LrsClient(target))]
        + [r.last_error or "" for r in rows(db)]
    )
    assert "401 Unauthorized: Unauthorised" in caplog.text and "cannot connect" in caplog.text
    assert SECRET not in seen  # ... but never shown
    import base64

    assert base64.b64encode(f"{user}:{SECRET}".encode()).decode() not in seen
