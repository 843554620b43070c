"""Answer times while another connection holds a table lock: gunicorn against PostgreSQL.

Issue 9, item 13: with a lock on the login state table held for 45 s, logins answered 500 after
30.7 s, gunicorn SIGKILLed its workers and ``/healthz`` took 31 s. This measures the same thing,
bounded in time and on loopback only:

1. a PostgreSQL schema of its own (dropped afterwards), migrated, one registered LMS;
2. for each setting (``no timeouts``: ``WOM_DB_LOCK_TIMEOUT_MS=0`` and
   ``WOM_DB_STATEMENT_TIMEOUT_MS=0``, i.e. the behaviour before; ``defaults``: the shipped 5 s lock
   and 15 s statement timeouts), gunicorn (``plugin:create_app()``, sync workers) on a free
   loopback port;
3. unlocked logins for a baseline; then a second connection takes ``ACCESS EXCLUSIVE`` on
   ``lti_login_state`` (released after ``--hold`` seconds at most: the server ends the holder's
   transaction even if this script dies), ``--logins`` concurrent logins arrive, and ``/healthz``
   right after them. Each answer's status and time is recorded, and the gunicorn log is searched
   for worker timeouts.

``python -m bench.held_lock [--hold 12] [--logins 8] [--workers 4]``. Not part of ``make bench``'s
ratios: it measures seconds of waiting, not throughput.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import sqlalchemy as sa

from bench.widgets_load import Server, bench_schema, database_url, gunicorn, postgres_problem

ISSUER = "https://lms.example.org"
TABLE = "lti_login_state"
SETTINGS = {
    "no timeouts": {"WOM_DB_LOCK_TIMEOUT_MS": "0", "WOM_DB_STATEMENT_TIMEOUT_MS": "0"},
    "defaults": {},
}
LOGIN_BODY = urlencode(
    {"iss": ISSUER, "client_id": "client-1", "login_hint": "u", "target_link_uri": "http://127.0.0.1/lti/launch"}
)


@dataclass
class Outcome:
    setting: str
    baseline_ms: float  # median unlocked login
    logins: list[tuple[int, float]] = field(default_factory=list)  # (status, seconds) under the lock
    healthz: tuple[int, float] = (0, 0.0)
    worker_timeouts: int = 0

    @property
    def statuses(self) -> dict[int, int]:
        counts: dict[int, int] = {}
        for status, _ in self.logins:
            counts[status] = counts.get(status, 0) + 1
        return dict(sorted(counts.items()))


def _request(port: int, method: str, path: str, timeout: float) -> tuple[int, float]:
    """(status, seconds); status 0 when the connection failed or timed out."""
    started = time.monotonic()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        if method == "POST":
            headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
            connection.request("POST", path, body=LOGIN_BODY, headers=headers)
        else:
            connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        return response.status, time.monotonic() - started
    except (OSError, http.client.HTTPException):
        return 0, time.monotonic() - started
    finally:
        connection.close()


def _register(url: str) -> None:
    from plugin.db import make_engine, make_session_factory
    from plugin.services import platforms

    engine = make_engine(url)
    try:
        with make_session_factory(engine)() as session:
            platforms.add_or_update_platform(
                session,
                platforms.PlatformSpec(
                    issuer=ISSUER,
                    client_id="client-1",
                    deployment_ids=("deployment-1",),
                    auth_login_url=ISSUER + "/auth",
                    auth_token_url=ISSUER + "/token",
                    key_set_url=ISSUER + "/jwks",
                    name="Bench LMS",
                ),
            )
            session.commit()
    finally:
        engine.dispose()


@contextlib.contextmanager
def held_lock(url: str, hold: float) -> Iterator[None]:
    """ACCESS EXCLUSIVE on the login state table from a connection of our own, for ``hold`` s at most."""
    engine = sa.create_engine(url)
    connection = engine.connect()
    try:
        connection.exec_driver_sql(f"SET idle_in_transaction_session_timeout = {int(hold * 1000)}")
        connection.exec_driver_sql(f"LOCK TABLE {TABLE} IN ACCESS EXCLUSIVE MODE")
        yield
    finally:
        with contextlib.suppress(sa.exc.SQLAlchemyError):
            connection.rollback()
        connection.close()
        engine.dispose()


@contextlib.contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def measure(url: str, setting: str, env: dict[str, str], hold: float, logins: int, workers: int) -> Outcome:
    with tempfile.TemporaryDirectory(prefix="wom-held-lock-") as instance, _environment(env):
        with gunicorn(url, instance, Server(workers=workers, worker_class="sync")) as (port, _pids):
            unlocked = [_request(port, "POST", "/lti/login", 10)[1] for _ in range(10)]
            outcome = Outcome(setting, statistics.median(unlocked) * 1000)
            with held_lock(url, hold):
                threads = [
                    threading.Thread(
                        target=lambda: outcome.logins.append(_request(port, "POST", "/lti/login", hold + 40))
                    )
                    for _ in range(logins)
                ]
                for thread in threads:
                    thread.start()
                time.sleep(0.2)  # the logins are in (or queued at) the workers; now the health check
                outcome.healthz = _request(port, "GET", "/healthz", hold + 40)
                for thread in threads:
                    thread.join()
        outcome.worker_timeouts = (Path(instance) / "gunicorn.log").read_text().count("WORKER TIMEOUT")
    return outcome


def report(outcomes: list[Outcome], hold: float, workers: int) -> None:
    print(f"held lock: ACCESS EXCLUSIVE on {TABLE} for up to {hold:.0f} s; gunicorn {workers} sync workers, PostgreSQL")
    print(
        "| setting | unlocked login p50 ms | logins under the lock | login p50 s | login max s | /healthz "
        "| worker timeouts |"
    )
    print("|---|---:|---|---:|---:|---|---:|")
    for o in outcomes:
        times = [seconds for _, seconds in o.logins]
        statuses = ", ".join(f"{count}x {status or 'no answer'}" for status, count in o.statuses.items())
        print(
            f"| {o.setting} | {o.baseline_ms:.0f} | {statuses} | {statistics.median(times):.1f} | {max(times):.1f} "
            f"| {o.healthz[0] or 'no answer'} in {o.healthz[1]:.1f} s | {o.worker_timeouts} |"
        )


def run(
    hold: float = 12.0, logins: int = 8, workers: int = 4, settings: dict[str, dict[str, str]] | None = None
) -> list[Outcome]:
    from plugin import migrate

    outcomes = []
    with bench_schema(database_url()) as url:
        migrate.upgrade(url)
        _register(url)
        for setting, env in (settings or SETTINGS).items():
            outcomes.append(measure(url, setting, env, hold, logins, workers))
    report(outcomes, hold, workers)
    return outcomes


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--hold", type=float, default=12.0, help="seconds the lock is held at most (default 12)")
    parser.add_argument("--logins", type=int, default=8, help="concurrent logins under the lock (default 8)")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn sync workers (default 4)")
    args = parser.parse_args(argv)
    if (problem := postgres_problem()) is not None:
        raise SystemExit(f"held lock: PostgreSQL at {database_url()} does not answer: {problem}")
    run(args.hold, args.logins, args.workers)


if __name__ == "__main__":
    main()
