"""Request-scoped helpers the adapters share: settings, the request's database session, the CSP.

They live here, not in ``plugin/app.py``, so the app factory only composes and the adapters never
import it back (no import circle). Models and services never import this module: they know
nothing of Flask.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Flask, current_app, g
from sqlalchemy.orm import Session

from plugin.settings import Settings

# Pages run inside LMS iframes, so no X-Frame-Options; scripts only from our own files (no inline
# script), which keeps anything a learner writes from running even if escaping were ever missed.
# ``frame-ancestors`` is added per response (see ``plugin/framing.py``).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; frame-src 'self'; form-action 'self' https: http:; base-uri 'none'; object-src 'none'"
)


def get_settings(app: Flask | None = None) -> Settings:
    """The settings of ``app`` (default: the current app)."""
    return (app or current_app).extensions["wordofmouth.settings"]


def db_session() -> Session:
    """The session of the current request, opened on first use; the request commits it."""
    if "db_session" not in g:
        g.db_session = current_app.extensions["wordofmouth.sessions"]()
    return g.db_session


def external_url(endpoint: str, app: Flask | None = None, **values: Any) -> str:
    """The absolute URL of ``endpoint``, always under ``WOM_BASE_URL``.

    Never from the request's ``Host``, scheme or forwarded headers: a request naming another host
    must not make the tool hand out (or sign) URLs that point there.
    """
    app = app or current_app
    base = urlsplit(get_settings(app).base_url)
    adapter = app.url_map.bind(base.netloc, script_name=base.path or "/", url_scheme=base.scheme)
    return adapter.build(endpoint, values, force_external=True)
