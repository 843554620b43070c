"""Start real processes (the console script, servers) for tests and wait for them politely."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_http(
    url: str, process: subprocess.Popen, timeout: float = 120.0, request_timeout: float = 10.0
) -> requests.Response:
    """Poll ``url`` until it answers; fail with the process output if it dies or time runs out.

    A slow answer is not a dead server: on a loaded machine a worker may take seconds to import
    the app, so timeouts (connect or read), resets and refused connections all mean "ask again"
    until the deadline. No single request outlives the deadline.
    """
    deadline = time.monotonic() + timeout
    while (remaining := deadline - time.monotonic()) > 0:
        if process.poll() is not None:
            output = process.stdout.read() if process.stdout else ""
            raise AssertionError(f"process exited with {process.returncode} before serving {url}:\n{output}")
        try:
            return requests.get(url, timeout=max(0.1, min(request_timeout, remaining)))
        except (requests.ConnectionError, requests.Timeout):
            time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))
    raise AssertionError(f"{url} did not answer within {timeout} s")


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
