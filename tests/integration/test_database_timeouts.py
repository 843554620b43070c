"""A slow database answers 503 with Retry-After within seconds, and workers survive (issue 9, item 13).

Reproduced before: with a table lock held for 45 s, logins answered 500 after 30.7 s, gunicorn
killed all its workers and ``/healthz`` took 31 s. Here a second connection holds ACCESS EXCLUSIVE
on the login state table, which every login writes, while logins arrive.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from plugin.app import create_app
from plugin.db import DatabaseTimeouts, make_engine
from plugin.services import platforms
from plugin.settings import load_settings
from tests.support.processes import BIN, free_port, stop, wait_for_http

ISSUER = "https://lms.example.org"
# Longer than any timeout under test; the server ends the holder's transaction after it regardless,
# so a service without timeouts makes these tests fail slowly instead of hanging.
HOLD_SECONDS = 25


def register_platform(app: Flask) -> None:
    session = app.extensions["wordofmouth.sessions"]()
    try:
        platforms.add_or_update_platform(
            session,
            platforms.PlatformSpec(
                issuer=ISSUER,
                client_id="client-1",
                deployment_ids=("deployment-1",),
                auth_login_url=ISSUER + "/auth",
                auth_token_url=ISSUER + "/token",
                key_set_url=ISSUER + "/jwks",
                name="Test LMS",
            ),
        )
        session.commit()
    finally:
        session.close()


LOGIN = {"iss": ISSUER, "login_hint": "u", "client_id": "client-1"}


@contextmanager
def table_locked(database_url: str, table: str = "lti_login_state") -> Iterator[None]:
    """Hold ACCESS EXCLUSIVE on ``table`` from a connection of our own, as a migration or a stuck job might."""
    engine = sa.create_engine(database_url)
    connection = engine.connect()
    try:
        connection.exec_driver_sql(f"SET idle_in_transaction_session_timeout = {HOLD_SECONDS * 1000}")
        connection.exec_driver_sql(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
        yield
    finally:
        connection.rollback()
        connection.close()
        engine.dispose()


def timed_app(app_config: dict[str, str], **timeouts: str) -> Flask:
    app = create_app({**app_config, **timeouts})
    register_platform(app)
    return app


@pytest.mark.postgres_only
def test_a_held_lock_answers_logins_503_with_retry_after_within_the_lock_timeout(
    backend: str, app_config: dict[str, str]
) -> None:
    app = timed_app(app_config, WOM_DB_LOCK_TIMEOUT_MS="1000", WOM_DB_STATEMENT_TIMEOUT_MS="10000")
    client = app.test_client()
    target = {"target_link_uri": "http://localhost/lti/launch"}
    try:
        assert client.post("/lti/login", data={**LOGIN, **target}).status_code == 302
        with table_locked(app_config["WOM_DATABASE_URL"]):
            started = time.monotonic()
            response = client.post("/lti/login", data={**LOGIN, **target}, headers={"Accept": "application/json"})
            elapsed = time.monotonic() - started
            assert response.status_code == 503, response.get_data(as_text=True)
            assert response.headers["Retry-After"] == "5"
            assert response.get_json()["detail"].startswith("The database is busy")
            assert elapsed < 5, f"answered after {elapsed:.1f} s"
            health = client.get("/healthz")  # touches no locked table
            assert health.status_code == 200
        assert client.post("/lti/login", data={**LOGIN, **target}).status_code == 302  # and back to normal
    finally:
        app.extensions["wordofmouth.engine"].dispose()


@pytest.mark.postgres_only
def test_the_statement_timeout_bounds_a_wait_the_lock_timeout_does_not(
    backend: str, app_config: dict[str, str]
) -> None:
    app = timed_app(app_config, WOM_DB_LOCK_TIMEOUT_MS="0", WOM_DB_STATEMENT_TIMEOUT_MS="1500")
    client = app.test_client()
    try:
        with table_locked(app_config["WOM_DATABASE_URL"]):
            started = time.monotonic()
            response = client.post("/lti/login", data={**LOGIN, "target_link_uri": "http://localhost/lti/launch"})
            elapsed = time.monotonic() - started
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "5"
        assert elapsed < 6, f"answered after {elapsed:.1f} s"
    finally:
        app.extensions["wordofmouth.engine"].dispose()


@pytest.mark.postgres_only
def test_postgres_connections_carry_the_timeouts_and_keep_the_urls_options(backend: str, database_url: str) -> None:
    engine = make_engine(database_url, DatabaseTimeouts(statement_ms=4321, lock_ms=1234))
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("SHOW statement_timeout").scalar() == "4321ms"
            assert connection.exec_driver_sql("SHOW lock_timeout").scalar() == "1234ms"
            # The test URL's own options (its schema as search_path) still apply.
            assert connection.exec_driver_sql("SHOW search_path").scalar().startswith("wom_test_")
    finally:
        engine.dispose()
    untimed = make_engine(database_url)  # migrations and benchmarks: no statement timeout
    try:
        with untimed.connect() as connection:
            assert connection.exec_driver_sql("SHOW statement_timeout").scalar() == "0"
    finally:
        untimed.dispose()


def test_a_busy_pool_is_a_503_with_retry_after_not_a_500(app: Flask) -> None:
    app.testing = False

    @app.get("/pool-exhausted")
    def pool_exhausted() -> str:
        raise PoolTimeoutError("QueuePool limit of size 5 overflow 10 reached, connection timed out")

    response = app.test_client().get("/pool-exhausted", headers={"Accept": "application/json"})
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"


def test_timeout_settings_have_defaults_and_are_checked(tmp_path: Path) -> None:
    settings = load_settings(environ={"WOM_INSTANCE_PATH": str(tmp_path)})
    assert (settings.db_connect_timeout, settings.db_statement_timeout_ms) == (5, 15_000)
    assert (settings.db_lock_timeout_ms, settings.db_pool_timeout) == (5_000, 5)
    from plugin.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="WOM_DB_LOCK_TIMEOUT_MS must be a whole number"):
        load_settings(environ={"WOM_INSTANCE_PATH": str(tmp_path), "WOM_DB_LOCK_TIMEOUT_MS": "5s"})
    with pytest.raises(ConfigurationError, match="WOM_DB_POOL_TIMEOUT must be between 1 and 300"):
        load_settings(environ={"WOM_INSTANCE_PATH": str(tmp_path), "WOM_DB_POOL_TIMEOUT": "0"})


@pytest.mark.postgres_only
def test_gunicorn_workers_answer_and_survive_a_held_lock(
    backend: str, app_config: dict[str, str], tmp_path: Path
) -> None:
    """One sync worker with a 10 s worker timeout: each login waits the 1 s lock timeout, not forever."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    config = {**app_config, "WOM_BASE_URL": base_url, "WOM_DB_LOCK_TIMEOUT_MS": "1000"}
    register_platform(admin := create_app(config))
    admin.extensions["wordofmouth.engine"].dispose()
    env = {k: v for k, v in os.environ.items() if not k.startswith("WOM_")}
    env.update(config)
    log_path = tmp_path / "gunicorn.log"
    command = [str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", "1", "--timeout", "10"]
    with log_path.open("w") as log:
        server = subprocess.Popen(
            [*command, "plugin:create_app()"],
            cwd=tmp_path,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
    try:
        wait_for_http(base_url + "/healthz", server)
        login = {**LOGIN, "target_link_uri": base_url + "/lti/launch"}
        with table_locked(app_config["WOM_DATABASE_URL"]):
            for _ in range(3):
                started = time.monotonic()
                answer = requests.post(base_url + "/lti/login", data=login, allow_redirects=False, timeout=30)
                assert answer.status_code == 503, answer.text
                assert answer.headers["Retry-After"] == "5"
                assert time.monotonic() - started < 5
            started = time.monotonic()
            assert requests.get(base_url + "/healthz", timeout=30).status_code == 200
            assert time.monotonic() - started < 5
        assert requests.post(base_url + "/lti/login", data=login, allow_redirects=False, timeout=30).status_code == 302
        assert server.poll() is None
    finally:
        stop(server)
    output = log_path.read_text()
    assert "WORKER TIMEOUT" not in output and "SIGKILL" not in output, output
