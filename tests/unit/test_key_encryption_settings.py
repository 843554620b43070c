"""WOM_KEY_ENCRYPTION_KEYS: required in production, each entry a Fernet key (issue 9, item 11)."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from plugin.errors import ConfigurationError
from plugin.settings import load_settings

PRODUCTION = {"WOM_ENV": "production", "WOM_SECRET_KEY": "s" * 40, "WOM_BASE_URL": "https://wom.example"}


def test_production_refuses_to_start_without_key_encryption_keys(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="WOM_KEY_ENCRYPTION_KEYS must be set in production"):
        load_settings({"WOM_INSTANCE_PATH": str(tmp_path), **PRODUCTION}, environ={})


def test_production_starts_with_them_and_keeps_their_order(tmp_path: Path) -> None:
    first, second = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings = load_settings(
        {"WOM_INSTANCE_PATH": str(tmp_path), **PRODUCTION, "WOM_KEY_ENCRYPTION_KEYS": f" {first} , {second} "},
        environ={},
    )
    assert settings.key_encryption_keys == (first, second)
    assert first not in repr(settings)


def test_a_malformed_key_is_refused_with_its_position(tmp_path: Path) -> None:
    good = Fernet.generate_key().decode()
    with pytest.raises(ConfigurationError, match="key 2 is not a Fernet key"):
        load_settings({"WOM_INSTANCE_PATH": str(tmp_path), "WOM_KEY_ENCRYPTION_KEYS": f"{good},not-a-key"}, environ={})
