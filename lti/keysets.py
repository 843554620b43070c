"""Platform public key sets: fetched with hard limits, cached, refetched on a new kid.

Platforms rotate keys (some hourly). A launch signed with a ``kid`` we do not hold triggers one
refetch of the key set; to keep forged kids from making us hammer a platform, a key set is
refetched at most once per ``min_refetch_interval``.

A key set URL is whatever an admin registered, and a launch makes us fetch it inside a learner's
request, so the fetch is bounded like any call to a stranger (Security Framework 1.0 §6.3 only
says keys are published at a URL; the limits are ours):

- **a total deadline** (``deadline``, 10 s) for connecting, headers and body together, enforced by
  a watchdog that shuts the socket down, not only a per-read timeout (a server sending one byte
  every 3 s would otherwise hold a worker for ever);
- **a size cap** (``max_bytes``, 1 MB; a key set is a few kilobytes): the body is read in chunks
  and the fetch stops at the cap, whatever ``Content-Length`` says;
- **no redirect to another origin**: a redirect is followed (at most 3) only to the same scheme,
  host and port, so a key set URL cannot hand us keys served from somewhere else;
- **https only in production** (``https_only``), redirects included.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

USER_AGENT = "WordOfMouth-LTI/0.1 (+https://github.com/; LTI 1.3 tool)"
MAX_KEY_SET_BYTES = 1024 * 1024
MAX_REDIRECTS = 3
REDIRECT_STATUSES = {301, 302, 303, 307, 308}


class KeySetError(Exception):
    """The platform's key set could not be fetched or read."""


@dataclass
class _Cached:
    keys: dict[str, dict[str, Any]]
    fetched_at: float


def _origin(url: str) -> tuple[str, str, int]:
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


class PlatformKeySets:
    def __init__(
        self,
        *,
        ttl: float = 3600.0,
        min_refetch_interval: float = 10.0,
        timeout: float = 5.0,
        deadline: float = 10.0,
        max_bytes: int = MAX_KEY_SET_BYTES,
        https_only: bool = False,
    ) -> None:
        self.ttl = ttl
        self.min_refetch_interval = min_refetch_interval
        self.timeout = timeout  # connect and each read
        self.deadline = deadline  # the whole fetch, redirects included
        self.max_bytes = max_bytes
        self.https_only = https_only
        self._cache: dict[str, _Cached] = {}
        self._lock = threading.Lock()

    def _get_once(self, url: str, ends: float) -> tuple[int, str | None, bytes]:
        """One GET: (status, Location, body), the body read up to ``max_bytes``."""
        parts = urlsplit(url)
        scheme, host, port = _origin(url)
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
            connection.request(
                "GET",
                path,
                headers={"User-Agent": USER_AGENT, "Accept": "application/json", "Accept-Encoding": "identity"},
            )
            response = connection.getresponse()
            if response.status in REDIRECT_STATUSES:
                return response.status, response.getheader("Location"), b""
            declared = response.getheader("Content-Length")
            if declared and declared.strip().isdigit() and int(declared) > self.max_bytes:
                raise _TooLargeError
            body = bytearray()
            while chunk := response.read1(64 * 1024):
                body += chunk
                if len(body) > self.max_bytes:
                    raise _TooLargeError
                if time.monotonic() > ends:
                    raise TimeoutError
            if watchdog.fired or time.monotonic() > ends:
                raise TimeoutError
            return response.status, None, bytes(body)
        except (OSError, http.client.HTTPException) as exc:
            if watchdog.fired or time.monotonic() > ends:
                raise TimeoutError from exc
            raise
        finally:
            watchdog.cancel()
            connection.close()

    def _check_scheme(self, url: str, original: str) -> None:
        scheme = urlsplit(url).scheme.lower()
        if scheme not in ("http", "https"):
            raise KeySetError(f"the platform's key set URL {original} is not an http(s) URL")
        if self.https_only and scheme != "https":
            raise KeySetError(f"the platform's key set URL {url} must be https in production")

    def _download(self, url: str) -> bytes:
        ends = time.monotonic() + self.deadline
        current = url
        self._check_scheme(current, url)
        try:
            for _ in range(MAX_REDIRECTS + 1):
                status, location, body = self._get_once(current, ends)
                if status not in REDIRECT_STATUSES:
                    if status >= 400:
                        raise KeySetError(f"could not fetch the platform's key set from {url}: HTTP {status}")
                    return body
                target = urljoin(current, location or "")
                if not location or _origin(target) != _origin(current):
                    raise KeySetError(
                        f"the platform's key set at {url} redirects to another origin ({target}): not followed"
                    )
                self._check_scheme(target, url)
                current = target
        except TimeoutError as exc:
            raise KeySetError(
                f"could not fetch the platform's key set from {url}: no complete answer within {self.deadline:g} s"
            ) from exc
        except _TooLargeError as exc:
            raise KeySetError(
                f"the platform's key set at {url} is larger than {self.max_bytes // 1024} KB: not read"
            ) from exc
        except (OSError, http.client.HTTPException, ValueError) as exc:
            raise KeySetError(f"could not fetch the platform's key set from {url}: {exc.__class__.__name__}") from exc
        raise KeySetError(f"the platform's key set at {url} redirects more than {MAX_REDIRECTS} times")

    def _fetch(self, url: str) -> _Cached:
        raw = self._download(url)
        try:
            body = json.loads(raw)
        except ValueError as exc:
            raise KeySetError(f"the platform's key set at {url} is not JSON") from exc
        keys = body.get("keys") if isinstance(body, dict) else None
        if not isinstance(keys, list):
            raise KeySetError(f"the platform's key set at {url} has no 'keys' list")
        cached = _Cached({k["kid"]: k for k in keys if isinstance(k, dict) and k.get("kid")}, time.monotonic())
        with self._lock:
            self._cache[url] = cached
        return cached

    def key(self, url: str, kid: str) -> dict[str, Any] | None:
        """The JWK named ``kid`` at ``url``, fetching or refetching the set when needed."""
        with self._lock:
            cached = self._cache.get(url)
        now = time.monotonic()
        if cached is None or now - cached.fetched_at > self.ttl:
            cached = self._fetch(url)
        if kid in cached.keys:
            return cached.keys[kid]
        if now - cached.fetched_at >= self.min_refetch_interval:
            cached = self._fetch(url)
        return cached.keys.get(kid)

    def forget(self) -> None:
        with self._lock:
            self._cache.clear()


class _TooLargeError(Exception):
    pass
