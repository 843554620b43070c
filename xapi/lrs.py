"""Which LRS a platform's statements go to, and the platform's xAPI settings (``wordofmouth lrs``).

A platform's :class:`~plugin.models.LrsSettings` row may name its own LRS; otherwise the
``WOM_LRS_ENDPOINT``/``WOM_LRS_USERNAME``/``WOM_LRS_PASSWORD`` default applies. With neither, the
platform has no LRS: its statements stay ``pending`` in the outbox (nothing is dropped) until one
is configured, and ``wordofmouth xapi status`` says so.

Credentials belong to their endpoint. A platform that names its own endpoint uses only its own
username and password (none when it gave none): the default LRS's password is never sent to
another server. A platform that names no endpoint uses the default LRS with the default
credentials, whatever it stored.

:class:`Lrs` is a frozen value (hashable: the key statements are grouped by); its ``repr`` and
``str`` never show the password, and :attr:`Lrs.key` is safe to log.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from string import Formatter
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.models import ActorIdentity, LrsSettings, Platform
from plugin.settings import Settings

ENDPOINT_MAX_LENGTH = 2048
TEMPLATE_FIELDS = {"issuer", "context_id"}
DEFAULT_SETTINGS = ("WOM_LRS_ENDPOINT", "WOM_LRS_USERNAME", "WOM_LRS_PASSWORD")


@dataclass(frozen=True)
class Lrs:
    """One LRS and the credentials to use there. ``endpoint`` is the xAPI base URL ending in ``/``."""

    endpoint: str
    username: str = ""
    password: str = field(default="", repr=False)

    @property
    def statements_url(self) -> str:
        return f"{self.endpoint}statements"

    @property
    def key(self) -> str:
        """A stable name of this LRS *and* credentials, safe to log: endpoint, username and a short
        digest of the password (two stores on one server are two LRSs)."""
        digest = hashlib.sha256(f"{self.username}\n{self.password}".encode()).hexdigest()[:12]
        return f"{self.endpoint} ({self.username or 'no user'}, {digest})"

    @property
    def has_password(self) -> bool:
        return bool(self.password)

    def __str__(self) -> str:
        return self.endpoint


class InvalidLrsSettingError(ValueError):
    """An LRS setting an admin gave that cannot work; the message says why (no secrets in it)."""


def check_endpoint(url: str) -> str:
    """``url`` as an LRS endpoint: an absolute http(s) URL without credentials, query or fragment,
    with exactly one trailing slash (``https://lrs.example/xAPI/``)."""
    text = url.strip()
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc or not parts.hostname:
        raise InvalidLrsSettingError(f"the LRS endpoint must be an absolute http(s) URL (got {text!r})")
    if parts.username or parts.password:
        raise InvalidLrsSettingError("the LRS endpoint must not carry credentials: set the username and password")
    if parts.query or parts.fragment:
        raise InvalidLrsSettingError("the LRS endpoint must not carry a query or fragment")
    normalized = text.rstrip("/") + "/"
    if len(normalized) > ENDPOINT_MAX_LENGTH:
        raise InvalidLrsSettingError(f"the LRS endpoint is longer than {ENDPOINT_MAX_LENGTH} characters")
    return normalized


def check_activity_iri_template(template: str) -> str:
    """An activity IRI template such as ``{issuer}/course/view.php?id={context_id}``: it must use
    ``{context_id}`` (one IRI per course), may use ``{issuer}``, and is an absolute http(s) IRI
    once filled in."""
    text = template.strip()
    try:
        fields = [name for _, name, _, _ in Formatter().parse(text) if name is not None]
    except ValueError as exc:
        raise InvalidLrsSettingError(f"the activity IRI template is not a valid template: {exc}") from exc
    if unknown := set(fields) - TEMPLATE_FIELDS:
        raise InvalidLrsSettingError(
            "the activity IRI template may use {issuer} and {context_id} only "
            f"(not {', '.join('{' + name + '}' for name in sorted(unknown))})"
        )
    if "context_id" not in fields:
        raise InvalidLrsSettingError("the activity IRI template must contain {context_id} (one IRI per course)")
    if len(text) > ENDPOINT_MAX_LENGTH:
        raise InvalidLrsSettingError(f"the activity IRI template is longer than {ENDPOINT_MAX_LENGTH} characters")
    filled = urlsplit(text.format(issuer="https://lms.example", context_id="42"))
    if filled.scheme not in ("http", "https") or not filled.netloc:
        raise InvalidLrsSettingError(
            f"the activity IRI template must give an absolute http(s) IRI, e.g. "
            f"'{{issuer}}/course/view.php?id={{context_id}}' (got {text!r})"
        )
    return text


def default_lrs(settings: Settings) -> Lrs | None:
    """The ``WOM_LRS_*`` default LRS, or None when ``WOM_LRS_ENDPOINT`` is not set."""
    if not settings.lrs_endpoint:
        return None
    return Lrs(settings.lrs_endpoint, settings.lrs_username, settings.lrs_password)


def lrs_of(chosen: LrsSettings | None, settings: Settings) -> Lrs | None:
    """The LRS for a platform whose settings row is ``chosen`` (None: it has none)."""
    if chosen is not None and chosen.endpoint:
        return Lrs(chosen.endpoint, chosen.username or "", chosen.password or "")
    return default_lrs(settings)


def resolve_lrs(session: Session, settings: Settings, platform_id: int) -> Lrs | None:
    """The LRS that ``platform_id``'s statements go to, or None (they wait in the outbox)."""
    return lrs_of(session.get(LrsSettings, platform_id), settings)


def resolve_all(
    session: Session, settings: Settings, platform_ids: Iterable[int] | None = None
) -> dict[int, Lrs | None]:
    """Every platform's LRS (or only those of ``platform_ids``) in two queries."""
    query = select(Platform.id)
    if platform_ids is not None:
        wanted = list(platform_ids)
        if not wanted:
            return {}
        query = query.where(Platform.id.in_(wanted))
    ids = list(session.scalars(query.order_by(Platform.id)))
    rows = session.scalars(select(LrsSettings).where(LrsSettings.platform_id.in_(ids)))
    chosen = {row.platform_id: row for row in rows}
    return {pid: lrs_of(chosen.get(pid), settings) for pid in ids}


@dataclass(frozen=True)
class EffectiveSettings:
    """What ``wordofmouth lrs show`` prints for one platform (never the password itself)."""

    platform_id: int
    issuer: str
    client_id: str
    name: str
    endpoint: str | None
    endpoint_source: str  # "platform", "default (WOM_LRS_ENDPOINT)" or "none"
    username: str
    password_set: bool
    actor_identity: ActorIdentity
    activity_iri_template: str | None
    send_launched: bool


def effective_settings(session: Session, settings: Settings, platform: Platform) -> EffectiveSettings:
    chosen = session.get(LrsSettings, platform.id)
    lrs = lrs_of(chosen, settings)
    if chosen is not None and chosen.endpoint:
        source = "platform"
    elif lrs is not None:
        source = "default (WOM_LRS_ENDPOINT)"
    else:
        source = "none"
    return EffectiveSettings(
        platform_id=platform.id,
        issuer=platform.issuer,
        client_id=platform.client_id,
        name=platform.name or platform.issuer,
        endpoint=lrs.endpoint if lrs else None,
        endpoint_source=source,
        username=lrs.username if lrs else "",
        password_set=bool(lrs and lrs.password),
        actor_identity=chosen.actor_identity if chosen else ActorIdentity.ACCOUNT,
        activity_iri_template=chosen.activity_iri_template if chosen else None,
        send_launched=bool(chosen and chosen.send_launched),
    )


class _Keep(enum.Enum):
    KEEP = "keep"


KEEP = _Keep.KEEP  # "leave this setting as it is"


def update_settings(
    session: Session,
    platform: Platform,
    *,
    endpoint: str | _Keep | None = KEEP,
    username: str | _Keep | None = KEEP,
    password: str | _Keep | None = KEEP,
    actor_identity: ActorIdentity | None = None,
    activity_iri_template: str | _Keep | None = KEEP,
    send_launched: bool | None = None,
) -> LrsSettings:
    """Change the platform's xAPI settings; arguments left out stay as they are.

    ``endpoint=None`` returns the platform to the default LRS and forgets its credentials (they
    were for its own endpoint); a new endpoint forgets them too, unless new ones come with it. An
    empty ``activity_iri_template`` removes the template. Values are checked
    (:class:`InvalidLrsSettingError`); the caller commits.
    """
    chosen = session.get(LrsSettings, platform.id)
    if chosen is None:
        chosen = LrsSettings(platform_id=platform.id, actor_identity=ActorIdentity.ACCOUNT, send_launched=False)
        session.add(chosen)
    if endpoint is not KEEP:
        if endpoint is None:
            chosen.endpoint = chosen.username = chosen.password = None
        else:
            url = check_endpoint(str(endpoint))
            if url != chosen.endpoint:  # credentials were for the old server: never send them to the new one
                chosen.username = chosen.password = None
            chosen.endpoint = url
    if username is not KEEP:
        text = (str(username) if username is not None else "").strip()
        if len(text) > 255:
            raise InvalidLrsSettingError("the LRS username is longer than 255 characters")
        chosen.username = text or None
    if password is not KEEP:
        secret = str(password) if password is not None else ""
        if len(secret) > 255:
            raise InvalidLrsSettingError("the LRS password is longer than 255 characters")
        chosen.password = secret or None
    if (chosen.username or chosen.password) and not chosen.endpoint:
        raise InvalidLrsSettingError(
            "credentials belong to the platform's own LRS: give --endpoint too "
            "(the default LRS uses WOM_LRS_USERNAME and WOM_LRS_PASSWORD)"
        )
    if actor_identity is not None:
        chosen.actor_identity = ActorIdentity(actor_identity)
    if activity_iri_template is not KEEP:
        text = (str(activity_iri_template) if activity_iri_template is not None else "").strip()
        chosen.activity_iri_template = check_activity_iri_template(text) if text else None
    if send_launched is not None:
        chosen.send_launched = send_launched
    session.flush()
    return chosen
