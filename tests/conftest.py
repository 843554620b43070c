"""Fixtures shared by every test: the database backends, the app and its client.

Every test that uses ``app`` runs once per backend: SQLite always, PostgreSQL when
``WOM_TEST_DATABASE_URL`` is set or PostgreSQL answers on 127.0.0.1:5432. With ``CI=true`` a
missing PostgreSQL fails the run instead of being skipped.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from plugin import migrate
from plugin.app import create_app
from plugin.db import make_engine
from tests.support.databases import empty_all_tables, fresh_database, postgres_problem, postgres_url
from tests.support.lrs import RunningLrs, lrs_problem, run_lrs

IN_CI = os.environ.get("CI", "").lower() == "true"
TEST_SECRET = "test-secret-key-that-is-long-enough-0123456789"


def _backends() -> list[str]:
    explicit = bool(os.environ.get("WOM_TEST_DATABASE_URL"))
    problem = postgres_problem()
    if problem is None:
        return ["sqlite", "postgresql"]
    if IN_CI or explicit:
        raise pytest.UsageError(f"PostgreSQL is required here but {postgres_url()} does not answer: {problem}")
    return ["sqlite"]


BACKENDS: list[str] = []


def pytest_configure(config: pytest.Config) -> None:
    BACKENDS[:] = _backends()


def pytest_report_header(config: pytest.Config) -> str:
    return f"wordofmouth database backends: {', '.join(BACKENDS)}"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" in metafunc.fixturenames:
        backends = BACKENDS
        if metafunc.definition.get_closest_marker("postgres_only"):
            # Only PostgreSQL's semantics are under test (e.g. FOR UPDATE SKIP LOCKED): no SQLite copy.
            backends = [b for b in BACKENDS if b == "postgresql"]
        metafunc.parametrize("backend", backends, scope="session")


@pytest.fixture(scope="session")
def migrated_database(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database of ``backend`` at the newest migration, shared by the session."""
    with fresh_database(backend, tmp_path_factory.mktemp("db")) as url:
        migrate.upgrade(url)
        yield url


@pytest.fixture
def database_url(migrated_database: str) -> Iterator[str]:
    """The migrated database, emptied before the test."""
    engine = make_engine(migrated_database)
    empty_all_tables(engine)
    engine.dispose()
    yield migrated_database


@pytest.fixture
def app_config(database_url: str, tmp_path: Path) -> dict[str, str]:
    return {
        "WOM_DATABASE_URL": database_url,
        "WOM_INSTANCE_PATH": str(tmp_path / "instance"),
        "WOM_SECRET_KEY": TEST_SECRET,
        "WOM_BASE_URL": "http://localhost",
        "WOM_ENV": "development",
    }


@pytest.fixture
def app(app_config: dict[str, str]) -> Iterator[Flask]:
    application = create_app(app_config)
    application.testing = True
    yield application
    application.extensions["wordofmouth.engine"].dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def db(app: Flask):
    """A session on the app's database, closed after the test; tests commit it themselves."""
    session = app.extensions["wordofmouth.sessions"]()
    yield session
    session.rollback()
    session.close()


@pytest.fixture
def lrs(tmp_path: Path) -> Iterator[RunningLrs]:
    """A real LRS (Learning Locker's xapi-statements, tests/support/lrs.py) on a free 127.0.0.1 port, empty.

    Yields ``RunningLrs(endpoint="http://127.0.0.1:PORT/xAPI/", username, password, process)`` with
    ``post_statements``, ``get_statements(**query)``, ``get_statement(id)``, ``stop()``/``start()``/
    ``restart()``/``down()`` (back on the same port, empty). Starting takes ~0.7 s (~2 s on a loaded
    machine); it is stopped after the test. Not installed: a failure with ``CI=true``, a skip otherwise.
    """
    problem = lrs_problem()
    if problem:
        if IN_CI:
            pytest.fail(f"the test LRS is required in CI (`make test` installs it): {problem}", pytrace=False)
        pytest.skip(problem)
    with run_lrs(tmp_path / "lrs") as running:
        yield running
