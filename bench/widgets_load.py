"""The widget API under load: gunicorn against PostgreSQL, 32 concurrent connections.

What it does, in one run:

1. a fresh PostgreSQL schema, migrated, seeded by bulk inserts: one platform with a deployment,
   an item with 10,000 ratings from 10,000 learners (every fifth with a review, reviews with
   helpful votes), a second item with 5,000 comments and some replies (two pinned, a few hidden);
   for the colleague widgets, the same learners in 50 departments (about half let colleagues see
   their name) took 200 catalogue items with power-law popularity (66,000 enrolments, a fifth
   rated, from :func:`plugin.recommend.synthetic.generate`), follow some colleagues, and the
   reader got a few recommendations from colleagues; then one recommendation build
   (:func:`plugin.services.recommendations.build`) fills the stored tables, timed as set-up;
2. gunicorn (``plugin:create_app()``, 4 workers) on a free loopback port, handed over as an open
   socket (``--bind fd://N``), so no port can be taken between choosing and binding it; the run
   waits until every worker reports that it loaded the app and ``/healthz`` answers;
3. a small load client: ``connections`` threads, each with its own keep-alive
   ``http.client.HTTPConnection`` (lighter than ``requests``, so more of the shared CPU is left
   to the server), sending requests back to back for a fixed time per endpoint, after a warm-up.
   Bounded: loopback only, fixed time per phase, a socket timeout on every request.

Baseline: ``GET /healthz`` on the same server in the same run (our whole request plumbing and one
``SELECT 1``). Every endpoint is measured in rounds interleaved with the baseline, and its ratio is
the median of the per-round ratios of requests/s, so machine noise hits both alike.

Reads use one learner's token per item (for the colleague widgets, a learner who took the most
taken item, whose token names it: the largest counts, many named colleagues); writes (``POST /api/v1/comments``, ``PUT
/api/v1/ratings/mine``) rotate through many learners' tokens, each connection its own share, so no
two concurrent writes touch the same row.

The load client and the server share the machine: on a small one the numbers are a floor, and the
client's own CPU share is printed next to them.

``python -m bench.widgets_load --help``; ``--tiny`` is the few-second size the test suite runs.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa

from plugin import migrate

DEFAULT_DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
SECRET = "bench-secret-key-that-is-long-enough-0123456789"
ISSUER = "https://lms.bench.example"
LEARNER_ROLE = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
READ_GOAL_RATIO = 0.5
READ_GOAL_P99 = 0.050
STORED_READ_GOAL_P99 = 0.020  # widget reads from the stored tables (colleagues, recommendations)
STORED_READS = (
    "/api/v1/colleagues",
    "/api/v1/recommendations",
    "/api/v1/fragments/colleagues",
    "/api/v1/fragments/recommendations",
)


@dataclass(frozen=True)
class Size:
    ratings: int
    comments: int
    replies: int
    writers: int  # learners whose tokens the write phases rotate through
    seconds: float  # measured time per endpoint and round
    rounds: int
    warmup: float  # unmeasured seconds before each phase
    prime: float  # unmeasured seconds per endpoint once the server is up (templates, caches, pools)
    connections: int = 32
    # Colleagues: learners (size.ratings of them) in departments, enrolments over a catalogue.
    departments: int = 50
    catalogue: int = 200
    interactions: int = 80_000  # drawn; repeats of a pair make one enrolment


FULL = Size(ratings=10_000, comments=5_000, replies=500, writers=320, seconds=5.0, rounds=3, warmup=0.5, prime=2.0)
TINY = Size(
    ratings=300,
    comments=200,
    replies=30,
    writers=16,
    seconds=0.5,
    rounds=1,
    warmup=0.1,
    prime=0.2,
    connections=8,
    departments=5,
    catalogue=20,
    interactions=1_500,
)


@dataclass(frozen=True)
class Server:
    workers: int = 4
    worker_class: str = "gthread"
    threads: int = 4  # per worker, gthread only


def database_url() -> str:
    return os.environ.get("WOM_BENCH_DATABASE_URL") or os.environ.get("WOM_TEST_DATABASE_URL") or DEFAULT_DATABASE_URL


def postgres_problem(url: str | None = None) -> str | None:
    """None when PostgreSQL answers at ``url``, else why not."""
    engine = sa.create_engine(url or database_url(), connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except Exception as exc:
        return f"{exc.__class__.__name__}: {str(exc).splitlines()[0]}"
    finally:
        engine.dispose()
    return None


@contextlib.contextmanager
def bench_schema(url: str) -> Iterator[str]:
    """A PostgreSQL schema of its own for this run (dropped afterwards); yields its URL."""
    schema = f"wom_bench_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(url)
    with admin.begin() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        separator = "&" if "?" in url else "?"
        yield f"{url}{separator}options={quote(f'-csearch_path={schema}')}"
    finally:
        with admin.begin() as connection:
            connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


# -- seeding ------------------------------------------------------------------------------------
@dataclass
class Seeded:
    platform_id: int
    rated_item: tuple[int, int]  # (item id, placement id)
    discussed_item: tuple[int, int]
    learners: list[int]
    popular_item: tuple[int, int]  # the most taken catalogue item, placed with the colleague widgets
    colleague_reader: int  # a learner who took it
    timings: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _stars(rng: random.Random) -> int:
    return rng.choices((1, 2, 3, 4, 5), weights=(5, 7, 18, 35, 35))[0]


@dataclass
class _Colleagues:
    """Who is in which department, who took what, who follows whom: drawn before any insert."""

    department: list[str | None]  # per learner index
    show_name: list[bool | None]
    took: dict[tuple[int, int], tuple[float | None, float, float]]  # (learner, item index): stars, first, last
    popular: int  # item index of the most taken item
    reader: int  # learner index: took the popular item
    follows: set[tuple[int, int]]  # (follower, followee) learner indexes
    sent: list[tuple[int, int, int]]  # colleague recommendations: (sender, recipient, item index)


def _plan_colleagues(size: Size, rng: random.Random) -> _Colleagues:
    """Departments, enrolments (a fifth rated) with power-law item popularity, names, follows."""
    from plugin.recommend.synthetic import generate

    learners = size.ratings
    department: list[str | None] = [None] * learners
    took: dict[tuple[int, int], tuple[float | None, float, float]] = {}
    rows = generate(learners, size.departments, size.catalogue, size.interactions, 0.2, rng.randrange(2**31))
    for learner, item, stars, stamp, group in rows:
        who, what = int(learner[1:]), int(item[1:])
        department[who] = group
        known = took.get((who, what))
        if known is not None:
            stars, stamp, last = known[0] if known[0] is not None else stars, min(stamp, known[1]), max(stamp, known[2])
        else:
            last = stamp
        took[(who, what)] = (stars, stamp, last)
    # About half let colleagues see their name; a few said no; the rest left the platform's default (off).
    show_name = [True if r < 0.5 else False if r < 0.6 else None for r in (rng.random() for _ in range(learners))]
    takers: dict[int, list[int]] = {}
    for who, what in took:
        takers.setdefault(what, []).append(who)
    popular = max(takers, key=lambda what: (len(takers[what]), -what))
    per_learner: dict[int, int] = {}
    for who, _ in took:
        per_learner[who] = per_learner.get(who, 0) + 1
    candidates = sorted(w for w in takers[popular] if department[w] and 3 <= per_learner[w] <= 10) or sorted(
        takers[popular]
    )
    reader = rng.choice(candidates)

    named = [n for n in range(learners) if show_name[n]]
    named_in: dict[str | None, list[int]] = {}
    for n in named:
        named_in.setdefault(department[n], []).append(n)
    follows: set[tuple[int, int]] = set()
    for follower in range(learners):
        if rng.random() < 0.15:  # some learners follow one to five colleagues, mostly of their department
            for _ in range(rng.randint(1, 5)):
                pool = named_in.get(department[follower]) if rng.random() < 0.7 else None
                followee = rng.choice(pool or named)
                if followee != follower:
                    follows.add((follower, followee))
    # The reader follows colleagues who took the item too, so the named list puts followed ones first.
    named_takers = [w for w in takers[popular] if show_name[w] and w != reader]
    for followee in rng.sample(named_takers, k=min(5, len(named_takers))):
        follows.add((reader, followee))
    reader_took = {what for (who, what) in took if who == reader}
    untaken = [what for what in sorted(takers, key=lambda what: -len(takers[what])) if what not in reader_took]
    senders = rng.sample([n for n in named if n != reader], k=min(3, len(named) - 1))
    sent = [(sender, reader, untaken[k]) for k, sender in enumerate(senders) if k < len(untaken)]
    for _ in range(learners // 50):  # and a few between other colleagues
        sender, recipient = rng.sample(named, k=2)
        sent.append((sender, recipient, rng.randrange(size.catalogue)))
    sent = list(dict.fromkeys(sent))
    return _Colleagues(department, show_name, took, popular, reader, follows, sent)


def seed(url: str, size: Size, rng: random.Random) -> Seeded:
    """Bulk-insert the data set (Core ``executemany``, batched by SQLAlchemy's insertmanyvalues)."""
    from plugin.db import make_engine, make_session_factory
    from plugin.models import (
        ColleagueRecommendation,
        Comment,
        Enrolment,
        Follow,
        Item,
        Learner,
        Placement,
        Rating,
        ReviewVote,
    )
    from plugin.models.learning import EnrolmentSource, ItemSource
    from plugin.models.platform import Deployment, Platform
    from plugin.services import ratings, recommendations

    now = datetime.now(UTC).replace(microsecond=0)
    start = time.perf_counter()
    plan = _plan_colleagues(size, rng)
    engine = sa.create_engine(url)
    with engine.begin() as db:
        platform_id = db.execute(
            sa.insert(Platform).returning(Platform.id),
            {
                "issuer": ISSUER,
                "client_id": "bench-client",
                "name": "Bench LMS",
                "auth_login_url": ISSUER + "/auth",
                "auth_token_url": ISSUER + "/token",
                "key_set_url": ISSUER + "/jwks",
                "created_at": now,
                "updated_at": now,
            },
        ).scalar_one()
        db.execute(sa.insert(Deployment), {"platform_id": platform_id, "deployment_id": "d1", "created_at": now})
        items = []
        for key in ("rated", "discussed"):
            item_id = db.execute(
                sa.insert(Item).returning(Item.id),
                {
                    "platform_id": platform_id,
                    "source": ItemSource.CONTEXT,
                    "key": f"bench-{key}",
                    "title": f"Bench course ({key})",
                    "created_at": now,
                    "updated_at": now,
                },
            ).scalar_one()
            placement_id = db.execute(
                sa.insert(Placement).returning(Placement.id),
                {
                    "platform_id": platform_id,
                    "resource_link_id": f"rl-{key}",
                    "item_id": item_id,
                    "title": "Ratings and discussion",
                    "widget_kinds": ["ratings", "comments"],
                    "settings": {},
                    "created_at": now,
                    "updated_at": now,
                },
            ).scalar_one()
            items.append((item_id, placement_id))
        learners = list(
            db.scalars(
                sa.insert(Learner).returning(Learner.id, sort_by_parameter_order=True),
                [
                    {
                        "platform_id": platform_id,
                        "sub": f"learner-{n}",
                        "name": f"Learner {n}",
                        "org_group": plan.department[n],
                        "show_name": plan.show_name[n],
                        "created_at": now,
                        "updated_at": now,
                    }
                    for n in range(size.ratings)
                ],
            )
        )
        timings = {"learners": time.perf_counter() - start}

        rated_item, _ = items[0]
        rating_rows = []
        for n, learner_id in enumerate(learners):
            when = now - timedelta(minutes=size.ratings - n)
            review = n % 5 == 0
            rating_rows.append(
                {
                    "platform_id": platform_id,
                    "learner_id": learner_id,
                    "item_id": rated_item,
                    "stars": _stars(rng),
                    "review": f"Review {n}: " + "clear examples, useful. " * rng.randint(1, 6) if review else None,
                    "helpful_count": 0,
                    "created_at": when,
                    "updated_at": when,
                    "review_updated_at": when if review else None,
                }
            )
        rating_ids = list(db.scalars(sa.insert(Rating).returning(Rating.id, sort_by_parameter_order=True), rating_rows))
        ratings.rebuild_tallies(db, platform_id)  # bulk rows bypass the service that keeps tallies
        votes, counts = [], {}
        for n in range(0, len(rating_ids), 5):  # the reviews
            voters = rng.sample(range(len(learners)), k=min(rng.choice((0, 0, 1, 2, 3, 8, 20)), len(learners) - 1))
            chosen = [learners[v] for v in voters if v != n]
            counts[rating_ids[n]] = len(chosen)
            votes += [
                {"platform_id": platform_id, "rating_id": rating_ids[n], "learner_id": v, "created_at": now}
                for v in chosen
            ]
        if votes:
            db.execute(sa.insert(ReviewVote), votes)
            db.execute(
                sa.update(Rating).where(Rating.id == sa.bindparam("rid")).values(helpful_count=sa.bindparam("n")),
                [{"rid": rid, "n": n} for rid, n in counts.items() if n],
            )
        timings["ratings"] = time.perf_counter() - start - sum(timings.values())

        discussed_item, _ = items[1]

        def comment(n: int, when: datetime, parent: int | None = None) -> dict[str, Any]:
            return {
                "platform_id": platform_id,
                "item_id": discussed_item,
                "placement_id": None,
                "learner_id": learners[n % len(learners)],
                "parent_id": parent,
                "body": f"Comment {n}: " + "what did everyone think of the third module? " * rng.randint(1, 4),
                "created_at": when,
                "approved_at": when,
                "pinned_at": when if n in (size.comments // 3, size.comments // 2) else None,
                "hidden_at": when if n % 97 == 0 else None,
            }

        top_ids = list(
            db.scalars(
                sa.insert(Comment).returning(Comment.id, sort_by_parameter_order=True),
                [comment(n, now - timedelta(minutes=size.comments - n)) for n in range(size.comments)],
            )
        )
        # A fifth of the replies under the newest 40 comments (the first page shows half of them), the rest anywhere.
        parents = [rng.choice(top_ids[-40:]) if r % 5 == 0 else rng.choice(top_ids) for r in range(size.replies)]
        db.execute(
            sa.insert(Comment),
            [comment(size.comments + r, now - timedelta(seconds=r), parent) for r, parent in enumerate(parents)],
        )
        timings["comments"] = time.perf_counter() - start - sum(timings.values())

        catalogue = list(
            db.scalars(
                sa.insert(Item).returning(Item.id, sort_by_parameter_order=True),
                [
                    {
                        "platform_id": platform_id,
                        "source": ItemSource.CATALOGUE,
                        "key": f"bench-course-{j}",
                        "title": f"Course {j}: working with colleagues",
                        "url": f"{ISSUER}/course/{j}",
                        "created_at": now,
                        "updated_at": now,
                    }
                    for j in range(size.catalogue)
                ],
            )
        )
        popular_placement = db.execute(
            sa.insert(Placement).returning(Placement.id),
            {
                "platform_id": platform_id,
                "resource_link_id": "rl-popular",
                "item_id": catalogue[plan.popular],
                "title": "Colleagues and recommendations",
                "widget_kinds": ["colleagues", "recommendations"],
                "settings": {},
                "created_at": now,
                "updated_at": now,
            },
        ).scalar_one()

        def at(stamp: float) -> datetime:
            return datetime.fromtimestamp(int(stamp), UTC)

        db.execute(
            sa.insert(Enrolment),
            [
                {
                    "platform_id": platform_id,
                    "learner_id": learners[who],
                    "item_id": catalogue[what],
                    "source": EnrolmentSource.LAUNCH,
                    "roles": [LEARNER_ROLE],
                    "staff": False,
                    "first_seen": at(first),
                    "last_seen": at(last),
                }
                for (who, what), (_, first, last) in plan.took.items()
            ],
        )
        db.execute(
            sa.insert(Rating),
            [
                {
                    "platform_id": platform_id,
                    "learner_id": learners[who],
                    "item_id": catalogue[what],
                    "stars": int(stars),
                    "review": None,
                    "helpful_count": 0,
                    "created_at": at(last),
                    "updated_at": at(last),
                    "review_updated_at": None,
                }
                for (who, what), (stars, _, last) in plan.took.items()
                if stars is not None
            ],
        )
        ratings.rebuild_tallies(db, platform_id)
        if plan.follows:
            db.execute(
                sa.insert(Follow),
                [
                    {
                        "platform_id": platform_id,
                        "follower_id": learners[a],
                        "followee_id": learners[b],
                        "created_at": now,
                    }
                    for a, b in sorted(plan.follows)
                ],
            )
        if plan.sent:
            db.execute(
                sa.insert(ColleagueRecommendation),
                [
                    {
                        "platform_id": platform_id,
                        "sender_id": learners[sender],
                        "recipient_id": learners[recipient],
                        "item_id": catalogue[what],
                        "note": "This one helped me a lot." if n % 2 == 0 else "",
                        "created_at": now - timedelta(hours=n),
                    }
                    for n, (sender, recipient, what) in enumerate(plan.sent)
                ],
            )
        timings["colleagues"] = time.perf_counter() - start - sum(timings.values())
    engine.dispose()

    # The recommendation build fills learner_recommendation, item_also_took and group_popular: set-up,
    # not part of the measured requests (the worker runs it in the background).
    build_engine = make_engine(url)
    began = time.perf_counter()
    with make_session_factory(build_engine)() as session:
        built = recommendations.build(session, platform_id, force=True)
        session.commit()
    timings["recommend build"] = time.perf_counter() - began
    with build_engine.begin() as connection:
        stored = {
            table: connection.scalar(sa.text(f"SELECT count(*) FROM {table}"))
            for table in ("learner_recommendation", "item_also_took", "group_popular")
        }
        connection.exec_driver_sql("ANALYZE")
    build_engine.dispose()
    reader = learners[plan.reader]
    popular_takers = sum(1 for _, what in plan.took if what == plan.popular)
    notes = [
        f"colleagues: {size.ratings} learners in {size.departments} departments, {len(plan.took)} enrolments over "
        f"{size.catalogue} items (most taken: {popular_takers} takers), {len(plan.follows)} follows, "
        f"{len(plan.sent)} colleague recommendations",
        f"recommend build: {built.learners} learners, {built.items} items, {built.interactions} interactions in "
        f"{timings['recommend build']:.1f} s; stored " + ", ".join(f"{rows} {table}" for table, rows in stored.items()),
    ]
    return Seeded(
        platform_id,
        items[0],
        items[1],
        learners,
        (catalogue[plan.popular], popular_placement),
        reader,
        timings,
        notes,
    )


def tokens(seeded: Seeded, size: Size, url: str, instance: str) -> dict[str, list[str]]:
    """Widget tokens: one reader per item (the colleague reader for the most taken item), and
    ``size.writers`` distinct learners for the writes."""
    from lti.tokens import WidgetGrant, issue_widget_token
    from plugin.app import create_app

    app = create_app(_app_config(url, instance))

    def grant(learner_id: int, item: tuple[int, int]) -> WidgetGrant:
        return WidgetGrant(seeded.platform_id, "d1", learner_id, item[0], item[1], (LEARNER_ROLE,), False)

    reader = seeded.learners[len(seeded.learners) // 2]
    writers = seeded.learners[1 : size.writers + 1]
    with app.app_context():
        result = {
            "rated": [issue_widget_token(grant(reader, seeded.rated_item))],
            "discussed": [issue_widget_token(grant(reader, seeded.discussed_item))],
            "popular": [issue_widget_token(grant(seeded.colleague_reader, seeded.popular_item))],
            "rate": [issue_widget_token(grant(w, seeded.rated_item)) for w in writers],
            "comment": [issue_widget_token(grant(w, seeded.discussed_item)) for w in writers],
        }
    app.extensions["wordofmouth.engine"].dispose()
    return result


# -- the server ---------------------------------------------------------------------------------
def _app_config(url: str, instance: str) -> dict[str, str]:
    return {
        "WOM_DATABASE_URL": url,
        "WOM_INSTANCE_PATH": instance,
        "WOM_SECRET_KEY": SECRET,
        "WOM_BASE_URL": "http://127.0.0.1",
        "WOM_ENV": "development",
        "WOM_LOG_LEVEL": "WARNING",
        "WOM_RATE_LIMIT_API": "off",
        "WOM_RATE_LIMIT_WRITES": "off",
        "WOM_RATE_LIMIT_LTI": "off",
    }


_READY_HOOK = """\
import os
import pathlib


def post_worker_init(worker):
    pathlib.Path({folder!r}, "ready-%d" % os.getpid()).touch()
"""


def _get(port: int, path: str, timeout: float = 5.0) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


@contextlib.contextmanager
def gunicorn(url: str, instance: str, server: Server, boot_timeout: float = 180.0) -> Iterator[tuple[int, list[int]]]:
    """Run gunicorn on a free loopback port; yield (port, worker pids) once every worker is ready."""
    folder = Path(instance)
    ready = folder / "ready"
    ready.mkdir(parents=True, exist_ok=True)
    (folder / "gunicorn_conf.py").write_text(_READY_HOOK.format(folder=str(ready)))
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    port = listener.getsockname()[1]
    command = [
        sys.executable, "-m", "gunicorn", "plugin:create_app()",
        "--config", str(folder / "gunicorn_conf.py"),
        "--bind", f"fd://{listener.fileno()}",
        "--workers", str(server.workers),
        "--worker-class", server.worker_class,
        "--log-level", "warning",
    ]  # fmt: skip
    if server.worker_class == "gthread":
        command += ["--threads", str(server.threads)]
    env = {**os.environ, **_app_config(url, instance)}
    log_path = folder / "gunicorn.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command, env=env, stdout=log, stderr=subprocess.STDOUT, pass_fds=(listener.fileno(),)
        )
    listener.close()  # gunicorn holds its own copy
    try:
        deadline = time.monotonic() + boot_timeout
        while True:  # poll a condition, whatever the machine's speed: every worker ready, /healthz 200
            if process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {process.returncode}:\n{log_path.read_text()[-3000:]}")
            pids = [int(p.name.split("-")[1]) for p in ready.iterdir()]
            if len(pids) >= server.workers:
                with contextlib.suppress(OSError, http.client.HTTPException):
                    if _get(port, "/healthz") == 200:
                        break
            if time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn not ready after {boot_timeout:.0f} s:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.05)
        yield port, pids
    finally:
        process.send_signal(signal.SIGINT)  # gunicorn's quick shutdown; the load is over
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _cpu_seconds(pid: int) -> float | None:
    """utime + stime of a process from /proc (Linux), or None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


class CpuMeter:
    """CPU seconds of this process, the gunicorn workers and the PostgreSQL backends serving them
    (found by ``application_name`` in ``pg_stat_activity``; /proc is Linux only, else None)."""

    def __init__(self, workers: list[int], admin: sa.Engine, application_name: str) -> None:
        self.workers, self.admin, self.application_name = workers, admin, application_name

    def _backends(self) -> list[int]:
        with self.admin.connect() as connection:
            return list(
                connection.scalars(
                    sa.text("SELECT pid FROM pg_stat_activity WHERE application_name = :name"),
                    {"name": self.application_name},
                )
            )

    def sample(self) -> dict[str, dict[int, float | None]]:
        return {
            "client": {0: time.process_time()},
            "server": {pid: _cpu_seconds(pid) for pid in self.workers},
            "db": {pid: _cpu_seconds(pid) for pid in self._backends()},
        }

    @staticmethod
    def used(before: dict[str, dict[int, float | None]], after: dict[str, dict[int, float | None]]) -> dict[str, float]:
        """CPU seconds per group between two samples; a process that appeared counts from zero."""
        used: dict[str, float] = {}
        for group, now in after.items():
            if any(v is None for v in now.values()):
                continue
            used[group] = sum(v - (before[group].get(pid) or 0.0) for pid, v in now.items())  # type: ignore[operator]
        return used


# -- the load client ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Endpoint:
    name: str
    method: str
    path: str
    tokens: list[str]
    body: Callable[[int], dict[str, Any]] | None = None
    read: bool = True
    p99_goal: float = READ_GOAL_P99


@dataclass
class Phase:
    requests: int
    errors: int
    seconds: float
    latencies: list[float]
    cpu: dict[str, float]  # cores busy during the phase: client, server (gunicorn), db (its backends)

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def cpu_per_request(self) -> float | None:
        """Server (gunicorn + PostgreSQL backend) CPU seconds per request: what a shared machine distorts least."""
        if "server" not in self.cpu or "db" not in self.cpu or not self.requests:
            return None
        return (self.cpu["server"] + self.cpu["db"]) / self.rate


def load(port: int, endpoint: Endpoint, connections: int, seconds: float, warmup: float, meter: CpuMeter) -> Phase:
    """``connections`` threads send requests back to back for ``warmup`` + ``seconds``; measure the rest."""
    start_gate = threading.Barrier(connections + 1)
    results: list[tuple[list[tuple[float, float]], int]] = [([], 0)] * connections
    timing: dict[str, float] = {}
    first_error: list[str] = []

    def worker(index: int) -> None:
        own = endpoint.tokens[index % len(endpoint.tokens) :: connections] or endpoint.tokens
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        samples: list[tuple[float, float]] = []
        errors = 0
        n = 0
        start_gate.wait()
        begin, end = timing["begin"], timing["end"]
        # Until the end, and at least one measured request per connection however slow the machine.
        while (t0 := time.perf_counter()) < end or not (samples or errors):
            headers = {"Authorization": f"Bearer {own[n % len(own)]}", "Accept": "application/json"}
            body = None
            if endpoint.body is not None:
                body = json.dumps(endpoint.body(index * 1_000_000 + n)).encode()
                headers["Content-Type"] = "application/json"
            try:
                connection.request(endpoint.method, endpoint.path, body, headers)
                response = connection.getresponse()
                payload = response.read()
                ok = response.status < 300
                if not ok and not first_error:
                    first_error.append(f"{response.status} {payload[:300]!r}")
            except (OSError, http.client.HTTPException) as exc:
                connection.close()
                ok = False
                if not first_error:
                    first_error.append(repr(exc))
            t1 = time.perf_counter()
            if t0 >= begin:
                if ok:
                    samples.append((t1, t1 - t0))
                else:
                    errors += 1
            n += 1
        connection.close()
        results[index] = (samples, errors)

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(connections)]
    for thread in threads:
        thread.start()
    timing["begin"] = time.perf_counter() + warmup
    timing["end"] = timing["begin"] + seconds
    start_gate.wait()
    time.sleep(max(0.0, timing["begin"] - time.perf_counter()))
    before = meter.sample()
    for thread in threads:
        thread.join(timeout=seconds + warmup + 60)
    cpu = CpuMeter.used(before, meter.sample())
    samples = [s for part, _ in results for s in part]
    errors = sum(e for _, e in results)
    finished = max((t for t, _ in samples), default=timing["end"])
    wall = max(finished, timing["end"]) - timing["begin"]
    if errors and first_error:
        print(f"  {endpoint.name}: {errors} failed requests, first: {first_error[0]}", file=sys.stderr)
    return Phase(
        requests=len(samples),
        errors=errors,
        seconds=wall,
        latencies=[d for _, d in samples],
        cpu={group: seconds_used / wall for group, seconds_used in cpu.items()},
    )


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@dataclass
class Result:
    name: str
    read: bool
    phases: list[Phase]
    ratios: list[float]
    p99_goal: float = READ_GOAL_P99
    alone: Phase | None = None  # reads: one connection, no queueing behind other requests

    @property
    def rate(self) -> float:
        return statistics.median(p.rate for p in self.phases)

    @property
    def ratio(self) -> float:
        return statistics.median(self.ratios)

    @property
    def errors(self) -> int:
        return sum(p.errors for p in self.phases)

    def percentile(self, q: float) -> float:
        return _percentile([d for p in self.phases for d in p.latencies], q)

    @property
    def meets_goal(self) -> bool:
        return self.ratio >= READ_GOAL_RATIO and self.percentile(0.99) < self.p99_goal

    @property
    def meets_p99_goal(self) -> bool:
        return self.percentile(0.99) < self.p99_goal

    def alone_percentile(self, q: float) -> float:
        return _percentile(self.alone.latencies, q) if self.alone else float("nan")


def endpoints(token: dict[str, list[str]]) -> list[Endpoint]:
    return [
        Endpoint("GET /healthz (baseline)", "GET", "/healthz", [""]),
        Endpoint("GET /api/v1/ratings", "GET", "/api/v1/ratings", token["rated"]),
        Endpoint("GET /api/v1/comments", "GET", "/api/v1/comments", token["discussed"]),
        Endpoint("GET /api/v1/fragments/ratings", "GET", "/api/v1/fragments/ratings", token["rated"]),
        Endpoint("GET /api/v1/fragments/comments", "GET", "/api/v1/fragments/comments", token["discussed"]),
        *(
            Endpoint(f"GET {path}", "GET", path, token["popular"], p99_goal=STORED_READ_GOAL_P99)
            for path in STORED_READS
        ),
        Endpoint(
            "POST /api/v1/comments",
            "POST",
            "/api/v1/comments",
            token["comment"],
            lambda n: {"body": f"Load test comment {n}: the examples in part two helped me."},
            read=False,
        ),
        Endpoint(
            "PUT /api/v1/ratings/mine",
            "PUT",
            "/api/v1/ratings/mine",
            token["rate"],
            lambda n: {"stars": 1 + n % 5},
            read=False,
        ),
    ]


def report(results: list[Result], size: Size, server: Server, seeded: Seeded) -> None:
    kind = f"{server.worker_class} x {server.threads} threads" if server.worker_class == "gthread" else "sync"
    print(
        f"widgets under load: gunicorn {server.workers} workers ({kind}), PostgreSQL, {size.connections} connections, "
        f"{size.rounds} round(s) x {size.seconds:g} s per endpoint; {size.ratings} ratings, {size.comments} comments; "
        f"client and server share {os.cpu_count()} cores"
    )
    print("  set-up: " + ", ".join(f"{k} {v:.1f} s" for k, v in seeded.timings.items()))
    for note in seeded.notes:
        print(f"  {note}")
    print(
        f"  {'endpoint':<40}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'vs /healthz':>13}{'errors':>8}"
        f"{'cpu: client':>13}{'server':>8}{'db':>6}{'cpu ms/req':>12}{'alone: p50':>12}{'p99':>7}"
    )
    for r in results:
        cpu = ""
        for group, width in (("client", 13), ("server", 8), ("db", 6)):
            values = [p.cpu[group] for p in r.phases if group in p.cpu]
            cpu += f"{statistics.median(values):>{width}.2f}" if values else f"{'-':>{width}}"
        per_request = [p.cpu_per_request for p in r.phases if p.cpu_per_request is not None]
        cpu += f"{statistics.median(per_request) * 1e3:>12.2f}" if per_request else f"{'-':>12}"
        alone = f"{r.alone_percentile(0.5) * 1e3:>12.1f}{r.alone_percentile(0.99) * 1e3:>7.1f}" if r.alone else ""
        print(
            f"  {r.name:<40}{r.rate:>9.1f}{r.percentile(0.5) * 1e3:>9.1f}{r.percentile(0.99) * 1e3:>9.1f}"
            f"{r.ratio:>12.2f}x{r.errors:>8}{cpu}{alone}"
        )
    reads = [r for r in results[1:] if r.read and r.p99_goal == READ_GOAL_P99]
    met = [r.name for r in reads if r.meets_goal]
    print(
        f"  goal for reads (>= {READ_GOAL_RATIO:.2f}x /healthz req/s and p99 < {READ_GOAL_P99 * 1e3:.0f} ms): "
        f"{len(met)} of {len(reads)} met" + (f" ({', '.join(met)})" if met else "")
    )
    stored = [r for r in results[1:] if r.read and r.p99_goal == STORED_READ_GOAL_P99]
    if stored:
        met = [r.name for r in stored if r.meets_p99_goal]
        alone_met = [r.name for r in stored if r.alone_percentile(0.99) < r.p99_goal]
        print(
            f"  goal for reads from the stored tables (p99 < {STORED_READ_GOAL_P99 * 1e3:.0f} ms): "
            f"{len(met)} of {len(stored)} met at {size.connections} connections, "
            f"{len(alone_met)} of {len(stored)} alone" + (f" ({', '.join(alone_met)})" if alone_met else "")
        )
    print(
        "  (cpu: cores busy during the phase; client = the load client, server = the gunicorn workers,"
        " db = their PostgreSQL backends; the rest of the machine is not counted;"
        " cpu ms/req = (server + db) CPU per request; alone: the read on one connection after the rounds)"
    )


def run(
    size: Size = FULL,
    server: Server | None = None,
    url: str | None = None,
    *,
    seed_value: int = 7,
    explain_queries: bool = False,
) -> list[Result]:
    """Seed, start gunicorn, load every endpoint in interleaved rounds, print the table."""
    server = server or Server()
    url = url or database_url()
    problem = postgres_problem(url)
    if problem is not None:
        raise RuntimeError(f"the widget load benchmark needs PostgreSQL at {url}: {problem}")
    rng = random.Random(seed_value)
    with bench_schema(url) as schema_url, tempfile.TemporaryDirectory(prefix="wom-bench-") as instance:
        migrate.upgrade(schema_url)
        seeded = seed(schema_url, size, rng)
        plan = endpoints(tokens(seeded, size, schema_url, instance))
        phases: dict[str, list[Phase]] = {e.name: [] for e in plan}
        booting = time.perf_counter()
        application_name = f"wom-bench-{uuid.uuid4().hex[:8]}"  # finds the server's backends for the cpu column
        admin = sa.create_engine(url)
        with gunicorn(f"{schema_url}&application_name={application_name}", instance, server) as (port, pids):
            seeded.timings["server boot"] = time.perf_counter() - booting
            meter = CpuMeter(pids, admin, application_name)
            for endpoint in plan:
                load(port, endpoint, size.connections, 0.0, size.prime, meter)
            for _ in range(size.rounds):
                for endpoint in plan:
                    phases[endpoint.name].append(
                        load(port, endpoint, size.connections, size.seconds, size.warmup, meter)
                    )
            # Then every read alone: its own time, without queueing behind 31 others on shared cores.
            alone = {e.name: load(port, e, 1, size.seconds, size.warmup, meter) for e in plan if e.read}
        admin.dispose()
        base = phases[plan[0].name]
        results = [
            Result(
                e.name,
                e.read,
                phases[e.name],
                [p.rate / b.rate if b.rate else 0.0 for p, b in zip(phases[e.name], base, strict=True)],
                e.p99_goal,
                alone.get(e.name),
            )
            for e in plan
        ]
        report(results, size, server, seeded)
        if explain_queries:
            explain(schema_url, seeded)
    return results


# -- profiling ----------------------------------------------------------------------------------
def explain(url: str, seeded: Seeded) -> None:
    """EXPLAIN ANALYZE every statement the read paths' services run, on the seeded data."""
    from plugin.db import make_engine, make_session_factory
    from plugin.services import colleagues, comments, ratings, recommendations
    from plugin.services.actors import Actor, Thread

    engine = make_engine(url)
    captured: list[tuple[str, Any]] = []

    def capture(_conn, _cursor, statement, parameters, _context, _many):  # type: ignore[no-untyped-def]
        captured.append((statement, parameters))

    reader = seeded.learners[len(seeded.learners) // 2]
    colleague_actor = Actor(seeded.platform_id, seeded.colleague_reader, seeded.popular_item[0])
    calls = {
        "ratings.summary": lambda s: ratings.summary(s, Actor(seeded.platform_id, reader, seeded.rated_item[0])),
        "ratings.list_reviews": lambda s: ratings.list_reviews(
            s, Actor(seeded.platform_id, reader, seeded.rated_item[0])
        ),
        "comments.list_comments": lambda s: comments.list_comments(
            s,
            Actor(seeded.platform_id, reader, seeded.discussed_item[0]),
            Thread(seeded.platform_id, seeded.discussed_item[0]),
        ),
        "colleagues.takers": lambda s: colleagues.takers(s, colleague_actor),
        "colleagues.also_took": lambda s: colleagues.also_took(s, colleague_actor),
        "recommendations.for_learner": lambda s: recommendations.for_learner(s, colleague_actor),
    }
    sessions = make_session_factory(engine)
    for name, call in calls.items():
        captured.clear()
        sa.event.listen(engine, "before_cursor_execute", capture)
        with sessions() as session:
            call(session)
        sa.event.remove(engine, "before_cursor_execute", capture)
        for statement, parameters in captured:
            with engine.connect() as connection:
                plan = connection.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters).all()
            print(f"\n-- {name}\n{statement}\n" + "\n".join(row[0] for row in plan))
    engine.dispose()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.widgets_load", description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="a few hundred rows and a few seconds (the test size)")
    parser.add_argument("--worker-class", choices=("gthread", "sync"), default="gthread")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=4, help="threads per gthread worker")
    parser.add_argument("--connections", type=int, help="concurrent client connections (default 32)")
    parser.add_argument("--seconds", type=float, help="measured seconds per endpoint and round")
    parser.add_argument("--rounds", type=int, help="rounds of all endpoints, interleaved with the baseline")
    parser.add_argument("--explain", action="store_true", help="then print EXPLAIN ANALYZE of the read queries")
    args = parser.parse_args(argv)
    size = TINY if args.tiny else FULL
    overrides = {
        k: v for k, v in {"connections": args.connections, "seconds": args.seconds, "rounds": args.rounds}.items() if v
    }
    size = Size(**{**size.__dict__, **overrides})
    run(size, Server(args.workers, args.worker_class, args.threads), explain_queries=args.explain)


if __name__ == "__main__":
    main()
