"""Access tokens for LTI Advantage services: the OAuth 2.0 client-credentials grant.

The tool proves who it is with a JWT it signs itself (1EdTech Security Framework 1.0, §4.1
"Using JSON Web Tokens with OAuth 2.0 Client Credentials Grant",
https://www.imsglobal.org/spec/security/v1p0/#using-json-web-tokens-with-oauth-2-0-client-credentials-grant):

- claims ``iss`` = ``sub`` = the client id the platform gave us, ``aud`` = the platform's token
  endpoint, ``iat``, ``exp`` (five minutes at most) and a fresh ``jti``; header ``kid`` names the
  tool key that signed it (RS256), which the platform finds in our ``/lti/jwks``;
- POSTed form-encoded to the token endpoint with ``grant_type=client_credentials``,
  ``client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer``, the assertion
  and the space-separated ``scope`` (RFC 7523 §2.2);
- the answer is ``{"access_token", "token_type": "Bearer", "expires_in", "scope"}``.

Tokens are cached per (platform, scopes) until shortly before they expire. Neither the token nor
the assertion ever appears in an exception message or a log line.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import jwt
import requests

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_LIFETIME = 300  # seconds; the Security Framework asks for a short-lived assertion
EXPIRY_MARGIN = 60  # seconds before expires_in that a cached token is no longer handed out
DEFAULT_EXPIRES_IN = 3600
TIMEOUT = (5.0, 20.0)  # connect, read (seconds)
MAX_RESPONSE_BYTES = 64 * 1024
USER_AGENT = "WordOfMouth-LTI-Tool"


class ServiceAuthError(Exception):
    """The platform would not give us an access token; ``reason`` is one line, free of secrets."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class ServicePlatform:
    """What the grant needs to know of a registration (plain values, no database row)."""

    id: int
    client_id: str
    auth_token_url: str


@dataclass(frozen=True)
class ToolSigningKey:
    kid: str
    private_key_pem: str


@dataclass
class _Cached:
    token: str
    expires_at: float


def client_assertion(platform: ServicePlatform, key: ToolSigningKey, now: float | None = None) -> str:
    """The signed JWT that authenticates the tool to the platform's token endpoint (§4.1.1)."""
    issued = int(now if now is not None else time.time())
    claims = {
        "iss": platform.client_id,
        "sub": platform.client_id,
        "aud": platform.auth_token_url,
        "iat": issued,
        "exp": issued + ASSERTION_LIFETIME,
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, key.private_key_pem, algorithm="RS256", headers={"kid": key.kid})


def read_limited(response: requests.Response, limit: int) -> bytes:
    """The body of a streamed response, refusing more than ``limit`` bytes."""
    declared = response.headers.get("Content-Length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise ValueError(f"response larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_content(chunk_size=16384):
        size += len(chunk)
        if size > limit:
            raise ValueError(f"response larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


class ServiceTokens:
    """A per-process cache of client-credentials access tokens, safe to share between threads."""

    def __init__(self, http: requests.Session | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self._http = http or requests.Session()
        self._http.headers["User-Agent"] = USER_AGENT
        self._clock = clock
        self._cache: dict[tuple[int, str, str, str], _Cached] = {}
        self._lock = threading.Lock()
        self.requests = 0  # token requests made (for logs and tests)

    def token(self, platform: ServicePlatform, key: ToolSigningKey, scopes: Iterable[str]) -> str:
        """A bearer token for ``scopes`` on ``platform``: cached, or freshly granted."""
        scope = " ".join(sorted(set(scopes)))
        cache_key = (platform.id, platform.client_id, platform.auth_token_url, scope)
        with self._lock:
            cached = self._cache.get(cache_key)
            if cached and cached.expires_at > self._clock():
                return cached.token
        token, expires_in = self._request(platform, key, scope)
        with self._lock:
            self._cache[cache_key] = _Cached(token, self._clock() + max(expires_in - EXPIRY_MARGIN, 0))
        return token

    def forget(self, platform: ServicePlatform) -> None:
        """Drop cached tokens of ``platform`` (after the platform refused one, say)."""
        with self._lock:
            for cache_key in [k for k in self._cache if k[0] == platform.id]:
                del self._cache[cache_key]

    def _request(self, platform: ServicePlatform, key: ToolSigningKey, scope: str) -> tuple[str, int]:
        data = {
            "grant_type": "client_credentials",
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": client_assertion(platform, key),
            "scope": scope,
        }
        self.requests += 1
        try:
            # No redirects: a token endpoint that redirects a POST carrying our assertion is misconfigured.
            with self._http.post(
                platform.auth_token_url,
                data=data,
                headers={"Accept": "application/json"},
                timeout=TIMEOUT,
                allow_redirects=False,
                stream=True,
            ) as response:
                body = read_limited(response, MAX_RESPONSE_BYTES)
                status = response.status_code
        except requests.RequestException as exc:
            raise ServiceAuthError(f"token endpoint unreachable ({type(exc).__name__})") from None
        except ValueError as exc:
            raise ServiceAuthError(f"token endpoint answer refused: {exc}") from None
        if status != 200:
            raise ServiceAuthError(f"token endpoint answered HTTP {status}{_oauth_error(body)}")
        return _parse_token(body)


def _oauth_error(body: bytes) -> str:
    """The RFC 6749 §5.2 ``error`` code of a refusal, if any (never its free-text description)."""
    try:
        error = json.loads(body).get("error")
    except (ValueError, AttributeError):
        return ""
    if isinstance(error, str) and error.isascii() and len(error) <= 40 and error.replace("_", "").isalnum():
        return f" ({error})"
    return ""


def _parse_token(body: bytes) -> tuple[str, int]:
    try:
        answer: Any = json.loads(body)
    except ValueError:
        raise ServiceAuthError("token endpoint answer is not JSON") from None
    if not isinstance(answer, dict):
        raise ServiceAuthError("token endpoint answer is not a JSON object")
    token = answer.get("access_token")
    if not isinstance(token, str) or not token or len(token) > 8192:
        raise ServiceAuthError("token endpoint answer has no access_token")
    token_type = answer.get("token_type", "Bearer")
    if not isinstance(token_type, str) or token_type.lower() != "bearer":
        raise ServiceAuthError("token endpoint answered a token type other than Bearer")
    expires_in = answer.get("expires_in", DEFAULT_EXPIRES_IN)
    if isinstance(expires_in, str) and expires_in.isdigit():
        expires_in = int(expires_in)
    if not isinstance(expires_in, int) or isinstance(expires_in, bool) or expires_in <= 0:
        expires_in = DEFAULT_EXPIRES_IN
    return token, min(expires_in, 24 * 3600)
