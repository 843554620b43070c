"""The shape of the ``wordofmouth`` command: our version, our commands, help on every option (issue 9, item 18)."""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
from pathlib import Path

import click
import requests
from flask import Flask
from flask.cli import ScriptInfo

from plugin.cli import main
from tests.integration.test_cli import WORDOFMOUTH, run_cli
from tests.support.processes import free_port, stop

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_version_is_ours(tmp_path: Path) -> None:
    result = run_cli("--version", env={}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"wordofmouth {importlib.metadata.version('wordofmouth')}"


def test_flask_development_commands_are_not_offered(tmp_path: Path) -> None:
    listed = run_cli("--help", env={}, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    for command in ("routes", "shell", "limiter", "openapi"):
        assert f"  {command} " not in listed.stdout
        assert run_cli(command, env={}, cwd=tmp_path).returncode == 2


def test_run_help_is_ours(tmp_path: Path) -> None:
    result = run_cli("run", "--help", env={}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    for flask_option in ("--debug", "--cert", "--reload", "--with-threads", "--extra-files"):
        assert flask_option not in result.stdout
    assert "--host" in result.stdout and "--port" in result.stdout
    assert "WOM_BASE_URL" in result.stdout and "gunicorn" in result.stdout


def _commands(group: click.Group, ctx: click.Context, prefix: str = ""):  # type: ignore[no-untyped-def]
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None, name
        yield f"{prefix}{name}", command
        if isinstance(command, click.Group):
            yield from _commands(command, click.Context(command, parent=ctx, info_name=name), f"{prefix}{name} ")


def test_every_command_and_option_has_help(app: Flask) -> None:
    ctx = click.Context(main, info_name="wordofmouth", obj=ScriptInfo(create_app=lambda: app))
    with ctx:
        missing = [
            f"{path} {param.opts[0]}"
            for path, command in _commands(main, ctx)
            for param in command.params
            if isinstance(param, click.Option) and not param.hidden and not param.help
        ]
        undocumented = [path for path, command in _commands(main, ctx) if not (command.help or command.short_help)]
    assert missing == [] and undocumented == []


def test_platform_remove_explains_the_client_id(tmp_path: Path) -> None:
    result = run_cli("platform", "remove", "--help", env={}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "--client-id TEXT  The registration's client id" in result.stdout


def test_make_urls_follows_make_run(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WOM_")}
    env["WOM_INSTANCE_PATH"] = str(tmp_path / "instance")
    result = subprocess.run(
        ["make", "-s", "-C", str(REPO_ROOT), "urls", "PORT=5077"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "http://127.0.0.1:5077/lti/launch" in result.stdout
    assert "http://127.0.0.1:5077/demo/" in result.stdout
    assert ":5000" not in result.stdout


def test_urls_say_when_the_base_url_is_the_default(tmp_path: Path) -> None:
    result = run_cli("urls", env={}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "WOM_BASE_URL is not set" in result.stderr
    assert "http://127.0.0.1:5000/lti/launch" in result.stdout
    explicit = run_cli("urls", env={"WOM_BASE_URL": "http://127.0.0.1:5077", "WOM_DEMO": "1"}, cwd=tmp_path)
    assert "WOM_BASE_URL is not set" not in explicit.stderr and "http://127.0.0.1:5077/demo/" in explicit.stdout


def test_run_says_open_only_once_it_answers(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("WOM_")}
    env.update(WOM_DEMO="1", WOM_BASE_URL=f"http://127.0.0.1:{port}", WOM_INSTANCE_PATH=str(tmp_path / "instance"))
    process = subprocess.Popen(
        [WORDOFMOUTH, "run", "--host", "127.0.0.1", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()  # blocks until the first line (or the end when it dies)
        assert f"open http://127.0.0.1:{port}/demo/" in line, line
        # No waiting, no retry: when it says "open", it answers.
        assert requests.get(f"http://127.0.0.1:{port}/healthz", timeout=60).status_code in (200, 503)
    finally:
        stop(process)
