"""Who may frame the tool: CSP ``frame-ancestors`` from the registered platforms' page origins.

The tool's pages live in LMS iframes and nowhere else
(https://www.w3.org/TR/CSP3/#directive-frame-ancestors). Every HTML response gets
``frame-ancestors 'self' <origins>``, where the origins are those of every registered platform
(``plugin/services/platform_origins.py``: each issuer's origin, origins learned from launches,
origins the admin added). Other responses (JSON, scripts, images) get ``frame-ancestors 'none'``.
A response that already names ``frame-ancestors`` is left alone.

**One list for all platforms.** Pages after the launch (the deep linking form's answer, error
pages, the new-window page) do not know which platform they serve, so the list is global. Framing
only keeps other sites from showing (and clickjacking) the tool; which organisation's data a page
shows is decided by the launch and the widget token, not by the frame.

**A launch from a new origin works at once.** :func:`learn_launch_origin` records the origin of the
launch's ``return_url`` and adds it to the launch response itself, whatever the cache holds.

**Cache.** The combined list is kept in ``app.extensions`` for :data:`CACHE_SECONDS`, so a request
normally runs no query for the header. A new origin learned in this process (a launch, or a CLI
command run with this app) drops the cache after the request's commit; other processes (gunicorn
workers, a CLI run beside the server) see the change within :data:`CACHE_SECONDS`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from flask import Flask, Response, current_app, g
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


class OriginCache:
    """The combined origin list of all platforms, reloaded at most every ``ttl`` seconds."""

    def __init__(self, sessions: Callable[[], Session], ttl: float = CACHE_SECONDS) -> None:
        self._sessions = sessions
        self._ttl = ttl
        self._lock = threading.Lock()
        self._origins: tuple[str, ...] = ()
        self._expires = 0.0
        self._generation = 0

    def origins(self) -> tuple[str, ...]:
        with self._lock:
            if time.monotonic() < self._expires:
                return self._origins
            generation = self._generation
        try:
            session = self._sessions()
            try:
                origins = tuple(platform_origins.all_origins(session))
            finally:
                session.close()
        except SQLAlchemyError as exc:
            log.warning("frame-ancestors: could not load platform origins: %s", exc.__class__.__name__)
            with self._lock:
                if generation == self._generation:
                    self._expires = time.monotonic() + RETRY_SECONDS
                return self._origins
        with self._lock:
            if generation == self._generation:  # not invalidated while loading
                self._origins, self._expires = origins, time.monotonic() + self._ttl
        return origins

    def invalidate(self) -> None:
        with self._lock:
            self._expires = 0.0
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


def learn_launch_origin(platform_id: int, return_url: str | None) -> None:
    """Record the page origin of a validated launch (its ``return_url``) in the request's session.

    A missing or unusable ``return_url`` is logged and ignored: it never fails the launch.
    """
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


def add_frame_ancestors(response: Response) -> None:
    """Append ``frame-ancestors`` to the response's CSP; call after the request's commit."""
    learned: set[str] = g.pop(_LEARNED, set())
    if g.pop(_CHANGED, False) and response.status_code < 400:
        invalidate()
    policy = response.headers.get("Content-Security-Policy")
    if not policy or "frame-ancestors" in policy:
        return
    if response.mimetype == "text/html":
        origins = sorted(set(origin_cache().origins()) | learned)
        sources = " ".join(["'self'", *origins])
    else:
        sources = "'none'"
    response.headers["Content-Security-Policy"] = f"{policy.rstrip('; ')}; frame-ancestors {sources}"
