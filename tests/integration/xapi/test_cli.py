"""``wordofmouth xapi ...`` and ``wordofmouth lrs ...``, in process and as real worker processes.

The worker-kill test puts a proxy between the worker and the real LRS that forwards the batch
(the LRS stores it) but holds the answer: the worker is SIGKILLed while it waits, which is the
worst moment (delivered, not recorded). A second worker takes the batch again once the lease
expires and the LRS stores it once.
"""

from __future__ import annotations

import http.server
import json
import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from plugin.app import create_app
from plugin.cli import main
from plugin.db import utcnow
from plugin.models import LrsSettings, OutboxStatement, OutboxStatus
from plugin.services import comments, platforms, ratings
from tests.conftest import TEST_SECRET
from tests.support.factories import World, at, make_world
from tests.support.lrs import RunningLrs
from tests.support.processes import BIN

SECRET = "s3cret-LRS-pa55word"
HELD_LIMIT = 10_000
USER = "lrs-user-name"
WAIT = 180.0  # seconds a condition may take on a loaded machine


@pytest.fixture
def lrs_app(app_config: dict[str, str], lrs: RunningLrs) -> Iterator[Flask]:
    """The app with the test LRS as the default LRS (WOM_LRS_*)."""
    application = create_app(
        {**app_config, "WOM_LRS_ENDPOINT": lrs.endpoint, "WOM_LRS_USERNAME": USER, "WOM_LRS_PASSWORD": SECRET}
    )
    application.testing = True
    yield application
    application.extensions["wordofmouth.engine"].dispose()


def held(lrs: RunningLrs) -> list[dict[str, Any]]:
    """Every statement the LRS lists, in ONE page. Its in-memory store pages with ``_id < cursor``
    over uuid1 strings while it sorts by ``stored``: when the uuid1 clock field wraps (every ~7
    minutes) its more links repeat and skip statements, so a count must not span pages."""
    found = lrs.get_statements(limit=HELD_LIMIT)
    assert len(found) < HELD_LIMIT
    return found


def run(app: Flask, *args: str, input: str | None = None, env: dict[str, str] | None = None):
    return app.test_cli_runner().invoke(main, list(args), input=input, env=env)


def fresh(session: Session) -> None:
    session.rollback()
    session.expire_all()


def count(session: Session, *where) -> int:  # type: ignore[no-untyped-def]
    fresh(session)
    return session.scalar(select(func.count()).select_from(OutboxStatement).where(*where)) or 0


def comment_many(session: Session, world: World, n: int) -> None:
    for i in range(n):
        comments.post_comment(session, world.ada, world.thread(), f"Comment number {i}", now=at(i / 60))
    session.commit()


def wait_for(condition: Callable[[], bool], what: str, timeout: float = WAIT) -> None:
    """Poll ``condition`` until it holds (a condition, not a fixed sleep); fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


# --- xapi status, deliver --once, retry --failed ----------------------------------------------------


def test_status_says_what_waits_for_want_of_an_lrs_until_one_is_set(app: Flask, db: Session, lrs: RunningLrs) -> None:
    world = make_world(db)
    ratings.rate(db, world.ada, 5, now=at(1))
    ratings.rate(db, world.foreign_learner, 4, now=at(2))
    db.commit()

    status = run(app, "xapi", "status")
    assert status.exit_code == 0, status.output
    assert status.output.startswith("2 statements waiting (oldest ")
    assert "because no LRS is configured for https://a.lms.example (client client-a), " in status.output
    assert "https://b.lms.example (client client-b)" in status.output
    assert "set WOM_LRS_ENDPOINT (with WOM_LRS_USERNAME and WOM_LRS_PASSWORD)" in status.output
    assert "`wordofmouth lrs set --platform ISSUER --endpoint URL`" in status.output

    nothing = run(app, "xapi", "deliver", "--once")
    assert nothing.exit_code == 0 and nothing.output == "delivered=0 failed=0 deferred=0 batches=0\n"
    assert count(db, OutboxStatement.status == OutboxStatus.PENDING) == 2

    chosen = run(
        app,
        "lrs", "set", "--platform", "https://a.lms.example", "--endpoint", lrs.endpoint.rstrip("/"),
        "--username", USER, "--password-stdin",
        input=SECRET + "\n",
    )  # fmt: skip
    assert chosen.exit_code == 0, chosen.output
    assert f"LRS endpoint:          {lrs.endpoint} (its own)" in chosen.output
    assert "password:              set" in chosen.output

    sent = run(app, "xapi", "deliver", "--once")
    assert sent.exit_code == 0 and sent.output == "delivered=1 failed=0 deferred=0 batches=1\n", sent.output
    assert len(held(lrs)) == 1

    after = run(app, "xapi", "status")
    assert after.exit_code == 0
    lines = after.output.splitlines()
    assert lines[0] == f"{lrs.endpoint} (1 platform): 0 pending, 1 delivered, 0 failed"
    assert lines[1].startswith("1 statement waiting (oldest ")
    assert "no LRS is configured for https://b.lms.example (client client-b)" in lines[1]
    for result in (status, nothing, chosen, sent, after):
        assert SECRET not in result.output
    assert USER not in after.output  # status names endpoints, never credentials


def test_status_counts_per_endpoint_and_the_age_of_the_oldest_pending(
    lrs_app: Flask, lrs: RunningLrs, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    session = lrs_app.extensions["wordofmouth.sessions"]()
    world = make_world(session)
    comment_many(session, world, 3)
    assert run(lrs_app, "xapi", "deliver", "--once").output == "delivered=3 failed=0 deferred=0 batches=1\n"
    comments.post_comment(session, world.bob, world.thread(), "Late", now=at(9))
    session.flush()
    late = session.scalars(select(OutboxStatement).where(OutboxStatement.status == OutboxStatus.PENDING)).one()
    late.created_at = utcnow() - timedelta(minutes=7, seconds=5)
    session.commit()
    session.close()

    status = run(lrs_app, "xapi", "status")

    assert status.exit_code == 0
    first = status.output.splitlines()[0]
    assert first.startswith(f"{lrs.endpoint} (2 platforms): 1 pending, 3 delivered, 0 failed; oldest pending 7 min ")
    assert len(status.output.splitlines()) == 1  # every platform has the default LRS: nothing waits for one
    assert SECRET not in status.output + caplog.text and USER not in status.output


def test_retry_failed_queues_refused_statements_again(lrs_app: Flask, lrs: RunningLrs) -> None:
    session = lrs_app.extensions["wordofmouth.sessions"]()
    world = make_world(session)
    comment_many(session, world, 2)
    refused = session.scalars(select(OutboxStatement).order_by(OutboxStatement.id)).first()
    assert refused is not None
    document = dict(refused.statement)
    # The LRS refuses a score above its maximum: the same row, with the JSON it refuses.
    refused.statement = {**document, "result": {"score": {"raw": 7, "min": 1, "max": 5}}}
    session.commit()

    sent = run(lrs_app, "xapi", "deliver", "--once")
    assert sent.output == "delivered=1 failed=1 deferred=0 batches=3\n", sent.output
    status = run(lrs_app, "xapi", "status")
    assert f"{lrs.endpoint} (2 platforms): 0 pending, 1 delivered, 1 failed" in status.output
    assert "fix the cause, then `wordofmouth xapi retry --failed`" in status.output

    missing_flag = run(lrs_app, "xapi", "retry")
    assert missing_flag.exit_code == 2 and "say which statements to retry: --failed" in missing_flag.output

    refused.statement = document  # the cause fixed (here: the JSON itself)
    session.commit()
    retried = run(lrs_app, "xapi", "retry", "--failed")
    assert retried.exit_code == 0 and retried.output == "1 failed statement is pending again\n"
    fresh(session)
    row = session.get(OutboxStatement, refused.id)
    assert row is not None and row.status is OutboxStatus.PENDING and row.attempts == 0 and row.last_error is None
    assert run(lrs_app, "xapi", "retry", "--failed").output == "no failed statements\n"

    assert run(lrs_app, "xapi", "deliver", "--once").output == "delivered=1 failed=0 deferred=0 batches=1\n"
    assert len(held(lrs)) == 2
    session.close()


# --- lrs set / show ---------------------------------------------------------------------------------


def test_lrs_set_refuses_what_cannot_work_with_clear_errors(app: Flask, db: Session) -> None:
    world = make_world(db)
    platforms.add_or_update_platform(
        db,
        platforms.PlatformSpec(
            issuer="https://b.lms.example",
            client_id="client-b2",
            auth_login_url="https://b.lms.example/auth",
            auth_token_url="https://b.lms.example/token",
            key_set_url="https://b.lms.example/jwks",
            deployment_ids=("deployment-b2",),
        ),
    )
    db.commit()
    a = ("lrs", "set", "--platform", "https://a.lms.example")
    cases = {
        "unknown platform": (
            ("lrs", "set", "--platform", "https://nowhere.example", "--launched"),
            "no platform registered with issuer https://nowhere.example",
        ),
        "unknown client id": (
            ("lrs", "set", "--platform", "https://a.lms.example", "--client-id", "nope", "--launched"),
            "no platform registered with issuer https://a.lms.example and client id nope",
        ),
        "shared issuer": (
            ("lrs", "set", "--platform", "https://b.lms.example", "--launched"),
            "https://b.lms.example has several registrations; choose one with --client-id (client-b, client-b2)",
        ),
        "not http": ((*a, "--endpoint", "ftp://lrs.example/xAPI/"), "must be an absolute http(s) URL"),
        "relative": ((*a, "--endpoint", "/xAPI/"), "must be an absolute http(s) URL"),
        "credentials in the URL": (
            (*a, "--endpoint", "https://user:hunter22@lrs.example/xAPI/"),
            "the LRS endpoint must not carry credentials",
        ),
        "template without context id": (
            (*a, "--activity-iri-template", "{issuer}/course/view.php"),
            "the activity IRI template must contain {context_id}",
        ),
        "relative template": (
            (*a, "--activity-iri-template", "/course/{context_id}"),
            "must give an absolute http(s) IRI",
        ),
        "unknown field": (
            (*a, "--activity-iri-template", "{issuer}/{course}/{context_id}"),
            "may use {issuer} and {context_id} only (not {course})",
        ),
        "nothing to do": (a, "nothing to change: give at least one setting"),
        "contradiction": ((*a, "--endpoint", "https://lrs.example/", "--clear-endpoint"), "contradict"),
        "credentials for the default LRS": (
            (*a, "--username", "someone"),
            "credentials belong to the platform's own LRS: give --endpoint too",
        ),
        "two password sources": ((*a, "--password-stdin", "--password-prompt"), "give the password one way only"),
        "no such variable": ((*a, "--password-env", "WOM_TEST_NO_SUCH_VARIABLE"), "is not set"),
        "bad actor": ((*a, "--actor", "email"), "Invalid value for '--actor'"),
    }
    for name, (args, message) in cases.items():
        result = run(app, *args, input="")
        assert result.exit_code == 2, (name, result.output)
        assert message in result.output, (name, result.output)
        assert "hunter22" not in result.output
    assert db.scalar(select(func.count()).select_from(LrsSettings)) == 0  # nothing was stored
    assert world.platform_a.id


def test_lrs_set_and_show_keep_passwords_out_of_sight(app_config: dict[str, str], db: Session) -> None:
    platform_id = make_world(db).platform_a.id
    db.commit()
    default_secret = "default-" + SECRET
    app = create_app(
        {
            **app_config,
            "WOM_LRS_ENDPOINT": "https://lrs.example/xAPI",
            "WOM_LRS_USERNAME": "default-user",
            "WOM_LRS_PASSWORD": default_secret,
        }
    )
    try:
        before = run(app, "lrs", "show")
        assert before.exit_code == 0
        assert before.output.splitlines()[0] == (
            "default LRS: https://lrs.example/xAPI/, username default-user, password set"
        )
        assert "LRS endpoint:          https://lrs.example/xAPI/ (the default)" in before.output
        assert before.output.count("password:              set") == 2  # both platforms use the default

        own = run(
            app,
            "lrs", "set", "--platform", "https://a.lms.example", "--endpoint", "http://lrs.a.example:8080/data/xAPI",
            "--username", USER, "--password-env", "WOM_TEST_LRS_PASSWORD", "--actor", "pseudonymous",
            "--activity-iri-template", "{issuer}/course/view.php?id={context_id}", "--launched",
            env={"WOM_TEST_LRS_PASSWORD": SECRET},
        )  # fmt: skip
        assert own.exit_code == 0, own.output
        assert own.output.splitlines() == [
            "LMS A: issuer https://a.lms.example, client id client-a",
            "  LRS endpoint:          http://lrs.a.example:8080/data/xAPI/ (its own)",
            f"  username:              {USER}",
            "  password:              set",
            "  actor:                 pseudonymous",
            "  activity IRI template: {issuer}/course/view.php?id={context_id}",
            "  launched statements:   on",
        ]
        stored = db.get(LrsSettings, platform_id)
        assert stored is not None and stored.password == SECRET and stored.username == USER

        prompted = run(app, "lrs", "set", "--platform", "https://a.lms.example", "--password-prompt", input="p2\np2\n")
        assert prompted.exit_code == 0, prompted.output
        db.expire_all()
        assert db.get(LrsSettings, platform_id).password == "p2"  # type: ignore[union-attr]

        shown = run(app, "lrs", "show", "--platform", "https://a.lms.example")
        assert shown.exit_code == 0 and "password:              set" in shown.output
        assert "LMS B" not in shown.output

        back = run(app, "lrs", "set", "--platform", "https://a.lms.example", "--clear-endpoint", "--no-launched")
        assert back.exit_code == 0, back.output
        assert "LRS endpoint:          https://lrs.example/xAPI/ (the default)" in back.output
        assert "username:              default-user" in back.output
        db.expire_all()
        cleared = db.get(LrsSettings, platform_id)
        assert cleared is not None and (cleared.endpoint, cleared.username, cleared.password) == (None, None, None)
        assert cleared.actor_identity.value == "pseudonymous"  # the other choices stay

        for result in (before, own, prompted, shown, back):
            assert SECRET not in result.output and default_secret not in result.output
            assert "p2\n" not in result.output.replace("p2\np2\n", "")
    finally:
        app.extensions["wordofmouth.engine"].dispose()


def test_lrs_show_without_any_lrs_says_so(app: Flask, db: Session) -> None:
    make_world(db)
    db.commit()
    shown = run(app, "lrs", "show")
    assert shown.exit_code == 0
    assert shown.output.splitlines()[0] == "default LRS: none (WOM_LRS_ENDPOINT is not set)"
    assert shown.output.count("LRS endpoint:          none: statements wait in the outbox") == 2
    assert "password:              not set" in shown.output
    unknown = run(app, "lrs", "show", "--client-id", "client-a")
    assert unknown.exit_code == 2 and "--client-id needs --platform" in unknown.output


# --- real worker processes ---------------------------------------------------------------------------


class HoldingProxy(http.server.ThreadingHTTPServer):
    """Forwards every request to the LRS at once but, until :attr:`release` is set, holds the
    LRS's answer back from the worker: the batch is stored, the worker does not know it yet."""

    daemon_threads = True

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.split("/xAPI/")[0]
        self.release = threading.Event()
        self.forwarded = 0
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _HoldingHandler)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/xAPI/"


class _HoldingHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: HoldingProxy

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length", "connection")}
        answer = requests.post(self.server.upstream + self.path, data=body, headers=headers, timeout=60)
        with self.server.lock:
            self.server.forwarded += 1
        self.server.release.wait(timeout=WAIT)
        try:
            self.send_response(answer.status_code)
            self.send_header("Content-Type", answer.headers.get("Content-Type", "application/json"))
            self.send_header("Content-Length", str(len(answer.content)))
            self.end_headers()
            self.wfile.write(answer.content)
        except OSError:  # the worker is gone
            pass

    def log_message(self, *_args: object) -> None:
        pass


@contextmanager
def holding_proxy(lrs: RunningLrs) -> Iterator[HoldingProxy]:
    proxy = HoldingProxy(lrs.endpoint)
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        proxy.release.set()
        proxy.shutdown()
        proxy.server_close()


class WorkerProcess:
    """``wordofmouth xapi deliver`` as a process; its output goes to a file (a pipe nobody reads
    while waiting would fill up and block a chatty worker)."""

    def __init__(self, database_url: str, tmp_path: Path, endpoint: str, *args: str) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("WOM_")}
        env.update(
            WOM_DATABASE_URL=database_url,
            WOM_INSTANCE_PATH=str(tmp_path / "instance"),
            WOM_SECRET_KEY=TEST_SECRET,
            WOM_LRS_ENDPOINT=endpoint,
            WOM_LRS_USERNAME=USER,
            WOM_LRS_PASSWORD=SECRET,
            WOM_XAPI_DELIVER_SECONDS="1",
            WOM_XAPI_BATCH_SIZE="100",
            WOM_XAPI_LEASE_SECONDS="4",
            WOM_LOG_LEVEL="DEBUG",
        )
        self.log = tmp_path / f"worker-{time.monotonic_ns()}.log"
        with self.log.open("w") as sink:
            self.popen = subprocess.Popen(
                [str(BIN / "wordofmouth"), "xapi", "deliver", *args],
                env=env,
                cwd=tmp_path,
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
            )

    def running(self) -> bool:
        return self.popen.poll() is None

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def finish(self, timeout: float = 60) -> str:
        """Wait for the process to end (kill it if it does not) and return everything it printed."""
        try:
            self.popen.wait(timeout=timeout)
        finally:
            if self.popen.poll() is None:
                self.popen.kill()
                self.popen.wait()
        return self.output()


def test_a_worker_killed_mid_batch_loses_and_duplicates_nothing(
    app: Flask, db: Session, lrs: RunningLrs, database_url: str, tmp_path: Path
) -> None:
    world = make_world(db)
    comment_many(db, world, 300)
    ids = {r.id: r.statement_id for r in db.scalars(select(OutboxStatement))}
    first_batch = sorted(ids)[:100]

    def story(output: str = "") -> str:
        """What happened so far, for a failing assertion's message."""
        fresh(db)
        by_status = dict(
            db.execute(select(OutboxStatement.status, func.count()).group_by(OutboxStatement.status)).all()
        )
        leased = db.scalar(select(func.count()).where(OutboxStatement.claimed_until.is_not(None))) or 0
        in_lrs = [s["id"] for s in held(lrs)]
        return (
            f"proxy forwarded {proxy.forwarded}; outbox {by_status}, {leased} with a lease; LRS holds "
            f"{len(in_lrs)} ({len(set(in_lrs))} distinct)\nworker output:\n{output[-6000:]}"
        )

    with holding_proxy(lrs) as proxy:
        doomed = WorkerProcess(database_url, tmp_path, proxy.endpoint)
        try:
            wait_for(lambda: proxy.forwarded == 1 or not doomed.running(), "the first batch to reach the LRS")
            assert doomed.running(), doomed.finish()
            # The LRS holds the batch; the worker holds its claim and waits for the answer.
            assert len(held(lrs)) == 100, story()
            fresh(db)
            claimed = list(db.scalars(select(OutboxStatement).where(OutboxStatement.id.in_(first_batch))))
            assert {r.status for r in claimed} == {OutboxStatus.PENDING}, story()
            assert all(r.claimed_until is not None for r in claimed), story()
            lease_ends = max(r.claimed_until for r in claimed if r.claimed_until)
            doomed.popen.kill()  # SIGKILL: no cleanup of any kind
        finally:
            if doomed.running():  # a failed assertion above: the worker still waits on the held LRS
                doomed.popen.kill()
            killed_output = doomed.finish()
        assert doomed.popen.returncode == -signal.SIGKILL, killed_output
        assert count(db, OutboxStatement.status == OutboxStatus.DELIVERED) == 0, story(killed_output)
        assert count(db, OutboxStatement.status == OutboxStatus.PENDING) == 300, story(killed_output)

        proxy.release.set()  # from now on answers pass straight through
        restarted = WorkerProcess(database_url, tmp_path, proxy.endpoint)
        try:
            wait_for(
                lambda: count(db, OutboxStatement.status == OutboxStatus.DELIVERED) == 300 or not restarted.running(),
                "every statement to be delivered",
            )
            assert restarted.running(), story(restarted.finish())
            restarted.popen.send_signal(signal.SIGTERM)
        finally:
            output = restarted.finish()
        assert restarted.popen.returncode == 0, story(output)
        # The killed worker's batch was taken again only after its lease expired, and sent once more:
        # the batch the first worker never heard about, then 3 batches.
        assert proxy.forwarded == 4, story(output)

    fresh(db)
    rows = list(db.scalars(select(OutboxStatement)))
    assert {r.status for r in rows} == {OutboxStatus.DELIVERED} and len(rows) == 300, story(output)
    early = [(r.id, r.delivered_at) for r in rows if r.id in first_batch and not r.delivered_at >= lease_ends]
    assert not early, (lease_ends, early[:5], story(output))
    in_lrs = [s["id"] for s in held(lrs)]
    assert len(in_lrs) == len(set(in_lrs)) == 300, story(output)  # nothing lost, nothing stored twice
    assert set(in_lrs) == set(ids.values())
    assert "job xapi-deliver: delivered=" in output and "SIGTERM received" in output
    for text in (killed_output, output):
        assert SECRET not in text and TEST_SECRET not in text


def test_deliver_once_as_a_process_reports_counts_and_no_secrets(
    app: Flask, db: Session, lrs: RunningLrs, database_url: str, tmp_path: Path
) -> None:
    world = make_world(db)
    comment_many(db, world, 5)
    with lrs.down():
        down = WorkerProcess(database_url, tmp_path, lrs.endpoint, "--once")
        output = down.finish(timeout=WAIT)
        assert down.popen.returncode == 0, output
        assert "deferred=5" in output and "cannot connect to " + lrs.endpoint in output
    assert count(db, OutboxStatement.status == OutboxStatus.PENDING, OutboxStatement.attempts == 1) == 5
    assert SECRET not in output and USER not in output
    assert json.dumps(SECRET) not in output
