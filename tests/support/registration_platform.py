"""Test LMSs for LTI Dynamic Registration, served over real loopback HTTP.

Each imitates what its LMS serves (https://www.imsglobal.org/spec/lti-dr/v1p0):

- **Moodle 4.5**: ``/mod/lti/openid-configuration.php`` shaped like Moodle's (issuer = the site URL,
  ``messages_supported`` as plain strings, ``product_family_code`` ``moodle``); its registration
  endpoint ``/mod/lti/openid-registration.php`` wants the registration token as a bearer token and
  answers with a client id and ``deployment_id`` (the tool type id) in the tool configuration
  (``mod/lti/classes/local/ltiopenid/registration_helper.php``).
- **Canvas** (``kind="canvas"``), as ``Lti::IMS::DynamicRegistrationController`` builds it: the
  configuration URL is on the issuer's host and carries the registration token in its query
  (``/api/lti/security/openid-configuration?registration_token=...``); keys, authorization and
  tokens are on another host (``sso.canvaslms.com`` in real life, ``localhost:PORT`` here, which is
  also where the admin's Canvas pages are: the dialog frames the tool from there).
  ``/api/lti/registrations`` checks the fields Canvas requires (422 otherwise; a missing ``scope``
  is a 500, as Canvas splits it unchecked) and answers with a numeric client id and no deployment
  id (Canvas makes the deployment when the admin installs the app).
- **Hosted Canvas with the configuration on the school's domain** (``kind="canvas-hosted"``): the
  configuration and registration endpoint on ``localhost:PORT`` (the school) name the shared
  issuer ``https://canvas.instructure.com`` and Instructure's hosts (``127.0.0.1:PORT`` here; the
  tool is told so) for keys, authorization and tokens.

Once registered, the platform launches the tool like :class:`LmsPlatform` (real OIDC login, signed
id_token with the client id it issued).
"""

from __future__ import annotations

import html
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

import requests
from flask import Flask, jsonify, request

from tests.support.lti_platform import REMOVE, LmsPlatform
from tests.support.processes import free_port
from tests.support.servers import serve

PLATFORM_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-platform-configuration"
TOOL_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-tool-configuration"
NRPS_SCOPE = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
CANVAS_ISSUER = "https://canvas.instructure.com"


@dataclass
class RegistrationPlatform(LmsPlatform):
    kind: str = "moodle"  # or "canvas", "canvas-hosted"
    site: str = ""  # the origin of the admin's pages in the LMS
    config_origin: str = ""  # where the configuration and the registration endpoint are
    sso_origin: str = ""  # where the keys, authorization and token endpoints are
    registration_token: str = field(default_factory=lambda: uuid.uuid4().hex)
    returned_deployment_id: str | None = None  # what the registration answer names
    fixed_client_id: str | None = None  # answer with this client id (a re-registration)
    config_overrides: dict[str, Any] = field(default_factory=dict)  # REMOVE drops a field
    registration_status: int | None = None  # forced status of the registration endpoint
    registration_answer: Any = None  # forced JSON answer
    registrations: list[dict[str, Any]] = field(default_factory=list)  # what tools POSTed
    authorizations: list[str] = field(default_factory=list)  # their Authorization headers
    configuration_authorizations: list[str] = field(default_factory=list)  # same, fetching the configuration

    @property
    def is_canvas(self) -> bool:
        return self.kind.startswith("canvas")

    @property
    def configuration_path(self) -> str:
        return "/api/lti/security/openid-configuration" if self.is_canvas else "/mod/lti/openid-configuration.php"

    @property
    def registration_path(self) -> str:
        return "/api/lti/registrations" if self.is_canvas else "/mod/lti/openid-registration.php"

    @property
    def configuration_url(self) -> str:
        url = self.config_origin + self.configuration_path
        if self.kind == "canvas":
            url += "?" + urlencode({"registration_token": self.registration_token})
        return url

    @property
    def auth_endpoint(self) -> str:
        if self.is_canvas:
            return self.sso_origin + "/api/lti/authorize_redirect"
        return self.site + "/mod/lti/auth.php"

    def configuration(self) -> dict[str, Any]:
        document = self._canvas_configuration() if self.is_canvas else self._moodle_configuration()
        for name, value in self.config_overrides.items():
            if value is REMOVE:
                document.pop(name, None)
            else:
                document[name] = value
        return document

    def _moodle_configuration(self) -> dict[str, Any]:
        site = self.site
        return {
            "issuer": site,
            "token_endpoint": site + "/token",
            "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            "token_endpoint_auth_signing_alg_values_supported": ["RS256"],
            "jwks_uri": site + "/jwks",
            "authorization_endpoint": self.auth_endpoint,
            "registration_endpoint": site + "/mod/lti/openid-registration.php",
            "scopes_supported": [
                "https://purl.imsglobal.org/spec/lti-bo/scope/basicoutcome",
                "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
                NRPS_SCOPE,
                "openid",
            ],
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public", "pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "claims_supported": ["sub", "iss", "name", "given_name", "family_name", "email"],
            PLATFORM_CONFIGURATION: {
                "product_family_code": "moodle",
                "version": "4.5.1 (Build: 20241209)",
                "messages_supported": ["LtiResourceLinkRequest", "LtiDeepLinkingRequest"],
                "placements": ["AddContentMenu"],
                "variables": ["Context.id", "CourseSection.title", "User.id", "Person.name.full"],
            },
        }

    def _canvas_configuration(self) -> dict[str, Any]:
        sso = self.sso_origin
        return {
            "issuer": self.issuer,
            "authorization_endpoint": self.auth_endpoint,
            "registration_endpoint": self.config_origin + self.registration_path,
            "jwks_uri": sso + "/jwks",
            "token_endpoint": sso + "/login/oauth2/token",
            "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            "token_endpoint_auth_signing_alg_values_supported": ["RS256"],
            "scopes_supported": [
                "openid",
                "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
                NRPS_SCOPE,
                "https://canvas.instructure.com/lti/public_jwk/scope/update",
            ],
            "response_types_supported": ["id_token"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "claims_supported": ["sub", "picture", "email", "name", "given_name", "family_name", "locale"],
            "subject_types_supported": ["public"],
            "authorization_server": urlsplit(self.sso_origin).netloc,
            PLATFORM_CONFIGURATION: {
                "product_family_code": "canvas",
                "version": "OpenSource",
                "messages_supported": [
                    {"type": "LtiResourceLinkRequest", "placements": ["course_navigation", "link_selection"]},
                    {"type": "LtiDeepLinkingRequest", "placements": ["link_selection", "editor_button"]},
                ],
                "variables": ["Canvas.course.id", "Canvas.api.domain"],
                "https://canvas.instructure.com/lti/account_name": "Test University",
            },
        }

    # -- what the tool POSTs ---------------------------------------------------------------------
    def _registration_refusal(self, body: Any) -> str | None:
        if not isinstance(body, dict):
            return "the registration is not a JSON object"
        tool = body.get(TOOL_CONFIGURATION)
        if not isinstance(tool, dict) or not tool.get("target_link_uri") or not tool.get("domain"):
            return "lti_tool_configuration is invalid"
        if not body.get("initiate_login_uri") or not body.get("jwks_uri") or not body.get("redirect_uris"):
            return "initiate_login_uri, jwks_uri and redirect_uris are required"
        if self.is_canvas:
            if "scope" not in body:
                return "500"  # NoMethodError: undefined method `split' for nil
            if {"client_credentials", "implicit"} - set(body.get("grant_types") or []):
                return "grant_types: Must include client_credentials, implicit"
            if "id_token" not in (body.get("response_types") or []):
                return "response_types: Must include id_token"
            if body.get("application_type") != "web":
                return "application_type: Must be 'web'"
            if body.get("token_endpoint_auth_method") != "private_key_jwt":
                return "token_endpoint_auth_method: Must be 'private_key_jwt'"
            for message in tool.get("messages") or []:
                if not message.get("target_link_uri") and message.get("type") == "LtiDeepLinkingRequest":
                    return "messages: target_link_uri required"
        return None

    def _register(self) -> Any:
        auth = request.headers.get("Authorization", "")
        self.authorizations.append(auth)
        body = request.get_json(silent=True)
        self.registrations.append(body if isinstance(body, dict) else {"invalid": True})
        if self.registration_status is not None:
            return jsonify(self.registration_answer or {"error": "server_error"}), self.registration_status
        if auth != f"Bearer {self.registration_token}":
            return jsonify(error="invalid_token", error_description="registration token missing or wrong"), 401
        refusal = self._registration_refusal(body)
        if refusal == "500":
            return "Internal Server Error", 500
        if refusal is not None:
            return jsonify(errors=[{"field": "registration", "message": refusal}]), 422
        if self.registration_answer is not None:
            return jsonify(self.registration_answer)
        answer = dict(body)
        tool = dict(answer[TOOL_CONFIGURATION])
        if self.kind == "moodle":
            self.client_id = self.fixed_client_id or uuid.uuid4().hex[:15]
            answer["application_type"] = ["web"]  # Moodle answers with a list
            answer["scope"] = body.get("scope", "")
            tool["deployment_id"] = self.returned_deployment_id or "7"
            self.deployment_id = tool["deployment_id"]
        else:
            self.client_id = self.fixed_client_id or str(10000000000000 + len(self.registrations))
            if self.returned_deployment_id:
                tool["deployment_id"] = self.returned_deployment_id
        answer[TOOL_CONFIGURATION] = tool
        answer["client_id"] = self.client_id
        return jsonify(answer)

    def registration_app(self) -> Flask:
        app = self.jwks_app()  # /jwks and the token and NRPS services

        @app.get(self.configuration_path)
        def configuration():  # type: ignore[no-untyped-def]
            auth = request.headers.get("Authorization", "")
            self.configuration_authorizations.append(auth)
            token = request.args.get("registration_token") or auth.removeprefix("Bearer ")
            if self.kind == "canvas" and token != self.registration_token:
                return jsonify(errorMessage="registration token missing or wrong"), 401
            return jsonify(self.configuration())

        @app.post(self.registration_path)
        def register():  # type: ignore[no-untyped-def]
            return self._register()

        @app.get("/admin/register-tool")
        def admin_page():  # type: ignore[no-untyped-def]
            """The LMS's own page around the registration (Moodle's modal, Canvas's dialog): it frames
            the tool's URL with the two parameters added and waits for org.imsglobal.lti.close."""
            tool_url = request.args["url"]
            frame = f"{tool_url}{'&' if '?' in tool_url else '?'}" + urlencode(
                {"openid_configuration": self.configuration_url, "registration_token": self.registration_token}
            )
            return (
                "<!doctype html><title>Register a tool</title><h1>Register a tool</h1>"
                '<p id="closed">waiting</p>'
                f'<iframe id="registration" src="{html.escape(frame)}" width="700" height="600"></iframe>'
                "<script>window.addEventListener('message', function (event) {"
                " if (event.data && event.data.subject === 'org.imsglobal.lti.close') {"
                " document.getElementById('closed').textContent = 'closed by ' + event.origin;"
                " document.getElementById('registration').remove(); } });</script>"
            )

        return app

    # -- the admin's browser ---------------------------------------------------------------------
    def open_registration(
        self,
        browser: requests.Session,
        registration_url: str,
        *,
        with_token: bool = True,
        referrer: str | None = None,
    ) -> requests.Response:
        """Open the tool's registration URL the way the LMS does: its query string kept, ours added,
        from a page of the LMS (a browser sends that page's origin as the ``Referer``)."""
        params = {"openid_configuration": self.configuration_url}
        if with_token:
            params["registration_token"] = self.registration_token
        headers = {"Referer": referrer if referrer is not None else self.site + "/"}
        return browser.get(registration_url, params=params, headers=headers, allow_redirects=False)


@contextmanager
def running_registration_platform(kind: str = "moodle", **kwargs: Any) -> Iterator[RegistrationPlatform]:
    """A Moodle 4.5, Canvas or hosted-Canvas imitation on a free loopback port (see the module)."""
    port = free_port()
    platform = RegistrationPlatform(issuer="", kind=kind, **kwargs)
    loopback, localhost = f"http://127.0.0.1:{port}", f"http://localhost:{port}"
    platform.base_url = loopback
    if kind == "moodle":
        platform.site = platform.config_origin = platform.sso_origin = platform.issuer = loopback
    elif kind == "canvas":
        platform.issuer = platform.config_origin = loopback  # Canvas's lti_iss host
        platform.site = platform.sso_origin = localhost
        platform.base_url = localhost  # the key set is on the sso host
    else:
        platform.issuer = CANVAS_ISSUER
        platform.site = platform.config_origin = localhost  # the school's domain
        platform.sso_origin = loopback  # "Instructure's hosts"
    if platform.is_canvas:
        platform.deployment_id = "12:8865aa05b4b79b64a91a86042e43af5ea8ae79eb"  # Canvas's form
    with serve(platform.registration_app(), port):
        yield platform
