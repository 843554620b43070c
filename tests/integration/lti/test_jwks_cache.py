"""/lti/jwks serves a cached public document, rebuilt when the keys change in any process
(issue 9, item 14)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import requests
from jwcrypto.jwk import JWK

from plugin.db import utcnow
from plugin.services import tool_keys
from tests.integration.lti.conftest import Tool


@pytest.fixture
def pem_parses(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts how often a private key is parsed (what made every request cost ~110 ms)."""
    calls: list[int] = []
    original = JWK.from_pem.__func__  # type: ignore[attr-defined]

    def counted(cls, *args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(1)
        return original(cls, *args, **kwargs)

    monkeypatch.setattr(JWK, "from_pem", classmethod(counted))
    return calls


def kids(tool: Tool) -> list[str]:
    response = requests.get(tool.url + "/lti/jwks", timeout=30)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "public, max-age=300"
    return [k["kid"] for k in response.json()["keys"]]


def test_the_key_set_is_built_once_and_rebuilt_after_a_rotation_elsewhere(tool: Tool, pem_parses: list[int]) -> None:
    first = kids(tool)
    assert len(first) == 2
    parsed = len(pem_parses)
    for _ in range(5):
        assert kids(tool) == first
    assert len(pem_parses) == parsed  # served from the cache: no key parsed again

    # Another process rotates (a session of its own, as `wordofmouth keys rotate` would).
    session = tool.session()
    try:
        active, upcoming = tool_keys.rotate(session)
        session.commit()
    finally:
        session.close()
    after = kids(tool)
    assert set(after) == set(first) | {upcoming}  # the retired key stays published for its grace period
    assert active in first


def test_a_retired_key_leaves_the_cached_document_after_its_grace_period(tool: Tool) -> None:
    session = tool.session()
    try:
        tool_keys.ensure_keys(session)
        old_active = tool_keys.signing_key(session).kid
        tool_keys.rotate(session)  # the first active key is retired, still published for its grace period
        session.commit()
        now = utcnow()
        document = tool_keys.public_jwks(session, now)
        assert old_active in [k["kid"] for k in document["keys"]]
        later = tool_keys.public_jwks(session, now + tool_keys.RETIRED_KEY_GRACE + timedelta(seconds=1))
        assert old_active not in [k["kid"] for k in later["keys"]]
    finally:
        session.close()
