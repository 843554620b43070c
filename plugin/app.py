"""The application factory: settings, database, logging, error handling and the adapters."""

from __future__ import annotations

import json
import logging
import re
import sys
import uuid
from collections.abc import Mapping
from typing import Any

from flask import Flask, Response, g, jsonify, render_template, request, send_from_directory
from flask_babel import gettext
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from sqlalchemy import text
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.orm import Session
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from plugin import console, i18n
from plugin.db import DatabaseTimeouts, make_engine, make_session_factory
from plugin.errors import DomainError
from plugin.framing import add_frame_ancestors
from plugin.problems import problem, styled_gunicorn_errors
from plugin.settings import Settings, load_settings
from plugin.web import CONTENT_SECURITY_POLICY, external_url, get_settings

log = logging.getLogger("wordofmouth")
REQUEST_ID_HEADER = "X-Request-Id"
# Production is https only (settings refuse anything else): browsers then refuse plain http to this
# host for a year. No includeSubDomains: other services on the operator's domain are not ours to decide.
STRICT_TRANSPORT_SECURITY = "max-age=31536000"
# What gunicorn writes as its ``Server`` header instead of ``gunicorn`` (no software, no version).
SERVER_HEADER = "wordofmouth"
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,128}$")


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            record.request_id = g.request_id
        except (AttributeError, RuntimeError):
            record.request_id = "-"
        return True


# Control characters (CR, LF, ESC, ...) and Unicode line separators in a logged value would let
# whoever sent it forge log lines (a target_link_uri with "\n... CRITICAL ..."): escape them.
_LOG_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def escape_log_text(text: str) -> str:
    """``text`` on one line: CR as ``\\r``, LF as ``\\n``, other control characters as ``\\xNN``/``\\uNNNN``."""

    def escape(match: re.Match[str]) -> str:
        char = match.group()
        named = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(char)
        return named or (f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}")

    return _LOG_UNSAFE.sub(escape, text)


class OneLineFormatter(logging.Formatter):
    """Every record's message stays on its line, whatever its values hold; tracebacks are ours and kept."""

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 (logging's name)
        return escape_log_text(super().formatMessage(record))


class JsonFormatter(logging.Formatter):
    """``WOM_LOG_FORMAT=json``: one JSON object per line (time, level, logger, request id, message, error)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "request_id": getattr(record, "request_id", "-"),
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        # json.dumps escapes CR, LF and other control characters; not U+2028/U+2029, which some
        # log viewers take for line breaks.
        return json.dumps(entry, ensure_ascii=False).replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def _formatter(log_format: str) -> logging.Formatter:
    if log_format == "json":
        return JsonFormatter()
    return OneLineFormatter("%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s")


def _configure_logging(level: str, log_format: str = "text") -> None:
    if log.handlers:
        log.setLevel(level)
        log.handlers[0].setFormatter(_formatter(log_format))
        return
    handler = logging.StreamHandler()
    handler.addFilter(_RequestIdFilter())
    handler.setFormatter(_formatter(log_format))
    log.addHandler(handler)
    log.setLevel(level)
    log.propagate = False


def _register_request_hooks(app: Flask) -> None:
    @app.before_request
    def assign_request_id() -> None:
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        g.request_id = incoming if _SAFE_REQUEST_ID.match(incoming) else uuid.uuid4().hex

    @app.after_request
    def finish_unit_of_work(response: Response) -> Response:
        session: Session | None = g.pop("db_session", None)
        if session is not None:
            try:
                if response.status_code < 400:
                    session.commit()
                else:
                    session.rollback()
            except SQLAlchemyError:
                session.rollback()
                log.exception("commit failed")
                response = problem(
                    503,
                    "Service unavailable",
                    "The database did not accept the change. Nothing was saved; please try again.",
                )
            finally:
                session.close()
        response.headers[REQUEST_ID_HEADER] = g.get("request_id", "")
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        add_frame_ancestors(response)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
        if get_settings(app).is_production:
            response.headers.setdefault("Strict-Transport-Security", STRICT_TRANSPORT_SECURITY)
        return response

    @app.teardown_request
    def close_leftover_session(_exc: BaseException | None) -> None:
        session: Session | None = g.pop("db_session", None)
        if session is not None:
            session.rollback()
            session.close()


def field_errors(exc: HTTPException) -> dict[str, list[str]]:
    """webargs' validation messages (``{"json": {"stars": [...]}}``) as ``{"stars": [...]}``."""
    messages = (getattr(exc, "data", None) or {}).get("messages") or {}
    errors: dict[str, list[str]] = {}
    for fields in messages.values():
        if not isinstance(fields, dict):
            continue
        for name, problems in fields.items():
            if isinstance(problems, dict):  # nested or per-index messages
                problems = [str(p) for p in problems.values()]
            errors[str(name)] = [str(p) for p in (problems if isinstance(problems, list) else [problems])]
    return errors


def _register_error_handlers(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        status = exc.code or 500
        if status >= 500:
            log.error("%s %s -> %s", request.method, request.path, status)
        else:
            log.info("%s %s -> %s: %s", request.method, request.path, status, exc.description)
        detail = exc.description or exc.name
        extra = {}
        if status == 429:
            detail = (
                "You are doing that too often. Wait a minute, then try again."
                if request.path.startswith("/api/")
                else "Too many requests from your network in a short time. Wait a minute, then try again."
            )
        if status == 422 and (errors := field_errors(exc)):
            detail = "Check " + ", ".join(errors) + ": " + "; ".join(m for ms in errors.values() for m in ms)
            extra["errors"] = errors
        response = problem(status, exc.name, detail, **extra)
        if status == 429:
            response.headers["Retry-After"] = "60"
        if status == 405 and exc.valid_methods:  # type: ignore[attr-defined]
            response.headers["Allow"] = ", ".join(exc.valid_methods)  # type: ignore[attr-defined]
        return response

    @app.errorhandler(DomainError)
    def domain_error(exc: DomainError) -> Response:
        log.info("%s %s -> %s: %s", request.method, request.path, exc.status, exc.detail)
        detail = gettext(exc.detail)  # the core's English, in the learner's language (babel.cfg)
        field = getattr(exc, "field", None)
        return problem(exc.status, exc.title, detail, **({"errors": {field: [detail]}} if field else {}))

    @app.errorhandler(OperationalError)  # unreachable, or a lock/statement timeout (WOM_DB_*_TIMEOUT*)
    @app.errorhandler(PoolTimeoutError)  # every pooled connection busy for WOM_DB_POOL_TIMEOUT
    def database_unavailable(exc: OperationalError | PoolTimeoutError) -> Response:
        log.error("database unavailable on %s %s: %s", request.method, request.path, exc.__class__.__name__)
        response = problem(
            503,
            "Service unavailable",
            "The database is busy or cannot be reached. Nothing was saved; please try again in a moment.",
        )
        response.headers["Retry-After"] = "5"
        return response

    @app.errorhandler(Exception)
    def unexpected_error(exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return problem(
            500,
            "Something went wrong",
            "An unexpected error stopped this request and nothing was saved. "
            "If it happens again, give your administrator the request id below.",
        )


def _register_core_views(app: Flask) -> None:
    def database_reachable() -> bool:
        try:
            with app.extensions["wordofmouth.engine"].connect() as connection:
                connection.execute(text("SELECT 1"))
        except SQLAlchemyError as exc:
            log.warning("health check: database unreachable: %s", exc.__class__.__name__)
            return False
        return True

    @app.get("/healthz")
    def healthz() -> tuple[Response, int]:
        if not database_reachable():
            return jsonify(status="unavailable", database="unreachable"), 503
        return jsonify(status="ok", database="ok"), 200

    @app.get("/")
    def index() -> tuple[str, int]:
        # The same check as /healthz: the page never says "running" while the service cannot serve.
        reachable = database_reachable()
        page = render_template(
            "index.html", settings=get_settings(app), admin_urls=admin_urls(app), database_reachable=reachable
        )
        return page, 200 if reachable else 503

    @app.get("/favicon.ico")
    def favicon() -> Response:
        return send_from_directory(
            app.static_folder or "static", "favicon.ico", mimetype="image/vnd.microsoft.icon", max_age=86400
        )


ADMIN_ENDPOINTS: list[tuple[str, str]] = [
    ("lti.login", "OIDC login (initiate login) URL"),
    ("lti.launch", "Redirect / target link URI (launches and deep linking)"),
    ("lti.jwks", "Public key set (JWKS) URL"),
    ("lti.canvas_config", "Canvas developer key configuration (JSON) URL"),
    # Dynamic registration needs a one-time URL (token included) unless WOM_OPEN_REGISTRATION is on.
    ("lti.register", "Dynamic registration (wordofmouth registration-url)"),
    ("console.overview", "Operator console"),
    ("demo.index", "Demo LMS"),
    ("healthz", "Health check"),
]


def admin_urls(app: Flask) -> list[tuple[str, str]]:
    """Every URL an LMS admin needs, built from ``WOM_BASE_URL``, for the endpoints this app serves."""
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    return [(label, external_url(name, app)) for name, label in ADMIN_ENDPOINTS if name in endpoints]


def _register_adapters(app: Flask) -> None:
    """The one place the core reaches into the adapters: their blueprints and CLI groups."""
    import lti
    import widgets
    import xapi

    lti.init_app(app)
    widgets.init_app(app)
    xapi.init_app(app)


def _register_jobs(app: Flask, settings: Settings) -> None:
    """The core's own worker jobs (adapters register theirs in their ``init_app``)."""
    from datetime import timedelta

    from plugin.recommend_jobs import recommend_build_job
    from plugin.worker import register_job

    register_job(app, "recommend-build", recommend_build_job, every=timedelta(minutes=settings.recommend_build_minutes))


def _hide_server_banner() -> None:
    """Under gunicorn, answer ``Server: wordofmouth`` rather than ``Server: gunicorn``.

    gunicorn writes that header itself, from a module constant its responses read per request, so a
    WSGI app cannot remove it; the constant is set here, wherever and however gunicorn was started
    (workers import the app after gunicorn's HTTP module; ``--preload`` forks after this too).
    """
    if "gunicorn" not in sys.modules:
        return
    import gunicorn
    import gunicorn.http.wsgi

    gunicorn.SERVER = SERVER_HEADER
    gunicorn.http.wsgi.SERVER = SERVER_HEADER


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the Word of Mouth application.

    ``config`` overrides settings by their ``WOM_*`` names (tests use it); everything else comes
    from the environment and ``instance/wordofmouth.cfg``.
    """
    settings = load_settings(config)
    _configure_logging(settings.log_level, settings.log_format)
    _hide_server_banner()
    app = Flask("plugin", instance_path=str(settings.instance_path))
    app.config.update(
        SECRET_KEY=settings.secret_key,
        ENV=settings.env,
        MAX_CONTENT_LENGTH=1024 * 1024,
        JSON_SORT_KEYS=False,
        SESSION_COOKIE_SECURE=settings.base_url.startswith("https"),
        SESSION_COOKIE_HTTPONLY=True,
    )
    if settings.trusted_proxies:
        # Behind N proxies, trust their X-Forwarded-* so rate limits see the learner's address.
        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n, x_prefix=n)  # type: ignore[method-assign]
    # Request ids first: a request the rate limiter refuses still gets one, in its log line and answer.
    _register_request_hooks(app)
    app.extensions["wordofmouth.limiter"] = Limiter(
        key_func=get_remote_address,
        app=app,
        storage_uri=settings.rate_limit_storage_url,
        headers_enabled=False,
        key_prefix="wom",
    )
    engine = make_engine(
        settings.database_url,
        DatabaseTimeouts(
            connect_seconds=settings.db_connect_timeout,
            statement_ms=settings.db_statement_timeout_ms,
            lock_ms=settings.db_lock_timeout_ms,
            pool_seconds=settings.db_pool_timeout,
        ),
    )
    app.extensions["wordofmouth.settings"] = settings
    app.extensions["wordofmouth.engine"] = engine
    app.extensions["wordofmouth.sessions"] = make_session_factory(engine)
    i18n.init_app(app)
    _register_error_handlers(app)
    _register_core_views(app)
    _register_adapters(app)
    console.init_app(app)  # the operator console (/admin), after the adapters whose URLs it names
    _register_jobs(app, settings)
    styled_gunicorn_errors(app)
    return app
