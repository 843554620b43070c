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

        return app

    def registration(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "client_id": self.client_id,
            "deployment_ids": (self.deployment_id,),
            "auth_login_url": self.issuer + "/auth",
            "auth_token_url": self.issuer + "/token",
            "key_set_url": self.base_url + "/jwks",
            "name": "Test LMS",
        }

    # -- the flow ---------------------------------------------------------------------------
    def post_login(self, browser: requests.Session, tool_url: str, **params: Any) -> requests.Response:
        """Post a bare login initiation (iss, login_hint, target) with ``params`` added or, as None, removed."""
        data = {"iss": self.issuer, "login_hint": "u", "target_link_uri": tool_url + "/lti/launch", **params}
        data = {k: v for k, v in data.items() if v is not None}
        return browser.post(tool_url + "/lti/login", data=data, allow_redirects=False)

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
        assert f"{location.scheme}://{location.netloc}{location.path}" == self.issuer + "/auth"
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
def running_platform(issuer_host: str = "https://lms.example.org", **kwargs: Any) -> Iterator[LmsPlatform]:
    platform = LmsPlatform(issuer=issuer_host, **kwargs)
    port = free_port()
    with serve(platform.jwks_app(), port) as url:
        platform.base_url = url
        yield platform
