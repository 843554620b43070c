"""Migration 0008 on a database with data: platforms get distinct uids, raced duplicate tool keys
are retired (one active, one next left), and the downgrade returns."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from plugin import migrate
from plugin.db import make_engine
from tests.support.databases import fresh_database


@pytest.fixture
def at_0007(backend: str, tmp_path: Path):
    with fresh_database(backend, tmp_path) as url:
        migrate.upgrade(url, "0007")
        yield url


def test_0008_backfills_platform_uids_and_retires_duplicate_keys(at_0007: str) -> None:
    engine = make_engine(at_0007)
    now = datetime.now(UTC)
    try:
        with engine.begin() as connection:
            for n in (1, 2):
                connection.execute(
                    sa.text(
                        "INSERT INTO platform (issuer, client_id, name, auth_login_url, auth_token_url, key_set_url,"
                        " show_names_default, created_at, updated_at) VALUES (:iss, 'c', 'n', 'https://a', 'https://t',"
                        " 'https://k', false, :now, :now)"
                    ),
                    {"iss": f"https://lms{n}.example", "now": now},
                )
            for n, status in enumerate(["active", "next", "active", "next", "retired"]):
                connection.execute(
                    sa.text(
                        "INSERT INTO tool_key (kid, private_key_pem, status, created_at)"
                        " VALUES (:kid, 'pem', :status, :now)"
                    ),
                    {"kid": f"k{n}", "status": status, "now": now},
                )
        migrate.upgrade(at_0007)
        with engine.connect() as connection:
            uids = connection.execute(sa.text("SELECT uid FROM platform")).scalars().all()
            keys = dict(connection.execute(sa.text("SELECT kid, status FROM tool_key")).all())
        assert len(uids) == 2 and len(set(uids)) == 2 and all(len(u) == 32 for u in uids)
        # The newest active key signed last; the oldest next key is the one a rotation announced.
        assert keys == {"k0": "retired", "k1": "next", "k2": "active", "k3": "retired", "k4": "retired"}
        migrate.downgrade(at_0007, "0007")
        with engine.connect() as connection:
            columns = {c["name"] for c in sa.inspect(connection).get_columns("platform")}
        assert "uid" not in columns
    finally:
        engine.dispose()
