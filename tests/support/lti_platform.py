"""A test LMS: RSA keys made in the test, a JWKS served over HTTP, OIDC login and signed launches.

It drives the tool the way a real platform and browser do: the browser (a ``requests.Session``)
posts the third-party-initiated login, follows the redirect to the platform's auth endpoint
(here: reads it), and posts the id_token and state to the tool's launch URL.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask, jsonify, request
from jwt.algorithms import RSAAlgorithm

from tests.support.processes import free_port
from tests.support.servers import serve

LTI = "https://purl.imsglobal.org/spec/lti/claim/"
INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"
LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
NRPS_CLAIM = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"
NRPS_SCOPE = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
NRPS_MEDIA_TYPE = "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"
CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@dataclass
class SigningKey:
    kid: str
    private: rsa.RSAPrivateKey

    @property
    def pem(self) -> bytes:
        return self.private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )

    def public_jwk(self) -> dict[str, Any]:
        jwk = RSAAlgorithm.to_jwk(self.private.public_key(), as_dict=True)
        jwk.update(kid=self.kid, alg="RS256", use="sig")
        return jwk


def new_key() -> SigningKey:
    return SigningKey(kid=uuid.uuid4().hex[:16], private=rsa.generate_private_key(public_exponent=65537, key_size=2048))


@dataclass
class LoginRedirect:
    state: str
    nonce: str
    redirect_uri: str
    params: dict[str, str]


@dataclass
class LmsPlatform:
    issuer: str
    client_id: str = "wom-client"
    deployment_id: str = "deployment-1"
    keys: list[SigningKey] = field(default_factory=lambda: [new_key()])
    base_url: str = ""  # where its JWKS is served
    jwks_requests: int = 0
    jwks_user_agents: list[str] = field(default_factory=list)
    # -- LTI Advantage services (token endpoint + NRPS), see services_app() ------------------
    token_url: str = ""  # registered auth_token_url; issuer + "/token" unless running_platform(services=True)
    tool_jwks_url: str = ""  # where the token endpoint fetches the tool's keys to verify its assertion
    tool_public_jwks: dict[str, Any] | None = None  # or: the tool's key set handed in
    rosters: dict[str, list[Any]] = field(default_factory=dict)  # context id -> members (any JSON)
    page_size: int = 2
    nrps_status: dict[str, int] = field(default_factory=dict)  # context id -> forced HTTP status
    token_status: int | None = None  # forced token endpoint status
    token_expires_in: int = 3600
    issued_tokens: set[str] = field(default_factory=set)
    token_requests: list[dict[str, Any]] = field(default_factory=list)  # verified assertions (header + claims)
    token_refusals: list[str] = field(default_factory=list)
    nrps_requests: list[tuple[str, int]] = field(default_factory=list)  # (context id, page)
    seen_jtis: set[str] = field(default_factory=set)

    @property
    def key(self) -> SigningKey:
        return self.keys[-1]

    def rotate_key(self) -> SigningKey:
        self.keys.append(new_key())
        return self.key

    def jwks_app(self) -> Flask:
        app = Flask("test-platform")

        @app.get("/jwks")
        def jwks():  # type: ignore[no-untyped-def]
            self.jwks_requests += 1
            self.jwks_user_agents.append(request.headers.get("User-Agent", ""))
            return jsonify(keys=[k.public_jwk() for k in self.keys])

        self._add_services(app)
        return app

    # -- LTI Advantage services ---------------------------------------------------------------
    @property
    def service_requests(self) -> int:
        """Token and membership requests served so far (a launch must make none)."""
        return len(self.token_requests) + len(self.token_refusals) + len(self.nrps_requests)

    def memberships_url(self, context_id: str) -> str:
        return f"{self.base_url}/nrps/{context_id}"

    def nrps_claim(self, context_id: str = "course-1") -> dict[str, Any]:
        """Claim overrides that offer NRPS for ``context_id`` (LTI-NRPS 2.0 §3.6.1)."""
        return {NRPS_CLAIM: {"context_memberships_url": self.memberships_url(context_id), "service_versions": ["2.0"]}}

    def _tool_key(self, kid: str) -> dict[str, Any] | None:
        jwks = self.tool_public_jwks
        if jwks is None:
            jwks = requests.get(self.tool_jwks_url, timeout=10).json()
        return next((k for k in jwks.get("keys", []) if k.get("kid") == kid), None)

    def _verify_assertion(self, form: dict[str, str]) -> str | None:
        """Why the client-credentials request is refused (Security Framework §4.1), or None."""
        if form.get("grant_type") != "client_credentials":
            return "unsupported_grant_type"
        if form.get("client_assertion_type") != CLIENT_ASSERTION_TYPE:
            return "invalid_client: assertion type"
        if NRPS_SCOPE not in form.get("scope", "").split():
            return "invalid_scope"
        assertion = form.get("client_assertion", "")
        try:
            header = jwt.get_unverified_header(assertion)
            jwk = self._tool_key(header.get("kid", ""))
            if jwk is None or header.get("alg") != "RS256":
                return "invalid_client: unknown kid"
            claims = jwt.decode(
                assertion,
                RSAAlgorithm.from_jwk(jwk),
                algorithms=["RS256"],
                audience=self.token_url or self.issuer + "/token",
                issuer=self.client_id,
                options={"require": ["iss", "sub", "aud", "iat", "exp", "jti"]},
            )
        except jwt.PyJWTError as exc:
            return f"invalid_client: {exc}"
        if claims["sub"] != self.client_id:
            return "invalid_client: sub"
        if claims["exp"] - claims["iat"] > 300:
            return "invalid_client: lifetime"
        if claims["jti"] in self.seen_jtis:
            return "invalid_client: replayed jti"
        self.seen_jtis.add(claims["jti"])
        self.token_requests.append({"header": header, "claims": claims, "scope": form["scope"]})
        return None

    def _add_services(self, app: Flask) -> None:
        @app.post("/token")
        def token():  # type: ignore[no-untyped-def]
            if self.token_status is not None:
                self.token_refusals.append("forced")
                return jsonify(error="server_error"), self.token_status
            refusal = self._verify_assertion(request.form.to_dict())
            if refusal is not None:
                self.token_refusals.append(refusal)
                return jsonify(error=refusal.split(":")[0]), 400
            access = uuid.uuid4().hex
            self.issued_tokens.add(access)
            return jsonify(access_token=access, token_type="Bearer", expires_in=self.token_expires_in, scope=NRPS_SCOPE)

        @app.get("/nrps/<context_id>")
        def memberships(context_id: str):  # type: ignore[no-untyped-def]
            page = request.args.get("page", 1, type=int)
            self.nrps_requests.append((context_id, page))
            auth = request.headers.get("Authorization", "")
            if not auth.startswith("Bearer ") or auth.removeprefix("Bearer ") not in self.issued_tokens:
                return jsonify(error="invalid_token"), 401
            if request.headers.get("Accept") != NRPS_MEDIA_TYPE:
                return jsonify(error="not acceptable"), 406
            if context_id in self.nrps_status:
                return jsonify(error="forced"), self.nrps_status[context_id]
            if context_id not in self.rosters:
                return jsonify(error="no such context"), 404
            members = self.rosters[context_id]
            start = (page - 1) * self.page_size
            body = {
                "id": self.memberships_url(context_id),
                "context": {"id": context_id, "title": context_id},
                "members": members[start : start + self.page_size],
            }
            response = jsonify(body)
            response.content_type = NRPS_MEDIA_TYPE
            if start + self.page_size < len(members):
                response.headers["Link"] = f'<{self.memberships_url(context_id)}?page={page + 1}>; rel="next"'
            return response

    def registration(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "client_id": self.client_id,
            "deployment_ids": (self.deployment_id,),
            "auth_login_url": self.issuer + "/auth",
            "auth_token_url": self.token_url or self.issuer + "/token",
            "key_set_url": self.base_url + "/jwks",
            "name": "Test LMS",
        }

    # -- the flow ---------------------------------------------------------------------------
    def post_login(self, browser: requests.Session, tool_url: str, **params: Any) -> requests.Response:
        """Post a bare login initiation (iss, login_hint, target) with ``params`` added or, as None, removed."""
        data = {"iss": self.issuer, "login_hint": "u", "target_link_uri": tool_url + "/lti/launch", **params}
        data = {k: v for k, v in data.items() if v is not None}
        return browser.post(tool_url + "/lti/login", data=data, allow_redirects=False)

    @property
    def auth_endpoint(self) -> str:
        """Where the tool sends the browser after a login (the registered auth login URL)."""
        return self.issuer + "/auth"

    def login(
        self, browser: requests.Session, tool_url: str, *, method: str = "post", **overrides: Any
    ) -> LoginRedirect:
        params = {
            "iss": self.issuer,
            "login_hint": "user-1",
            "target_link_uri": tool_url + "/lti/launch",
            "lti_message_hint": "resource-link-1",
            "client_id": self.client_id,
            "lti_deployment_id": self.deployment_id,
        }
        params.update(overrides)
        params = {k: v for k, v in params.items() if v is not None}
        if method == "post":
            response = browser.post(tool_url + "/lti/login", data=params, allow_redirects=False)
        else:
            response = browser.get(tool_url + "/lti/login", params=params, allow_redirects=False)
        assert response.status_code == 302, response.text
        location = urlsplit(response.headers["Location"])
        assert f"{location.scheme}://{location.netloc}{location.path}" == self.auth_endpoint
        query = {k: v[0] for k, v in parse_qs(location.query).items()}
        return LoginRedirect(query["state"], query["nonce"], query["redirect_uri"], query)

    def claims(self, nonce: str, tool_url: str, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
        now = int(time.time())
        body: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.client_id,
            "sub": "user-1",
            "iat": now,
            "exp": now + 60,
            "nonce": nonce,
            "name": "Ada Lovelace",
            "email": "ada@example.org",
            LTI + "message_type": "LtiResourceLinkRequest",
            LTI + "version": "1.3.0",
            LTI + "deployment_id": self.deployment_id,
            LTI + "target_link_uri": tool_url + "/lti/launch",
            LTI + "resource_link": {"id": "resource-link-1", "title": "Course reviews"},
            LTI + "roles": [LEARNER],
            LTI + "context": {"id": "course-1", "title": "Safety at Work", "label": "SAFE101"},
            LTI + "launch_presentation": {"locale": "en-GB", "document_target": "iframe"},
            LTI + "custom": {"department": "Logistics"},
        }
        for name, value in (overrides or {}).items():
            if value is REMOVE:
                body.pop(name, None)
            else:
                body[name] = value
        return body

    def sign(
        self,
        body: dict[str, Any],
        *,
        key: SigningKey | None = None,
        headers: dict[str, Any] | None = None,
        algorithm: str = "RS256",
    ) -> str:
        key = key or self.key
        header = {"kid": key.kid}
        header.update(headers or {})
        return jwt.encode(body, key.pem, algorithm=algorithm, headers=header)

    def launch(
        self,
        browser: requests.Session,
        tool_url: str,
        *,
        claims: dict[str, Any] | None = None,
        login: dict[str, Any] | None = None,
        token: Callable[[dict[str, Any], LoginRedirect], str] | None = None,
        state: str | None = None,
    ) -> requests.Response:
        """Login, then post a launch; ``claims`` override id_token claims, ``token`` builds it freely."""
        redirect = self.login(browser, tool_url, **(login or {}))
        body = self.claims(redirect.nonce, tool_url, claims)
        id_token = token(body, redirect) if token else self.sign(body)
        return browser.post(
            redirect.redirect_uri, data={"id_token": id_token, "state": state or redirect.state}, allow_redirects=False
        )


class _Remove:
    def __repr__(self) -> str:
        return "REMOVE"


REMOVE: Any = _Remove()


@contextmanager
def running_platform(
    issuer_host: str = "https://lms.example.org", *, services: bool = False, **kwargs: Any
) -> Iterator[LmsPlatform]:
    """A test LMS served on loopback; with ``services`` its registration names its real token endpoint."""
    platform = LmsPlatform(issuer=issuer_host, **kwargs)
    port = free_port()
    with serve(platform.jwks_app(), port) as url:
        platform.base_url = url
        if services:
            platform.token_url = url + "/token"
        yield platform


def roster_member(
    user_id: str, roles: list[str] | None = None, status: str = "Active", **fields: Any
) -> dict[str, Any]:
    """One NRPS 2.0 member (https://www.imsglobal.org/spec/lti-nrps/v2p0#membership-container-media-type)."""
    return {"user_id": user_id, "roles": roles if roles is not None else [LEARNER], "status": status, **fields}
