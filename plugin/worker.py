"""The background worker: ``wordofmouth worker`` runs the jobs adapters register, on a schedule.

Anything that must not happen inside a learner's request (roster sync, recommendation builds,
xAPI delivery) is a *job*: a function of the app, registered once at start-up::

    from datetime import timedelta
    from plugin.worker import register_job

    def build(app: Flask) -> dict[str, int] | None:
        session = app.extensions["wordofmouth.sessions"]()
        try:
            ...              # claim work, do it, commit
            return {"built": 3}
        finally:
            session.close()

    register_job(app, "recommend-build", build, every=timedelta(minutes=10))

- The job is called inside an app context with the app; it opens its own session and commits
  its own work (small transactions; never one held open across network calls).
- It returns counts (or None); the worker logs one line per run: ``job roster-sync: synced=2 ...``.
- It must be idempotent and resumable after a kill: claim rows with a lease (``FOR UPDATE SKIP
  LOCKED`` on PostgreSQL, see ``plugin.services.rosters.claim_due``), so several workers can run
  side by side and a killed one's lease just expires.
- An exception is logged and the job runs again at its next tick; it never stops the worker.

Scheduling is APScheduler 3.x (``BlockingScheduler``, one interval trigger per job,
``max_instances=1`` so a slow run is never overlapped by the next, ``coalesce=True`` so missed
ticks collapse into one run). ``--once`` runs each job one time and exits, for cron and tests.
The core never imports the adapters: they register their jobs from their ``init_app``.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import FrameType

from flask import Flask

log = logging.getLogger("wordofmouth.worker")

JOBS_EXTENSION = "wordofmouth.worker_jobs"

JobResult = Mapping[str, int] | None
JobFunc = Callable[[Flask], JobResult]


@dataclass(frozen=True)
class Job:
    """A registered job: its name, its function and how often it runs (None: every poll interval)."""

    name: str
    func: JobFunc
    every: timedelta | None = None


def register_job(app: Flask, name: str, func: JobFunc, every: timedelta | None = None) -> None:
    """Register ``func(app)`` as the worker job ``name``, run every ``every`` (default: ``WOM_WORKER_POLL_SECONDS``).

    Registering the same name twice is a programming error.
    """
    jobs: dict[str, Job] = app.extensions.setdefault(JOBS_EXTENSION, {})
    if name in jobs:
        raise ValueError(f"worker job {name!r} is registered already")
    if every is not None and every.total_seconds() <= 0:
        raise ValueError("a job's interval must be positive")
    jobs[name] = Job(name=name, func=func, every=every)


def registered_jobs(app: Flask) -> dict[str, Job]:
    """Every registered job by name, in registration order."""
    return dict(app.extensions.get(JOBS_EXTENSION, {}))


def select_jobs(app: Flask, only: Iterable[str] = ()) -> list[Job]:
    """The jobs to run: all of them, or those named in ``only`` (an unknown name raises ``KeyError``)."""
    jobs = registered_jobs(app)
    names = list(only)
    unknown = [n for n in names if n not in jobs]
    if unknown:
        raise KeyError(", ".join(unknown))
    return [jobs[n] for n in names] if names else list(jobs.values())


def run_job(app: Flask, job: Job) -> JobResult:
    """Run ``job`` once inside an app context; log one line; never raise."""
    started = time.monotonic()
    try:
        with app.app_context():
            result = job.func(app)
    except Exception:  # one failing run must not stop the worker
        log.exception("job %s failed after %.1f s", job.name, time.monotonic() - started)
        return None
    counts = " ".join(f"{k}={v}" for k, v in (result or {}).items())
    log.info("job %s: %s (%.1f s)", job.name, counts or "done", time.monotonic() - started)
    return result


def run_once(app: Flask, only: Iterable[str] = ()) -> dict[str, JobResult]:
    """Run every (selected) job one time, in registration order."""
    return {job.name: run_job(app, job) for job in select_jobs(app, only)}


def run_forever(
    app: Flask,
    only: Iterable[str] = (),
    poll: timedelta = timedelta(seconds=60),
    stop: threading.Event | None = None,
) -> None:
    """Run the jobs on their intervals until SIGTERM or SIGINT (or until ``stop`` is set).

    Every job runs once right away, then every ``job.every`` (or ``poll``). A job still running at
    shutdown is allowed to finish its current step; jobs are resumable, so a hard kill is safe too.
    """
    from apscheduler.executors.pool import ThreadPoolExecutor
    from apscheduler.schedulers.background import BackgroundScheduler

    jobs = select_jobs(app, only)
    stop = stop or threading.Event()
    scheduler = BackgroundScheduler(
        executors={"default": ThreadPoolExecutor(max_workers=max(len(jobs), 1))},
        job_defaults={"max_instances": 1, "coalesce": True, "misfire_grace_time": None},
        timezone=UTC,
    )
    now = datetime.now(UTC)
    for job in jobs:
        every = job.every or poll
        scheduler.add_job(
            run_job,
            "interval",
            args=(app, job),
            id=job.name,
            name=job.name,
            seconds=every.total_seconds(),
            next_run_time=now,
        )

    def _stop(signum: int, _frame: FrameType | None) -> None:
        log.info("worker: %s received, stopping after the running jobs", signal.Signals(signum).name)
        stop.set()

    previous = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            previous[sig] = signal.signal(sig, _stop)
    log.info("worker: running %s", ", ".join(f"{j.name} every {(j.every or poll).total_seconds():g} s" for j in jobs))
    scheduler.start()
    try:
        while not stop.wait(1.0):
            pass
    finally:
        scheduler.shutdown(wait=True)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        log.info("worker: stopped")
