"""xAPI delivery throughput: the outbox worker against the LRS's own ceiling and tincan one by one.

What it does, in one run:

1. a fresh migrated database (a SQLite file in a temporary folder, or with ``--database
   postgresql`` a PostgreSQL schema of its own, like :mod:`bench.widgets_load`) with one platform,
   40 courses, 500 learners; N statements built by :mod:`xapi.statements` (ratings with and
   without a review, comments, replies, helpful votes, follows, recommendations, launches; each
   with its own id) and queued by :func:`xapi.outbox.enqueue` (validated, rows as the app writes
   them), bulk-inserted before every worker round. Building and inserting are not measured;
2. Learning Locker's ``xapi-statements`` 5.0.1 (``tests/support/lrs.py``, in memory) on a free
   loopback port, **a new, empty node process for every measured phase** (restarted; the first
   phase gets the one just started), so each phase inserts into an equally empty store and starts
   from an equally cold node. That matters: this LRS's in-memory store takes longer per statement
   the more it holds (about 1,200 statements/s when empty, near 100/s at 20,000);
3. in rounds (``--repetitions``, default 3), each round (ceiling and worker swap places in even
   rounds, so a machine load that drifts favours neither):

   - **ceiling**: the outbox's stored JSON texts, joined into batches of ``--batch`` beforehand,
     POSTed one batch after another over ONE kept-alive ``requests.Session`` (version header,
     basic auth): what the LRS takes at most from one sequential client;
   - **worker**: the outbox filled again (all N pending), then ``deliver_once(app)`` timed until
     all N are delivered (``WOM_XAPI_BATCH_SIZE=--batch``; the app and its engine live across
     rounds, as in a worker process);
   - **tincan**: ``tincan.RemoteLRS.save_statement`` for the first ``--tincan-sample`` statements
     (a PUT and a new connection each), the naive baseline, scaled to statements/s. Its ratio is
     to the ceiling's rate over its first as many statements (the same store sizes).

Every phase is checked afterwards, outside the timing: the LRS holds exactly the ids sent, each
once (``GET /statements``); after the worker every outbox row is ``delivered`` and
``deliver_once`` counted N delivered in ceil(N / batch) POSTs (nothing sent twice, nothing failed).
A failed check raises.

Reported: the median statements/s of each phase and the median of the per-round ratios to the
ceiling (machines are noisy; the ratios are what to compare), with the goal "worker >= 0.8x
ceiling"; the CPU per statement of the LRS (node), this process (the client; the worker and
SQLite run in it) and the app's PostgreSQL backends, and the worker's ratio by CPU, which a
shared machine distorts less than wall time (every hand-over between worker, database and LRS
waits for a core, and the worker has several per batch where the ceiling has one); and the
worker's own time per POST (worker minus ceiling time). ``--profile`` adds one more worker round
under cProfile (not counted) and prints where its time goes.

``python -m bench.xapi_delivery --help``.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import hashlib
import io
import math
import os
import pstats
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests
import sqlalchemy as sa

from bench import widgets_load
from bench.widgets_load import _cpu_seconds
from tests.support.lrs import LRS_VERSION, RunningLrs, lrs_problem, run_lrs

__all__ = ["lrs_problem", "main", "run"]

DEFAULT_STATEMENTS = 20_000
DEFAULT_BATCH = 100
DEFAULT_REPETITIONS = 3
DEFAULT_TINCAN_SAMPLE = 1_000
GOAL_RATIO = 0.8
SECRET = "bench-secret-key-that-is-long-enough-0123456789"
BASE_URL = "https://wom.bench.example"
ISSUER = "https://lms.bench.example"
LRS_PASSWORD = "bench-lrs-password"
COURSES = 40
LEARNERS = 500
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
REVIEWS = (
    "Clear and practical; the exercises in week two made it click.",
    "Too much theory for my taste, but the case studies are excellent.",
    "Good pace. I would have liked more examples from our own department.",
    "Five stars: I used the negotiation checklist the very next day.",
)
COMMENTS = (
    "Does anyone have the slides from the second session?",
    "The quiz in module 3 marks the last answer wrong, I think.",
    "I found the reading list really useful, especially the article on feedback.",
    "Is there a follow-up course for team leads?",
    "Thanks, that explanation of the framework helped me a lot.",
)


# -- the statements -------------------------------------------------------------------------------
@dataclass
class Workload:
    """N queued statements: outbox rows to insert, their stored JSON texts, their tincan objects."""

    platform_id: int
    rows: list[dict[str, Any]]  # xapi_outbox columns, as enqueue set them
    statements: list[Any]  # tincan.Statement, same order
    texts: list[bytes] = field(default_factory=list)  # the stored JSON texts (what the worker sends)

    @property
    def ids(self) -> list[str]:
        return [row["statement_id"] for row in self.rows]


class _Collector:
    """Stands in for the session :func:`xapi.outbox.enqueue` adds its row to: rows are bulk-inserted."""

    def __init__(self) -> None:
        self.rows: list[Any] = []

    def add(self, row: Any) -> None:
        self.rows.append(row)


def build_workload(app: Any, count: int, rng: random.Random) -> Workload:
    """A platform with courses and learners, and ``count`` statements about them, queued by ``enqueue``."""
    from tincan import StatementRef

    from plugin.models import Learner, Placement
    from plugin.services.launches import upsert_item
    from plugin.services.platforms import PlatformSpec, add_or_update_platform
    from xapi import outbox
    from xapi import statements as build

    settings = app.extensions["wordofmouth.settings"]
    with app.extensions["wordofmouth.sessions"]() as session:
        platform, _ = add_or_update_platform(
            session,
            PlatformSpec(
                issuer=ISSUER,
                client_id="bench-client",
                auth_login_url=ISSUER + "/auth",
                auth_token_url=ISSUER + "/token",
                key_set_url=ISSUER + "/jwks",
                deployment_ids=("bench-deployment",),
                name="Bench LMS",
            ),
        )
        items = [
            upsert_item(session, platform.id, context_id=f"course-{n}", title=f"Course {n}", label=f"C{n}")
            for n in range(COURSES)
        ]
        session.flush()
        placements = [
            Placement(
                platform_id=platform.id,
                item_id=item.id,
                resource_link_id=f"link-{n}",
                title=f"Widgets of {item.title}",
                widget_kinds=["ratings", "comments"],
                settings={},
            )
            for n, item in enumerate(items)
        ]
        locales = ("en_US", "en_GB", "fr_FR", "de_DE", None)
        learners = [
            Learner(
                platform_id=platform.id,
                sub=f"learner-{n}",
                name=f"Learner {n}",
                email=f"learner{n}@bench.example",
                locale=locales[n % len(locales)],
            )
            for n in range(LEARNERS)
        ]
        session.add_all(placements + learners)
        session.flush()
        options = outbox.options_for(session, settings, platform.id)
        collector = _Collector()
        statements: list[Any] = []
        commented: list[str] = []  # statement ids of comments, for replies
        rated: list[str] = []  # and of ratings, for helpful votes
        kinds = ("rated", "commented", "replied", "voted_up", "followed", "shared", "launched")
        weights = (25, 30, 15, 10, 8, 7, 5)
        for n in range(count):
            k = rng.randrange(COURSES)
            learner = learners[rng.randrange(LEARNERS)]
            scene = build.Scene(platform, learner, items[k], placements[k], "bench-deployment", options)
            statement_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            at = T0 + timedelta(seconds=n * 7)
            kind = rng.choices(kinds, weights)[0]
            if kind == "replied" and not commented:
                kind = "commented"
            if kind == "voted_up" and not rated:
                kind = "rated"
            colleague = learners[rng.randrange(LEARNERS)]
            if kind == "rated":
                review = rng.choice(REVIEWS) if rng.random() < 0.5 else None
                statement = build.rated(scene, statement_id, at, rng.randint(1, 5), review)
                subject = f"rating:{n}"
                rated.append(statement_id)
            elif kind == "commented":
                statement = build.commented(scene, statement_id, at, rng.choice(COMMENTS))
                subject = f"comment:{n}"
                commented.append(statement_id)
            elif kind == "replied":
                statement = build.replied(scene, statement_id, at, rng.choice(commented), rng.choice(COMMENTS))
                subject = f"comment:{n}"
            elif kind == "voted_up":
                target = StatementRef(id=uuid.UUID(rng.choice(rated)))
                statement = build.voted_up(scene, statement_id, at, target)
                subject = f"vote:{n}"
            elif kind == "followed":
                statement = build.followed(scene, statement_id, at, colleague)
                subject = f"follow:{n}"
            elif kind == "shared":
                statement = build.shared(scene, statement_id, at, colleague, rng.choice((None, *COMMENTS)))
                subject = f"recommendation:{n}"
            else:
                statement = build.launched(scene, statement_id, at)
                subject = None
            outbox.enqueue(collector, platform.id, statement, learner_id=learner.id, subject=subject)  # type: ignore[arg-type]
            statements.append(statement)
        session.commit()
        platform_id = platform.id
    columns = ("platform_id", "learner_id", "statement_id", "verb", "subject", "current", "statement", "status")
    rows = [{name: getattr(row, name) for name in columns} for row in collector.rows]
    for row, queued in zip(rows, collector.rows, strict=True):
        row["next_attempt_at"] = queued.next_attempt_at
    return Workload(platform_id, rows, statements)


def fill_outbox(app: Any, workload: Workload) -> None:
    """Empty the outbox and insert the workload's rows again, all pending and due (not measured)."""
    from plugin.models import OutboxStatement

    engine: sa.Engine = app.extensions["wordofmouth.engine"]
    table = OutboxStatement.__table__
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(sa.text(f"TRUNCATE {table.name} RESTART IDENTITY"))
        else:
            connection.execute(table.delete())
        connection.execute(sa.insert(table), workload.rows)
    if engine.dialect.name == "postgresql":  # the same table state every round: no dead rows, fresh statistics
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(sa.text(f"VACUUM (ANALYZE) {table.name}"))
    if not workload.texts:
        with engine.connect() as connection:
            texts = connection.execute(
                sa.select(sa.cast(OutboxStatement.statement, sa.Text)).order_by(OutboxStatement.id)
            ).scalars()
            workload.texts = [text.encode("utf-8") for text in texts]


def outbox_tally(app: Any) -> dict[str, int]:
    """Outbox rows by status, and as ``retried`` how many have a failed attempt."""
    from plugin.models import OutboxStatement

    engine: sa.Engine = app.extensions["wordofmouth.engine"]
    with engine.connect() as connection:
        tally = {
            str(getattr(status, "value", status)): count
            for status, count in connection.execute(
                sa.select(OutboxStatement.status, sa.func.count()).group_by(OutboxStatement.status)
            )
        }
        tally["retried"] = connection.scalar(
            sa.select(sa.func.count()).select_from(OutboxStatement).where(OutboxStatement.attempts > 0)
        )
    return tally


# -- the phases -----------------------------------------------------------------------------------
@dataclass
class Round:
    """One measured phase of one round and what its check found."""

    statements: int
    seconds: float
    held: int  # statements the LRS returned afterwards
    distinct: int  # distinct ids among them
    detail: dict[str, Any] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds: lrs (node), client (this process), db

    @property
    def rate(self) -> float:
        return self.statements / self.seconds if self.seconds else 0.0


class Meter:
    """CPU seconds of the LRS's node process, this process (client, worker, SQLite) and the app's
    PostgreSQL backends (found by ``application_name``); /proc, so Linux only (else nothing)."""

    def __init__(self, lrs: RunningLrs, admin: sa.Engine | None = None, application_name: str = "") -> None:
        self.lrs, self.admin, self.application_name = lrs, admin, application_name

    def _backends(self) -> list[int]:
        if self.admin is None:
            return []
        with self.admin.connect() as connection:
            return list(
                connection.scalars(
                    sa.text("SELECT pid FROM pg_stat_activity WHERE application_name = :name"),
                    {"name": self.application_name},
                )
            )

    def sample(self) -> dict[str, dict[int, float | None]]:
        popen = self.lrs.process.popen
        return {
            "lrs": {popen.pid: _cpu_seconds(popen.pid)} if popen is not None else {0: None},
            "client": {0: time.process_time()},
            "db": {pid: _cpu_seconds(pid) for pid in self._backends()},
        }

    def used(self, before: dict[str, dict[int, float | None]]) -> dict[str, float]:
        """CPU seconds per group since ``before``; empty when /proc cannot be read."""
        after = self.sample()
        if any(v is None for group in after.values() for v in group.values()):
            return {}
        return {
            group: sum(v - (before[group].get(pid) or 0.0) for pid, v in now.items())  # type: ignore[operator]
            for group, now in after.items()
        }


def held_ids(lrs: RunningLrs, expected: int) -> list[str]:
    """The ids of the statements the LRS holds: all of them when it holds at most ``expected``.

    One page of ``expected + 1``, not pages of 1,000: the in-memory store's cursor is a version 1
    UUID compared as text (``_id < cursor``) while pages are sorted by ``stored``, so following
    ``more`` links loses statements once the UUIDs' time field wraps (every 7.2 minutes). With
    one page there is no cursor; more than ``expected`` is a failure anyway.
    """
    return [s["id"].lower() for s in lrs.get_statements(limit=expected + 1)]


def check_lrs(lrs: RunningLrs, phase: str, expected: Sequence[str]) -> tuple[int, int]:
    """The LRS holds exactly ``expected``, each once; (held, distinct) or an error."""
    held = held_ids(lrs, len(expected))
    distinct = set(held)
    wanted = {i.lower() for i in expected}
    if len(held) != len(wanted) or distinct != wanted:
        raise RuntimeError(
            f"{phase}: the LRS holds {len(held)} statements ({len(distinct)} distinct ids), expected exactly "
            f"{len(wanted)}: {len(wanted - distinct)} missing, {len(distinct - wanted)} unexpected"
        )
    return len(held), len(distinct)


def ceiling(lrs: RunningLrs, workload: Workload, batch: int, meter: Meter) -> Round:
    """The stored texts as batches over one kept-alive session, one POST after another."""
    bodies = [b"[" + b",".join(workload.texts[i : i + batch]) + b"]" for i in range(0, len(workload.texts), batch)]
    answered = 0
    elapsed: list[float] = []  # seconds after each POST
    with requests.Session() as session:
        session.headers.update({"X-Experience-API-Version": "1.0.3", "Content-Type": "application/json; charset=utf-8"})
        session.auth = (lrs.username, LRS_PASSWORD)
        before = meter.sample()
        start = time.perf_counter()
        for body in bodies:
            response = session.post(lrs.statements_url, data=body, timeout=60)
            if response.status_code != 200:
                raise RuntimeError(f"ceiling: the LRS answered {response.status_code}: {response.text[:300]}")
            answered += len(response.json())
            elapsed.append(time.perf_counter() - start)
        seconds = elapsed[-1]
        cpu = meter.used(before)
    if answered != len(workload.texts):
        raise RuntimeError(f"ceiling: the LRS answered {answered} ids for {len(workload.texts)} statements")
    held, distinct = check_lrs(lrs, "ceiling", workload.ids)
    return Round(len(workload.texts), seconds, held, distinct, {"posts": len(bodies), "elapsed": elapsed}, cpu)


def ceiling_rate_of_first(round_: Round, statements: int, batch: int) -> float:
    """The ceiling's statements/s over its first ``statements`` (whole batches): the store sizes tincan sees."""
    posts = max(1, math.ceil(statements / batch))
    seconds = round_.detail["elapsed"][min(posts, len(round_.detail["elapsed"])) - 1]
    return min(posts * batch, round_.statements) / seconds


def worker(
    app: Any,
    lrs: RunningLrs,
    workload: Workload,
    batch: int,
    meter: Meter,
    profiler: cProfile.Profile | None = None,
) -> Round:
    """``deliver_once(app)`` until every row is delivered (the outbox was just filled)."""
    from xapi.delivery import deliver_once

    total = len(workload.rows)
    counts = {"delivered": 0, "failed": 0, "deferred": 0, "batches": 0, "runs": 0}
    before = meter.sample()
    start = time.perf_counter()
    if profiler is not None:
        profiler.enable()
    try:
        while counts["delivered"] < total:
            got = deliver_once(app)
            counts["runs"] += 1
            for key, value in got.items():
                counts[key] = counts.get(key, 0) + value
            if not got.get("delivered") or got.get("failed") or got.get("deferred"):
                break
    finally:
        if profiler is not None:
            profiler.disable()
    seconds = time.perf_counter() - start
    cpu = meter.used(before)
    tally = outbox_tally(app)
    expected_posts = math.ceil(total / batch)
    if (
        counts["delivered"] != total
        or counts["failed"]
        or counts["deferred"]
        or counts["batches"] != expected_posts
        or tally.get("delivered") != total
        or sum(v for k, v in tally.items() if k != "retried") != total
        or tally["retried"]
    ):
        raise RuntimeError(
            f"worker: deliver_once counted {counts} (expected {total} delivered in {expected_posts} POSTs); "
            f"outbox rows: {tally}"
        )
    held, distinct = check_lrs(lrs, "worker", workload.ids)
    return Round(total, seconds, held, distinct, {**counts, "outbox": tally}, cpu)


def tincan_one_by_one(lrs: RunningLrs, workload: Workload, sample: int, meter: Meter) -> Round:
    """``RemoteLRS.save_statement`` per statement: a PUT on a new connection each."""
    from tincan import RemoteLRS

    remote = RemoteLRS(endpoint=lrs.endpoint, username=lrs.username, password=LRS_PASSWORD, version="1.0.3")
    chosen = workload.statements[:sample]
    before = meter.sample()
    start = time.perf_counter()
    for statement in chosen:
        answer = remote.save_statement(statement)
        if not answer.success:
            raise RuntimeError(f"tincan: the LRS answered {answer.response.status}: {answer.data[:300]!r}")
    seconds = time.perf_counter() - start
    cpu = meter.used(before)
    held, distinct = check_lrs(lrs, "tincan", workload.ids[:sample])
    return Round(len(chosen), seconds, held, distinct, {"requests": len(chosen)}, cpu)


# -- the run --------------------------------------------------------------------------------------
@dataclass
class Phase:
    name: str
    label: str
    rounds: list[Round] = field(default_factory=list)
    ratios: list[float] = field(default_factory=list)  # per round, to that round's ceiling

    @property
    def rate(self) -> float:
        return statistics.median(r.rate for r in self.rounds)

    @property
    def ratio(self) -> float:
        return statistics.median(self.ratios)

    def cpu_ms_per_statement(self, group: str) -> float | None:
        values = [r.cpu[group] / r.statements for r in self.rounds if group in r.cpu]
        return statistics.median(values) * 1e3 if values else None


@dataclass
class Result:
    statements: int
    batch: int
    database: str
    repetitions: int
    tincan_sample: int
    phases: dict[str, Phase]
    load_average: tuple[float, float, float] | None = None  # at the start
    setup_seconds: dict[str, float] = field(default_factory=dict)
    profile: str | None = None
    worker_version: str = ""  # which xapi/delivery.py ran
    load_average_after: tuple[float, float, float] | None = None

    @property
    def goal_met(self) -> bool:
        return self.phases["worker"].ratio >= GOAL_RATIO

    @property
    def overhead_per_post(self) -> float:
        """Median over rounds of the worker's extra seconds per POST over the ceiling's (its own work)."""
        pairs = zip(self.phases["worker"].rounds, self.phases["ceiling"].rounds, strict=True)
        return statistics.median((w.seconds - c.seconds) / w.detail["batches"] for w, c in pairs)

    def worker_cpu_ratio(self, groups: tuple[str, ...] = ("lrs", "client", "db")) -> float | None:
        """Median over rounds of the ceiling's CPU per statement / the worker's, ``groups`` summed.

        All groups: what an idle machine would give if nothing overlapped (a floor; disk waits
        aside). The LRS alone: what it gives when the worker's own work runs on another core
        while the LRS works (a pipelined worker), i.e. how much more the LRS itself had to do.
        """
        pairs = zip(self.phases["worker"].rounds, self.phases["ceiling"].rounds, strict=True)
        ratios = [
            sum(c.cpu.get(g, 0.0) for g in groups)
            / c.statements
            / (sum(w.cpu.get(g, 0.0) for g in groups) / w.statements)
            for w, c in pairs
            if w.cpu and c.cpu and sum(w.cpu.get(g, 0.0) for g in groups)
        ]
        return statistics.median(ratios) if ratios else None


@contextlib.contextmanager
def database(kind: str, folder: Path) -> Iterator[tuple[str, sa.Engine | None, str]]:
    """A fresh, empty database of ``kind`` (removed afterwards): (its URL, for PostgreSQL an admin
    engine and the ``application_name`` the URL gives the app's connections, to meter their CPU)."""
    if kind == "sqlite":
        yield f"sqlite:///{folder / 'wom-bench.db'}", None, ""
        return
    url = widgets_load.database_url()
    problem = widgets_load.postgres_problem(url)
    if problem is not None:
        raise RuntimeError(f"--database postgresql needs PostgreSQL at {url}: {problem}")
    application_name = f"wom-bench-xapi-{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(url)
    try:
        with widgets_load.bench_schema(url) as schema_url:
            yield f"{schema_url}&application_name={application_name}", admin, application_name
    finally:
        admin.dispose()


def _cpu(round_: Round) -> str:
    return "(CPU s: " + ", ".join(f"{k} {v:.1f}" for k, v in round_.cpu.items()) + ")" if round_.cpu else ""


def _progress(line: str) -> None:
    print(f"  ... {line}", file=sys.stderr, flush=True)


def _restart(lrs: RunningLrs) -> None:
    """Empty the LRS: a new node process (unless it has just started and was never written to)."""
    if lrs.process.starts > 1 or held_ids(lrs, 0):
        lrs.restart()
    if held_ids(lrs, 0):
        raise RuntimeError("the LRS is not empty after a restart")


def run(
    statements: int = DEFAULT_STATEMENTS,
    batch: int = DEFAULT_BATCH,
    database_kind: str = "sqlite",
    *,
    repetitions: int = DEFAULT_REPETITIONS,
    tincan_sample: int = DEFAULT_TINCAN_SAMPLE,
    profile: bool = False,
    seed: int = 7,
) -> Result:
    """Build the workload, measure the three phases in ``repetitions`` rounds, check, print the table."""
    from plugin import migrate
    from plugin.app import create_app

    problem = lrs_problem()
    if problem is not None:
        raise RuntimeError(f"the xAPI delivery benchmark needs the test LRS: {problem}")
    tincan_sample = min(tincan_sample, statements)
    rng = random.Random(seed)
    timings: dict[str, float] = {}
    phases = {
        "ceiling": Phase("ceiling", f"ceiling: POST batches of {batch}, one session"),
        "worker": Phase("worker", "worker: deliver_once (outbox -> LRS)"),
        "tincan": Phase("tincan", f"tincan: save_statement x {tincan_sample} (*)"),
    }
    import xapi.delivery

    version = source_version(xapi.delivery)
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    profile_text = None
    with tempfile.TemporaryDirectory(prefix="wom-bench-xapi-") as scratch:
        folder = Path(scratch)
        with database(database_kind, folder) as (url, admin, application_name), run_lrs(folder / "lrs") as lrs:
            meter = Meter(lrs, admin, application_name)
            started = time.perf_counter()
            migrate.upgrade(url)
            app = create_app(
                {
                    "WOM_DATABASE_URL": url,
                    "WOM_INSTANCE_PATH": str(folder / "instance"),
                    "WOM_SECRET_KEY": SECRET,
                    "WOM_BASE_URL": BASE_URL,
                    "WOM_ENV": "development",
                    "WOM_LRS_ENDPOINT": lrs.endpoint,
                    "WOM_LRS_USERNAME": lrs.username,
                    "WOM_LRS_PASSWORD": LRS_PASSWORD,
                    "WOM_XAPI_BATCH_SIZE": str(batch),
                }
            )
            timings["migrate"] = time.perf_counter() - started
            try:
                started = time.perf_counter()
                workload = build_workload(app, statements, rng)
                timings["build and enqueue"] = time.perf_counter() - started
                from xapi.delivery import deliver_once

                deliver_once(app)  # warm the worker's engine (as in a running worker): nothing is due yet
                for n in range(1, repetitions + 1):
                    started = time.perf_counter()
                    fill_outbox(app, workload)
                    timings["fill outbox"] = timings.get("fill outbox", 0.0) + time.perf_counter() - started
                    measured: dict[str, Round] = {}
                    # Ceiling first in odd rounds, worker first in even ones: a load that drifts during a
                    # round favours neither.
                    for name in ("ceiling", "worker") if n % 2 else ("worker", "ceiling"):
                        _restart(lrs)
                        if name == "ceiling":
                            measured[name] = ceiling(lrs, workload, batch, meter)
                        else:
                            measured[name] = worker(app, lrs, workload, batch, meter)
                        got = measured[name]
                        _progress(
                            f"round {n}/{repetitions}: {name} {got.rate:.0f}/s in {got.seconds:.1f} s {_cpu(got)}"
                        )
                    top, done = measured["ceiling"], measured["worker"]
                    phases["ceiling"].rounds.append(top)
                    phases["ceiling"].ratios.append(1.0)
                    phases["worker"].rounds.append(done)
                    phases["worker"].ratios.append(done.rate / top.rate)
                    _restart(lrs)
                    naive = tincan_one_by_one(lrs, workload, tincan_sample, meter)
                    phases["tincan"].rounds.append(naive)
                    # Against the ceiling over as many statements: the LRS slows as its store grows.
                    phases["tincan"].ratios.append(naive.rate / ceiling_rate_of_first(top, tincan_sample, batch))
                    _progress(
                        f"round {n}/{repetitions}: tincan {naive.rate:.0f}/s in {naive.seconds:.1f} s {_cpu(naive)}"
                    )
                if profile:
                    fill_outbox(app, workload)
                    _restart(lrs)
                    profiler = cProfile.Profile()
                    profiled = worker(app, lrs, workload, batch, meter, profiler)
                    profile_text = profile_report(profiler, profiled)
            finally:
                app.extensions["wordofmouth.engine"].dispose()
    result = Result(
        statements,
        batch,
        database_kind,
        repetitions,
        tincan_sample,
        phases,
        load,
        timings,
        profile_text,
        version,
        os.getloadavg() if hasattr(os, "getloadavg") else None,
    )
    report(result)
    return result


# -- reporting ------------------------------------------------------------------------------------
# (label, the function's file ends with this ("" for any), its names): cumulative time, summed.
PROFILE_PARTS: tuple[tuple[str, str, frozenset[str]], ...] = (
    ("deliver_once (all)", "xapi/delivery.py", frozenset({"deliver_once"})),
    ("  claim_due (UPDATE ... RETURNING)", "xapi/delivery.py", frozenset({"claim_due"})),
    ("  record (bulk UPDATEs)", "xapi/delivery.py", frozenset({"record"})),
    ("  Session.commit", "orm/session.py", frozenset({"commit"})),
    ("  send, on this thread: POST + answer", "xapi/delivery.py", frozenset({"send"})),
    ("    socket reads (waiting for the LRS)", "", frozenset({"<method 'recv_into' of '_socket.socket' objects>"})),
    ("  waiting for the batch on the wire thread", "concurrent/futures/_base.py", frozenset({"result"})),
    ("  resolve_all (routes)", "xapi/lrs.py", frozenset({"resolve_all"})),
)


def source_version(module: Any) -> str:
    """Which version of ``module``'s file ran: its last commit, or a note that it had uncommitted changes."""
    path = Path(module.__file__).resolve()
    root = Path(__file__).resolve().parents[1]
    relative = path.relative_to(root).as_posix()
    data = path.read_bytes()
    blob = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()  # git's object id

    def git(*args: str) -> str:
        done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, check=False)
        return done.stdout.strip() if done.returncode == 0 else ""

    if blob == git("rev-parse", f"HEAD:{relative}"):
        return f"{relative} as committed in {git('log', '-1', '--format=%h', '--', relative) or '?'}"
    return f"{relative} with uncommitted changes (git blob {blob[:10]})"


def profile_report(profiler: cProfile.Profile, profiled: Round) -> str:
    """Where a worker round's time went: cumulative time of the delivery's steps, then the top functions."""
    stats = pstats.Stats(profiler)
    lines = [
        f"profile of one more worker round ({profiled.statements} statements, {profiled.rate:.0f}/s under cProfile;"
        " cumulative seconds on the thread that called deliver_once, so a POST made on another thread shows as"
        " waiting for it):"
    ]
    entries = stats.stats  # type: ignore[attr-defined]
    for label, suffix, names in PROFILE_PARTS:
        chosen = [v for (file, _, name), v in entries.items() if name in names and file.endswith(suffix)]
        cumulative, calls = sum(v[3] for v in chosen), sum(v[1] for v in chosen)
        lines.append(f"  {label:<44}{cumulative:>8.2f} s{calls:>9} calls")
    buffer = io.StringIO()
    pstats.Stats(profiler, stream=buffer).sort_stats("tottime").print_stats(18)
    lines.append("  top functions by own time:")
    lines.extend("    " + line for line in buffer.getvalue().splitlines() if line.strip())
    return "\n".join(lines)


def report(result: Result) -> None:
    database_name = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}[result.database]
    load = ""
    if result.load_average and result.load_average_after:
        load = (
            f", load average {result.load_average[0]:.1f} at the start, {result.load_average_after[0]:.1f} at the end"
        )
    print(
        f"xAPI delivery: {result.statements} statements, batches of {result.batch}, {database_name}, "
        f"median of {result.repetitions} round(s); xapi-statements {LRS_VERSION} in memory, a new empty one "
        f"for every phase; {os.cpu_count()} cores{load}; {result.worker_version}"
    )
    print("  set-up (not measured): " + ", ".join(f"{k} {v:.1f} s" for k, v in result.setup_seconds.items()))
    print(
        f"  {'phase':<44}{'statements/s':>13}{'vs ceiling':>12}{'CPU ms/statement: lrs':>23}{'client':>8}{'db':>6}"
        f"  {'rounds (statements/s)':<24}checked (last round)"
    )
    for phase in result.phases.values():
        rounds = ", ".join(f"{r.rate:.0f}" for r in phase.rounds)
        checked = f"LRS holds {phase.rounds[-1].held} ids, {phase.rounds[-1].distinct} distinct"
        if phase.name == "worker":
            last = phase.rounds[-1].detail
            checked += f"; outbox: {last['outbox'].get('delivered', 0)} delivered, {last['batches']} POSTs"
        cpu = ""
        for group, width in (("lrs", 23), ("client", 8), ("db", 6)):
            value = phase.cpu_ms_per_statement(group)
            cpu += (
                f"{'-':>{width}}"
                if value is None or (group == "db" and result.database == "sqlite")
                else (f"{value:>{width}.2f}")
            )
        print(f"  {phase.label:<44}{phase.rate:>13.1f}{phase.ratio:>11.2f}x{cpu}  {rounds:<24}{checked}")
    worker_phase = result.phases["worker"]
    first = statistics.median(
        ceiling_rate_of_first(r, result.tincan_sample, result.batch) for r in result.phases["ceiling"].rounds
    )
    print(
        f"  (*) its ratio is to the ceiling over its first {result.tincan_sample} statements ({first:.1f}/s): "
        "the LRS slows as its store grows"
    )
    if result.phases["ceiling"].rounds[0].cpu:
        print(
            "  (CPU: the LRS's node process, this process (client; the worker and SQLite run in it), the app's"
            " PostgreSQL backends; wall time on a shared machine also holds other programs' turns)"
        )
    if (by_cpu := result.worker_cpu_ratio()) is not None and (lrs_only := result.worker_cpu_ratio(("lrs",))):
        print(
            f"  worker vs ceiling by CPU per statement, which load distorts less: {by_cpu:.2f}x with every process"
            f" summed (as if nothing overlapped), {lrs_only:.2f}x the LRS's alone (worker's work on another core)"
        )
    print(
        f"  the worker's own time per POST (worker minus ceiling seconds, per POST): "
        f"{result.overhead_per_post * 1e3:.1f} ms"
    )
    print(
        f"  goal worker >= {GOAL_RATIO:.1f}x ceiling: {'met' if result.goal_met else 'not met'} "
        f"({worker_phase.ratio:.2f}x; tincan one by one {result.phases['tincan'].ratio:.2f}x)"
    )
    if result.profile:
        print(result.profile)
    elif not result.goal_met:
        print("  (python -m bench.xapi_delivery --profile shows where the worker's time goes)")
    sys.stdout.flush()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.xapi_delivery", description=__doc__.splitlines()[0])
    parser.add_argument("--statements", type=int, default=DEFAULT_STATEMENTS, help="statements per phase and round")
    parser.add_argument("--batch", type=int, default=DEFAULT_BATCH, help="statements per POST (WOM_XAPI_BATCH_SIZE)")
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--repetitions", type=int, default=DEFAULT_REPETITIONS, help="rounds of the three phases")
    parser.add_argument("--tincan-sample", type=int, default=DEFAULT_TINCAN_SAMPLE, help="statements sent by tincan")
    parser.add_argument("--profile", action="store_true", help="then profile one more worker round (cProfile)")
    args = parser.parse_args(argv)
    if args.statements < 1 or args.batch < 1 or args.repetitions < 1 or args.tincan_sample < 1:
        parser.error("--statements, --batch, --repetitions and --tincan-sample must be positive")
    if (problem := lrs_problem()) is not None:
        parser.exit(1, f"xAPI delivery: the test LRS is not installed: {problem}\n")
    run(
        args.statements,
        args.batch,
        args.database,
        repetitions=args.repetitions,
        tincan_sample=args.tincan_sample,
        profile=args.profile,
    )


if __name__ == "__main__":
    main()
