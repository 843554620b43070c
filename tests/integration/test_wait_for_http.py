"""tests.support.processes.wait_for_http on a server that boots slowly (issue 9, item 15).

The server below first refuses connections (not listening yet), then accepts them but answers its
first requests far later than the poll's request timeout, as a gunicorn worker importing the app on
a loaded machine does. Polling must treat both as "ask again", not fail the test.
"""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from tests.support.processes import free_port, stop, wait_for_http

SLOW_SERVER = r"""
import sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

port, slow_answers, delay = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
seen = 0
lock = threading.Lock()

class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        global seen
        with lock:
            seen += 1
            number = seen
        if number <= slow_answers:
            time.sleep(delay)  # still importing the app
        body = f"request {number}".encode()
        try:
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            pass  # the poller gave up on this one already

    def log_message(self, *args):
        pass

time.sleep(float(sys.argv[4]))  # booting: connections are refused meanwhile
server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
server.daemon_threads = True
print("listening", flush=True)
server.serve_forever()
"""


def start_slow_server(port: int, slow_answers: int, delay: float, listen_after: float) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", SLOW_SERVER, str(port), str(slow_answers), str(delay), str(listen_after)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_refused_and_slow_answers_while_booting_mean_ask_again() -> None:
    port = free_port()
    server = start_slow_server(port, slow_answers=3, delay=30.0, listen_after=0.5)
    try:
        started = time.monotonic()
        response = wait_for_http(f"http://127.0.0.1:{port}/healthz", server, timeout=60, request_timeout=0.5)
        assert response.status_code == 200
        # Three requests timed out (each answer would have taken 30 s); the fourth was answered.
        assert response.text == "request 4"
        assert time.monotonic() - started < 30
    finally:
        stop(server)


def test_a_server_that_never_answers_fails_at_the_deadline_not_on_the_first_timeout() -> None:
    port = free_port()
    server = start_slow_server(port, slow_answers=10**6, delay=3600.0, listen_after=0.0)
    try:
        started = time.monotonic()
        with pytest.raises(AssertionError, match="did not answer within 2"):
            wait_for_http(f"http://127.0.0.1:{port}/healthz", server, timeout=2, request_timeout=0.3)
        # Several polls happened, and none outlived the deadline by more than a poll.
        assert 2 <= time.monotonic() - started < 10
    finally:
        stop(server)


def test_a_server_that_dies_while_booting_fails_at_once_with_its_output() -> None:
    process = subprocess.Popen(
        [sys.executable, "-c", "print('cannot import the app'); raise SystemExit(3)"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    with pytest.raises(AssertionError, match=r"(?s)exited with 3.*cannot import the app"):
        wait_for_http(f"http://127.0.0.1:{free_port()}/healthz", process, timeout=60, request_timeout=0.5)
