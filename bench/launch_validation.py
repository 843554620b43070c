"""What our launch validation costs beyond the signature check every LTI tool must make.

Baseline: PyJWT verifying the same id_token with the platform's key (the irreducible RSA work).
Ours: the full ``validate_launch`` (registry and deployment look-ups, claim checks, consuming the
login state in the database), with the platform key set already cached.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from bench.timing import compare, report
from lti.keysets import PlatformKeySets, _Cached
from lti.validation import LaunchRequest, validate_launch
from plugin import migrate
from plugin.db import make_engine, make_session_factory
from plugin.services import login_states, platforms

ISSUER = "https://lms.bench.example"
TOOL = "https://wom.bench.example"
LTI = "https://purl.imsglobal.org/spec/lti/claim/"


def _claims(nonce: str) -> dict[str, Any]:
    now = int(time.time())
    return {
        "iss": ISSUER,
        "aud": "bench-client",
        "sub": "learner-1",
        "iat": now,
        "exp": now + 600,
        "nonce": nonce,
        LTI + "message_type": "LtiResourceLinkRequest",
        LTI + "version": "1.3.0",
        LTI + "deployment_id": "d1",
        LTI + "target_link_uri": TOOL + "/lti/launch",
        LTI + "resource_link": {"id": "rl-1"},
        LTI + "roles": [],
        LTI + "context": {"id": "c1"},
    }


def run(calls: int = 100, rounds: int = 7) -> float:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    jwk.update(kid="k1", alg="RS256")
    public = RSAAlgorithm.from_jwk(jwk)
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'bench.db'}"
        migrate.upgrade(url)
        engine = make_engine(url)
        sessions = make_session_factory(engine)
        key_sets = PlatformKeySets()
        key_sets._cache[ISSUER + "/jwks"] = _Cached({"k1": jwk}, time.monotonic())
        with sessions() as session:
            platform, _ = platforms.add_or_update_platform(
                session,
                platforms.PlatformSpec(
                    issuer=ISSUER,
                    client_id="bench-client",
                    auth_login_url=ISSUER + "/auth",
                    auth_token_url=ISSUER + "/token",
                    key_set_url=ISSUER + "/jwks",
                    deployment_ids=("d1",),
                ),
            )
            logins = [
                login_states.issue_login(session, platform.id, TOOL + "/lti/launch")
                for _ in range(calls * (rounds + 1))
            ]
            session.commit()
        tokens = iter(
            [
                (login.state, jwt.encode(_claims(login.nonce), key, algorithm="RS256", headers={"kid": "k1"}))
                for login in logins
            ]
        )
        sample = jwt.encode(_claims("n"), key, algorithm="RS256", headers={"kid": "k1"})

        def baseline() -> None:
            jwt.decode(sample, public, algorithms=["RS256"], audience="bench-client")

        def ours() -> None:
            state, token = next(tokens)
            with sessions() as session:
                validate_launch(session, LaunchRequest(token, state, None), key_sets=key_sets, base_url=TOOL)
                session.commit()

        base, cand, ratio = compare(baseline, ours, rounds=rounds, calls=calls)
        report("launch validation vs bare RS256 verify", base, cand, ratio)
        engine.dispose()
        return ratio
