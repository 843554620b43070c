"""The tool's own RSA signing keys and their rotation.

A key is published in the JWKS as ``next`` before it signs anything, so platforms that cache our
key set already know it when it becomes ``active``. After a rotation the old key is ``retired``
but stays published for a grace period, so a message it signed moments ago still verifies.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwcrypto.jwk import JWK
from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.db import utcnow
from plugin.models import ToolKey
from plugin.models.platform import KeyStatus

RETIRED_KEY_GRACE = timedelta(days=2)


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_key_pem: str


def _new_key(status: KeyStatus) -> ToolKey:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    kid = JWK.from_pem(pem.encode()).thumbprint()  # RFC 7638, as pylti1p3 names keys
    now = utcnow()
    return ToolKey(
        kid=kid, private_key_pem=pem, status=status, activated_at=now if status == KeyStatus.ACTIVE else None
    )


def _keys(session: Session, status: KeyStatus) -> list[ToolKey]:
    return list(session.scalars(select(ToolKey).where(ToolKey.status == status).order_by(ToolKey.id)))


def ensure_keys(session: Session) -> None:
    """Make the active and the next key on first use."""
    if not _keys(session, KeyStatus.ACTIVE):
        session.add(_new_key(KeyStatus.ACTIVE))
    if not _keys(session, KeyStatus.NEXT):
        session.add(_new_key(KeyStatus.NEXT))
    session.flush()


def signing_key(session: Session) -> SigningKey:
    ensure_keys(session)
    key = _keys(session, KeyStatus.ACTIVE)[-1]
    return SigningKey(kid=key.kid, private_key_pem=key.private_key_pem)


def rotate(session: Session, now: datetime | None = None) -> tuple[str, str]:
    """Promote the published ``next`` key to ``active``, retire the old one, publish a new ``next``.

    Returns (kid now signing, kid published as next).
    """
    now = now or utcnow()
    ensure_keys(session)
    for old in _keys(session, KeyStatus.ACTIVE):
        old.status = KeyStatus.RETIRED
        old.retired_at = now
    promoted = _keys(session, KeyStatus.NEXT)[0]
    promoted.status = KeyStatus.ACTIVE
    promoted.activated_at = now
    upcoming = _new_key(KeyStatus.NEXT)
    session.add(upcoming)
    session.flush()
    return promoted.kid, upcoming.kid


def published_keys(session: Session, now: datetime | None = None) -> list[ToolKey]:
    """Active and next keys, and retired keys still within their grace period."""
    now = now or utcnow()
    ensure_keys(session)
    keys = _keys(session, KeyStatus.ACTIVE) + _keys(session, KeyStatus.NEXT)
    keys += [k for k in _keys(session, KeyStatus.RETIRED) if k.retired_at and k.retired_at > now - RETIRED_KEY_GRACE]
    return keys


def public_jwks(session: Session, now: datetime | None = None) -> dict[str, list[dict[str, str]]]:
    """The JSON Web Key Set platforms fetch to verify what we sign."""
    keys = []
    for key in published_keys(session, now):
        jwk = json.loads(JWK.from_pem(key.private_key_pem.encode()).export_public())
        jwk.update(kid=key.kid, alg="RS256", use="sig")
        keys.append(jwk)
    return {"keys": keys}


def list_keys(session: Session) -> list[ToolKey]:
    return list(session.scalars(select(ToolKey).order_by(ToolKey.id)))
