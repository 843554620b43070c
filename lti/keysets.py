"""Platform public key sets: fetched with a timeout and a User-Agent, cached, refetched on a new kid.

Platforms rotate keys (some hourly). A launch signed with a ``kid`` we do not hold triggers one
refetch of the key set; to keep forged kids from making us hammer a platform, a key set is
refetched at most once per ``min_refetch_interval``.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import requests

USER_AGENT = "WordOfMouth-LTI/0.1 (+https://github.com/; LTI 1.3 tool)"


class KeySetError(Exception):
    """The platform's key set could not be fetched or read."""


@dataclass
class _Cached:
    keys: dict[str, dict[str, Any]]
    fetched_at: float


class PlatformKeySets:
    def __init__(self, *, ttl: float = 3600.0, min_refetch_interval: float = 10.0, timeout: float = 5.0) -> None:
        self.ttl = ttl
        self.min_refetch_interval = min_refetch_interval
        self.timeout = timeout
        self._cache: dict[str, _Cached] = {}
        self._lock = threading.Lock()
        self._http = requests.Session()
        self._http.headers["User-Agent"] = USER_AGENT
        self._http.headers["Accept"] = "application/json"

    def _fetch(self, url: str) -> _Cached:
        try:
            response = self._http.get(url, timeout=self.timeout)
            response.raise_for_status()
            body = response.json()
        except requests.RequestException as exc:
            raise KeySetError(f"could not fetch the platform's key set from {url}: {exc.__class__.__name__}") from exc
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
