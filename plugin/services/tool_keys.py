"""The tool's own RSA signing keys and their rotation.

A key is published in the JWKS as ``next`` before it signs anything, so platforms that cache our
key set already know it when it becomes ``active``. After a rotation the old key is ``retired``
but stays published for a grace period, so a message it signed moments ago still verifies.

There is exactly one ``active`` and one ``next`` key, always: two partial unique indexes
(``uq_tool_key_one_active``, ``uq_tool_key_one_next``) refuse a second one on both backends, and
the keys are made on first use by inserting under that constraint. Of several processes racing
to make them (sixteen first requests to ``/lti/jwks``), one makes them and the others wait for it
and read its keys: on PostgreSQL the maker holds a transaction advisory lock that the others only
try; on SQLite each racer checks and inserts inside ``BEGIN IMMEDIATE``. Should two inserts still
meet, the index refuses one, whose savepoint is rolled back before it reads the winner's key.

Private keys are encrypted at rest with Fernet (AES-128-CBC + HMAC-SHA256, from ``cryptography``)
under ``WOM_KEY_ENCRYPTION_KEYS``: a ``MultiFernet`` whose first key encrypts and whose every key
decrypts, so the encryption key itself can rotate (add a new key first, ``wordofmouth keys
reencrypt``, then drop the old one). Stored values read ``fernet:<token>``; a plain PEM from
before is encrypted on first use. Without the setting (development only; production refuses to
start) the key is derived from the secret key, and the log says so.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwcrypto.jwk import JWK
from sqlalchemy import Select, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from plugin.db import utcnow
from plugin.models import ToolKey
from plugin.models.platform import KeyStatus

RETIRED_KEY_GRACE = timedelta(days=2)
KEY_CIPHER = "wordofmouth.tool_key_cipher"  # in Session.info, set by use_key_cipher
SEALED = "fernet:"
log = logging.getLogger("wordofmouth.keys")


class KeyEncryptionError(Exception):
    """A stored private key cannot be decrypted with the configured keys."""


def key_cipher(encryption_keys: Sequence[str], secret_key: str) -> MultiFernet:
    """The cipher for ``WOM_KEY_ENCRYPTION_KEYS`` (first encrypts, all decrypt); without any, one
    derived from the secret key (development only)."""
    if encryption_keys:
        return MultiFernet([Fernet(key) for key in encryption_keys])
    log.warning(
        "WOM_KEY_ENCRYPTION_KEYS is not set: the tool's private keys are encrypted with a key derived "
        "from WOM_SECRET_KEY (development only; production refuses to start without it)"
    )
    derived = hashlib.sha256(b"wordofmouth tool key encryption\0" + secret_key.encode()).digest()
    return MultiFernet([Fernet(base64.urlsafe_b64encode(derived))])


def use_key_cipher(sessions: sessionmaker[Session], cipher: MultiFernet) -> None:
    """Every session of ``sessions`` encrypts and decrypts tool keys with ``cipher``."""
    sessions.kw.setdefault("info", {})[KEY_CIPHER] = cipher


def _cipher(session: Session) -> MultiFernet | None:
    return session.info.get(KEY_CIPHER)


def _seal(session: Session, pem: str) -> str:
    cipher = _cipher(session)
    return pem if cipher is None else SEALED + cipher.encrypt(pem.encode()).decode()


def private_pem(session: Session, key: ToolKey) -> str:
    """The key's PEM; a plain one from before encryption is encrypted in place (first use)."""
    stored = key.private_key_pem
    cipher = _cipher(session)
    if stored.startswith(SEALED):
        if cipher is None:
            raise KeyEncryptionError(f"tool key {key.kid} is encrypted but no key encryption is configured")
        try:
            return cipher.decrypt(stored.removeprefix(SEALED).encode()).decode()
        except InvalidToken as exc:
            raise KeyEncryptionError(
                f"tool key {key.kid} cannot be decrypted with any key of WOM_KEY_ENCRYPTION_KEYS "
                "(was the key that encrypted it removed?)"
            ) from exc
    if cipher is not None:
        key.private_key_pem = _seal(session, stored)
    return stored


def reencrypt(session: Session) -> int:
    """Encrypt every tool key with the first encryption key (after adding a new one); returns how many."""
    keys = list_keys(session)
    for key in keys:
        key.private_key_pem = _seal(session, private_pem(session, key))
    session.flush()
    return len(keys)


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_key_pem: str


def _new_key(status: KeyStatus, session: Session | None = None) -> ToolKey:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    kid = JWK.from_pem(pem.encode()).thumbprint()  # RFC 7638, as pylti1p3 names keys
    now = utcnow()
    return ToolKey(
        kid=kid,
        private_key_pem=_seal(session, pem) if session is not None else pem,
        status=status,
        activated_at=now if status == KeyStatus.ACTIVE else None,
    )


def _keys(session: Session, status: KeyStatus) -> list[ToolKey]:
    return list(session.scalars(select(ToolKey).where(ToolKey.status == status).order_by(ToolKey.id)))


KEY_CREATION_LOCK = 0x574F4D4B  # "WOMK": PostgreSQL advisory lock id of the transaction making the keys
KEY_CREATION_WAIT = 10.0  # seconds a racer waits for another transaction to make the keys


def _create(session: Session, status: KeyStatus) -> None:
    """Insert a key of ``status`` unless another transaction got there first (the unique index says)."""
    connection = session.connection()
    if connection.dialect.name == "sqlite" and not connection.connection.dbapi_connection.in_transaction:
        _create_sqlite(session, status)
        return
    try:
        with session.begin_nested():
            session.add(_new_key(status, session))
    except IntegrityError:
        pass  # another process made it: the caller reads it


def _missing(session: Session) -> list[KeyStatus]:
    return [status for status in (KeyStatus.ACTIVE, KeyStatus.NEXT) if not _keys(session, status)]


def _wait_for_maker(session: Session) -> list[KeyStatus]:
    """PostgreSQL: one transaction makes the keys (it holds a transaction advisory lock); the
    others wait for its commit instead of each making RSA keys only to lose the insert, and
    without holding that lock themselves for the rest of their request. Returns what is still
    missing (the maker's, or ours to make after waiting too long: the unique index still decides).
    """
    if session.scalar(select(func.pg_try_advisory_xact_lock(KEY_CREATION_LOCK))):
        return _missing(session)
    deadline = time.monotonic() + KEY_CREATION_WAIT
    while (missing := _missing(session)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return missing


def _create_sqlite(session: Session, status: KeyStatus) -> None:
    """SQLite, no transaction open: make the key in a short transaction that takes the write lock first.

    A deferred transaction that lost the race would keep its lock after the failed insert and
    deadlock the others ("database is locked"); ``BEGIN IMMEDIATE`` makes racers queue instead.
    It runs on the session's own connection (a second connection per request could exhaust the
    pool), and ends before this returns, so the caller's unit of work is untouched.
    """
    connection = session.connection()
    connection.exec_driver_sql("BEGIN IMMEDIATE")
    try:
        if connection.scalar(select(ToolKey.id).where(ToolKey.status == status).limit(1)) is None:
            key = _new_key(status, session)
            connection.execute(
                ToolKey.__table__.insert().values(
                    kid=key.kid,
                    private_key_pem=key.private_key_pem,
                    status=key.status,
                    created_at=utcnow(),
                    activated_at=key.activated_at,
                )
            )
    except BaseException:
        connection.exec_driver_sql("ROLLBACK")
        raise
    connection.exec_driver_sql("COMMIT")


def ensure_keys(session: Session) -> None:
    """Make the active and the next key on first use (at most one of each, whoever races)."""
    missing = _missing(session)
    if missing and session.connection().dialect.name == "postgresql":
        missing = _wait_for_maker(session)
    for status in missing:
        _create(session, status)
    session.flush()


def signing_key(session: Session) -> SigningKey:
    ensure_keys(session)
    key = _keys(session, KeyStatus.ACTIVE)[-1]
    return SigningKey(kid=key.kid, private_key_pem=private_pem(session, key))


def rotate(session: Session, now: datetime | None = None) -> tuple[str, str]:
    """Promote the published ``next`` key to ``active``, retire the old one, publish a new ``next``.

    Returns (kid now signing, kid published as next).
    """
    now = now or utcnow()
    ensure_keys(session)
    # Lock both rows (PostgreSQL), so two rotations at once take turns instead of colliding.
    current = {
        key.status: key
        for key in session.scalars(
            select(ToolKey).where(ToolKey.status.in_((KeyStatus.ACTIVE, KeyStatus.NEXT))).with_for_update()
        )
    }
    old, promoted = current[KeyStatus.ACTIVE], current[KeyStatus.NEXT]
    # One step at a time: the unique indexes are checked row by row.
    old.status = KeyStatus.RETIRED
    old.retired_at = now
    session.flush()
    promoted.status = KeyStatus.ACTIVE
    promoted.activated_at = now
    session.flush()
    upcoming = _new_key(KeyStatus.NEXT, session)
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


@dataclass(frozen=True)
class _CachedJwks:
    version: tuple[object, ...]
    document: dict[str, list[dict[str, str]]]
    stale_after: datetime | None  # when the oldest published retired key leaves its grace period


_jwks_cache: dict[str, _CachedJwks] = {}
_jwks_lock = threading.Lock()


@functools.cache
def _version_statement() -> Select[tuple[object, ...]]:
    """Built once: making the expression per request cost more than running it."""
    return select(
        func.count(ToolKey.id),
        func.max(ToolKey.id),
        func.max(ToolKey.activated_at),
        func.max(ToolKey.retired_at),
        func.count(ToolKey.id).filter(ToolKey.status == KeyStatus.ACTIVE),
        func.count(ToolKey.id).filter(ToolKey.status == KeyStatus.NEXT),
    )


def _key_set_version(session: Session) -> tuple[object, ...]:
    """A cheap fingerprint of the key table: any new key or rotation changes it (one small query)."""
    return tuple(session.connection().execute(_version_statement()).one())


def _build_jwks(session: Session, now: datetime) -> tuple[dict[str, list[dict[str, str]]], datetime | None]:
    keys = []
    retired_until: list[datetime] = []
    for key in published_keys(session, now):
        jwk = json.loads(JWK.from_pem(private_pem(session, key).encode()).export_public())
        jwk.update(kid=key.kid, alg="RS256", use="sig")
        keys.append(jwk)
        if key.retired_at is not None:
            retired_until.append(key.retired_at + RETIRED_KEY_GRACE)
    return {"keys": keys}, min(retired_until, default=None)


def public_jwks(session: Session, now: datetime | None = None) -> dict[str, list[dict[str, str]]]:
    """The JSON Web Key Set platforms fetch to verify what we sign.

    Building it parses every private key (~100 ms of CPU), so each process keeps the document and
    rebuilds it only when the key table's fingerprint changes (a rotation in any process, keys made
    on first use) or a retired key's grace period ends. Checking costs one small query.
    """
    now = now or utcnow()
    version = _key_set_version(session)
    if not version[4] or not version[5]:  # no active or next key yet: make them first
        ensure_keys(session)
        version = _key_set_version(session)
    cache_key = str(session.get_bind().engine.url)
    with _jwks_lock:
        cached = _jwks_cache.get(cache_key)
    if cached and cached.version == version and (cached.stale_after is None or now < cached.stale_after):
        return cached.document
    document, stale_after = _build_jwks(session, now)
    with _jwks_lock:
        _jwks_cache[cache_key] = _CachedJwks(version, document, stale_after)
    return document


def list_keys(session: Session) -> list[ToolKey]:
    return list(session.scalars(select(ToolKey).order_by(ToolKey.id)))
