"""The migrations and the models describe the same schema, on every backend."""

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from plugin import migrate
from plugin.db import Base, make_engine
from tests.support.databases import fresh_database


@pytest.fixture
def empty_database(backend: str, tmp_path: Path):
    with fresh_database(backend, tmp_path) as url:
        yield url


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_upgrade_matches_models_and_downgrade_returns_to_empty(empty_database: str) -> None:
    migrate.upgrade(empty_database)
    assert set(Base.metadata.tables) <= _tables(empty_database)

    engine = make_engine(empty_database)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            differences = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    assert differences == []

    migrate.downgrade(empty_database, "base")
    assert _tables(empty_database) <= {"alembic_version"}

    migrate.upgrade(empty_database)
    assert set(Base.metadata.tables) <= _tables(empty_database)
