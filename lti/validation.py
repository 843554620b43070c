"""Launch validation: every check an LTI 1.3 launch must pass, each with a specific reason.

Spec: https://www.imsglobal.org/spec/security/v1p0/#authentication-response-validation and
https://www.imsglobal.org/spec/lti/v1p3/#required-message-claims.

pylti1p3 leaves several of these to the tool (it never consumes nonces, does not check ``azp``,
``iat`` or ``target_link_uri``, and takes ``alg`` from the key), so the token checks are ours,
made with PyJWT; pylti1p3's message validators check the claims each message type requires.
The login state is consumed last, so a forged launch cannot burn a real one.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import jwt
from jwt.algorithms import RSAAlgorithm
from pylti1p3.exception import LtiException
from pylti1p3.message_validators import get_validators
from sqlalchemy.orm import Session

from lti import claims
from lti.context import LaunchContext
from lti.errors import FROM_COURSE, NOT_COMPLETED, RELOAD, LaunchError
from lti.keysets import KeySetError, PlatformKeySets
from lti.schemas import check_launch_claims, check_no_nul
from plugin.errors import DomainError
from plugin.models import Platform
from plugin.services import launches, login_states, platforms

log = logging.getLogger("wordofmouth.lti")
MAX_URL_LENGTH = 2048
_CONTROL = re.compile(r"[\x00-\x20\x7f]")
LEEWAY_SECONDS = 60  # Moodle sets exp only 60 s after iat: allow a minute of clock skew, no more.
ALGORITHM = "RS256"


@dataclass(frozen=True)
class LaunchRequest:
    id_token: str | None
    state: str | None
    binding_cookie: str | None  # value of the login's partitioned cookie, when the browser sent it


def unknown_issuer(issuer: str) -> LaunchError:
    return LaunchError(
        f"unknown issuer {issuer}",
        f"Register it with `wordofmouth platform add --issuer {issuer} --client-id ... --deployment-id ... "
        "--auth-login-url ... --auth-token-url ... --keyset-url ...` (see `wordofmouth urls`).",
        status=403,
    ).about(issuer=issuer)


def unregistered_client(issuer: str, client_id: str) -> LaunchError:
    return LaunchError(
        f"client id {client_id!r} is not registered for issuer {issuer}",
        "Register this client id with `wordofmouth platform add`. On Moodle, an activity that still "
        "carries an LTI 1.1 consumer key sends that key instead of the client id: clear it in the "
        "activity settings.",
        status=403,
    ).about(issuer=issuer, client_id=client_id)


def unregistered_deployment(platform: Platform, deployment_id: str) -> LaunchError:
    return LaunchError(
        f"deployment {deployment_id!r} is not registered for {platform.issuer} (client {platform.client_id})",
        f"Add it: `wordofmouth platform add-deployment {platform.issuer} --client-id {platform.client_id} "
        f"{deployment_id}` (or in the console, /admin); `wordofmouth platform set {platform.issuer} --client-id "
        f"{platform.client_id} --auto-accept-deployments` accepts every new deployment of this registration.",
        status=403,
    ).about(issuer=platform.issuer, client_id=platform.client_id, deployment_id=deployment_id)


def disabled_platform(platform: Platform) -> LaunchError:
    return LaunchError(
        f"the registration of {platform.issuer} (client {platform.client_id}) is disabled",
        f"Enable it in the console (/admin) or with `wordofmouth platform enable {platform.issuer} "
        f"--client-id {platform.client_id}`.",
        status=403,
    ).about(issuer=platform.issuer, client_id=platform.client_id)


def check_deployment(session: Session, platform: Platform, deployment_id: str, *, signed: bool) -> None:
    """A known deployment passes. An unknown one is added when the registration auto-accepts
    deployments and the launch is ``signed`` (verified), passes unsigned (a login: its launch decides),
    and is refused otherwise."""
    if platforms.find_deployment(session, platform, deployment_id) is not None:
        return
    if not platform.auto_accept_deployments:
        raise unregistered_deployment(platform, deployment_id)
    if signed:
        try:
            platforms.add_deployment(session, platform, deployment_id)
        except DomainError as exc:
            raise LaunchError(f"deployment {deployment_id!r} cannot be added: {exc.detail}", status=403).about(
                issuer=platform.issuer, client_id=platform.client_id
            ) from exc
        log.info(
            "deployment %r added to %s (client %s): the registration auto-accepts deployments",
            deployment_id,
            platform.issuer,
            platform.client_id,
        )


def login_registration(session: Session, issuer: str, client_id: str | None) -> Platform:
    """The registration a login names; without a client id, the issuer's only one."""
    known = platforms.platforms_of_issuer(session, issuer)
    if not known:
        raise unknown_issuer(issuer)
    if client_id:
        found = next((p for p in known if p.client_id == client_id), None)
        if found is None:
            raise unregistered_client(issuer, client_id)
    elif len(known) > 1:
        raise LaunchError(
            f"issuer {issuer} has several registrations and the login did not say which (no client_id)",
            "Configure the LMS to send client_id with the login request.",
        ).about(issuer=issuer)
    else:
        found = known[0]
    if not found.enabled:
        raise disabled_platform(found)
    return found


def _unverified(id_token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    try:
        header = jwt.get_unverified_header(id_token)
        body = jwt.decode(id_token, options={"verify_signature": False})
    except jwt.InvalidTokenError as exc:
        raise LaunchError("the id_token is not a readable JWT", "The LMS must post a signed id_token.") from exc
    if not isinstance(body, dict):
        raise LaunchError("the id_token body is not a JSON object")
    return header, body


def _check_header(header: dict[str, Any]) -> str:
    alg = header.get("alg")
    if alg != ALGORITHM:
        raise LaunchError(
            f"the id_token is signed with {alg!r}; only RS256 is accepted",
            "LTI 1.3 requires RS256 signatures from the platform's own key.",
            status=401,
        )
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise LaunchError("the id_token header names no key (kid)", status=401)
    return kid


def _audiences(body: dict[str, Any]) -> list[str]:
    aud = body.get("aud")
    if isinstance(aud, str):
        return [aud]
    if isinstance(aud, list) and aud and all(isinstance(a, str) for a in aud):
        return aud
    raise LaunchError("the id_token has no valid audience (aud)")


def find_registration(session: Session, body: dict[str, Any]) -> Platform:
    """The registration this token is for: issuer registered, our client id in ``aud``, ``azp`` ours."""
    issuer = body.get("iss")
    if not isinstance(issuer, str) or not issuer:
        raise LaunchError("the id_token has no issuer (iss)")
    candidates = platforms.platforms_of_issuer(session, issuer)
    if not candidates:
        raise unknown_issuer(issuer)
    audiences = _audiences(body)
    azp = body.get("azp")
    registered = {p.client_id: p for p in candidates}
    if len(audiences) > 1 and azp is None:
        raise LaunchError("the id_token has several audiences but no authorized party (azp)", status=401).about(
            issuer=issuer
        )
    if azp is not None:
        if azp not in audiences or azp not in registered:
            raise LaunchError(
                f"the authorized party (azp) {azp!r} is not our client id for {issuer}", status=401
            ).about(issuer=issuer, client_id=str(azp))
        return registered[azp]
    client_id = audiences[0]
    if client_id not in registered:
        raise unregistered_client(issuer, client_id)
    return registered[client_id]


def _verify_signature(id_token: str, kid: str, platform: Platform, key_sets: PlatformKeySets) -> dict[str, Any]:
    context = {"issuer": platform.issuer, "client_id": platform.client_id}
    try:
        jwk = key_sets.key(platform.key_set_url, kid)
    except KeySetError as exc:
        raise LaunchError(
            str(exc),
            "Check the key set URL registered for this platform (`wordofmouth platform list`).",
            status=400,
        ).about(**context) from exc
    if jwk is None:
        raise LaunchError(
            f"the platform's key set has no key {kid!r}", "The platform may have rotated keys; try again.", status=401
        ).about(**context)
    if jwk.get("kty") != "RSA" or jwk.get("alg", ALGORITHM) != ALGORITHM:
        raise LaunchError(f"the platform key {kid!r} is not an RS256 key", status=401).about(**context)
    try:
        public_key = RSAAlgorithm.from_jwk(jwk)
        return jwt.decode(
            id_token,
            key=public_key,  # type: ignore[arg-type]
            algorithms=[ALGORITHM],
            audience=platform.client_id,
            issuer=platform.issuer,
            leeway=LEEWAY_SECONDS,
            options={"require": ["exp", "iat", "iss", "aud", "nonce"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise LaunchError(
            "the id_token has expired",
            "Start the launch again; if it keeps happening, check the LMS server's clock.",
            status=401,
            advice=RELOAD,
        ).about(**context) from exc
    except jwt.ImmatureSignatureError as exc:
        raise LaunchError(
            "the id_token was issued in the future (iat)", "Check the LMS server's clock.", status=401
        ).about(**context) from exc
    except jwt.MissingRequiredClaimError as exc:
        raise LaunchError(f"the id_token lacks the required claim {exc.claim!r}", status=401).about(**context) from exc
    except jwt.InvalidSignatureError as exc:
        raise LaunchError("the id_token's signature does not verify", status=401).about(**context) from exc
    except jwt.InvalidTokenError as exc:
        raise LaunchError(f"the id_token is invalid: {exc}", status=401).about(**context) from exc


def check_return_url(value: Any, *, require_https: bool) -> str:
    """A deep linking ``deep_link_return_url`` we may post to: an absolute http(s) URL (https in production).

    It becomes a form's ``action``, so ``javascript:``, ``data:`` and the like never get that far.
    """
    allowed = ("https",) if require_https else ("http", "https")
    url = value.strip() if isinstance(value, str) else ""
    parts = urlsplit(url) if url and len(url) <= MAX_URL_LENGTH else None
    if parts is None or parts.scheme not in allowed or not parts.netloc or _CONTROL.search(url):
        raise LaunchError(
            f"the deep_link_return_url is not an absolute {' or '.join(allowed)} URL",
            "The LMS sent a deep linking request Word of Mouth cannot answer: tell your LMS administrator.",
        )
    return url


def _check_message(body: dict[str, Any], base_url: str, require_https: bool = False) -> None:
    version = body.get(claims.VERSION)
    if version != "1.3.0":
        raise LaunchError(f"LTI version {version!r} is not supported; this tool speaks LTI 1.3.0")
    message_type = body.get(claims.MESSAGE_TYPE)
    if message_type not in claims.SUPPORTED_MESSAGE_TYPES:
        raise LaunchError(
            f"message type {message_type!r} is not supported",
            "Word of Mouth accepts resource link launches and deep linking requests.",
        )
    if message_type == claims.DEEP_LINKING_REQUEST:
        settings = body.get(claims.DEEP_LINKING_SETTINGS)
        if settings is None:
            raise LaunchError("the launch is incomplete: Missing Deep Linking Settings")
        if not isinstance(settings, dict):
            raise LaunchError("the deep linking settings claim is not a JSON object")
        if not settings.get("deep_link_return_url"):
            raise LaunchError("the deep linking request has no deep_link_return_url")
        check_return_url(settings["deep_link_return_url"], require_https=require_https)
    check_launch_claims(body)  # types and sizes first: pylti1p3's validators assume the shapes
    for validator in get_validators():
        if validator.can_validate(body):
            try:
                validator.validate(body)
            except LtiException as exc:
                raise LaunchError(f"the launch is incomplete: {exc}") from exc
    if not isinstance(body.get("sub"), str) or not body["sub"]:
        raise LaunchError("the launch names no user (sub)", "Anonymous launches are not supported.")
    if message_type == claims.RESOURCE_LINK_REQUEST:
        context = body.get(claims.CONTEXT)
        if not isinstance(context, dict) or not context.get("id"):
            raise LaunchError(
                "the launch has no course context",
                "Place Word of Mouth inside a course: it needs to know which course the learner took.",
            )
    target = body.get(claims.TARGET_LINK_URI)
    if message_type == claims.RESOURCE_LINK_REQUEST and not target:
        raise LaunchError("the launch has no target_link_uri")
    if target is not None:
        check_target(str(target), base_url)


def check_target(target_link_uri: str, base_url: str) -> None:
    """The launch must aim at this tool: its URL starts with ``WOM_BASE_URL``."""
    own = target_link_uri == base_url or target_link_uri.startswith((base_url + "/", base_url + "?"))
    if not own:
        raise LaunchError(
            f"the target_link_uri {target_link_uri} is not on this tool ({base_url})",
            "The tool URL registered in the LMS must start with WOM_BASE_URL.",
        )


def _roles(body: dict[str, Any]) -> tuple[str, ...]:
    roles = body.get(claims.ROLES) or []
    if not isinstance(roles, list):
        raise LaunchError("the roles claim is not a list")
    return tuple(str(r) for r in roles)


def _text(mapping: Any, key: str, limit: int = 1024) -> str:
    """A display text, cut to the column that keeps it (the schema already refused non-strings)."""
    value = mapping.get(key) if isinstance(mapping, dict) else None
    return str(value)[:limit] if value is not None else ""


def _name(body: dict[str, Any]) -> str:
    name = body.get("name") or " ".join(filter(None, [body.get("given_name"), body.get("family_name")]))
    return str(name).strip()[:255]


def _optional(value: Any, limit: int) -> str | None:
    """A value kept only when it fits its column: an over-long email or locale is no email or locale."""
    text = str(value).strip() if value else ""
    return text if text and len(text) <= limit else None


def validate_launch(
    session: Session,
    request: LaunchRequest,
    *,
    key_sets: PlatformKeySets,
    base_url: str,
    require_https: bool = False,
) -> LaunchContext:
    """Check a posted launch end to end and consume its login state; raise :class:`LaunchError`."""
    if not request.id_token:
        raise LaunchError(
            "the launch carries no id_token",
            "Launches must be form posts from the LMS, not visits to this address.",
            advice=FROM_COURSE,
        )
    if not request.state:
        raise LaunchError(
            "the launch carries no state", "Launches must start with a login at this tool.", advice=FROM_COURSE
        )
    check_no_nul([request.id_token, request.state, request.binding_cookie], "launch request")
    header, unverified = _unverified(request.id_token)
    check_no_nul([header, unverified], "id_token")
    kid = _check_header(header)
    platform = find_registration(session, unverified)
    if not platform.enabled:
        raise disabled_platform(platform)
    body = _verify_signature(request.id_token, kid, platform, key_sets)
    deployment_id = body.get(claims.DEPLOYMENT_ID)
    context = {"issuer": platform.issuer, "client_id": platform.client_id, "deployment_id": str(deployment_id)}
    if not isinstance(deployment_id, str) or not deployment_id:
        raise LaunchError("the launch has no deployment id").about(**context)
    check_deployment(session, platform, deployment_id, signed=True)
    try:
        _check_message(body, base_url, require_https)
    except LaunchError as exc:
        raise exc.about(**context) from None
    try:
        bound = login_states.consume_login(
            session,
            platform_id=platform.id,
            state=request.state,
            nonce=str(body["nonce"]),
            binding=request.binding_cookie,
        )
    except login_states.StateRefusedError as exc:
        raise LaunchError(
            str(exc),
            "The learner's launch expired or its login state was used already; a reload starts a new one.",
            status=401,
            title=NOT_COMPLETED,
            advice=RELOAD,
        ).about(**context) from exc

    ctx = body.get(claims.CONTEXT) or {}
    link = body.get(claims.RESOURCE_LINK) or {}
    custom = body.get(claims.CUSTOM) or {}
    presentation = body.get(claims.LAUNCH_PRESENTATION) or {}
    names_roles = body.get(claims.NAMES_ROLES) or {}
    return LaunchContext(
        platform_id=platform.id,
        issuer=platform.issuer,
        client_id=platform.client_id,
        deployment_id=deployment_id,
        message_type=body[claims.MESSAGE_TYPE],
        sub=body["sub"],
        roles=_roles(body),
        name=_name(body),
        email=_optional(body.get("email"), 320),
        locale=_optional(_text(presentation, "locale") or body.get("locale"), 35),
        context_id=_text(ctx, "id") or None,
        context_title=_text(ctx, "title"),
        context_label=_text(ctx, "label", 255),
        resource_link_id=_text(link, "id") or None,
        resource_link_title=_text(link, "title"),
        custom={str(k): str(v) for k, v in custom.items() if v is not None} if isinstance(custom, dict) else {},
        deep_linking_settings=body.get(claims.DEEP_LINKING_SETTINGS),
        return_url=_text(presentation, "return_url") or None,
        memberships_url=launches.http_url(_text(names_roles, "context_memberships_url")),
        browser_bound=bound,
    )
