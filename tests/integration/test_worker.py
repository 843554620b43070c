"""``wordofmouth worker``: the job registry, ``--once``/``--only``, row claiming, and a real process
that runs until SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask, current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.cli import main
from plugin.db import utcnow
from plugin.models import RosterMember, RosterSource
from plugin.services import platforms, rosters, tool_keys
from plugin.worker import register_job, registered_jobs, run_once
from tests.conftest import TEST_SECRET
from tests.support.factories import make_item, make_platform
from tests.support.lti_platform import INSTRUCTOR, roster_member, running_platform
from tests.support.processes import BIN


def test_jobs_register_once_and_run_inside_an_app_context(app: Flask, caplog: pytest.LogCaptureFixture) -> None:
    seen: list[str] = []

    def broken(app: Flask) -> None:
        raise RuntimeError("boom")

    def counting(app: Flask) -> dict[str, int]:
        seen.append(current_app.name)
        return {"done": 2}

    register_job(app, "broken", broken)
    register_job(app, "counting", counting, every=timedelta(minutes=5))
    with pytest.raises(ValueError, match="registered already"):
        register_job(app, "counting", counting)
    assert list(registered_jobs(app))[-2:] == ["broken", "counting"]
    assert registered_jobs(app)["counting"].every == timedelta(minutes=5)

    results = run_once(app, ["broken", "counting"])
    assert results == {"broken": None, "counting": {"done": 2}}  # a failing job never stops the others
    assert seen == [app.name]
    assert any("job broken failed" in r.getMessage() for r in caplog.records)
    assert any(r.getMessage().startswith("job counting: done=2") for r in caplog.records)


def test_worker_once_runs_every_registered_job_and_only_picks_one(app: Flask) -> None:
    calls: list[str] = []
    register_job(app, "first", lambda app: calls.append("first") or {"n": 1})  # type: ignore[func-returns-value]
    register_job(app, "second", lambda app: calls.append("second") or None)  # type: ignore[func-returns-value]
    runner = app.test_cli_runner()

    everything = runner.invoke(main, ["worker", "--once"])
    assert everything.exit_code == 0, everything.output
    assert "roster-sync: synced=0 failed=0" in everything.output  # registered by the LTI adapter
    assert "first: n=1" in everything.output and "second: done" in everything.output
    assert calls == ["first", "second"]

    only = runner.invoke(main, ["worker", "--once", "--only", "second"])
    assert only.exit_code == 0 and only.output.strip() == "second: done"
    assert calls == ["first", "second", "second"]

    unknown = runner.invoke(main, ["worker", "--once", "--only", "nope"])
    assert unknown.exit_code == 2
    assert "unknown job nope" in unknown.output and "roster-sync" in unknown.output


def _sources(session: Session, count: int) -> list[int]:
    platform = make_platform(session)
    ids = []
    for n in range(count):
        item = make_item(session, platform, f"course-{n}")
        source = RosterSource(
            platform_id=platform.id,
            item_id=item.id,
            context_id=f"course-{n}",
            memberships_url=f"https://a.lms.example/nrps/{n}",
            next_sync_at=utcnow() - timedelta(minutes=1),
        )
        session.add(source)
        session.flush()
        ids.append(source.id)
    session.commit()
    return ids


def test_a_claimed_source_is_leased_until_applied(app: Flask, db: Session) -> None:
    [source_id] = _sources(db, 1)
    now = utcnow()
    [claimed] = rosters.claim_due(db, now, lease=timedelta(minutes=15))
    db.commit()
    assert claimed.id == source_id and claimed.claimed_until == now + timedelta(minutes=15)
    assert rosters.claim_due(db, now + timedelta(minutes=1)) == []  # leased
    [again] = rosters.claim_due(db, now + timedelta(minutes=16))  # a killed worker's lease expires
    assert again.id == source_id


@pytest.mark.postgres_only
def test_concurrent_claims_never_share_a_source(backend: str, app: Flask) -> None:
    sessions = app.extensions["wordofmouth.sessions"]
    setup = sessions()
    ids = _sources(setup, 3)
    setup.close()
    first, second = sessions(), sessions()
    try:
        now = utcnow()
        mine = rosters.claim_due(first, now, limit=2)  # rows stay locked: not committed yet
        theirs = rosters.claim_due(second, now, limit=10)  # skips the locked rows instead of waiting
        assert len(mine) == 2 and len(theirs) == 1
        assert {c.id for c in mine} | {c.id for c in theirs} == set(ids)
        first.commit()
        second.commit()
        third = sessions()
        assert rosters.claim_due(third, now) == []  # every source is leased now
        third.close()
    finally:
        first.close()
        second.close()


def test_worker_process_syncs_rosters_until_sigterm(app: Flask, db: Session, database_url: str, tmp_path: Path) -> None:
    with running_platform(services=True) as lms:
        platform, _ = platforms.add_or_update_platform(db, platforms.PlatformSpec(**lms.registration()))
        item = make_item(db, platform, "course-1")
        db.add(
            RosterSource(
                platform_id=platform.id,
                item_id=item.id,
                context_id="course-1",
                memberships_url=lms.memberships_url("course-1"),
            )
        )
        lms.tool_public_jwks = tool_keys.public_jwks(db)
        db.commit()
        lms.rosters["course-1"] = [roster_member("t", [INSTRUCTOR]), roster_member("a"), roster_member("b")]

        env = {k: v for k, v in os.environ.items() if not k.startswith("WOM_")}
        env.update(
            WOM_DATABASE_URL=database_url,
            WOM_INSTANCE_PATH=str(tmp_path / "instance"),
            WOM_SECRET_KEY=TEST_SECRET,
            WOM_WORKER_POLL_SECONDS="1",
        )
        process = subprocess.Popen(
            [str(BIN / "wordofmouth"), "worker"],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            deadline = time.monotonic() + 120
            synced = None
            while time.monotonic() < deadline and process.poll() is None:
                db.rollback()
                synced = db.scalars(select(RosterSource.synced_at)).one()
                if synced is not None:
                    break
                time.sleep(0.2)
            assert synced is not None, "the worker did not sync the roster in time"
            process.send_signal(signal.SIGTERM)
            output, _ = process.communicate(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
    assert process.returncode == 0, output
    assert "job roster-sync: synced=1 failed=0 members=3" in output
    assert "SIGTERM received" in output and "worker: stopped" in output
    assert TEST_SECRET not in output and not any(token in output for token in lms.issued_tokens)
    db.rollback()
    staff = {m.staff for m in db.scalars(select(RosterMember))}
    assert staff == {True, False}
