"""Bounded HTTP calls to a platform: key sets, OpenID configurations, registration endpoints.

Every URL here comes from a stranger (an admin's registration, a platform's configuration), and
the call happens inside someone's request, so each call is bounded (Security Framework 1.0 §6.3
and LTI Dynamic Registration 1.0 §3.4 say where the documents are, the limits are ours):

- **a total deadline** (``deadline``, 10 s) for connecting, headers and body together, enforced by
  a watchdog that shuts the socket down, not only a per-read timeout (a server sending one byte
  every 3 s would otherwise hold a worker for ever);
- **a size cap** (``max_bytes``, 1 MB): the body is read in chunks and the call stops at the cap,
  whatever ``Content-Length`` says;
- **no redirect to another origin**: a GET follows a redirect (at most 3) only to the same scheme,
  host and port; a POST follows none;
- **https only in production** (``https_only``), redirects included.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

USER_AGENT = "WordOfMouth-LTI/0.1 (+https://github.com/; LTI 1.3 tool)"
MAX_BYTES = 1024 * 1024
MAX_REDIRECTS = 3
REDIRECT_STATUSES = {301, 302, 303, 307, 308}


class FetchError(Exception):
    """A call to the platform failed; the message names the document and says why."""


class _TooLargeError(Exception):
    pass


def origin(url: str) -> tuple[str, str, int]:
    """``(scheme, host, port)`` of ``url``, lowercase, with the scheme's default port filled in."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), parts.port or (443 if scheme == "https" else 80)


class _Watchdog:
    """Shuts a socket down when the deadline passes, so a blocked read returns at once."""

    def __init__(self, seconds: float) -> None:
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()
        self.fired = False
        self._timer = threading.Timer(max(seconds, 0.0), self._fire)
        self._timer.daemon = True
        self._timer.start()

    def watch(self, sock: socket.socket | None) -> None:
        with self._lock:
            self._sock = sock
            if self.fired:
                self._shutdown()

    def _shutdown(self) -> None:
        if self._sock is not None:
            with contextlib.suppress(OSError):  # already closed
                self._sock.shutdown(socket.SHUT_RDWR)

    def _fire(self) -> None:
        with self._lock:
            self.fired = True
            self._shutdown()

    def cancel(self) -> None:
        self._timer.cancel()


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    content_type: str = ""


@dataclass
class BoundedClient:
    """GET and POST with the limits above; ``what`` names the document in every message."""

    timeout: float = 5.0  # connect and each read
    deadline: float = 10.0  # the whole call, redirects included
    max_bytes: int = MAX_BYTES
    https_only: bool = False

    def _once(
        self, method: str, url: str, ends: float, body: bytes | None, headers: dict[str, str]
    ) -> tuple[int, str | None, bytes, str]:
        """One request: (status, Location, body, content type), the body read up to ``max_bytes``."""
        parts = urlsplit(url)
        scheme, host, port = origin(url)
        remaining = ends - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        connection: http.client.HTTPConnection
        if scheme == "https":
            connection = http.client.HTTPSConnection(
                host, port, timeout=min(self.timeout, remaining), context=ssl.create_default_context()
            )
        else:
            connection = http.client.HTTPConnection(host, port, timeout=min(self.timeout, remaining))
        watchdog = _Watchdog(remaining)
        try:
            connection.connect()
            watchdog.watch(connection.sock)
            path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            sent = {"User-Agent": USER_AGENT, "Accept": "application/json", "Accept-Encoding": "identity", **headers}
            connection.request(method, path, body=body, headers=sent)
            response = connection.getresponse()
            if response.status in REDIRECT_STATUSES:
                return response.status, response.getheader("Location"), b"", ""
            declared = response.getheader("Content-Length")
            if declared and declared.strip().isdigit() and int(declared) > self.max_bytes:
                raise _TooLargeError
            data = bytearray()
            while chunk := response.read1(64 * 1024):
                data += chunk
                if len(data) > self.max_bytes:
                    raise _TooLargeError
                if time.monotonic() > ends:
                    raise TimeoutError
            if watchdog.fired or time.monotonic() > ends:
                raise TimeoutError
            return response.status, None, bytes(data), response.getheader("Content-Type") or ""
        except (OSError, http.client.HTTPException) as exc:
            if watchdog.fired or time.monotonic() > ends:
                raise TimeoutError from exc
            raise
        finally:
            watchdog.cancel()
            connection.close()

    def _check_scheme(self, url: str, original: str, what: str, error: type[Exception]) -> None:
        scheme = urlsplit(url).scheme.lower()
        if scheme not in ("http", "https"):
            raise error(f"{what} URL {original} is not an http(s) URL")
        if self.https_only and scheme != "https":
            raise error(f"{what} URL {url} must be https in production")

    def _call(
        self,
        method: str,
        url: str,
        what: str,
        error: type[Exception],
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        ends = time.monotonic() + self.deadline
        current = url
        self._check_scheme(current, url, what, error)
        try:
            for _ in range(MAX_REDIRECTS + 1):
                status, location, data, content_type = self._once(method, current, ends, body, headers or {})
                if status not in REDIRECT_STATUSES:
                    return Answer(status, data, content_type)
                if method != "GET":
                    raise error(f"{what} at {url} answers with a redirect (HTTP {status}): not followed")
                target = urljoin(current, location or "")
                if not location or origin(target) != origin(current):
                    raise error(f"{what} at {url} redirects to another origin ({target}): not followed")
                self._check_scheme(target, url, what, error)
                current = target
        except TimeoutError as exc:
            raise error(f"could not fetch {what} from {url}: no complete answer within {self.deadline:g} s") from exc
        except _TooLargeError as exc:
            raise error(f"{what} at {url} is larger than {self.max_bytes // 1024} KB: not read") from exc
        except (OSError, http.client.HTTPException, ValueError) as exc:
            raise error(f"could not fetch {what} from {url}: {exc.__class__.__name__}") from exc
        raise error(f"{what} at {url} redirects more than {MAX_REDIRECTS} times")

    def get(
        self, url: str, what: str, error: type[Exception] = FetchError, headers: dict[str, str] | None = None
    ) -> bytes:
        """The body of a successful GET of ``url``; ``error`` (with a message naming ``what``) otherwise.

        ``headers`` go to redirects too, which stay on the URL's origin."""
        answer = self._call("GET", url, what, error, headers=headers)
        if answer.status >= 400:
            raise error(f"could not fetch {what} from {url}: HTTP {answer.status}")
        return answer.body

    def post(
        self,
        url: str,
        what: str,
        body: bytes,
        headers: dict[str, str],
        error: type[Exception] = FetchError,
    ) -> Answer:
        """POST ``body`` to ``url``; any status comes back (the caller reads the platform's error)."""
        return self._call("POST", url, what, error, body=body, headers=headers)
