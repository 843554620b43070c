"""Alembic, configured from our settings instead of an ``alembic.ini``.

The scripts live in the top-level ``migrations`` package, so they ship in the wheel too.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine

import migrations


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(Path(migrations.__file__).parent))
    config.set_main_option("path_separator", "os")
    # '%' is Alembic's interpolation character: URLs may contain escaped passwords.
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def revisions(database_url: str) -> list[str]:
    """The known revision ids, oldest first."""
    scripts = ScriptDirectory.from_config(alembic_config(database_url))
    return [script.revision for script in reversed(list(scripts.walk_revisions()))]


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str) -> None:
    command.downgrade(alembic_config(database_url), revision)


def current(database_url: str) -> tuple[str | None, str | None]:
    """(the revision the database is at or None when no migration ran, the newest revision)."""
    head = ScriptDirectory.from_config(alembic_config(database_url)).get_current_head()
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision(), head
    finally:
        engine.dispose()
