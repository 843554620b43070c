"""Everyday mistakes on the command line: one line on stderr saying what to fix, a failing exit code.

Run through the console script, as an admin would meet them (issue 9, item 17).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.integration.test_cli import run_cli
from tests.support.databases import fresh_database
from tests.support.processes import free_port

LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ [A-Z]+ ")


def one_line_refusal(result, *fragments: str) -> str:  # type: ignore[no-untyped-def]
    """The command failed with exactly one ``wordofmouth: ...`` line on stderr holding every fragment."""
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr, result.stderr
    # Log lines (timestamped warnings of the app) are not the command's answer.
    lines = [line for line in result.stderr.strip().splitlines() if not LOG_LINE.match(line)]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("wordofmouth: "), lines[0]
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize(("command", "revision"), [("upgrade", "nonexistent"), ("downgrade", "junkrev")])
def test_an_unknown_revision_names_the_known_ones(backend: str, tmp_path: Path, command: str, revision: str) -> None:
    with fresh_database(backend, tmp_path) as url:
        env = {"WOM_DATABASE_URL": url}
        assert run_cli("db", "upgrade", env=env, cwd=tmp_path).returncode == 0
        result = run_cli("db", command, revision, env=env, cwd=tmp_path)
        one_line_refusal(result, repr(revision), "'head'", "0001")


def test_an_unreachable_postgresql_says_where_and_what_to_check(tmp_path: Path) -> None:
    url = f"postgresql+psycopg://wom:s3cret-password@127.0.0.1:{free_port()}/wom"
    result = run_cli("db", "upgrade", env={"WOM_DATABASE_URL": url}, cwd=tmp_path)
    line = one_line_refusal(result, "cannot reach the database", "127.0.0.1", "WOM_DATABASE_URL")
    assert "s3cret-password" not in line


def test_a_sqlite_file_that_cannot_be_opened(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'no' / 'such' / 'folder' / 'wom.db'}"
    result = run_cli("db", "upgrade", env={"WOM_DATABASE_URL": url}, cwd=tmp_path)
    one_line_refusal(result, "cannot reach the database", "WOM_DATABASE_URL")


@pytest.mark.parametrize(
    ("value", "fragment"),
    [("nonsense", "WOM_DATABASE_URL is not a database URL"), ("mysql://db/wom", "driver that is not installed")],
)
def test_a_database_url_that_is_not_one(tmp_path: Path, value: str, fragment: str) -> None:
    result = run_cli("db", "upgrade", env={"WOM_DATABASE_URL": value}, cwd=tmp_path)
    one_line_refusal(result, fragment, "postgresql+psycopg://")


@pytest.mark.parametrize("command", [("platform", "list"), ("keys", "list"), ("xapi", "status")])
def test_a_database_never_migrated_asks_for_db_upgrade(backend: str, tmp_path: Path, command: tuple[str, ...]) -> None:
    with fresh_database(backend, tmp_path) as url:
        result = run_cli(*command, env={"WOM_DATABASE_URL": url}, cwd=tmp_path)
        one_line_refusal(result, "run `wordofmouth db upgrade` first")


def test_db_current_says_when_no_migration_ran(backend: str, tmp_path: Path) -> None:
    with fresh_database(backend, tmp_path) as url:
        env = {"WOM_DATABASE_URL": url}
        before = run_cli("db", "current", env=env, cwd=tmp_path)
        assert before.returncode == 0 and "no migrations applied yet" in before.stdout, before.stderr
        assert run_cli("db", "upgrade", env=env, cwd=tmp_path).returncode == 0
        after = run_cli("db", "current", env=env, cwd=tmp_path)
        assert after.returncode == 0 and after.stdout.strip().endswith("(head)"), after.stdout + after.stderr
