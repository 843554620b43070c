"""``GET /lti/register``: LTI Dynamic Registration 1.0 (https://www.imsglobal.org/spec/lti-dr/v1p0).

The protocol and the checks are in ``lti/registration.py``; this view holds the one-time token
rule and the transaction. Refusals are :class:`lti.errors.LaunchError` s, answered (and recorded)
by the blueprint's ``launch_refused`` handler like any refused launch.
"""

from __future__ import annotations

import logging

from flask import Response, current_app, render_template, request

from lti.errors import NEW_REGISTRATION_URL
from lti.fetching import BoundedClient
from lti.registration import (
    HOSTED_CANVAS,
    NEW_URL_HINT,
    TOKEN_PARAMETER,
    PlatformConfiguration,
    RegistrationError,
    ToolUrls,
    fetch_configuration,
    post_registration,
    shown,
    tool_registration,
)
from lti.views import bp
from plugin import framing
from plugin.errors import DomainError
from plugin.services import dynamic_registrations, platform_origins, platforms, registration_tokens
from plugin.web import CONTENT_SECURITY_POLICY, db_session, external_url, get_settings

log = logging.getLogger("wordofmouth.lti")
HOSTED_CANVAS_EXTENSION = "wordofmouth.hosted_canvas"  # tests point it at their own loopback "Canvas"


def _check_token(token: str) -> None:
    """An operator's unused, unexpired token, unless ``WOM_OPEN_REGISTRATION`` is on."""
    if token:
        try:
            registration_tokens.check(db_session(), token)
        except registration_tokens.TokenRefusedError as exc:
            raise RegistrationError(str(exc), NEW_URL_HINT, status=403, advice=NEW_REGISTRATION_URL) from exc
    elif not get_settings(current_app).open_registration:
        raise RegistrationError(
            "this registration URL carries no Word of Mouth registration token (wom_token), "
            "and open registration is off",
            NEW_URL_HINT + " (Or set WOM_OPEN_REGISTRATION=1 to let any LMS register: not advised.)",
            status=403,
            advice=NEW_REGISTRATION_URL,
        )


@bp.get("/lti/register")
def register() -> Response:
    """Register with the LMS that opened this page (§3.3), then tell it to close the dialog (§3.6.1)."""
    settings = get_settings(current_app)
    token = (request.args.get(TOKEN_PARAMETER) or "").strip()
    configuration_url = (request.args.get("openid_configuration") or "").strip()
    registration_token = (request.args.get("registration_token") or "").strip() or None
    _check_token(token)  # before anything is fetched: strangers cannot make us call URLs of their choice
    if not configuration_url:
        raise RegistrationError(
            "the registration request lacks openid_configuration",
            "Paste the registration URL into the LMS (Moodle: Manage tools > Tool URL > Add LTI Advantage; "
            "Canvas: Developer Keys > + LTI Registration); opening it in a browser does nothing.",
        )
    client = BoundedClient(https_only=settings.is_production)
    configuration = fetch_configuration(
        client,
        configuration_url,
        registration_token,
        hosted_canvas=current_app.extensions.get(HOSTED_CANVAS_EXTENSION, HOSTED_CANVAS),
    )
    urls = ToolUrls(
        login=external_url("lti.login"),
        launch=external_url("lti.launch"),
        jwks=external_url("lti.jwks"),
        logo=external_url("lti.static", filename="logo.svg"),
    )
    registered = post_registration(client, configuration, tool_registration(urls, configuration), registration_token)
    session = db_session()
    existing = platforms.find_platform(session, configuration.issuer, registered.client_id)
    if existing is not None and not configuration.from_issuer_origin:
        # Whoever serves a hosted Canvas issuer's configuration from another origin may name any
        # client id in its answer: it registers new clients, it does not change existing ones.
        raise RegistrationError(
            f"client id {registered.client_id} of {configuration.issuer} is already registered, and this "
            f"configuration is not served from the issuer's origin ({shown(configuration_url)}): not changed",
            "Canvas gives every registration a new client id; if this one is meant to replace the old, remove "
            f"the old one first (`wordofmouth platform remove {configuration.issuer} --client-id "
            f"{registered.client_id}`).",
            status=409,
        ).about(issuer=configuration.issuer, client_id=registered.client_id)
    spec = platforms.PlatformSpec(
        issuer=configuration.issuer,
        client_id=registered.client_id,
        auth_login_url=configuration.authorization_endpoint,
        auth_token_url=configuration.token_endpoint,
        key_set_url=configuration.jwks_uri,
        deployment_ids=(),
        name=configuration.display_name(),
    )
    platform, created = dynamic_registrations.store(
        session,
        spec,
        deployment_id=registered.deployment_id,
        page_origin=configuration.page_origin,
        course_url_template=dynamic_registrations.MOODLE_COURSE_URL if configuration.product == "moodle" else None,
    )
    if token:
        try:
            registration_tokens.consume(session, token, platform.id)
        except registration_tokens.TokenRefusedError as exc:
            raise RegistrationError(str(exc), NEW_URL_HINT, status=409, advice=NEW_REGISTRATION_URL).about(
                issuer=platform.issuer, client_id=platform.client_id
            ) from exc
    log.info(
        "dynamic registration %s: issuer=%s client_id=%s deployment_id=%s product=%s token=%s",
        "added" if created else "updated",
        platform.issuer,
        platform.client_id,
        registered.deployment_id or "(none: first launch adds it)",
        configuration.product or "?",
        "yes" if token else "open registration",
    )
    framing.invalidate()
    page = render_template(
        "lti/registered.html",
        platform_name=platform.name,
        issuer=platform.issuer,
        client_id=platform.client_id,
        deployment_id=registered.deployment_id,
        product=configuration.product,
        group_parameter=settings.group_parameter,
    )
    response = Response(page, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    # Only the LMS that runs the registration frames this page, not everyone (plugin/framing.py
    # leaves a response that names frame-ancestors alone).
    ancestors = " ".join(["'self'", *_registering_origins(configuration, platform.issuer)])
    response.headers["Content-Security-Policy"] = f"{CONTENT_SECURITY_POLICY}; frame-ancestors {ancestors}"
    return response


def _registering_origins(configuration: PlatformConfiguration, issuer: str) -> list[str]:
    """The origins of the LMS that runs the registration: its configuration URL's and its issuer's.

    Canvas also: the page that sent the admin here (the ``Referer``). Its registration dialog is on
    the school's own domain, which its configuration does not name (that is on the issuer's host,
    ``canvas.instructure.com``). This opens the one closing page of a registration the operator's
    token allowed to one more origin; the page holds nothing but ids and the close message.
    """
    origins = {configuration.page_origin}
    if own := platform_origins.issuer_origin(issuer):
        origins.add(own)
    if configuration.product == "canvas" and request.referrer:
        try:
            referrer = platform_origins.origin_of(request.referrer)
        except DomainError:
            referrer = None
        if referrer and (referrer.startswith("https://") or not get_settings(current_app).is_production):
            origins.add(referrer)
    return sorted(origins)
