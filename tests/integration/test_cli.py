"""The ``wordofmouth`` console script, run as an admin would run it."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import sqlalchemy as sa

from plugin.db import Base, make_engine
from tests.support.databases import fresh_database
from tests.support.processes import BIN, free_port, stop, wait_for_http

WORDOFMOUTH = str(BIN / "wordofmouth")


def run_cli(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("WOM_")}
    return subprocess.run(
        [WORDOFMOUTH, *args], env={**clean, **env}, cwd=cwd, capture_output=True, text=True, timeout=120
    )


def test_db_upgrade_creates_every_table(backend: str, tmp_path: Path) -> None:
    with fresh_database(backend, tmp_path) as url:
        result = run_cli("db", "upgrade", env={"WOM_DATABASE_URL": url}, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        engine = make_engine(url)
        try:
            assert set(Base.metadata.tables) <= set(sa.inspect(engine).get_table_names())
        finally:
            engine.dispose()


def test_default_database_is_sqlite_in_the_instance_folder(tmp_path: Path) -> None:
    result = run_cli("db", "upgrade", env={}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "instance" / "wordofmouth.db").is_file()
    assert (tmp_path / "instance" / "secret_key").is_file()


def test_urls_are_built_from_the_base_url(tmp_path: Path) -> None:
    result = run_cli("urls", env={"WOM_BASE_URL": "https://wom.example.org/tool"}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "https://wom.example.org/tool/healthz" in result.stdout


def test_production_with_unsafe_settings_refuses_with_one_line(tmp_path: Path) -> None:
    result = run_cli(
        "urls", env={"WOM_ENV": "production", "WOM_SECRET_KEY": "k" * 40, "WOM_BASE_URL": "http://x"}, cwd=tmp_path
    )
    assert result.returncode != 0
    assert result.stderr.strip() == (
        "wordofmouth: refusing to start in production: WOM_BASE_URL must be https in production (it is http://x)"
    )


def test_help_lists_the_commands(tmp_path: Path) -> None:
    result = run_cli("--help", env={}, cwd=tmp_path)
    assert result.returncode == 0
    for command in ("run", "db", "urls"):
        assert f"  {command} " in result.stdout
    assert "--app" not in result.stdout


@pytest.mark.parametrize("server", ["flask", "gunicorn"])
def test_service_starts_and_serves_healthz(tmp_path: Path, server: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WOM_")}
    env["WOM_BASE_URL"] = "http://127.0.0.1"
    assert run_cli("db", "upgrade", env={}, cwd=tmp_path).returncode == 0
    port = free_port()
    if server == "flask":
        command = [WORDOFMOUTH, "run", "--host", "127.0.0.1", "--port", str(port)]
    else:
        command = [str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", "2", "plugin:create_app()"]
    process = subprocess.Popen(
        command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        response = wait_for_http(f"http://127.0.0.1:{port}/healthz", process)
        assert response.status_code == 200
        assert response.json() == {"status": "ok", "database": "ok"}
    finally:
        stop(process)


def test_platform_set_changes_the_colleague_settings(app) -> None:  # type: ignore[no-untyped-def]
    from plugin.cli import main
    from tests.support.factories import make_platform

    with app.extensions["wordofmouth.sessions"]() as db:
        make_platform(db, "a")
        db.commit()
    runner = app.test_cli_runner()
    base = ["platform", "set", "https://a.lms.example", "--client-id", "client-a"]

    done = runner.invoke(
        main, [*base, "--names-by-default", "--course-url-template", "{issuer}/course/view.php?id={context_id}"]
    )
    assert done.exit_code == 0, done.output
    assert "names by default on; course URL template {issuer}/course/view.php?id={context_id}" in done.output
    listed = runner.invoke(main, ["platform", "list"])
    assert "names shown:   by default" in listed.output

    bad = runner.invoke(main, [*base, "--course-url-template", "{issuer}/c?id={user_id}"])
    assert bad.exit_code == 2 and "{issuer} and {context_id} only (not user_id)" in bad.output
    relative = runner.invoke(main, [*base, "--course-url-template", "/course/{context_id}"])
    assert relative.exit_code == 2 and "absolute http(s) URL" in relative.output
    cleared = runner.invoke(main, [*base, "--no-names-by-default", "--course-url-template", ""])
    assert "names by default off; course URL template (none)" in cleared.output
