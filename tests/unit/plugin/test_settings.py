from pathlib import Path

import pytest

from plugin.errors import ConfigurationError
from plugin.settings import load_settings

STRONG = "s" * 40


def test_defaults_use_sqlite_in_instance_and_keep_a_generated_secret(tmp_path: Path) -> None:
    env = {"WOM_INSTANCE_PATH": str(tmp_path)}
    first = load_settings(environ=env)
    second = load_settings(environ=env)
    assert first.database_url == f"sqlite:///{tmp_path / 'wordofmouth.db'}"
    assert first.base_url == "http://127.0.0.1:5000"
    assert first.env == "development"
    assert first.secret_key_is_dev
    assert len(first.secret_key) >= 32
    assert second.secret_key == first.secret_key
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_environment_overrides_instance_file_and_overrides_win(tmp_path: Path) -> None:
    (tmp_path / "wordofmouth.cfg").write_text(
        'WOM_BASE_URL = "https://file.example"\nWOM_DATABASE_URL = "sqlite:///from-file.db"\nWOM_DEMO = True\n'
    )
    env = {"WOM_INSTANCE_PATH": str(tmp_path), "WOM_BASE_URL": "https://env.example/"}
    settings = load_settings({"WOM_DATABASE_URL": "sqlite:///override.db"}, environ=env)
    assert settings.base_url == "https://env.example"
    assert settings.database_url == "sqlite:///override.db"
    assert settings.demo is True


@pytest.mark.parametrize(
    ("env", "reason"),
    [
        ({"WOM_ENV": "production", "WOM_BASE_URL": "https://wom.example"}, "WOM_SECRET_KEY is required"),
        ({"WOM_ENV": "production", "WOM_SECRET_KEY": STRONG}, "WOM_BASE_URL must be https"),
        (
            {"WOM_ENV": "production", "WOM_SECRET_KEY": STRONG, "WOM_BASE_URL": "https://w.example", "WOM_DEMO": "1"},
            "WOM_DEMO must be off",
        ),
        ({"WOM_ENV": "production", "WOM_SECRET_KEY": "short", "WOM_BASE_URL": "https://w.example"}, "32 characters"),
        ({"WOM_ENV": "staging"}, "WOM_ENV must be"),
        ({"WOM_BASE_URL": "moodle.example"}, "absolute http(s) URL"),
        ({"WOM_DEMO": "maybe"}, "WOM_DEMO must be one of"),
        ({"WOM_ROSTER_SYNC_HOURS": "0"}, "WOM_ROSTER_SYNC_HOURS must be between 1 and 720"),
        ({"WOM_ROSTER_SYNC_HOURS": "often"}, "WOM_ROSTER_SYNC_HOURS must be a whole number"),
        ({"WOM_WORKER_POLL_SECONDS": "0"}, "WOM_WORKER_POLL_SECONDS must be between 1 and 3600"),
        ({"WOM_XAPI_LEASE_SECONDS": "0"}, "WOM_XAPI_LEASE_SECONDS must be between 1 and 86400"),
        ({"WOM_OPEN_REGISTRATION": "sometimes"}, "WOM_OPEN_REGISTRATION must be one of"),
        ({"WOM_LAUNCH_FAILURES_KEPT": "5"}, "WOM_LAUNCH_FAILURES_KEPT must be between 10 and 100000"),
    ],
)
def test_refuses_to_start_with_a_one_line_reason(tmp_path: Path, env: dict[str, str], reason: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_settings(environ={"WOM_INSTANCE_PATH": str(tmp_path), **env})
    assert reason in caught.value.reason
    assert "\n" not in str(caught.value.code)
    assert str(caught.value.code).startswith("wordofmouth: ")


def test_production_refuses_the_generated_development_secret(tmp_path: Path) -> None:
    dev = load_settings(environ={"WOM_INSTANCE_PATH": str(tmp_path)})
    with pytest.raises(ConfigurationError, match="generated development key"):
        load_settings(
            environ={
                "WOM_INSTANCE_PATH": str(tmp_path),
                "WOM_ENV": "production",
                "WOM_BASE_URL": "https://wom.example",
                "WOM_SECRET_KEY": dev.secret_key,
            }
        )


def test_production_accepts_a_sound_configuration(tmp_path: Path) -> None:
    settings = load_settings(
        environ={
            "WOM_INSTANCE_PATH": str(tmp_path),
            "WOM_ENV": "production",
            "WOM_BASE_URL": "https://wom.example",
            "WOM_SECRET_KEY": STRONG,
            "WOM_KEY_ENCRYPTION_KEYS": "ZmVybmV0LWtleS1mb3ItdGhlLXNldHRpbmdzLXRlc3Q=",
        }
    )
    assert settings.is_production
    assert settings.production_problems() == []
    assert not (tmp_path / "secret_key").exists()


def test_instance_file_is_parsed_not_executed(tmp_path: Path) -> None:
    (tmp_path / "wordofmouth.cfg").write_text("import os\n")
    with pytest.raises(ConfigurationError, match="expected NAME = value"):
        load_settings(environ={"WOM_INSTANCE_PATH": str(tmp_path)})


def test_worker_settings_have_defaults_and_can_be_changed(tmp_path: Path) -> None:
    defaults = load_settings(environ={"WOM_INSTANCE_PATH": str(tmp_path)})
    assert (defaults.roster_sync_hours, defaults.worker_poll_seconds) == (6, 60)
    changed = load_settings(
        environ={"WOM_INSTANCE_PATH": str(tmp_path), "WOM_ROSTER_SYNC_HOURS": "12", "WOM_WORKER_POLL_SECONDS": "5"}
    )
    assert (changed.roster_sync_hours, changed.worker_poll_seconds) == (12, 5)


def test_installation_settings_are_closed_by_default(tmp_path: Path) -> None:
    defaults = load_settings(environ={"WOM_INSTANCE_PATH": str(tmp_path)})
    assert (defaults.open_registration, defaults.admin_password, defaults.launch_failures_kept) == (False, "", 500)
    assert defaults.xapi_lease_seconds == 300
    changed = load_settings(
        environ={
            "WOM_INSTANCE_PATH": str(tmp_path),
            "WOM_OPEN_REGISTRATION": "on",
            "WOM_ADMIN_PASSWORD": " operator secret ",
            "WOM_XAPI_LEASE_SECONDS": "4",
        }
    )
    assert (changed.open_registration, changed.admin_password, changed.xapi_lease_seconds) == (
        True,
        "operator secret",
        4,
    )
    assert "operator secret" not in repr(changed)
