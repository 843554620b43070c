"""Database plumbing: the declarative base, UTC timestamps, engines and sessions.

One naming convention on the metadata lets Alembic name and drop constraints the same way on
SQLite and PostgreSQL. Services receive a :class:`~sqlalchemy.orm.Session` and never commit;
the request (or CLI command) that owns the unit of work commits or rolls back.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any

from sqlalchemy import DateTime, Enum, MetaData, create_engine, event
from sqlalchemy.engine import Dialect, Engine, make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import StaticPool
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend (SQLite hands back naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where a UTC timestamp is required")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def string_enum(enum_class: type[enum.StrEnum], name: str) -> Enum:
    """An enum stored as its string values in a VARCHAR: the same on SQLite and PostgreSQL,
    and new members need no ALTER TYPE."""
    return Enum(
        enum_class, name=name, native_enum=False, length=16, values_callable=lambda members: [m.value for m in members]
    )


@dataclass(frozen=True)
class DatabaseTimeouts:
    """How long the service waits on its database before answering 503 instead.

    Without them a held table lock kept every gunicorn worker waiting until gunicorn killed it
    (30 s) and ``/healthz`` waited behind them. ``0`` switches a statement or lock timeout off.
    """

    connect_seconds: int = 5  # opening a connection (PostgreSQL ``connect_timeout``)
    statement_ms: int = 15_000  # one statement, whatever it waits on (PostgreSQL ``statement_timeout``)
    lock_ms: int = 5_000  # waiting for a row or table lock (``lock_timeout``; SQLite ``busy_timeout``)
    pool_seconds: int = 5  # waiting for a free connection of the pool


SQLITE_BUSY_TIMEOUT_MS = 5000


def _sqlite_pragmas(dbapi_connection: Any, _record: Any, busy_timeout_ms: int = SQLITE_BUSY_TIMEOUT_MS) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
    cursor.close()


def _postgres_connect_args(url: str, timeouts: DatabaseTimeouts) -> dict[str, Any]:
    """libpq connection parameters for ``timeouts``, kept together with what the URL already says.

    ``connect_args`` replace the URL's query parameters of the same name, so ``options`` from the
    URL (e.g. ``-csearch_path=...``) are kept in front of ours, and a ``connect_timeout`` in the URL wins.
    """
    query = make_url(url).query
    args: dict[str, Any] = {}
    if "connect_timeout" not in query:
        args["connect_timeout"] = timeouts.connect_seconds
    given = query.get("options", "")
    given = " ".join(given) if isinstance(given, tuple) else given
    ours = f"-c statement_timeout={int(timeouts.statement_ms)} -c lock_timeout={int(timeouts.lock_ms)}"
    args["options"] = f"{given} {ours}".strip()
    return args


def make_engine(url: str, timeouts: DatabaseTimeouts | None = None) -> Engine:
    """Create the engine for ``url``; SQLite gets foreign keys and a busy timeout.

    With ``timeouts`` (the service passes its settings), PostgreSQL connections get connect,
    statement and lock timeouts, and waiting for a pooled connection is bounded; a timeout raises
    an ``OperationalError`` (or the pool's ``TimeoutError``) that the app answers with 503.
    Without them (migrations, benchmarks) statements may run as long as they need.
    """
    kwargs: dict[str, Any] = {"future": True}
    in_memory = url in ("sqlite://", "sqlite:///:memory:")
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"check_same_thread": False}
        if in_memory:
            kwargs["poolclass"] = StaticPool
    else:
        kwargs["pool_pre_ping"] = True
        if timeouts is not None and make_url(url).get_backend_name() == "postgresql":
            kwargs["connect_args"] = _postgres_connect_args(url, timeouts)
    if timeouts is not None and not in_memory:
        kwargs["pool_timeout"] = timeouts.pool_seconds
    engine = create_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        busy = timeouts.lock_ms if timeouts is not None and timeouts.lock_ms > 0 else SQLITE_BUSY_TIMEOUT_MS
        event.listen(engine, "connect", partial(_sqlite_pragmas, busy_timeout_ms=busy))
    return engine


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False, future=True)
