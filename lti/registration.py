"""LTI Dynamic Registration 1.0 (https://www.imsglobal.org/spec/lti-dr/v1p0), the tool's side.

The LMS admin pastes our registration URL (``/lti/register?wom_token=...``) into the LMS. The LMS
opens it in a frame or window with two more query parameters (§3.3): ``openid_configuration`` (where
its configuration is) and ``registration_token`` (a bearer token for its registration endpoint).
Moodle (``mod/lti/startltiadvregistration.php``) and Canvas both keep the query string the URL
already has and add theirs, so our one-time ``wom_token`` arrives with them. Then:

1. fetch the platform's OpenID configuration (§3.4) with the limits of every call to a platform
   (``lti/fetching.py``) and check it (§3.5, :func:`check_configuration`);
2. POST the tool's registration (§3.5.2, :func:`tool_registration`) to its
   ``registration_endpoint``, with ``Authorization: Bearer <registration_token>`` when one was given;
3. read the client id and deployment id from the answer (§3.6, :func:`parse_registration`);
4. store the platform and consume the one-time token in one transaction
   (``plugin/services/platforms.py``, ``plugin/services/registration_tokens.py``), and show a page
   that tells the LMS to close the dialog (``org.imsglobal.lti.close``, §3.6.1).

**Issuer and configuration URL (§3.5.1).** The spec asks the tool to check that the issuer is the
prefix of the configuration URL: otherwise anyone who gets the admin to paste a URL could claim any
issuer. We require the same *origin* (scheme, host, port). Canvas builds its configuration URL on
its issuer's host (``Lti::IMS::DynamicRegistrationController#oidc_configuration_url``:
``https://canvas.instructure.com/api/lti/security/openid-configuration?registration_token=...``),
so it meets the rule, while its keys and login are on ``sso.canvaslms.com``. Setups that serve the
hosted issuer's configuration from the school's own domain would not: for the hosted issuers only
(:data:`HOSTED_CANVAS`), any configuration origin is accepted, but then the key set, authorization
and token endpoints must be Instructure's own hosts (they are what a launch is trusted by: a forged
configuration cannot hand us its own keys), and the registration endpoint must be on the
configuration URL's origin. A self-hosted Canvas has its own issuer (``lti_iss`` in
``config/security.yml``) and meets the ordinary rule.

**No deployment id.** Moodle answers with ``deployment_id`` in the tool configuration (its tool
type id). A platform that answers without one (Canvas creates its deployment only when the admin
installs the app afterwards) is stored with no deployment and ``auto_accept_deployments`` on: the
first signed launch adds its deployment id. The closing page says so, and the operator turns it off
with ``wordofmouth platform set ISSUER --client-id ID --no-auto-accept-deployments``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from lti import claims
from lti.canvas_config import COURSE_URL_SUBSTITUTION
from lti.errors import ASK_OPERATOR, NOT_REGISTERED, LaunchError
from lti.fetching import BoundedClient, origin
from lti.launch import CUSTOM_COURSE_URL

PLATFORM_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-platform-configuration"
TOOL_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-tool-configuration"
TOKEN_PARAMETER = "wom_token"  # noqa: S105 (a parameter name) our one-time token, in the URL the operator hands out
CLIENT_NAME = "Word of Mouth"
DESCRIPTION = "Ratings, comments and recommendations from colleagues who took the same course."
# No "email": the tool does not need one (Canvas infers the privacy level from these claims, and
# asking for email makes it propose "Public"); an operator who wants xAPI mbox actors lets the LMS
# share emails in its own privacy settings.
CLAIMS = ("iss", "sub", "name", "given_name", "family_name", "locale")
REQUIRED_ENDPOINTS = ("registration_endpoint", "authorization_endpoint", "token_endpoint", "jwks_uri")

# Hosted Canvas: issuer -> the origins its key set, authorization and token endpoints may be on.
HOSTED_CANVAS: dict[str, frozenset[str]] = {
    "https://canvas.instructure.com": frozenset({"https://sso.canvaslms.com", "https://canvas.instructure.com"}),
    "https://canvas.beta.instructure.com": frozenset(
        {"https://sso.beta.canvaslms.com", "https://canvas.beta.instructure.com"}
    ),
    "https://canvas.test.instructure.com": frozenset(
        {"https://sso.test.canvaslms.com", "https://canvas.test.instructure.com"}
    ),
}

NEW_URL_HINT = (
    "Make a new registration URL with `wordofmouth registration-url --expires 24h` and paste it into the LMS."
)


class RegistrationError(LaunchError):
    """A refused registration: shown on the refusal page and logged with the fix."""

    def __init__(self, detail: str, hint: str = "", *, status: int = 400, advice: str = ASK_OPERATOR) -> None:
        super().__init__(detail, hint, status=status, title=NOT_REGISTERED, advice=advice)


@dataclass(frozen=True)
class PlatformConfiguration:
    """What we use of the platform's OpenID configuration (§3.4.1)."""

    url: str
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    registration_endpoint: str
    product_family_code: str = ""
    version: str = ""
    scopes_supported: tuple[str, ...] = ()
    account_name: str = ""

    @property
    def from_issuer_origin(self) -> bool:
        """Served from its issuer's origin (False: a hosted Canvas issuer's, from elsewhere)."""
        return origin(self.url) == origin(self.issuer)

    @property
    def product(self) -> str:
        return self.product_family_code.lower()

    @property
    def page_origin(self) -> str:
        """The origin of the LMS pages that frame the registration: the configuration URL's."""
        return _origin_text(self.url)

    def display_name(self) -> str:
        host = urlsplit(self.url).hostname or urlsplit(self.issuer).hostname or self.issuer
        if self.account_name:
            return self.account_name[:255]
        family = {"moodle": "Moodle", "canvas": "Canvas"}.get(self.product, self.product_family_code)
        return (f"{family} at {host}" if family else host)[:255]


@dataclass(frozen=True)
class ToolUrls:
    """The tool's own URLs, all under ``WOM_BASE_URL``."""

    login: str
    launch: str
    jwks: str
    logo: str

    @property
    def domain(self) -> str:
        return urlsplit(self.launch).netloc


@dataclass(frozen=True)
class Registered:
    """The platform's answer (§3.6): the client id it gave us and, maybe, a deployment id."""

    client_id: str
    deployment_id: str | None
    raw: dict[str, Any] = field(default_factory=dict, compare=False)


def _http_url(value: Any) -> bool:
    if not isinstance(value, str) or len(value) > 2048:
        return False
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def shown(url: str) -> str:
    """``url`` for messages and logs: without its query, which may carry a token."""
    parts = urlsplit(url)
    return parts._replace(query="…" if parts.query else "", fragment="").geturl()


def _origin_text(url: str) -> str:
    scheme, host, port = origin(url)
    default = {"http": 80, "https": 443}.get(scheme)
    return f"{scheme}://{host}" + ("" if port == default else f":{port}")


def check_configuration(
    document: Any,
    configuration_url: str,
    *,
    hosted_canvas: Mapping[str, frozenset[str]] = HOSTED_CANVAS,
) -> PlatformConfiguration:
    """The checked configuration, or :class:`RegistrationError` naming the field that is wrong."""
    where = f"the platform's OpenID configuration at {shown(configuration_url)}"
    if not isinstance(document, dict):
        raise RegistrationError(f"{where} is not a JSON object")
    issuer = document.get("issuer")
    if not _http_url(issuer) or urlsplit(issuer).query or urlsplit(issuer).fragment:
        raise RegistrationError(f"{where} has no valid issuer (an http(s) URL without query or fragment)")
    for name in REQUIRED_ENDPOINTS:
        if not _http_url(document.get(name)):
            raise RegistrationError(f"{where} has no valid {name} (an absolute http(s) URL)")
    platform = document.get(PLATFORM_CONFIGURATION)
    if not isinstance(platform, dict):
        raise RegistrationError(f"{where} lacks {PLATFORM_CONFIGURATION}: it is not an LTI platform configuration")
    algorithms = document.get("id_token_signing_alg_values_supported")
    if not isinstance(algorithms, list) or "RS256" not in algorithms:
        raise RegistrationError(f"{where}: id_token_signing_alg_values_supported does not include RS256")
    trusted = hosted_canvas.get(issuer.rstrip("/"))
    if trusted is None:
        if origin(issuer) != origin(configuration_url):
            raise RegistrationError(
                f"the issuer {issuer} does not match the origin of the configuration URL {shown(configuration_url)} "
                "(LTI Dynamic Registration §3.5.1)",
                "The LMS must serve its OpenID configuration from its issuer's site; check the LMS's "
                "site URL (Moodle: $CFG->wwwroot; self-hosted Canvas: lti_iss in config/security.yml).",
                status=403,
            ).about(issuer=issuer)
    else:
        for name in ("jwks_uri", "authorization_endpoint", "token_endpoint"):
            if _origin_text(document[name]) not in trusted:
                raise RegistrationError(
                    f"the configuration claims the hosted Canvas issuer {issuer} but its {name} "
                    f"{document[name]} is not on Instructure's hosts ({', '.join(sorted(trusted))})",
                    "Only Instructure's hosted Canvas uses this issuer; a self-hosted Canvas must set its "
                    "own issuer (lti_iss in config/security.yml).",
                    status=403,
                ).about(issuer=issuer)
        if origin(document["registration_endpoint"]) != origin(configuration_url):
            raise RegistrationError(
                f"the registration_endpoint {document['registration_endpoint']} is not on the origin of the "
                f"configuration URL {shown(configuration_url)}",
                status=403,
            ).about(issuer=issuer)
    scopes = document.get("scopes_supported")
    account = platform.get("https://canvas.instructure.com/lti/account_name")
    return PlatformConfiguration(
        url=configuration_url,
        issuer=issuer,
        authorization_endpoint=document["authorization_endpoint"],
        token_endpoint=document["token_endpoint"],
        jwks_uri=document["jwks_uri"],
        registration_endpoint=document["registration_endpoint"],
        product_family_code=str(platform.get("product_family_code") or "")[:64],
        version=str(platform.get("version") or "")[:64],
        scopes_supported=tuple(s for s in scopes if isinstance(s, str)) if isinstance(scopes, list) else (),
        account_name=account.strip() if isinstance(account, str) else "",
    )


def tool_registration(urls: ToolUrls, configuration: PlatformConfiguration) -> dict[str, Any]:
    """The client registration we POST (§3.5.2, with the LTI tool configuration of §3.5.3)."""
    registration: dict[str, Any] = {
        "application_type": "web",
        "response_types": ["id_token"],
        "grant_types": ["implicit", "client_credentials"],
        "initiate_login_uri": urls.login,
        "redirect_uris": [urls.launch],
        "client_name": CLIENT_NAME,
        "jwks_uri": urls.jwks,
        "logo_uri": urls.logo,
        "token_endpoint_auth_method": "private_key_jwt",
        TOOL_CONFIGURATION: {
            "domain": urls.domain,
            "description": DESCRIPTION,
            "target_link_uri": urls.launch,
            # No substitution variable is common to Moodle and Canvas for a department; the admin
            # adds ``department=...`` (WOM_GROUP_PARAMETER) in the LMS where groups are used.
            # Canvas fills the course URL (as in /lti/config/canvas.json); Moodle's platform gets a
            # course URL template when it is stored instead.
            "custom_parameters": (
                {CUSTOM_COURSE_URL: COURSE_URL_SUBSTITUTION} if configuration.product == "canvas" else {}
            ),
            "claims": list(CLAIMS),
            "messages": [
                {"type": claims.RESOURCE_LINK_REQUEST, "target_link_uri": urls.launch, "label": CLIENT_NAME},
                {
                    "type": claims.DEEP_LINKING_REQUEST,
                    "target_link_uri": urls.launch,
                    "label": CLIENT_NAME,
                    "icon_uri": urls.logo,
                    "placements": ["ContentArea"],  # Canvas: link_selection; Moodle: the activity chooser
                },
            ],
        },
    }
    # Always present, empty when there is nothing to ask: Canvas splits it without checking it exists.
    offered = claims.NAMES_ROLES_SCOPE in configuration.scopes_supported
    registration["scope"] = claims.NAMES_ROLES_SCOPE if offered else ""
    return registration


def _clip(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "…"


def parse_registration(status: int, body: bytes, endpoint: str) -> Registered:
    """The platform's answer to our POST (§3.6), or a :class:`RegistrationError` quoting its reason."""
    try:
        document = json.loads(body) if body else None
    except ValueError:
        document = None
    if status >= 400 or not 200 <= status < 300:
        reason = ""
        if isinstance(document, dict):
            parts = [document.get(k) for k in ("error", "error_description", "message", "errors")]
            reason = "; ".join(p if isinstance(p, str) else json.dumps(p, ensure_ascii=False) for p in parts if p)
        elif body:
            reason = body.decode("utf-8", "replace")
        hint = NEW_URL_HINT if status in (401, 403) else "Check the LMS's log for why it refused the registration."
        raise RegistrationError(
            f"the platform's registration endpoint {endpoint} refused the registration: HTTP {status}"
            + (f" ({_clip(reason)})" if reason else ""),
            hint,
            status=502,
        )
    if not isinstance(document, dict):
        raise RegistrationError(f"the platform's registration endpoint {endpoint} did not answer with a JSON object")
    client_id = document.get("client_id")
    if isinstance(client_id, int) and not isinstance(client_id, bool):
        client_id = str(client_id)
    if not isinstance(client_id, str) or not client_id.strip() or len(client_id) > 255:
        raise RegistrationError(f"the platform's answer from {endpoint} has no valid client_id")
    tool = document.get(TOOL_CONFIGURATION)
    deployment = tool.get("deployment_id") if isinstance(tool, dict) else None
    if isinstance(deployment, int) and not isinstance(deployment, bool):
        deployment = str(deployment)
    if deployment is not None and (not isinstance(deployment, str) or len(deployment.strip()) > 255):
        raise RegistrationError(f"the platform's answer from {endpoint} has an invalid deployment_id")
    return Registered(client_id.strip(), (deployment or "").strip() or None, document)


def fetch_configuration(
    client: BoundedClient,
    configuration_url: str,
    registration_token: str | None = None,
    *,
    hosted_canvas: Mapping[str, frozenset[str]] = HOSTED_CANVAS,
) -> PlatformConfiguration:
    """Fetch (§3.4) and check (§3.5.1) the platform's OpenID configuration.

    The platform's registration token goes along as a bearer token: a platform may protect its
    configuration with it (Canvas checks it), others ignore it; it never leaves the URL's origin.
    """
    if not _http_url(configuration_url):
        raise RegistrationError(f"openid_configuration {shown(configuration_url)!r} is not an absolute http(s) URL")
    what = "the platform's OpenID configuration"
    headers = {"Authorization": f"Bearer {registration_token}"} if registration_token else None
    try:
        raw = client.get(configuration_url, what, RegistrationError, headers)
    except RegistrationError as exc:
        exc.detail = exc.detail.replace(configuration_url, shown(configuration_url))
        raise
    try:
        document = json.loads(raw)
    except ValueError as exc:
        raise RegistrationError(f"{what} at {shown(configuration_url)} is not JSON", status=502) from exc
    issuer = document.get("issuer") if isinstance(document, dict) else None
    try:
        return check_configuration(document, configuration_url, hosted_canvas=hosted_canvas)
    except LaunchError as exc:
        raise exc.about(issuer=issuer if isinstance(issuer, str) else None) from None


def post_registration(
    client: BoundedClient,
    configuration: PlatformConfiguration,
    payload: dict[str, Any],
    registration_token: str | None,
) -> Registered:
    """POST our registration to the platform (§3.5.2) and read its answer (§3.6)."""
    headers = {"Content-Type": "application/json"}
    if registration_token:
        headers["Authorization"] = f"Bearer {registration_token}"
    endpoint = configuration.registration_endpoint
    what = "the platform's registration endpoint"
    try:
        answer = client.post(endpoint, what, json.dumps(payload).encode(), headers, RegistrationError)
        return parse_registration(answer.status, answer.body, endpoint)
    except LaunchError as exc:
        raise exc.about(issuer=configuration.issuer) from None
