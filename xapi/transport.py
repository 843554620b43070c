"""Sending statements to an LRS: one kept-alive HTTP session per LRS, bounded in time.

``POST {endpoint}statements`` with a JSON array of statements (xAPI 1.0.3, part 3, section 2.1.2:
"Statements may be sent as an array"), basic auth and ``X-Experience-API-Version: 1.0.3``. The
bodies are the outbox's stored JSON texts joined into an array, byte for byte: a resend is the
same statement, which an LRS stores once (part 3, 2.1.3: a statement whose id it holds with the
same content is accepted, one with different content is a 409 Conflict).

tincan's ``RemoteLRS`` opens a new connection per request and sets no timeout, so a stalled LRS
would hang the worker; tincan stays in :mod:`xapi.statements` for building statements only.
:class:`LrsClient` keeps one connection alive across batches, with a connect timeout, a read
timeout between bytes and a total deadline for the whole exchange (a timer shuts the connection's
socket down when it passes, so an LRS that trickles its headers or body byte by byte cannot hold
the worker either).

How an answer is classified (:class:`Outcome`):

- ``2xx``: STORED.
- ``409``, or a 400 whose text says the id is already stored / conflicting: CONFLICT, with the
  statement ids the answer names. The LRS already holds those ids, so they count as delivered.
  Measured on Learning Locker's ``xapi-statements`` 5.0.1 (tests/integration/xapi): a batch that
  repeats a stored statement *identically* is answered 200 and the new ones in it are stored; a
  batch with one id stored under *different* content is answered 409 naming that id ("<id> is
  conflicting"), and nothing of the batch is stored; the caller resends the others.
- Other ``4xx`` about the content (400, 413, 422 ...): REJECTED, with the LRS's reason (its JSON
  ``message``/``warnings``/``error``/``detail``, one line, at most 1000 characters) and the batch
  positions its answer points at (``statements.3.timestamp``), so the caller can find the bad one.
- ``5xx``, ``408``, ``425``, ``429``, redirects, timeouts and connection errors: RETRY later.
  So are ``401``, ``403``, ``404``, ``405`` and ``407``: wrong credentials or a wrong endpoint say
  nothing about the statements; refusing them one by one would mark every statement failed
  because of a setting. They are retried with backoff and the reason is logged and kept.

Credentials never leave this module except in the ``Authorization`` header: not in ``repr``, not
in reasons, exceptions or log lines (reasons are scrubbed of the password and username in case
an LRS echoes them).
"""

from __future__ import annotations

import base64
import contextlib
import enum
import json
import logging
import re
import socket
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from typing import Any

import requests
import urllib3
from requests.adapters import HTTPAdapter

from xapi.lrs import Lrs

log = logging.getLogger("wordofmouth.xapi")

XAPI_VERSION = "1.0.3"
CONNECT_TIMEOUT = 5.0  # seconds to open the TCP (and TLS) connection
READ_TIMEOUT = 30.0  # seconds of silence while waiting for the answer
DEADLINE = 60.0  # seconds for the whole exchange, whatever trickles in
REASON_MAX_LENGTH = 1000
ANSWER_MAX_BYTES = 4 * 1024 * 1024  # ids of 1,000 statements are 39 kB; more is not worth reading
USER_AGENT = "wordofmouth-xapi/1"

RETRY_STATUSES = frozenset({401, 403, 404, 405, 407, 408, 421, 425, 429})
_UUID = re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b")
_ALREADY = re.compile(r"already (exist|stored|present)|conflict", re.IGNORECASE)
_POSITION = re.compile(r"statements?[.\[/](\d+)")
_TAG = re.compile(r"<[^>]+>")
_NOT_SHOWN = re.compile(r"<(head|script|style)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)


class Outcome(enum.StrEnum):
    STORED = "stored"  # 2xx: the LRS holds the statements
    CONFLICT = "conflict"  # it already holds (some of) these ids: delivered before
    REJECTED = "rejected"  # 4xx about the content: resending the same batch cannot help
    RETRY = "retry"  # 5xx, timeouts, network or LRS-level trouble: try again later


@dataclass(frozen=True)
class Answer:
    """What one POST came to. ``reason`` is one line, at most 1000 characters, without credentials."""

    outcome: Outcome
    status: int | None
    reason: str = ""
    ids: tuple[str, ...] = ()  # STORED: the ids the LRS answered; CONFLICT: the ids its answer names
    positions: tuple[int, ...] = ()  # REJECTED: batch positions its answer points at
    retry_after: float | None = None  # seconds, from a Retry-After header
    seconds: float = 0.0


class LrsClient:
    """Statements to one LRS over one kept-alive ``requests.Session``; reuse it for every batch.

    ``with LrsClient(lrs) as client: client.post_statements([...])``. Not thread-safe (one worker
    thread sends one batch at a time).
    """

    def __init__(
        self,
        lrs: Lrs,
        *,
        connect_timeout: float = CONNECT_TIMEOUT,
        read_timeout: float = READ_TIMEOUT,
        deadline: float = DEADLINE,
    ) -> None:
        self.lrs = lrs
        self.timeout = (connect_timeout, read_timeout)
        self.deadline = deadline
        self._session = requests.Session()
        self._session.headers.update(
            {
                "X-Experience-API-Version": XAPI_VERSION,
                "Content-Type": "application/json; charset=utf-8",
                "Accept": "application/json",
                "User-Agent": USER_AGENT,
            }
        )
        if lrs.username or lrs.password:
            self._session.auth = (lrs.username, lrs.password)
        # One connection, kept alive; no hidden retries (the outbox retries, with backoff).
        adapter = _WatchedAdapter(pool_connections=1, pool_maxsize=1, max_retries=0)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        secrets = [lrs.password, base64.b64encode(f"{lrs.username}:{lrs.password}".encode()).decode()]
        if lrs.password:
            secrets.append(lrs.username)  # a user name is only a secret next to its password
        self._secrets = tuple(s for s in secrets if s and len(s) >= 3 and lrs.password)

    def __repr__(self) -> str:
        return f"LrsClient({self.lrs.endpoint!r})"

    def __enter__(self) -> LrsClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._session.close()

    def post_statements(self, statements: Sequence[bytes | str | Mapping[str, Any]]) -> Answer:
        """POST ``statements`` as one JSON array and classify the answer; never raises for HTTP
        or network trouble. Stored JSON texts (bytes or str) are sent exactly as given."""
        return self.post_body(array_body(statements), len(statements))

    def post_body(self, body: bytes, count: int | None = None) -> Answer:
        """POST a ready JSON array ``body``; see :meth:`post_statements`."""
        started = time.monotonic()
        url = self.lrs.statements_url
        watch = _Watch()
        _watching.current = watch
        timer = threading.Timer(self.deadline, watch.cut)  # the total deadline, whatever trickles in
        timer.daemon = True
        timer.start()
        try:
            response = self._session.post(url, data=body, timeout=self.timeout, stream=True, allow_redirects=False)
            try:
                content = self._read(response)
            finally:
                response.close()
        except requests.RequestException as exc:
            answer = Answer(Outcome.RETRY, None, self._network_reason(exc, watch))
        else:
            answer = self._classify(response, content)
        finally:
            watch.finish()
            timer.cancel()
            _watching.current = None
        if watch.was_cut and answer.outcome is not Outcome.RETRY:  # cut after the last byte: still too late
            answer = Answer(Outcome.RETRY, None, self._network_reason(None, watch))
        seconds = time.monotonic() - started
        answer = Answer(**{**answer.__dict__, "seconds": seconds})
        log.debug(
            "POST %s (%s statements): %s %s in %.3f s",
            url,
            "?" if count is None else count,
            answer.status or "-",
            answer.outcome,
            seconds,
        )
        return answer

    def _network_reason(self, exc: requests.RequestException | None, watch: _Watch) -> str:
        where = self.lrs.endpoint
        if watch.was_cut:
            return f"no complete answer from {where} within {self.deadline:g} s"
        if isinstance(exc, requests.ConnectTimeout):
            return f"cannot connect to {where} within {self.timeout[0]:g} s"
        if isinstance(exc, requests.Timeout):
            return f"no answer from {where} for {self.timeout[1]:g} s"
        if isinstance(exc, requests.ConnectionError):
            cause = _cause(exc)
            if _never_connected(exc):
                return self._scrub(f"cannot connect to {where}: {cause}")
            return self._scrub(f"connection to {where} failed: {cause}")
        return self._scrub(f"request to {where} failed: {exc.__class__.__name__ if exc else 'unknown error'}")

    def _read(self, response: requests.Response) -> bytes:
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_content(chunk_size=65536):
            chunks.append(chunk)
            size += len(chunk)
            if size >= ANSWER_MAX_BYTES:
                break
        return b"".join(chunks)

    def _classify(self, response: requests.Response, content: bytes) -> Answer:
        status = response.status_code
        body = _json(content)
        if 200 <= status < 300:
            ids = tuple(str(i) for i in body) if isinstance(body, list) else ()
            return Answer(Outcome.STORED, status, "", ids=ids)
        reason = self._reason(status, body, content, response.headers.get("Content-Type", ""))
        if 300 <= status < 400:
            where = response.headers.get("Location", "elsewhere")
            return Answer(Outcome.RETRY, status, self._scrub(f"{reason}: redirected to {where}; check the endpoint"))
        retry_after = _retry_after(response.headers.get("Retry-After"))
        if status >= 500 or status in RETRY_STATUSES:
            return Answer(Outcome.RETRY, status, reason, retry_after=retry_after)
        if status == 409 or (status == 400 and _ALREADY.search(reason)):
            named = tuple(dict.fromkeys(m.lower() for m in _UUID.findall(reason)))
            return Answer(Outcome.CONFLICT, status, reason, ids=named)
        positions = tuple(sorted({int(m) for m in _POSITION.findall(reason)}))
        return Answer(Outcome.REJECTED, status, reason, positions=positions)

    def _reason(self, status: int, body: Any, content: bytes, content_type: str) -> str:
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = "HTTP error"
        words = _messages(body)
        if not words and content:
            text = content[: REASON_MAX_LENGTH * 4].decode("utf-8", errors="replace")
            if "html" in content_type.lower():
                text = _TAG.sub(" ", _NOT_SHOWN.sub(" ", text))
            words = [text]
        detail = " ".join("; ".join(w for w in words if w).split())
        reason = f"{status} {phrase}" + (f": {detail}" if detail else "")
        return self._scrub(reason)

    def _scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        text = " ".join(text.split())
        if len(text) > REASON_MAX_LENGTH:
            text = text[: REASON_MAX_LENGTH - 1] + "…"
        return text


def array_body(statements: Sequence[bytes | str | Mapping[str, Any]]) -> bytes:
    """A JSON array of the statements: stored texts as they are, mappings serialised."""
    parts = []
    for statement in statements:
        if isinstance(statement, bytes):
            parts.append(statement)
        elif isinstance(statement, str):
            parts.append(statement.encode("utf-8"))
        else:
            parts.append(json.dumps(statement, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
    return b"[" + b",".join(parts) + b"]"


class _Watch:
    """The deadline of one POST: :meth:`cut` (from the timer's thread) shuts the socket of the
    connection carrying it down, which ends whatever read or write is blocked on it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._connection: Any = None
        self._done = False
        self.was_cut = False

    def using(self, connection: Any) -> None:
        with self._lock:
            self._connection = connection

    def cut(self) -> None:
        with self._lock:
            if self._done:
                return
            self.was_cut = True
            sock = getattr(self._connection, "sock", None)
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def finish(self) -> None:
        with self._lock:
            self._done = True


_watching = threading.local()  # the posting thread's current _Watch


class _Watched:
    """Mixed into urllib3's connections: tells the posting thread's :class:`_Watch` which
    connection (a new or a kept-alive one) carries its request."""

    def request(self, *args: Any, **kwargs: Any) -> Any:
        watch = getattr(_watching, "current", None)
        if watch is not None:
            watch.using(self)
        return super().request(*args, **kwargs)  # type: ignore[misc]


class _WatchedHTTPConnection(_Watched, urllib3.connection.HTTPConnection):
    pass


class _WatchedHTTPSConnection(_Watched, urllib3.connection.HTTPSConnection):
    pass


class _WatchedHTTPPool(urllib3.HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


class _WatchedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}


def _never_connected(exc: BaseException) -> bool:
    """Whether the connection itself failed (refused, no route, unknown host), as opposed to one
    that broke during the exchange."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, urllib3.exceptions.NewConnectionError | urllib3.exceptions.NameResolutionError):
            return True
        seen = seen.__context__ or seen.__cause__
        if seen is exc:
            break
    text = str(exc)
    return "NewConnectionError" in text or "Failed to resolve" in text


def _cause(exc: BaseException) -> str:
    """The innermost reason of a requests/urllib3 error, without the pool's wording."""
    seen = exc
    while seen.__context__ is not None and seen.__context__ is not seen:
        seen = seen.__context__
    text = str(seen) or seen.__class__.__name__
    match = re.search(r"\[Errno -?\d+\] ([^')\"]+)", text)
    if match:
        return match.group(1).strip()
    return _first_line(text)


def _first_line(text: str) -> str:
    return text.splitlines()[0][:300] if text else ""


def _json(content: bytes) -> Any:
    if not content:
        return None
    try:
        return json.loads(content)
    except ValueError:
        return None


def _messages(body: Any) -> list[str]:
    """Human words in an LRS's JSON error: message, warnings, error(s), detail (nested too)."""
    if isinstance(body, str):
        return [body]
    if isinstance(body, list):
        return [w for item in body for w in _messages(item)]
    if not isinstance(body, dict):
        return []
    found: list[str] = []
    for key in ("message", "error", "errors", "detail", "details", "warnings", "reason"):
        if key in body:
            found.extend(_messages(body[key]))
    return found


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - time.time(), 0.0)
