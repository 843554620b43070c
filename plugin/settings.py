"""Settings from ``WOM_*`` environment variables and an optional ``instance/wordofmouth.cfg``.

Precedence, highest first: the mapping passed to ``create_app(config=...)``, the environment,
the instance file, the defaults below. The instance file uses the same names as the environment
(``WOM_DATABASE_URL = "postgresql+psycopg://..."``), one Python assignment per line.
"""

from __future__ import annotations

import ast
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from plugin.errors import ConfigurationError

PREFIX = "WOM_"
INSTANCE_FILE = "wordofmouth.cfg"
DEV_SECRET_FILE = "secret_key"  # noqa: S105 -- a file name, not a secret
ENVIRONMENTS = ("development", "production")
TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off", ""}


@dataclass(frozen=True)
class Settings:
    """Validated settings of one running service."""

    instance_path: Path
    database_url: str
    base_url: str
    secret_key: str
    env: str = "development"
    demo: bool = False
    log_level: str = "INFO"
    log_format: str = "text"  # WOM_LOG_FORMAT: "text" (one escaped line per record) or "json" (one object per line)
    group_parameter: str = "department"
    demo_lms_url: str = ""
    rate_limit_lti: str = "300 per minute"
    rate_limit_api: str = "600 per minute"
    rate_limit_writes: str = "30 per minute; 500 per day"
    rate_limit_login: str = "120 per minute; 1200 per hour"
    rate_limit_storage_url: str = "memory://"
    trusted_proxies: int = 0
    roster_sync_hours: int = 6
    worker_poll_seconds: int = 60
    recommend_build_minutes: int = 10
    lrs_endpoint: str = ""
    lrs_username: str = ""
    lrs_password: str = field(default="", repr=False)
    xapi_deliver_seconds: int = 5
    xapi_batch_size: int = 100
    xapi_pull_minutes: int = 15
    xapi_lease_seconds: int = 300  # how long a delivery claim holds before another worker retakes it
    db_connect_timeout: int = 5
    db_statement_timeout_ms: int = 15_000
    db_lock_timeout_ms: int = 5_000
    db_pool_timeout: int = 5
    secret_key_is_dev: bool = field(default=False, repr=False)
    key_encryption_keys: tuple[str, ...] = field(default=(), repr=False)  # Fernet keys; the first encrypts
    # The operator console's credential (WOM_ADMIN_PASSWORD): a password, or a werkzeug hash
    # ("scrypt:...", "pbkdf2:..."); empty: the console is closed in production, loopback-only otherwise.
    admin_password: str = field(default="", repr=False)
    # LTI Dynamic Registration without a one-time token (WOM_OPEN_REGISTRATION): off unless switched on.
    open_registration: bool = False
    launch_failures_kept: int = 500  # WOM_LAUNCH_FAILURES_KEPT: refusals kept for the console

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    def production_problems(self) -> list[str]:
        """Why this configuration must not serve real users; empty when it may."""
        problems = []
        if self.secret_key_is_dev:
            problems.append("WOM_SECRET_KEY is the generated development key: set a secret of your own")
        if urlsplit(self.base_url).scheme != "https":
            problems.append(f"WOM_BASE_URL must be https in production (it is {self.base_url})")
        if self.demo:
            problems.append("WOM_DEMO must be off in production: the demo LMS signs launches for anyone")
        if not self.key_encryption_keys:
            problems.append(
                "WOM_KEY_ENCRYPTION_KEYS must be set in production: the tool's private keys are encrypted with it"
            )
        return problems


def _log_format(raw: str) -> str:
    value = raw.strip().lower() or "text"
    if value not in ("text", "json"):
        raise ConfigurationError(f"WOM_LOG_FORMAT must be text or json (got {raw!r})")
    return value


def _read_instance_file(path: Path) -> dict[str, str]:
    """Read ``NAME = value`` lines of the instance file without executing it."""
    if not path.is_file():
        return {}
    values: dict[str, str] = {}
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except SyntaxError as exc:
        raise ConfigurationError(f"{path}: line {exc.lineno}: not a valid setting line") from exc
    for node in tree.body:
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)):
            raise ConfigurationError(f"{path}: line {node.lineno}: expected NAME = value")
        name = node.targets[0].id
        try:
            value = ast.literal_eval(node.value)
        except ValueError as exc:
            raise ConfigurationError(f"{path}: line {node.lineno}: {name} must be a plain value") from exc
        values[name] = str(value).lower() if isinstance(value, bool) else str(value)
    return values


def _as_bool(name: str, raw: str) -> bool:
    word = raw.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ConfigurationError(f"{name} must be one of 1/0, true/false, yes/no, on/off (got {raw!r})")


def _rate_limit(name: str, raw: str) -> str:
    """A limit such as ``300 per minute`` or ``10/second``; ``off`` disables it."""
    from limits import parse_many

    text = raw.strip()
    if text.lower() == "off":
        return "off"
    try:
        parse_many(text)
    except ValueError as exc:
        raise ConfigurationError(f"{name} must look like '300 per minute' or be 'off' (got {raw!r})") from exc
    return text


def _as_count(name: str, raw: str) -> int:
    try:
        value = int(raw.strip())
    except ValueError as exc:
        raise ConfigurationError(f"{name} must be a whole number (got {raw!r})") from exc
    if value < 0:
        raise ConfigurationError(f"{name} must not be negative")
    return value


def _in_range(name: str, raw: str, low: int, high: int) -> int:
    value = _as_count(name, raw)
    if not low <= value <= high:
        raise ConfigurationError(f"{name} must be between {low} and {high} (got {value})")
    return value


def _lrs_endpoint(raw: str) -> str:
    """The LRS's xAPI base URL (``.../xAPI/``) with one trailing slash, or "" for none."""
    text = raw.strip()
    if not text:
        return ""
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigurationError(f"WOM_LRS_ENDPOINT must be an absolute http(s) URL (got {raw!r})")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ConfigurationError(
            "WOM_LRS_ENDPOINT must be a plain URL: put credentials in WOM_LRS_USERNAME and WOM_LRS_PASSWORD"
        )
    return text.rstrip("/") + "/"


def _database_url(raw: str) -> str:
    """A URL SQLAlchemy can open; the value is not echoed (it may hold a password)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    example = "e.g. postgresql+psycopg://user:password@host:5432/dbname or sqlite:////srv/wom/wordofmouth.db"
    try:
        url = make_url(raw.strip())
    except (ArgumentError, ValueError) as exc:
        raise ConfigurationError(f"WOM_DATABASE_URL is not a database URL ({example})") from exc
    try:
        url.get_dialect().import_dbapi()
    except (NoSuchModuleError, ImportError) as exc:
        raise ConfigurationError(
            f"WOM_DATABASE_URL names a database driver that is not installed: {url.drivername} ({example})"
        ) from exc
    return raw.strip()


def _fernet_keys(raw: str) -> tuple[str, ...]:
    """``WOM_KEY_ENCRYPTION_KEYS``: comma-separated Fernet keys (the first encrypts, all decrypt)."""
    from cryptography.fernet import Fernet

    keys = tuple(part.strip() for part in raw.split(",") if part.strip())
    for number, key in enumerate(keys, start=1):
        try:
            Fernet(key)
        except ValueError as exc:
            raise ConfigurationError(
                f"WOM_KEY_ENCRYPTION_KEYS: key {number} is not a Fernet key "
                "(32 url-safe base64-encoded bytes, as cryptography's Fernet.generate_key() makes)"
            ) from exc
    return keys


def _dev_secret(instance_path: Path) -> str:
    """Return the development secret kept in the instance folder, making it on first use."""
    path = instance_path / DEV_SECRET_FILE
    if path.is_file():
        return path.read_text(encoding="utf-8").strip()
    instance_path.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(key + "\n")
    return key


def load_settings(overrides: Mapping[str, object] | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Build :class:`Settings`, raising :class:`ConfigurationError` with a one-line reason."""
    environ = os.environ if environ is None else environ
    overrides = {k: str(v) for k, v in (overrides or {}).items()}
    instance_path = Path(
        overrides.get("WOM_INSTANCE_PATH") or environ.get("WOM_INSTANCE_PATH") or Path.cwd() / "instance"
    ).resolve()
    layered: dict[str, str] = {}
    layered.update(_read_instance_file(instance_path / INSTANCE_FILE))
    layered.update({k: v for k, v in environ.items() if k.startswith(PREFIX)})
    layered.update(overrides)

    env = layered.get("WOM_ENV", "development").strip().lower()
    if env not in ENVIRONMENTS:
        raise ConfigurationError(f"WOM_ENV must be 'development' or 'production' (got {env!r})")

    base_url = layered.get("WOM_BASE_URL", "http://127.0.0.1:5000").strip().rstrip("/")
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigurationError(f"WOM_BASE_URL must be an absolute http(s) URL (got {base_url!r})")
    if parts.query or parts.fragment:
        raise ConfigurationError("WOM_BASE_URL must not carry a query or fragment")

    database_url = _database_url(layered.get("WOM_DATABASE_URL") or f"sqlite:///{instance_path / 'wordofmouth.db'}")

    secret_key = layered.get("WOM_SECRET_KEY", "").strip()
    secret_is_dev = False
    if not secret_key:
        if env == "production":
            raise ConfigurationError("WOM_SECRET_KEY is required in production")
        secret_key = _dev_secret(instance_path)
        secret_is_dev = True
    elif (instance_path / DEV_SECRET_FILE).is_file():
        secret_is_dev = secret_key == (instance_path / DEV_SECRET_FILE).read_text(encoding="utf-8").strip()
    if len(secret_key) < 32 and env == "production":
        raise ConfigurationError("WOM_SECRET_KEY must be at least 32 characters in production")

    settings = Settings(
        instance_path=instance_path,
        database_url=database_url,
        base_url=base_url,
        secret_key=secret_key,
        env=env,
        demo=_as_bool("WOM_DEMO", layered.get("WOM_DEMO", "0")),
        log_level=layered.get("WOM_LOG_LEVEL", "INFO").upper(),
        log_format=_log_format(layered.get("WOM_LOG_FORMAT", "text")),
        group_parameter=layered.get("WOM_GROUP_PARAMETER", "department").strip(),
        demo_lms_url=(layered.get("WOM_DEMO_LMS_URL") or base_url).strip().rstrip("/"),
        rate_limit_lti=_rate_limit("WOM_RATE_LIMIT_LTI", layered.get("WOM_RATE_LIMIT_LTI", "300 per minute")),
        rate_limit_api=_rate_limit("WOM_RATE_LIMIT_API", layered.get("WOM_RATE_LIMIT_API", "600 per minute")),
        rate_limit_writes=_rate_limit(
            "WOM_RATE_LIMIT_WRITES", layered.get("WOM_RATE_LIMIT_WRITES", "30 per minute; 500 per day")
        ),
        rate_limit_login=_rate_limit(
            "WOM_RATE_LIMIT_LOGIN", layered.get("WOM_RATE_LIMIT_LOGIN", "120 per minute; 1200 per hour")
        ),
        rate_limit_storage_url=layered.get("WOM_RATE_LIMIT_STORAGE_URL", "memory://").strip(),
        trusted_proxies=_as_count("WOM_TRUSTED_PROXIES", layered.get("WOM_TRUSTED_PROXIES", "0")),
        roster_sync_hours=_in_range("WOM_ROSTER_SYNC_HOURS", layered.get("WOM_ROSTER_SYNC_HOURS", "6"), 1, 24 * 30),
        worker_poll_seconds=_in_range("WOM_WORKER_POLL_SECONDS", layered.get("WOM_WORKER_POLL_SECONDS", "60"), 1, 3600),
        recommend_build_minutes=_in_range(
            "WOM_RECOMMEND_BUILD_MINUTES", layered.get("WOM_RECOMMEND_BUILD_MINUTES", "10"), 1, 24 * 60
        ),
        lrs_endpoint=_lrs_endpoint(layered.get("WOM_LRS_ENDPOINT", "")),
        lrs_username=layered.get("WOM_LRS_USERNAME", "").strip(),
        lrs_password=layered.get("WOM_LRS_PASSWORD", ""),
        xapi_deliver_seconds=_in_range(
            "WOM_XAPI_DELIVER_SECONDS", layered.get("WOM_XAPI_DELIVER_SECONDS", "5"), 1, 3600
        ),
        xapi_batch_size=_in_range("WOM_XAPI_BATCH_SIZE", layered.get("WOM_XAPI_BATCH_SIZE", "100"), 1, 1000),
        xapi_pull_minutes=_in_range("WOM_XAPI_PULL_MINUTES", layered.get("WOM_XAPI_PULL_MINUTES", "15"), 1, 24 * 60),
        xapi_lease_seconds=_in_range("WOM_XAPI_LEASE_SECONDS", layered.get("WOM_XAPI_LEASE_SECONDS", "300"), 1, 86_400),
        db_connect_timeout=_in_range("WOM_DB_CONNECT_TIMEOUT", layered.get("WOM_DB_CONNECT_TIMEOUT", "5"), 1, 300),
        db_statement_timeout_ms=_in_range(
            "WOM_DB_STATEMENT_TIMEOUT_MS", layered.get("WOM_DB_STATEMENT_TIMEOUT_MS", "15000"), 0, 3_600_000
        ),
        db_lock_timeout_ms=_in_range(
            "WOM_DB_LOCK_TIMEOUT_MS", layered.get("WOM_DB_LOCK_TIMEOUT_MS", "5000"), 0, 3_600_000
        ),
        db_pool_timeout=_in_range("WOM_DB_POOL_TIMEOUT", layered.get("WOM_DB_POOL_TIMEOUT", "5"), 1, 300),
        secret_key_is_dev=secret_is_dev,
        key_encryption_keys=_fernet_keys(layered.get("WOM_KEY_ENCRYPTION_KEYS", "")),
        admin_password=layered.get("WOM_ADMIN_PASSWORD", "").strip(),
        open_registration=_as_bool("WOM_OPEN_REGISTRATION", layered.get("WOM_OPEN_REGISTRATION", "0")),
        launch_failures_kept=_in_range(
            "WOM_LAUNCH_FAILURES_KEPT", layered.get("WOM_LAUNCH_FAILURES_KEPT", "500"), 10, 100_000
        ),
    )
    if settings.is_production and (problems := settings.production_problems()):
        raise ConfigurationError(f"refusing to start in production: {problems[0]}")
    return settings
