"""LTI endpoints: OIDC login, launch, key set, deep linking response.

Where state lives and what binds a launch to the browser is explained in ``docs/lti.md``.
"""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, g, jsonify, redirect, render_template, request, url_for
from flask.blueprints import BlueprintSetupState
from flask_babel import gettext

from lti.context import LaunchContext
from lti.deep_linking import WIDGET_SETTINGS, ResponseDeepLink, parse_choices, resource_for
from lti.errors import ASK_INSTRUCTOR, FROM_COURSE, NOT_ALLOWED, LaunchError
from lti.keysets import PlatformKeySets
from lti.launch import to_launch_record
from lti.refusals import record_refusal
from lti.schemas import check_login
from lti.tokens import (
    WidgetGrant,
    issue_deep_linking_token,
    issue_widget_token,
    read_deep_linking_token,
    use_deep_linking_token,
)
from lti.tool_config import DatabaseToolConf
from lti.validation import (
    LaunchRequest,
    check_deployment,
    check_return_url,
    check_target,
    login_registration,
    validate_launch,
)
from plugin.errors import ForbiddenError
from plugin.framing import learn_launch_origin, serve_platform
from plugin.problems import problem, wants_json
from plugin.services import launches, login_states, platforms, tool_keys
from plugin.services.launches import WIDGET_KINDS, WIDGET_TITLES
from plugin.web import db_session, external_url, get_settings

log = logging.getLogger("wordofmouth.lti")
bp = Blueprint("lti", __name__, template_folder="templates", static_folder="static", static_url_path="/lti/static")
BINDING_COOKIE_PREFIX = "wom_lti_"


def binding_cookie_path() -> str:
    """``/lti`` under the app's root: sent with logins (which expire old ones) and launches (which read one)."""
    return url_for("lti.launch").rsplit("/", 1)[0]


def key_sets() -> PlatformKeySets:
    return current_app.extensions["wordofmouth.key_sets"]


@bp.errorhandler(LaunchError)
def launch_refused(exc: LaunchError) -> tuple[str, int] | Response:
    # The admin's fix (``hint``, often a command) goes to this log line, never to the learner's page.
    log.warning(
        "LTI %s refused: %s [%s] fix: %s",
        request.endpoint,
        exc.detail,
        " ".join(f"{k}={v}" for k, v in sorted(exc.context.items())) or "no registration",
        exc.hint or "see docs/lti.md",
    )
    record_refusal(exc.status, exc.detail, exc.hint, exc.context)  # for the console, under the page's code
    if wants_json():  # a program, not a person: RFC 9457 problem details, the reason in English
        return problem(exc.status, gettext(exc.title), exc.detail, advice=gettext(exc.advice))
    return (
        render_template(
            "lti/refused.html",
            title=exc.title,
            detail=exc.detail,
            advice=exc.advice,
            status=exc.status,
            request_id=g.get("request_id"),
        ),
        exc.status,
    )


# Refusals of the placement form that are not LaunchErrors, and what the operator can do about them.
FORM_REFUSAL_HINTS = {
    "This LMS registration was removed while the placement form was open.": (
        "The platform or its deployment was removed (or replaced) while an instructor had the placement form "
        "open; if that was a mistake, register it again and let the instructor add the tool again."
    ),
    "This placement form was not issued by Word of Mouth for this launch.": (
        "The placement form was posted without a valid form token: a page kept open across a key or secret "
        "change, or a request not made by the tool's own form."
    ),
}


@bp.errorhandler(ForbiddenError)
def form_refused(exc: ForbiddenError) -> Response:
    """As the app answers any ForbiddenError, and kept for the console like a refused launch."""
    log.info("%s %s -> %s: %s", request.method, request.path, exc.status, exc.detail)
    record_refusal(exc.status, exc.detail, FORM_REFUSAL_HINTS.get(exc.detail, ""))
    return problem(exc.status, exc.title, gettext(exc.detail))


@bp.route("/lti/login", methods=["GET", "POST"])
def login() -> Response:
    """OIDC third-party initiated login (https://www.imsglobal.org/spec/security/v1p0/#step-1-third-party-initiated-login)."""
    params = request.values
    check_login(params)  # sizes first: anyone can send these
    issuer = (params.get("iss") or "").strip()
    login_hint = params.get("login_hint")
    target_link_uri = (params.get("target_link_uri") or "").strip()
    missing = [
        n for n, v in (("iss", issuer), ("login_hint", login_hint), ("target_link_uri", target_link_uri)) if not v
    ]
    if missing:
        raise LaunchError(
            f"the login request lacks {', '.join(missing)}",
            "This address is for the LMS to start a launch; open the tool from a course instead.",
            advice=FROM_COURSE,
        )
    client_id = (params.get("client_id") or "").strip() or None
    session = db_session()
    platform = login_registration(session, issuer, client_id)
    base_url = get_settings(current_app).base_url
    try:
        check_target(target_link_uri, base_url)
    except LaunchError as exc:
        raise exc.about(issuer=issuer, client_id=platform.client_id) from None
    deployment_id = params.get("lti_deployment_id")
    if deployment_id:
        check_deployment(session, platform, deployment_id, signed=False)
    login_states.purge_expired(session)
    issued = login_states.issue_login(session, platform.id, target_link_uri)
    query = {
        "scope": "openid",
        "response_type": "id_token",
        "response_mode": "form_post",
        "prompt": "none",
        "client_id": platform.client_id,
        "redirect_uri": external_url("lti.launch"),
        "login_hint": login_hint,
        "state": issued.state,
        "nonce": issued.nonce,
    }
    if params.get("lti_message_hint"):
        query["lti_message_hint"] = params["lti_message_hint"]
    separator = "&" if "?" in platform.auth_login_url else "?"
    response = redirect(f"{platform.auth_login_url}{separator}{urlencode(query)}", code=302)
    # A browser keeps the cookies of its newest pending logins only (login_states.LOGIN_COOKIES_KEPT),
    # so unused logins cannot grow every later request's Cookie header past the server's limit.
    prefix = BINDING_COOKIE_PREFIX
    held = [name.removeprefix(prefix) for name in request.cookies if name.startswith(prefix)]
    for stale in login_states.stale_bindings(session, held, keep=login_states.LOGIN_COOKIES_KEPT - 1):
        response.delete_cookie(
            BINDING_COOKIE_PREFIX + stale, path=binding_cookie_path(), secure=True, samesite="None", partitioned=True
        )
    response.set_cookie(
        BINDING_COOKIE_PREFIX + issued.state,
        issued.binding,
        max_age=int(login_states.LOGIN_STATE_LIFETIME.total_seconds()),
        path=binding_cookie_path(),
        secure=True,
        httponly=True,
        samesite="None",
        partitioned=True,
    )
    return response


@bp.record_once  # after login's route: the view registered by it is the one wrapped here
def _limit_logins(state: BlueprintSetupState) -> None:
    """Each login writes a row kept ~20 minutes: logins per client address are limited on their own
    (``WOM_RATE_LIMIT_LOGIN``), on top of the ``/lti/*`` limit. Counted per process unless
    ``WOM_RATE_LIMIT_STORAGE_URL`` names a shared store (Redis: the production setting)."""
    settings = get_settings(state.app)
    if settings.rate_limit_login != "off":
        limit = state.app.extensions["wordofmouth.limiter"].limit(
            settings.rate_limit_login, override_defaults=False, scope="lti-login"
        )
        state.app.view_functions["lti.login"] = limit(state.app.view_functions["lti.login"])
    if settings.is_production and settings.rate_limit_storage_url.startswith("memory://"):
        log.warning(
            "rate limits are counted per process (WOM_RATE_LIMIT_STORAGE_URL=memory://): with N workers an address "
            "gets N times its limit; set WOM_RATE_LIMIT_STORAGE_URL=redis://host:6379 in production"
        )


@bp.post("/lti/launch")
def launch() -> Response | str:
    state = request.form.get("state")
    cookie = request.cookies.get(BINDING_COOKIE_PREFIX + state) if state else None
    session = db_session()
    ctx = validate_launch(
        session,
        LaunchRequest(id_token=request.form.get("id_token"), state=state, binding_cookie=cookie),
        key_sets=key_sets(),
        base_url=get_settings(current_app).base_url,
        require_https=get_settings(current_app).is_production,
    )
    learn_launch_origin(ctx.platform_id, ctx.return_url)
    log.info(
        "LTI %s accepted: issuer=%s client_id=%s deployment_id=%s browser_bound=%s",
        ctx.message_type,
        ctx.issuer,
        ctx.client_id,
        ctx.deployment_id,
        ctx.browser_bound,
    )
    page = _deep_linking_picker(ctx) if ctx.is_deep_linking else _resource_launch(ctx)
    response = page if isinstance(page, Response) else Response(page, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"  # the page holds a bearer token
    if state:
        response.delete_cookie(
            BINDING_COOKIE_PREFIX + state, path=binding_cookie_path(), secure=True, samesite="None", partitioned=True
        )
    return response


def _resource_launch(ctx: LaunchContext) -> str:
    settings = get_settings(current_app)
    g.locale = ctx.locale
    recorded = launches.record_launch(db_session(), to_launch_record(ctx, settings.group_parameter))
    placement = recorded.placement
    grant = WidgetGrant(
        platform_id=ctx.platform_id,
        deployment_id=ctx.deployment_id,
        learner_id=recorded.learner.id,
        item_id=recorded.item.id,
        placement_id=placement.id if placement else None,
        roles=ctx.roles,
        staff=ctx.is_staff,
        locale=ctx.locale,
    )
    return render_template(
        "lti/launched.html",
        token=issue_widget_token(grant),
        window_url=external_url("lti.app_window"),
        learner=recorded.learner,
        item=recorded.item,
        kinds=launches.page_widgets(placement.widget_kinds if placement else (), ctx.is_staff),
        staff=ctx.is_staff,
    )


def _deep_linking_picker(ctx: LaunchContext, error: str | None = None) -> tuple[str, int] | str:
    if not ctx.is_staff:
        raise LaunchError(
            "only instructors and administrators can place Word of Mouth widgets",
            "Ask an instructor of this course to add the widgets.",
            status=403,
            title=NOT_ALLOWED,
            advice=ASK_INSTRUCTOR,
        ).about(issuer=ctx.issuer, client_id=ctx.client_id, deployment_id=ctx.deployment_id)
    dl = ctx.deep_linking_settings or {}
    accept_multiple = str(dl.get("accept_multiple", "true")).lower() != "false"
    token = issue_deep_linking_token(
        {
            "platform_id": ctx.platform_id,
            "issuer": ctx.issuer,
            "client_id": ctx.client_id,
            "deployment_id": ctx.deployment_id,
            "settings": dl,
            "context_id": ctx.context_id,
            "context_title": ctx.context_title,
            "context_label": ctx.context_label,
        }
    )
    return _render_picker(token, accept_multiple, ctx.context_title, error)


def _render_picker(token: str, accept_multiple: bool, course: str | None, error: str | None = None) -> str:
    return render_template(
        "lti/picker.html",
        token=token,
        kinds=WIDGET_KINDS,
        titles=WIDGET_TITLES,
        widget_settings=WIDGET_SETTINGS,
        accept_multiple=accept_multiple,
        course=course,
        error=error,
    )


@bp.post("/lti/deep-linking/respond")
def deep_linking_respond() -> tuple[str, int] | str:
    """The picker's submit: make placements and post the signed response back to the LMS."""
    token = request.form.get("dl_token")
    if not token:
        raise ForbiddenError("This placement form was not issued by Word of Mouth for this launch.")
    data = read_deep_linking_token(token)
    session = db_session()
    # Check before any write: a registration removed while the form was open has no rows to
    # hang placements on (a foreign-key error, a 500), and its token must not make any.
    platform = platforms.find_platform(session, data["issuer"], data["client_id"])
    if (
        platform is None
        or platform.id != data["platform_id"]
        or platforms.find_deployment(session, platform, data["deployment_id"]) is None
    ):
        raise ForbiddenError("This LMS registration was removed while the placement form was open.")
    serve_platform(data["platform_id"])
    dl_settings = data["settings"]
    return_url = check_return_url(
        dl_settings.get("deep_link_return_url"), require_https=get_settings(current_app).is_production
    )
    accept_multiple = str(dl_settings.get("accept_multiple", "true")).lower() != "false"
    try:
        choices = parse_choices(request.form, accept_multiple)
    except ValueError as exc:
        return _render_picker(token, accept_multiple, data.get("context_title"), str(exc)), 422
    use_deep_linking_token(session, data)  # single use: the same form posted again answers 409
    item = None
    if data.get("context_id"):
        item = launches.upsert_item(
            session,
            data["platform_id"],
            context_id=data["context_id"],
            title=data.get("context_title") or "",
            label=data.get("context_label") or "",
        )
    placements = launches.create_placements(
        session, data["platform_id"], item, [(c.title, c.kinds, c.settings) for c in choices]
    )
    registration = DatabaseToolConf(session).find_registration_by_params(data["issuer"], data["client_id"])
    if registration is None:
        raise ForbiddenError("This LMS registration was removed while the placement form was open.")
    launch_url = external_url("lti.launch")
    deep_link = ResponseDeepLink(registration, data["deployment_id"], dl_settings)
    jwt_value = deep_link.get_response_jwt([resource_for(p, launch_url) for p in placements])
    log.info("deep linking response: %d placement(s) for %s", len(placements), data["issuer"])
    return render_template(
        "lti/deep_linking_return.html",
        return_url=return_url,
        jwt=jwt_value,
        titles=[p.title for p in placements],
    )


@bp.get("/lti/jwks")
def jwks() -> Response:
    response = jsonify(tool_keys.public_jwks(db_session()))
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


@bp.get("/lti/app")
def app_window() -> str:
    """The launched page in a window of its own; the token travels in the URL fragment."""
    return render_template("lti/app_window.html")


@bp.get("/lti/launch")
def launch_address() -> Response:
    """Someone opened the launch URL in a browser (the home page lists it): say what it is for."""
    response = problem(
        405,
        "This is the LTI launch address",
        "Your LMS sends people here itself, with a signed launch, when they open Word of Mouth from a course; "
        "opening it directly does nothing. Give it to your LMS as the tool's redirect URI and target link URI, "
        "then open Word of Mouth from a course page.",
    )
    response.headers["Allow"] = "POST"
    return response


@bp.get("/lti/config/canvas.json")
def canvas_config() -> Response:
    """Canvas's developer key JSON (Developer Keys → + LTI Key → Paste JSON or Enter URL); see lti/canvas_config.py."""
    from lti.canvas_config import ToolUrls, canvas_configuration

    urls = ToolUrls(
        login=external_url("lti.login"),
        launch=external_url("lti.launch"),
        jwks=external_url("lti.jwks"),
        icon=external_url("lti.static", filename="logo.svg"),
    )
    response = jsonify(canvas_configuration(urls))
    response.headers["Cache-Control"] = "public, max-age=300"
    return response
