"""The tool's private keys are encrypted at rest with WOM_KEY_ENCRYPTION_KEYS (issue 9, item 11)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from cryptography.fernet import Fernet
from flask import Flask
from sqlalchemy import select

from plugin.app import create_app
from plugin.models import ToolKey
from plugin.models.platform import KeyStatus
from plugin.services import tool_keys

K1, K2 = Fernet.generate_key().decode(), Fernet.generate_key().decode()


@contextmanager
def tool_app(app_config: dict[str, str], keys: str | None) -> Iterator[Flask]:
    config = dict(app_config)
    if keys is not None:
        config["WOM_KEY_ENCRYPTION_KEYS"] = keys
    app = create_app(config)
    try:
        yield app
    finally:
        app.extensions["wordofmouth.engine"].dispose()


def stored(app: Flask) -> dict[str, str]:
    session = app.extensions["wordofmouth.sessions"]()
    try:
        return {k.kid: k.private_key_pem for k in session.scalars(select(ToolKey))}
    finally:
        session.close()


def jwks_kids(app: Flask) -> set[str]:
    response = app.test_client().get("/lti/jwks")
    assert response.status_code == 200, response.text
    return {k["kid"] for k in response.json["keys"]}


def test_new_keys_are_stored_encrypted_and_still_sign(app_config: dict[str, str]) -> None:
    with tool_app(app_config, K1) as app:
        kids = jwks_kids(app)
        rows = stored(app)
        assert set(rows) == kids
        assert all(value.startswith("fernet:") and "PRIVATE KEY" not in value for value in rows.values())
        session = app.extensions["wordofmouth.sessions"]()
        try:
            signing = tool_keys.signing_key(session)
        finally:
            session.close()
        assert signing.private_key_pem.startswith("-----BEGIN PRIVATE KEY-----")
        assert signing.kid in kids


def test_plain_keys_from_before_are_encrypted_on_first_use(app_config: dict[str, str]) -> None:
    with tool_app(app_config, K1) as app:
        session = app.extensions["wordofmouth.sessions"]()
        try:
            session.add_all([tool_keys._new_key(KeyStatus.ACTIVE), tool_keys._new_key(KeyStatus.NEXT)])  # plain PEM
            session.commit()
        finally:
            session.close()
        before = stored(app)
        assert all(value.startswith("-----BEGIN") for value in before.values())
        assert jwks_kids(app) == set(before)
        after = stored(app)
        assert set(after) == set(before)
        assert all(value.startswith("fernet:") for value in after.values())


def test_the_encryption_key_rotates_with_reencrypt(app_config: dict[str, str]) -> None:
    with tool_app(app_config, K1) as old:
        kids = jwks_kids(old)
    with tool_app(app_config, f"{K2},{K1}") as both:
        assert jwks_kids(both) == kids  # the old key still decrypts
        result = both.test_cli_runner().invoke(args=["keys", "reencrypt"])
        assert result.exit_code == 0, result.output
        assert "2 tool key(s) encrypted" in result.output
    with tool_app(app_config, K2) as new_only:
        assert jwks_kids(new_only) == kids
        session = new_only.extensions["wordofmouth.sessions"]()
        try:
            assert tool_keys.signing_key(session).kid in kids
        finally:
            session.close()
    with tool_app(app_config, K1) as removed:
        session = removed.extensions["wordofmouth.sessions"]()
        try:
            with pytest.raises(tool_keys.KeyEncryptionError, match="cannot be decrypted"):
                tool_keys.signing_key(session)
        finally:
            session.close()


def test_development_without_the_setting_derives_a_key_and_says_so(
    app_config: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="wordofmouth.keys"), tool_app(app_config, None) as app:
        jwks_kids(app)
        assert all(value.startswith("fernet:") for value in stored(app).values())
    assert "WOM_KEY_ENCRYPTION_KEYS is not set" in caplog.text
    assert "derived from WOM_SECRET_KEY" in caplog.text
