"""Platform public key sets: fetched with hard limits, cached, refetched on a new kid.

Platforms rotate keys (some hourly). A launch signed with a ``kid`` we do not hold triggers one
refetch of the key set; to keep forged kids from making us hammer a platform, a key set is
refetched at most once per ``min_refetch_interval``.

A key set URL is whatever an admin registered, and a launch makes us fetch it inside a learner's
request, so the fetch is bounded like every call to a platform (``lti/fetching.py``; Security
Framework 1.0 §6.3 only says keys are published at a URL, the limits are ours):

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

import json
import threading
import time
from dataclasses import dataclass
from typing import Any

from lti.fetching import MAX_BYTES, BoundedClient, FetchError

MAX_KEY_SET_BYTES = MAX_BYTES
WHAT = "the platform's key set"


class KeySetError(FetchError):
    """The platform's key set could not be fetched or read."""


@dataclass
class _Cached:
    keys: dict[str, dict[str, Any]]
    fetched_at: float


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

    def _download(self, url: str) -> bytes:
        client = BoundedClient(
            timeout=self.timeout, deadline=self.deadline, max_bytes=self.max_bytes, https_only=self.https_only
        )
        return client.get(url, WHAT, KeySetError)

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
