"""The operator console (``/admin``): platforms, tool keys, LRS delivery, registration URLs, launch failures.

For the people who run the service, not for LMS users. Access and the session are in
:mod:`plugin.console.auth`; each page is a plain form that posts, then redirects (post/redirect/get),
so a reload never repeats an action. Everything shown that an LMS or a learner sent (issuers,
names, reasons) is untrusted and only ever autoescaped.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Response, abort, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import func, select

from plugin.console import auth
from plugin.db import utcnow
from plugin.errors import DomainError
from plugin.models import LaunchFailure, OutboxStatus, Platform, RegistrationToken
from plugin.models.platform import KeyStatus
from plugin.services import delivery_health, launch_failures, platforms, registration_tokens, tool_keys
from plugin.web import CONTENT_SECURITY_POLICY, db_session, external_url, get_settings

log = logging.getLogger("wordofmouth.console")
bp = Blueprint(
    "console",
    __name__,
    url_prefix="/admin",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)
SIGN_IN_LIMIT = "10 per minute"  # sign-in attempts per client address
FAILURES_SHOWN = 200
EXPIRIES = {"1h": timedelta(hours=1), "24h": timedelta(hours=24), "7d": timedelta(days=7)}
# Never framed, never cached; forms post to the console only.
CONSOLE_CSP = CONTENT_SECURITY_POLICY.replace("form-action 'self' https: http:", "form-action 'self'")
CONSOLE_CSP += "; frame-ancestors 'none'"
OPEN_ENDPOINTS = {"console.sign_in", "console.static"}


# --- access, session, CSRF ---------------------------------------------------------------------


def _mode() -> str:
    settings = get_settings()
    return auth.access_mode(settings.admin_password, settings.is_production)


def _password_tag() -> str:
    settings = get_settings()
    return auth.password_digest(settings.secret_key, settings.admin_password)


def _cookie_path() -> str:
    return (request.script_root or "") + bp.url_prefix  # type: ignore[operator]


def console_session() -> auth.ConsoleSession:
    return g.console_session


def _page(template: str, status: int = 200, **context: Any) -> tuple[str, int]:
    return render_template(template, mode=_mode(), **context), status


@bp.before_request
def guard() -> Response | tuple[str, int] | None:
    if request.endpoint == "console.static":
        return None
    mode = _mode()
    if mode == auth.CLOSED:
        return _page("console/closed.html", 503)
    if mode == auth.LOOPBACK and not auth.is_loopback(request.remote_addr):
        log.warning("console refused to %s: no WOM_ADMIN_PASSWORD, loopback clients only", request.remote_addr)
        return _page("console/loopback_only.html", 403)
    secret = get_settings().secret_key
    session = auth.load(secret, request.cookies.get(auth.COOKIE))
    now = time.time()
    if mode == auth.PASSWORD:
        if session is not None and session.signed_in and not session.valid_sign_in(_password_tag(), now):
            session = auth.ConsoleSession(notice=["expired", {}])  # a fresh, signed-out session
        elif session is None:
            session = auth.ConsoleSession()
        g.console_session = session
        if not session.signed_in and request.endpoint not in OPEN_ENDPOINTS:
            if request.method == "GET" and request.endpoint is not None:
                return redirect(
                    url_for("console.sign_in", next=request.script_root + request.full_path.rstrip("?")), code=303
                )
            return redirect(url_for("console.sign_in"), code=303)
    else:
        g.console_session = session or auth.ConsoleSession()
    g.console_session.seen = now
    if request.method == "POST" and not g.console_session.csrf_matches(request.form.get("csrf_token")):
        log.warning("console: %s %s refused: missing or wrong CSRF token", request.method, request.path)
        return _page("console/bad_form.html", 400)
    return None


@bp.after_request
def console_headers(response: Response) -> Response:
    session: auth.ConsoleSession | None = g.get("console_session")
    if session is not None and request.endpoint != "console.static":
        settings = get_settings()
        response.set_cookie(
            auth.COOKIE,
            auth.dump(settings.secret_key, session),
            max_age=auth.LONGEST,
            path=_cookie_path(),
            secure=settings.base_url.startswith("https"),
            httponly=True,
            samesite="Strict",
        )
    response.headers["Content-Security-Policy"] = CONSOLE_CSP
    response.headers["X-Frame-Options"] = "DENY"
    if request.endpoint != "console.static":
        response.headers["Cache-Control"] = "no-store"
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


@bp.context_processor
def console_globals() -> dict[str, Any]:
    def csrf_token() -> str:
        session = g.get("console_session")
        return session.csrf if session is not None else ""

    return {"console_csrf_token": csrf_token}


def _notify(key: str, **params: Any) -> None:
    console_session().notice = [key, params]


def _take_notice() -> str | None:
    session = console_session()
    if not session.notice:
        return None
    key, params = session.notice[0], session.notice[1] if len(session.notice) > 1 else {}
    session.notice = None
    params = params if isinstance(params, dict) else {}
    texts = {
        "expired": _("Your console session ended. Sign in again."),
        "signed-out": _("You signed out."),
        "platform-added": _("Added the platform %(name)s.", name=params.get("name", "")),
        "platform-enabled": _("%(name)s is enabled: its launches are accepted.", name=params.get("name", "")),
        "platform-disabled": _(
            "%(name)s is disabled: its logins and launches are refused; its data stays.", name=params.get("name", "")
        ),
        "auto-accept-on": _(
            "%(name)s: launches from new deployment ids are now accepted and added.", name=params.get("name", "")
        ),
        "auto-accept-off": _(
            "%(name)s: launches from unknown deployment ids are now refused.", name=params.get("name", "")
        ),
        "deployment-added": _("Added deployment %(deployment)s.", deployment=params.get("deployment", "")),
        "deployment-exists": _(
            "Deployment %(deployment)s was already registered.", deployment=params.get("deployment", "")
        ),
        "deployment-removed": _("Removed deployment %(deployment)s.", deployment=params.get("deployment", "")),
        "platform-removed": _("Removed %(name)s and all its learners' data.", name=params.get("name", "")),
        "keys-rotated": _(
            "Keys rotated: now signing with %(active)s; published the next key %(next)s.",
            active=params.get("active", ""),
            next=params.get("next", ""),
        ),
        "token-revoked": _("Revoked the registration URL."),
    }
    return texts.get(str(key))


def _back(endpoint: str, **values: Any) -> Response:
    return redirect(url_for(endpoint, **values), code=303)


def _actor() -> str:
    return f"operator at {request.remote_addr}"


# --- sign-in -------------------------------------------------------------------------------------


def _safe_next(target: str | None) -> str:
    """Only a path of the console itself (no other host, no scheme-relative ``//``)."""
    prefix = _cookie_path()
    if not target or "\\" in target or target.startswith("//"):
        return url_for("console.overview")
    parts = urlsplit(target)
    inside = parts.path == prefix or parts.path.startswith(prefix + "/")
    if parts.scheme or parts.netloc or not inside or ".." in parts.path.split("/"):
        return url_for("console.overview")
    return target


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in() -> Response | tuple[str, int]:
    if _mode() != auth.PASSWORD:
        return _back("console.overview")
    session = console_session()
    target = _safe_next(request.values.get("next"))
    if session.signed_in:
        return redirect(target, code=303)
    error = None
    if request.method == "POST":
        if auth.password_matches(get_settings().admin_password, request.form.get("password", "")):
            # A fresh session: new id and CSRF token, nothing kept from before sign-in.
            g.console_session = auth.ConsoleSession(signed_in=True, password=_password_tag())
            log.info("console: %s signed in", _actor())
            return redirect(target, code=303)
        log.warning("console: failed sign-in from %s", request.remote_addr)
        error = _("That is not the console password.")
    return _page("console/sign_in.html", 401 if error else 200, error=error, next=target, notice=_take_notice())


@bp.post("/sign-out")
def sign_out() -> Response:
    log.info("console: %s signed out", _actor())
    g.console_session = auth.ConsoleSession(notice=["signed-out", {}])
    return _back("console.sign_in")


# --- overview ------------------------------------------------------------------------------------


@bp.get("")
@bp.get("/")
def overview() -> tuple[str, int]:
    session = db_session()
    day_ago = utcnow() - timedelta(days=1)
    all_platforms = platforms.list_platforms(session)
    keys = {key.status: key for key in tool_keys.list_keys(session) if key.status != KeyStatus.RETIRED}
    outbox: Counter[OutboxStatus] = Counter()
    for group in delivery_health.outbox_counts(session):
        outbox[group.status] += group.count
    unused_tokens = session.scalar(
        select(func.count())
        .select_from(RegistrationToken)
        .where(RegistrationToken.used_at.is_(None), RegistrationToken.expires_at > utcnow())
    )
    failures_today = session.scalar(
        select(func.count()).select_from(LaunchFailure).where(LaunchFailure.occurred_at >= day_ago)
    )
    newest_failure = launch_failures.recent(session, 1)
    return _page(
        "console/overview.html",
        notice=_take_notice(),
        platform_count=len(all_platforms),
        disabled_count=sum(1 for p in all_platforms if not p.enabled),
        active_key=keys.get(KeyStatus.ACTIVE),
        pending=outbox[OutboxStatus.PENDING],
        failed=outbox[OutboxStatus.FAILED],
        unused_tokens=unused_tokens or 0,
        failures_today=failures_today or 0,
        newest_failure=newest_failure[0] if newest_failure else None,
    )


# --- platforms -----------------------------------------------------------------------------------


def _platform(platform_id: int) -> Platform:
    platform = db_session().get(Platform, platform_id)
    if platform is None:
        abort(404)
    return platform


@bp.get("/platforms")
def platform_list() -> tuple[str, int]:
    return _page("console/platforms.html", notice=_take_notice(), platforms=platforms.list_platforms(db_session()))


PLATFORM_FIELDS = ("name", "issuer", "client_id", "auth_login_url", "auth_token_url", "key_set_url", "deployment_id")


def _field_labels() -> dict[str, str]:
    return {
        "name": _("Name"),
        "issuer": _("Issuer"),
        "client_id": _("Client id"),
        "auth_login_url": _("OIDC authentication request URL"),
        "auth_token_url": _("Access token URL"),
        "key_set_url": _("Public key set (JWKS) URL"),
        "deployment_id": _("Deployment id"),
    }


def _missing_url_messages() -> dict[str, str]:
    return {
        "auth_login_url": _("Enter the LMS's OIDC authentication request URL."),
        "auth_token_url": _("Enter the LMS's access token URL."),
        "key_set_url": _("Enter the LMS's public key set (JWKS) URL."),
    }


def _check_platform_form(values: dict[str, str]) -> dict[str, str]:
    """Errors by field, in the form's order (the GOV.UK pattern: next to the field and in a summary)."""
    errors: dict[str, str] = {}
    https_only = get_settings().is_production
    if len(values["name"]) > 255:
        errors["name"] = _("Enter a name of at most 255 characters.")
    if not values["issuer"]:
        errors["issuer"] = _("Enter the issuer, as the LMS names itself (e.g. https://moodle.example.org).")
    elif len(values["issuer"]) > 2048:
        errors["issuer"] = _("Enter an issuer of at most 2048 characters.")
    if not values["client_id"]:
        errors["client_id"] = _("Enter the client id the LMS gave this tool.")
    elif len(values["client_id"]) > 255:
        errors["client_id"] = _("Enter a client id of at most 255 characters.")
    for name in ("auth_login_url", "auth_token_url", "key_set_url"):
        url = values[name]
        parts = urlsplit(url)
        if not url:
            errors[name] = _missing_url_messages()[name]
        elif parts.scheme not in (("https",) if https_only else ("http", "https")) or not parts.netloc:
            errors[name] = (
                _("Enter an https URL, such as https://lms.example.org/...")
                if https_only
                else _("Enter an absolute http or https URL, such as https://lms.example.org/...")
            )
        elif len(url) > 2048:
            errors[name] = _("Enter a URL of at most 2048 characters.")
    if not values["deployment_id"]:
        errors["deployment_id"] = _("Enter the deployment id the LMS shows for this tool.")
    elif len(values["deployment_id"]) > platforms.DEPLOYMENT_ID_MAX:
        errors["deployment_id"] = _("Enter a deployment id of at most 255 characters.")
    if (
        "issuer" not in errors
        and "client_id" not in errors
        and platforms.find_platform(db_session(), values["issuer"], values["client_id"]) is not None
    ):
        errors["client_id"] = _("This issuer and client id are already registered.")
    return {name: errors[name] for name in PLATFORM_FIELDS if name in errors}


@bp.route("/platforms/new", methods=["GET", "POST"])
def platform_add() -> Response | tuple[str, int]:
    values = {name: "" for name in PLATFORM_FIELDS}
    errors: dict[str, str] = {}
    if request.method == "POST":
        values = {name: request.form.get(name, "").strip() for name in PLATFORM_FIELDS}
        errors = _check_platform_form(values)
        if not errors:
            spec = platforms.PlatformSpec(
                issuer=values["issuer"],
                client_id=values["client_id"],
                auth_login_url=values["auth_login_url"],
                auth_token_url=values["auth_token_url"],
                key_set_url=values["key_set_url"],
                deployment_ids=(values["deployment_id"],),
                name=values["name"],
            )
            try:
                platform, _created = platforms.add_or_update_platform(db_session(), spec)
            except DomainError as exc:
                errors = {"issuer": exc.detail}
            else:
                log.info("console: %s added platform %s (client %s)", _actor(), platform.issuer, platform.client_id)
                _notify("platform-added", name=platform.name)
                return _back("console.platform_detail", platform_id=platform.id)
    return _page(
        "console/platform_add.html",
        422 if errors else 200,
        values=values,
        errors=errors,
        labels=_field_labels(),
    )


@bp.get("/platforms/<int:platform_id>")
def platform_detail(platform_id: int) -> tuple[str, int]:
    platform = _platform(platform_id)
    return _page(
        "console/platform.html",
        notice=_take_notice(),
        platform=platform,
        deployment_error=None,
        deployment_value="",
    )


@bp.post("/platforms/<int:platform_id>/enabled")
def platform_enabled(platform_id: int) -> Response:
    platform = _platform(platform_id)
    enable = request.form.get("enabled") == "1"
    platforms.set_enabled(db_session(), platform, enable)
    log.info("console: %s %s platform %s", _actor(), "enabled" if enable else "disabled", platform.issuer)
    _notify("platform-enabled" if enable else "platform-disabled", name=platform.name)
    return _back("console.platform_detail", platform_id=platform.id)


@bp.post("/platforms/<int:platform_id>/auto-accept")
def platform_auto_accept(platform_id: int) -> Response:
    platform = _platform(platform_id)
    accept = request.form.get("auto_accept") == "1"
    platforms.set_auto_accept_deployments(db_session(), platform, accept)
    log.info("console: %s set auto-accept of deployments to %s for %s", _actor(), accept, platform.issuer)
    _notify("auto-accept-on" if accept else "auto-accept-off", name=platform.name)
    return _back("console.platform_detail", platform_id=platform.id)


@bp.post("/platforms/<int:platform_id>/deployments")
def deployment_add(platform_id: int) -> Response | tuple[str, int]:
    platform = _platform(platform_id)
    deployment_id = request.form.get("deployment_id", "").strip()
    try:
        _deployment, created = platforms.add_deployment(db_session(), platform, deployment_id)
    except DomainError:
        return _page(
            "console/platform.html",
            422,
            platform=platform,
            notice=None,
            deployment_error=_("Enter a deployment id of 1 to 255 characters."),
            deployment_value=deployment_id,
        )
    log.info("console: %s added deployment %s to %s", _actor(), deployment_id, platform.issuer)
    _notify("deployment-added" if created else "deployment-exists", deployment=deployment_id)
    return _back("console.platform_detail", platform_id=platform.id)


@bp.post("/platforms/<int:platform_id>/deployments/remove")
def deployment_remove(platform_id: int) -> Response | tuple[str, int]:
    platform = _platform(platform_id)
    deployment_id = request.form.get("deployment_id", "")
    if platforms.find_deployment(db_session(), platform, deployment_id) is None:
        abort(404)
    if len(platform.deployments) <= 1:
        return _page(
            "console/platform.html",
            409,
            platform=platform,
            notice=None,
            deployment_error=_("A platform needs at least one deployment: remove the platform instead."),
            deployment_value="",
        )
    platforms.remove_deployment(db_session(), platform, deployment_id)
    log.info("console: %s removed deployment %s of %s", _actor(), deployment_id, platform.issuer)
    _notify("deployment-removed", deployment=deployment_id)
    return _back("console.platform_detail", platform_id=platform.id)


@bp.route("/platforms/<int:platform_id>/remove", methods=["GET", "POST"])
def platform_remove(platform_id: int) -> Response | tuple[str, int]:
    platform = _platform(platform_id)
    error = None
    typed = ""
    if request.method == "POST":
        typed = request.form.get("confirm", "")
        if typed.strip() and typed.strip() in {platform.name, platform.issuer}:
            name = platform.name
            log.warning(
                "console: %s removed platform %s (client %s) and all its data",
                _actor(),
                platform.issuer,
                platform.client_id,
            )
            platforms.remove_platform(db_session(), platform.issuer, platform.client_id)
            _notify("platform-removed", name=name)
            return _back("console.platform_list")
        error = _("Type the platform's name or issuer exactly as shown to remove it.")
    return _page("console/platform_remove.html", 422 if error else 200, platform=platform, error=error, typed=typed)


# --- tool keys -----------------------------------------------------------------------------------


@bp.get("/keys")
def keys() -> tuple[str, int]:
    session = db_session()
    tool_keys.ensure_keys(session)
    return _page(
        "console/keys.html",
        notice=_take_notice(),
        keys=sorted(tool_keys.list_keys(session), key=lambda k: (_KEY_ORDER[k.status], -k.id)),
        grace_days=tool_keys.RETIRED_KEY_GRACE.days,
        now=utcnow(),
        grace=tool_keys.RETIRED_KEY_GRACE,
        jwks_url=external_url("lti.jwks"),
    )


_KEY_ORDER = {KeyStatus.ACTIVE: 0, KeyStatus.NEXT: 1, KeyStatus.RETIRED: 2}


@bp.route("/keys/rotate", methods=["GET", "POST"])
def keys_rotate() -> Response | tuple[str, int]:
    if request.method == "GET":
        return _page("console/keys_rotate.html", grace_days=tool_keys.RETIRED_KEY_GRACE.days)
    active, upcoming = tool_keys.rotate(db_session())
    log.info("console: %s rotated the tool keys: now signing with %s, next %s", _actor(), active, upcoming)
    _notify("keys-rotated", active=active, next=upcoming)
    return _back("console.keys")


# --- LRS delivery --------------------------------------------------------------------------------


@bp.get("/delivery")
def delivery() -> tuple[str, int]:
    settings = get_settings()
    return _page(
        "console/delivery.html",
        report=delivery_health.per_platform(db_session(), settings.lrs_endpoint),
        default_endpoint=settings.lrs_endpoint,
        now=utcnow(),
    )


# --- registration URLs ---------------------------------------------------------------------------


def registration_url(token: str) -> str:
    """The URL an LMS admin pastes into the LMS: ``/lti/register?wom_token=...`` under the base URL."""
    return external_url("lti.register", wom_token=token)


def _token_rows() -> list[dict[str, Any]]:
    session = db_session()
    now = utcnow()
    rows = registration_tokens.listing(session, limit=100)
    names = {}
    ids = {row.platform_id for row in rows if row.platform_id is not None}
    if ids:
        names = dict(session.execute(select(Platform.id, Platform.name).where(Platform.id.in_(ids))).all())
    listed = []
    for row in rows:
        if row.used_at is not None:
            state = "used"
        elif row.expires_at <= now:
            state = "expired"
        else:
            state = "unused"
        listed.append({"row": row, "state": state, "platform_name": names.get(row.platform_id)})
    return listed


@bp.route("/registration", methods=["GET", "POST"])
def registration() -> tuple[str, int]:
    created_url = None
    errors: dict[str, str] = {}
    values = {"expires": "24h", "note": ""}
    status = 200
    if request.method == "POST":
        values = {"expires": request.form.get("expires", ""), "note": request.form.get("note", "").strip()}
        if values["expires"] not in EXPIRIES:
            errors["expires"] = _("Choose when the URL expires.")
        if len(values["note"]) > 255:
            errors["note"] = _("Enter a note of at most 255 characters.")
        if errors:
            status = 422
        else:
            issued = registration_tokens.issue(db_session(), EXPIRIES[values["expires"]], values["note"])
            log.info("console: %s made registration URL %s (expires %s)", _actor(), issued.id, issued.expires_at)
            # Shown once, in this answer only (never stored: the database keeps its digest).
            created_url = registration_url(issued.token)
            values = {"expires": "24h", "note": ""}
            status = 201
    return _page(
        "console/registration.html",
        status,
        notice=_take_notice(),
        created_url=created_url,
        errors=errors,
        values=values,
        tokens=_token_rows(),
        open_registration=get_settings().open_registration,
    )


@bp.post("/registration/<int:token_id>/revoke")
def registration_revoke(token_id: int) -> Response:
    try:
        registration_tokens.revoke(db_session(), token_id)
    except DomainError:
        abort(404)
    log.info("console: %s revoked registration URL %s", _actor(), token_id)
    _notify("token-revoked")
    return _back("console.registration")


# --- launch failures -----------------------------------------------------------------------------


@bp.get("/failures")
def failures() -> tuple[str, int]:
    session = db_session()
    code = request.args.get("code", "").strip()
    if code:
        found = sorted(launch_failures.by_request_id(session, code[:64]), key=lambda f: f.id, reverse=True)
    else:
        found = launch_failures.recent(session, FAILURES_SHOWN)
    return _page(
        "console/failures.html",
        failures=found,
        code=code,
        shown=FAILURES_SHOWN,
        kept=get_settings().launch_failures_kept,
        total=launch_failures.count(session),
    )


def init_app(app: Any) -> None:
    """Register the console and limit sign-in attempts per client address."""
    app.register_blueprint(bp)
    limiter = app.extensions["wordofmouth.limiter"]
    view = app.view_functions["console.sign_in"]
    app.view_functions["console.sign_in"] = limiter.limit(
        SIGN_IN_LIMIT, methods=["POST"], scope="console-sign-in", override_defaults=False
    )(view)
