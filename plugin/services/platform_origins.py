"""The web origins whose pages may frame the tool, per platform (CSP ``frame-ancestors``).

A launch page is shown in an iframe of the LMS's course page, so the browser checks the page's
origin against ``frame-ancestors`` (https://www.w3.org/TR/CSP3/#directive-frame-ancestors). An
origin here is ``scheme://host[:port]`` (https://html.spec.whatwg.org/#origin), lowercase, without
the scheme's default port: the exact text a CSP host source needs.

Where the origins come from:

- **The issuer** counts without a row: Moodle's issuer is its site, and a registration made before
  this module existed works without a backfill. ``origins_of`` lists it with the source ``issuer``;
  it cannot be removed (remove the platform instead).
- **Launches** (source ``launch``): Canvas uses one issuer (``https://canvas.instructure.com``) for
  every customer while course pages live on each customer's domain, so the tool learns the origin of
  the ``return_url`` of the launch presentation claim
  (https://www.imsglobal.org/spec/lti/v1p3/#launch-presentation-claim) of each validated launch.
- **The admin** (source ``admin``): ``wordofmouth platform origin add``.

Origins end up in an HTTP header, so anything that is not a plain host (no quotes, semicolons,
spaces, wildcards, user info or paths) is refused here. Functions flush, never commit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.errors import DomainError
from plugin.models import Platform
from plugin.models.platform import OriginSource, PlatformOrigin
from plugin.services.launches import _get_or_create

DEFAULT_PORTS = {"http": 80, "https": 443}
MAX_ORIGIN_LENGTH = 300  # platform_origin.origin
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_HOST = re.compile(rf"^{_LABEL}(?:\.{_LABEL})*$")
_IPV6 = re.compile(r"^[0-9a-f:.]+$")


@dataclass(frozen=True)
class KnownOrigin:
    origin: str
    source: OriginSource


def _origin(value: str, *, allow_path: bool) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if not text or any(c.isspace() or ord(c) < 0x20 for c in text):
        raise DomainError(f"not a web origin: {value!r}")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise DomainError(f"not a web origin: {value!r}") from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise DomainError(f"an origin must be http or https (got {value!r})")
    if not parts.netloc or "@" in parts.netloc or not parts.hostname:
        raise DomainError(f"an origin is scheme://host[:port] without user info (got {value!r})")
    if not allow_path and (parts.path not in ("", "/") or parts.query or parts.fragment or text.endswith(("?", "#"))):
        raise DomainError(f"an origin has no path, query or fragment (got {value!r}); try {scheme}://{parts.netloc}")
    host = parts.hostname  # lowercased by urlsplit, brackets of IPv6 removed
    if ":" in host:
        if not _IPV6.match(host):
            raise DomainError(f"not a web origin: {value!r}")
        host = f"[{host}]"
    else:
        try:
            host = host.encode("idna").decode("ascii").lower()
        except UnicodeError:
            raise DomainError(f"not a valid host name in {value!r}") from None
        if not _HOST.match(host):
            raise DomainError(f"not a valid host name in {value!r}")
    origin = f"{scheme}://{host}" if port in (None, DEFAULT_PORTS[scheme]) else f"{scheme}://{host}:{port}"
    if len(origin) > MAX_ORIGIN_LENGTH:
        raise DomainError(f"an origin is at most {MAX_ORIGIN_LENGTH} characters long")
    return origin


def normalise_origin(value: str) -> str:
    """``value`` as ``scheme://host[:port]``; a path, query, fragment or anything odd is refused."""
    return _origin(value, allow_path=False)


def origin_of(url: str) -> str:
    """The origin of an absolute http(s) URL (its path, query and fragment are dropped)."""
    return _origin(url, allow_path=True)


def issuer_origin(issuer: str) -> str | None:
    """The issuer's origin, or None for an issuer that is not an http(s) URL."""
    try:
        return origin_of(issuer)
    except DomainError:
        return None


def _platform(session: Session, platform_id: int) -> Platform:
    platform = session.get(Platform, platform_id)
    if platform is None:
        raise DomainError(f"no platform with id {platform_id}")
    return platform


def _record(session: Session, platform_id: int, origin: str, source: OriginSource) -> tuple[str, bool]:
    if origin == issuer_origin(_platform(session, platform_id).issuer):
        return origin, False  # always counts, no row needed
    made: list[PlatformOrigin] = []

    def make() -> PlatformOrigin:
        made.append(PlatformOrigin(platform_id=platform_id, origin=origin, source=source))
        return made[-1]

    row = _get_or_create(
        session,
        lambda: session.scalars(
            select(PlatformOrigin).where(PlatformOrigin.platform_id == platform_id, PlatformOrigin.origin == origin)
        ).one_or_none(),
        make,
    )
    return origin, bool(made) and row is made[-1]


def learn_origin(
    session: Session, platform_id: int, url: str, source: OriginSource = OriginSource.LAUNCH
) -> tuple[str, bool]:
    """Record the origin of ``url`` for the platform; idempotent and safe when two launches race.

    Returns the origin and whether it is new (the issuer's origin is never new: it always counts).
    """
    return _record(session, platform_id, origin_of(url), source)


def add_origin(session: Session, platform_id: int, origin: str) -> tuple[str, bool]:
    """The admin's ``platform origin add``: like :func:`learn_origin`, but ``origin`` must be bare."""
    return _record(session, platform_id, normalise_origin(origin), OriginSource.ADMIN)


def remove_origin(session: Session, platform_id: int, origin: str) -> str:
    """Forget an origin (learned or added); a later launch from it will learn it again."""
    origin = normalise_origin(origin)
    if origin == issuer_origin(_platform(session, platform_id).issuer):
        raise DomainError(f"{origin} is the issuer's origin, which always counts; it cannot be removed")
    row = session.scalars(
        select(PlatformOrigin).where(PlatformOrigin.platform_id == platform_id, PlatformOrigin.origin == origin)
    ).one_or_none()
    if row is None:
        raise DomainError(f"{origin} is not an origin of this platform")
    session.delete(row)
    session.flush()
    return origin


def origins_of(session: Session, platform_id: int) -> list[KnownOrigin]:
    """The platform's page origins: the issuer's first, then the recorded ones in order."""
    own = issuer_origin(_platform(session, platform_id).issuer)
    known = [KnownOrigin(own, OriginSource.ISSUER)] if own else []
    rows = session.scalars(
        select(PlatformOrigin).where(PlatformOrigin.platform_id == platform_id).order_by(PlatformOrigin.origin)
    )
    for row in rows:
        # Rows were normalised on the way in; checking again keeps a hand-edited row out of the header.
        try:
            origin = normalise_origin(row.origin)
        except DomainError:
            continue
        if origin != own:
            known.append(KnownOrigin(origin, row.source))
    return known
