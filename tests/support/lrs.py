"""A real LRS for tests: Learning Locker's statements service (npm ``xapi-statements`` 5.0.1) on Node.js.

``make test`` installs it into ``.lrs/`` (the target ``.lrs/node_modules/xapi-statements/package.json``,
alias ``make lrs``). :func:`run_lrs` starts it on a free 127.0.0.1 port with in-memory statements
(``AUTH_REPO=test MODELS_REPO=memory STORAGE_REPO=local EVENTS_REPO=test``): no MongoDB, no Redis.

Loopback only: the service calls ``app.listen(port)``, which binds every interface, and has no host
setting, so node runs with ``--require tests/support/lrs_loopback.cjs``, which makes every TCP listen in
the process use 127.0.0.1. The environment is built from scratch (PATH, HOME, TMPDIR), the working
directory is a per-run folder (its ``dotenv`` reads ``.env`` from there), and the two folders it writes,
``FS_LOCAL_STORAGE_DIR`` (attachments) and ``EXPRESS_MORGAN_DIRECTORY`` (access logs), live in it too.

Credentials: with ``AUTH_REPO=test`` (dist/repo/authRepo/getClient/fake.js) ANY basic-auth username and
password, and no ``Authorization`` header at all, is the same trusted test client (every scope; ``authority``
becomes ``{"objectType": "Agent", "mbox": "mailto:client@example.org"}``). The exceptions are literal header
values: ``Basic missing_token`` answers 401 ``{"errorId": ..., "message": "Unauthorised"}``, and the bare
tokens ``invalid_scope_client``, ``valid_scope_client``, ``outside_store_client``, ``outside_org_client``
select narrower clients. So USERNAME and PASSWORD here are a convention; wrong ones are not refused.

Every /xAPI/statements request needs ``X-Experience-API-Version: 1.0.x`` (the value must match
``^1\\.0(\\.[0-9]+)?$``); without it: 400 ``{"errorId": ..., "warnings": ["Missing required value in
'header.X-Experience-API-Version'"]}``. GET /xAPI/about needs nothing.

What it answers (checked against 5.0.1; tests/integration/xapi/test_lrs_peer.py pins the important ones):

* errors are JSON ``{"errorId": "<uuid>", "message": "..."}`` or, for validation, ``{"errorId": ...,
  "warnings": ["Problem in 'statements.<i>.<path>'. Received '<json>'", ...]}`` (400), with headers
  ``X-Experience-API-Version: 1.0.3`` and ``X-Experience-API-Consistent-Through``;
* POST (one object or an array) -> 200 with the JSON list of ids, in order, also for ids it generated;
  a batch with one invalid statement -> 400 and nothing of it is stored; the same id twice in a batch ->
  400 ``"<id> is duplicated in the current batch"``; an empty array -> 200 ``[]``;
* an id already stored with a different statement -> 409 ``{"message": "<id> is conflicting"}`` (for a
  batch: the whole batch is refused); the same statement again -> 200 with the ids (PUT: 204), nothing
  new stored. "Same" is a SHA-1 of id, actor, verb, object, context, result, attachments and timestamp
  as sent (``stored``/``authority``/``version`` ignored), so ``...Z`` and ``...+00:00`` differ, as do
  verb display languages, and leaving out a timestamp that was sent before;
* voiding (verb ``http://adlnet.gov/expapi/verbs/voided``, object StatementRef) -> 200 ``[id]``, also for an
  unknown or already voided target; voiding a voider -> 400 ``"Voider cannot void another voider (<id>)"``.
  A voided statement is 404 by ``statementId`` and found by ``voidedStatementId``;
* GET ``?statementId=`` -> the statement itself (404 ``{"message": "No Statement found"}``); a list ->
  ``{"statements": [...], "more": ""}``, newest ``stored`` first, ``limit`` default 100 (0 means 100),
  ``more`` a path such as ``/xAPI/statements?limit=2&cursor=<uuid>`` and ``""`` on the last page.
  Unknown query parameters -> 400 ``"Cannot use unknown params 'foo'"``. Its ``more`` links do not
  URL-encode: ``since=...+00:00`` comes back as a space and ``agent`` as ``[object Object]``, so
  :meth:`RunningLrs.get_statements` sends the first query again with the link's ``cursor`` instead of the
  link itself.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

from tests.support.processes import free_port, stop, wait_for_http

ROOT = Path(__file__).resolve().parents[2]
LRS_DIR = ROOT / ".lrs"
LRS_PACKAGE = LRS_DIR / "node_modules" / "xapi-statements"
LRS_ENTRY = LRS_PACKAGE / "dist" / "index.js"
LOOPBACK_PRELOAD = Path(__file__).with_name("lrs_loopback.cjs")
INSTALL_HINT = "run `make test` (or make .lrs/node_modules/xapi-statements/package.json) to install the LRS"

LRS_VERSION = "5.0.1"  # as in the Makefile
XAPI_VERSION = "1.0.3"
USERNAME = "wordofmouth"
PASSWORD = "lrs-test-password"  # test mode accepts any credentials (module docstring)
REQUEST_TIMEOUT = 30.0
START_TIMEOUT = 120.0


def lrs_problem() -> str | None:
    """Why the LRS cannot start here, or None."""
    if not LRS_ENTRY.is_file():
        return f"{LRS_PACKAGE.relative_to(ROOT)} is missing: {INSTALL_HINT}"
    installed = json.loads((LRS_PACKAGE / "package.json").read_text()).get("version")
    if installed != LRS_VERSION:
        return f".lrs holds xapi-statements {installed}, not {LRS_VERSION}: rm -rf .lrs, then {INSTALL_HINT}"
    if shutil.which("node") is None:
        return "node (Node.js 20) is not on PATH; the LRS runs on it"
    return None


class PortTakenError(AssertionError):
    """Another program held the port the LRS was to listen on."""


class LrsProcess:
    """The node process behind a :class:`RunningLrs`: one port, started and stopped as a test asks."""

    def __init__(self, port: int, workdir: Path) -> None:
        self.port = port
        self.workdir = workdir
        self.popen: subprocess.Popen[str] | None = None
        self.starts = 0

    @property
    def log_path(self) -> Path:
        return self.workdir / f"lrs-{self.port}-{self.starts}.log"

    def _env(self) -> dict[str, str]:
        env = {name: os.environ[name] for name in ("PATH", "HOME", "TMPDIR") if name in os.environ}
        env.update(
            AUTH_REPO="test",
            MODELS_REPO="memory",
            STORAGE_REPO="local",
            EVENTS_REPO="test",
            EXPRESS_PORT=str(self.port),
            FS_LOCAL_STORAGE_DIR=str(self.workdir / "storage"),
            EXPRESS_MORGAN_DIRECTORY=str(self.workdir / "access-logs"),
            WINSTON_CLOUDWATCH_ENABLED="false",
            AWS_SDK_JS_SUPPRESS_MAINTENANCE_MODE_MESSAGE="1",
        )
        return env

    def start(self, timeout: float = START_TIMEOUT) -> None:
        """Start node on ``self.port`` (with empty storage) and return once /xAPI/about answers 200."""
        if self.popen is not None and self.popen.poll() is None:
            raise RuntimeError(f"the LRS is already running on port {self.port}")
        self.starts += 1
        shutil.rmtree(self.workdir / "storage", ignore_errors=True)  # attachments of an earlier start
        with self.log_path.open("w") as log:
            self.popen = subprocess.Popen(
                ["node", "--require", str(LOOPBACK_PRELOAD), str(LRS_ENTRY)],
                cwd=self.workdir,
                env=self._env(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                text=True,
            )
        deadline = time.monotonic() + timeout
        url = f"http://127.0.0.1:{self.port}/xAPI/about"
        try:
            wait_for_http(url, self.popen, timeout=timeout)  # something answers on the port, or node died
            # Only this process's listen callback logs this line (node writes stdout to a file synchronously):
            # an answer from another program holding the port does not count.
            while f"Listening on port {self.port}" not in self.output():
                if self.popen.poll() is not None:
                    raise AssertionError(f"node exited with {self.popen.returncode}")
                if time.monotonic() > deadline:
                    raise AssertionError(f"node did not report listening on port {self.port} within {timeout} s")
                time.sleep(0.05)
            response = wait_for_http(url, self.popen, timeout=max(deadline - time.monotonic(), 10.0))
            if response.status_code != 200:
                raise AssertionError(f"GET {url} answered {response.status_code}: {response.text[:500]}")
        except AssertionError as error:
            output = self.output()
            self.stop()
            problem = PortTakenError if "EADDRINUSE" in output else AssertionError
            raise problem(f"{error}\nLRS output ({self.log_path}):\n{output}") from None

    def stop(self) -> None:
        """Stop node (SIGTERM, then SIGKILL after 10 s); its in-memory statements are gone."""
        if self.popen is not None:
            if self.popen.poll() is None:
                stop(self.popen)
            self.popen = None

    @property
    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def output(self) -> str:
        """What the current (or last) node process printed."""
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""


@dataclass(frozen=True)
class RunningLrs:
    """A started LRS. ``endpoint`` ends with ``/xAPI/`` (what an xAPI client is configured with)."""

    endpoint: str
    username: str
    password: str
    process: LrsProcess = field(repr=False)

    @property
    def port(self) -> int:
        return self.process.port

    @property
    def statements_url(self) -> str:
        return self.endpoint + "statements"

    @property
    def auth(self) -> tuple[str, str]:
        return (self.username, self.password)

    @property
    def headers(self) -> dict[str, str]:
        return {"X-Experience-API-Version": XAPI_VERSION}

    def post_statements(self, statements: list[dict[str, Any]] | dict[str, Any]) -> requests.Response:
        """POST statements (a list, or one statement) as JSON; the response is not checked."""
        return requests.post(
            self.statements_url, json=statements, headers=self.headers, auth=self.auth, timeout=REQUEST_TIMEOUT
        )

    def get_statements(self, **params: Any) -> list[dict[str, Any]]:
        """Every statement matching the xAPI query ``params``, all pages, newest first (unless ``ascending``).

        Dicts (``agent``) are sent as JSON, booleans as ``true``/``false``. With ``statementId`` or
        ``voidedStatementId`` the answer is ``[statement]``, or ``[]`` when the LRS answers 404.
        Any other non-2xx answer raises ``requests.HTTPError``.
        """
        query = {key: _query_value(value) for key, value in params.items()}
        single = "statementId" in query or "voidedStatementId" in query
        statements: list[dict[str, Any]] = []
        while True:
            response = requests.get(
                self.statements_url, params=query, headers=self.headers, auth=self.auth, timeout=REQUEST_TIMEOUT
            )
            if single and response.status_code == 404:
                return []
            response.raise_for_status()
            body = response.json()
            if single:
                return [body]
            statements.extend(body["statements"])
            more = body.get("more")
            if not more:
                return statements
            # Its more links are not URL-encoded (module docstring): resend our query with their cursor.
            cursor = parse_qs(urlsplit(more).query).get("cursor")
            if not cursor:
                raise AssertionError(f"a more link without a cursor: {more!r}")
            query = {**query, "cursor": cursor[0]}

    def get_statement(self, statement_id: str, *, voided: bool = False) -> dict[str, Any] | None:
        """The statement with this id (``voided=True``: a voided one), or None."""
        key = "voidedStatementId" if voided else "statementId"
        found = self.get_statements(**{key: statement_id})
        return found[0] if found else None

    def stop(self) -> None:
        """Take the LRS down; its port then refuses connections."""
        self.process.stop()

    def start(self) -> None:
        """Bring the LRS back on the same port, empty (its statements were in memory)."""
        self.process.start()

    def restart(self) -> None:
        """Stop and start again on the same port: the quick way to empty it."""
        self.stop()
        self.start()

    @contextmanager
    def down(self) -> Iterator[None]:
        """``with lrs.down(): ...`` runs the block while the LRS is stopped, then starts it again (empty)."""
        self.stop()
        try:
            yield
        finally:
            self.start()


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


@contextmanager
def run_lrs(workdir: Path | None = None, *, attempts: int = 3) -> Iterator[RunningLrs]:
    """Start the LRS on a free loopback port, yield it, stop it (whatever state the test left it in).

    ``workdir`` holds its logs and files (a temporary folder, removed afterwards, when not given).
    A port taken between :func:`free_port` and node's listen is retried on another port.
    """
    problem = lrs_problem()
    if problem:
        raise RuntimeError(problem)
    with tempfile.TemporaryDirectory(prefix="lrs-") as scratch:
        base = Path(workdir) if workdir is not None else Path(scratch)
        base.mkdir(parents=True, exist_ok=True)
        process = None
        for attempt in range(1, attempts + 1):
            process = LrsProcess(free_port(), base)
            try:
                process.start()
                break
            except PortTakenError:
                if attempt == attempts:
                    raise
        assert process is not None
        lrs = RunningLrs(
            endpoint=f"http://127.0.0.1:{process.port}/xAPI/",
            username=USERNAME,
            password=PASSWORD,
            process=process,
        )
        try:
            yield lrs
        finally:
            process.stop()
