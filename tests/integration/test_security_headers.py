"""Transport headers (issue 9, item 12): HSTS in production only, no ``Server: gunicorn`` banner."""

from __future__ import annotations

import dataclasses
import os
import subprocess
from pathlib import Path

import pytest
import requests
from flask import Flask

from tests.support.processes import BIN, free_port, stop, wait_for_http


def as_production(app: Flask) -> Flask:
    """The same app with production settings (not re-validated: only the answer headers are under test)."""
    settings = app.extensions["wordofmouth.settings"]
    app.extensions["wordofmouth.settings"] = dataclasses.replace(
        settings, env="production", base_url="https://wom.example.org"
    )
    return app


@pytest.mark.parametrize("path", ["/healthz", "/", "/lti/jwks", "/no/such/page"])
def test_production_answers_carry_hsts(app: Flask, path: str) -> None:
    response = as_production(app).test_client().get(path)
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000"


def test_development_answers_carry_no_hsts(app: Flask) -> None:
    # A developer on http://127.0.0.1 must not teach their browser to refuse http for a year.
    for path in ("/healthz", "/"):
        assert "Strict-Transport-Security" not in app.test_client().get(path).headers


@pytest.mark.parametrize("preload", [False, True], ids=["workers-load-the-app", "preload"])
def test_gunicorn_names_no_server_software(app_config: dict[str, str], tmp_path: Path, preload: bool) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("WOM_")}
    env.update({**app_config, "WOM_BASE_URL": f"http://127.0.0.1:{port}"})
    command = [str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", "1"]
    server = subprocess.Popen(
        [*command, *(["--preload"] if preload else []), "plugin:create_app()"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        first = wait_for_http(f"http://127.0.0.1:{port}/healthz", server)
        answers = [first, requests.get(f"http://127.0.0.1:{port}/no/such/page", timeout=30)]
        for answer in answers:
            assert answer.headers.get("Server") == "wordofmouth", answer.headers
            assert "gunicorn" not in str(answer.headers).lower()
    finally:
        stop(server)
