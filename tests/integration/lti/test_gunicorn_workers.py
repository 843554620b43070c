"""State lives in the database: a login handled by one gunicorn process, its launch by another."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import requests

from plugin.app import create_app
from tests.integration.lti.conftest import Tool, register
from tests.support.lti_platform import running_platform
from tests.support.processes import BIN, free_port, stop, wait_for_http


def start_gunicorn(port: int, env: dict[str, str], cwd: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", "1", "plugin:create_app()"],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_login_on_one_process_launch_on_another(app_config: dict[str, str], tmp_path: Path) -> None:
    port_a, port_b = free_port(), free_port()
    base_url = f"http://127.0.0.1:{port_a}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("WOM_")}
    env.update({**app_config, "WOM_BASE_URL": base_url})
    admin_app = create_app({**app_config, "WOM_BASE_URL": base_url})
    first = start_gunicorn(port_a, env, tmp_path)
    second = start_gunicorn(port_b, env, tmp_path)
    try:
        wait_for_http(f"http://127.0.0.1:{port_a}/healthz", first)
        wait_for_http(f"http://127.0.0.1:{port_b}/healthz", second)
        with running_platform() as lms, requests.Session() as browser:
            register(Tool(base_url, admin_app), lms)
            redirect = lms.login(browser, base_url)  # handled by process A
            id_token = lms.sign(lms.claims(redirect.nonce, base_url))
            launch = browser.post(  # handled by process B, as a load balancer might send it
                f"http://127.0.0.1:{port_b}/lti/launch", data={"id_token": id_token, "state": redirect.state}
            )
            assert launch.status_code == 200, launch.text
            assert "Ada Lovelace" in launch.text
            replay = browser.post(base_url + "/lti/launch", data={"id_token": id_token, "state": redirect.state})
            assert replay.status_code == 401
            assert "already used" in replay.text
    finally:
        stop(first)
        stop(second)
        admin_app.extensions["wordofmouth.engine"].dispose()
