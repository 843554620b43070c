"""Who may frame the tool: CSP ``frame-ancestors`` from the page origins of the platform it serves.

The tool's pages live in LMS iframes and nowhere else
(https://www.w3.org/TR/CSP3/#directive-frame-ancestors):

- a page made for a platform (the launched widgets, the deep linking picker and its answer) gets
  ``frame-ancestors 'self' <that platform's origins>``: its issuer's origin, origins learned from
  its launches, origins the admin added (``plugin/services/platform_origins.py``);
- an error page gets ``frame-ancestors *``: it must show inside whichever LMS frame a failed
  launch came from (an unknown issuer has no origins yet), and it holds no data and no action;
- any other page gets ``frame-ancestors 'self'``; other responses (JSON, scripts) ``'none'``;
- the operator console (``/admin``, :data:`NEVER_FRAMED`) is never framed, error pages included:
  ``'none'`` (its own views also send ``X-Frame-Options: DENY``).
A response that already names ``frame-ancestors`` is left alone.

**Per platform, not one list.** Each organisation's page origins are its own: a single list of
every customer's LMS in every response would tell anyone who loads a page who the customers are.

**A launch from a new origin works at once.** :func:`learn_launch_origin` records the origin of the
launch's ``return_url`` and adds it to the launch response itself, whatever the cache holds.

**Cache.** Each platform's list is kept in ``app.extensions`` for :data:`CACHE_SECONDS`, so a
request normally runs no query for the header. A new origin learned in this process (a launch, or a
CLI command run with this app) drops the cache after the request's commit; other processes
(gunicorn workers, a CLI run beside the server) see the change within :data:`CACHE_SECONDS`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from flask import Flask, Response, current_app, g, request
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from plugin.errors import DomainError
from plugin.services import platform_origins
from plugin.web import db_session

log = logging.getLogger("wordofmouth.framing")
CACHE_SECONDS = 30.0
RETRY_SECONDS = 5.0  # after a failed load: keep the last list, try again soon
EXTENSION = "wordofmouth.frame_ancestors"
_LEARNED = "wom_framing_learned"  # origins of this request's launch, always allowed in its answer
_CHANGED = "wom_framing_changed"  # this request stored a new origin: drop the cache after commit
_PLATFORM = "wom_framing_platform"  # the platform this request's page is made for
NEVER_FRAMED = ("/admin",)  # path prefixes no frame may show (clickjacking of the operator console)


class OriginCache:
    """Each platform's origin list, reloaded at most every ``ttl`` seconds."""

    def __init__(self, sessions: Callable[[], Session], ttl: float = CACHE_SECONDS) -> None:
        self._sessions = sessions
        self._ttl = ttl
        self._lock = threading.Lock()
        self._entries: dict[int, tuple[tuple[str, ...], float]] = {}
        self._generation = 0

    def origins(self, platform_id: int) -> tuple[str, ...]:
        with self._lock:
            known, expires = self._entries.get(platform_id, ((), 0.0))
            if time.monotonic() < expires:
                return known
            generation = self._generation
        try:
            session = self._sessions()
            try:
                origins = tuple(o.origin for o in platform_origins.origins_of(session, platform_id))
            finally:
                session.close()
        except (SQLAlchemyError, DomainError) as exc:
            log.warning("frame-ancestors: could not load the origins of platform %s: %s", platform_id, exc)
            with self._lock:
                if generation == self._generation:
                    self._entries[platform_id] = (known, time.monotonic() + RETRY_SECONDS)
            return known
        with self._lock:
            if generation == self._generation:  # not invalidated while loading
                self._entries[platform_id] = (origins, time.monotonic() + self._ttl)
        return origins

    def invalidate(self) -> None:
        with self._lock:
            self._entries.clear()
            self._generation += 1


def origin_cache(app: Flask | None = None) -> OriginCache:
    app = app or current_app
    cache = app.extensions.get(EXTENSION)
    if cache is None:
        cache = app.extensions.setdefault(EXTENSION, OriginCache(app.extensions["wordofmouth.sessions"]))
    return cache


def invalidate(app: Flask | None = None) -> None:
    """Reload the origins on the next HTML response (call after committing a change)."""
    origin_cache(app).invalidate()


def serve_platform(platform_id: int) -> None:
    """This request's page is made for ``platform_id``: only its LMS origins may frame it."""
    g.setdefault(_PLATFORM, platform_id)


def learn_launch_origin(platform_id: int, return_url: str | None) -> None:
    """Record the page origin of a validated launch (its ``return_url``) in the request's session.

    A missing or unusable ``return_url`` is logged and ignored: it never fails the launch.
    """
    serve_platform(platform_id)
    if not return_url:
        return
    try:
        origin, created = platform_origins.learn_origin(db_session(), platform_id, return_url)
    except DomainError as exc:
        log.info("launch return_url gives no page origin: %s", exc.detail)
        return
    g.setdefault(_LEARNED, set()).add(origin)
    if created:
        log.info("learned page origin %s for platform %s", origin, platform_id)
        g.setdefault(_CHANGED, True)


def _never_framed(path: str) -> bool:
    return any(path == prefix or path.startswith(prefix + "/") for prefix in NEVER_FRAMED)


def add_frame_ancestors(response: Response) -> None:
    """Append ``frame-ancestors`` to the response's CSP; call after the request's commit."""
    learned: set[str] = g.pop(_LEARNED, set())
    platform_id: int | None = g.pop(_PLATFORM, None)
    if g.pop(_CHANGED, False) and response.status_code < 400:
        invalidate()
    policy = response.headers.get("Content-Security-Policy")
    if not policy or "frame-ancestors" in policy:
        return
    if response.mimetype != "text/html" or _never_framed(request.path):
        sources = "'none'"
    elif response.status_code >= 400:
        sources = "*"
    elif platform_id is not None:
        sources = " ".join(["'self'", *sorted(set(origin_cache().origins(platform_id)) | learned)])
    else:
        sources = "'self'"
    response.headers["Content-Security-Policy"] = f"{policy.rstrip('; ')}; frame-ancestors {sources}"
