"""Course rosters from LTI Names and Role Provisioning Services 2.0, fetched by the worker.

A launch that carries the NRPS claim
(https://www.imsglobal.org/spec/lti-nrps/v2p0#lti-1-3-integration) tells us the context's
``context_memberships_url``; the launch only records it (``plugin.services.launches``). The
``roster-sync`` worker job then, outside any learner's request:

1. claims the roster sources that are due (``plugin.services.rosters.claim_due``);
2. gets a client-credentials token for the scope
   ``https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly``
   (``lti.services_auth``);
3. GETs the membership container with ``Accept: application/vnd.ims.lti-nrps.v2.membershipcontainer+json``
   and follows ``Link: <...>; rel="next"`` until the last page
   (https://www.imsglobal.org/spec/lti-nrps/v2p0#limit-query-parameter);
4. validates each member (https://www.imsglobal.org/spec/lti-nrps/v2p0#membership-container-media-type):
   ``user_id`` a string of at most 255 characters, ``roles`` a list of strings, ``status`` one of
   ``Active``/``Inactive``/``Deleted`` (absent means Active), names and email strings. Malformed
   members are skipped and counted, never fatal;
5. applies the roster (``plugin.services.rosters.apply_roster``) and commits, one course at a time:
   a failure records a back-off for that course and the others go on.

Bounds: at most :data:`MAX_PAGES` pages and :data:`MAX_MEMBERS` members per roster, each page at
most :data:`MAX_PAGE_BYTES`; the bearer token is only ever sent to the origin of the memberships
URL (a ``next`` link or redirect to another origin is refused).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from flask import Flask

from lti.claims import NAMES_ROLES_SCOPE, is_staff
from lti.services_auth import (
    TIMEOUT,
    USER_AGENT,
    ServiceAuthError,
    ServicePlatform,
    ServiceTokens,
    ToolSigningKey,
    read_limited,
)
from plugin.db import utcnow
from plugin.models import Platform, RosterSource
from plugin.services import rosters, tool_keys
from plugin.web import get_settings

log = logging.getLogger("wordofmouth.nrps")

MEDIA_TYPE = "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"
MAX_PAGES = 1000
MAX_MEMBERS = 100_000
MAX_PAGE_BYTES = 16 * 1024 * 1024
MAX_REDIRECTS = 3
STATUSES = ("Active", "Inactive", "Deleted")
NAME_FIELDS = ("name", "given_name", "family_name", "email")
CLAIM_BATCH = 5  # small batches: a claimed course waits at most a few others before its lease runs out
CLAIM_LEASE = timedelta(minutes=15)
TOKENS_EXTENSION = "wordofmouth.service_tokens"


class NrpsError(Exception):
    """The roster could not be fetched; ``reason`` is one line, free of secrets."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Member:
    """One valid member of a membership container."""

    user_id: str
    roles: tuple[str, ...]
    status: str = "Active"
    name: str = ""
    given_name: str = ""
    family_name: str = ""
    email: str = ""

    @property
    def display_name(self) -> str:
        return self.name or " ".join(part for part in (self.given_name, self.family_name) if part)


@dataclass
class Membership:
    """Every valid member of every page, and how many members were skipped as malformed."""

    members: list[Member] = field(default_factory=list)
    skipped: int = 0
    pages: int = 0


def parse_member(raw: object) -> Member | None:
    """A :class:`Member`, or None when ``raw`` does not have the shape NRPS 2.0 gives a member."""
    if not isinstance(raw, dict):
        return None
    user_id = raw.get("user_id")
    if not isinstance(user_id, str) or not user_id.strip() or len(user_id) > 255:
        return None
    roles = raw.get("roles")
    if not isinstance(roles, list) or not all(isinstance(r, str) and len(r) <= 255 for r in roles) or len(roles) > 50:
        return None
    status = raw.get("status", "Active")
    if status not in STATUSES:
        return None
    texts: dict[str, str] = {}
    for name in NAME_FIELDS:
        value = raw.get(name)
        if value is None:
            continue
        if not isinstance(value, str):
            return None
        texts[name] = value.strip()
    return Member(user_id=user_id, roles=tuple(roles), status=status, **texts)


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


def _get_page(http: requests.Session, url: str, token: str, origin: tuple[str, str]) -> tuple[Any, str | None]:
    """One page's JSON and its absolute ``next`` link; redirects are followed on the same origin only."""
    for _ in range(MAX_REDIRECTS + 1):
        if _origin(url) != origin:
            raise NrpsError("roster page on another origin refused")
        try:
            with http.get(
                url,
                headers={"Accept": MEDIA_TYPE, "Authorization": f"Bearer {token}"},
                timeout=TIMEOUT,
                allow_redirects=False,
                stream=True,
            ) as response:
                if response.is_redirect and "Location" in response.headers:
                    url = urljoin(url, response.headers["Location"])
                    continue
                if response.status_code != 200:
                    raise NrpsError(f"memberships endpoint answered HTTP {response.status_code}")
                body = read_limited(response, MAX_PAGE_BYTES)
                next_link = response.links.get("next", {}).get("url")
        except requests.RequestException as exc:
            raise NrpsError(f"memberships endpoint unreachable ({type(exc).__name__})") from None
        except ValueError as exc:
            raise NrpsError(f"memberships page refused: {exc}") from None
        try:
            document = json.loads(body)
        except ValueError:
            raise NrpsError("memberships page is not JSON") from None
        return document, urljoin(url, next_link) if next_link else None
    raise NrpsError("memberships endpoint redirected too often")


def fetch_membership(http: requests.Session, memberships_url: str, token: str) -> Membership:
    """Every page of a context membership container, validated (see the module docstring)."""
    origin = _origin(memberships_url)
    result = Membership()
    seen: set[str] = set()
    url: str | None = memberships_url
    while url:
        if url in seen:
            raise NrpsError("memberships pages link in a loop")
        if result.pages >= MAX_PAGES:
            raise NrpsError(f"roster has more than {MAX_PAGES} pages")
        seen.add(url)
        document, url = _get_page(http, url, token, origin)
        result.pages += 1
        members = document.get("members") if isinstance(document, dict) else None
        if not isinstance(members, list):
            raise NrpsError("memberships page has no members list")
        for raw in members:
            member = parse_member(raw)
            if member is None:
                result.skipped += 1
            else:
                result.members.append(member)
        if len(result.members) > MAX_MEMBERS:
            raise NrpsError(f"roster has more than {MAX_MEMBERS} members")
    return result


def roster_entries(membership: Membership) -> list[rosters.RosterEntry]:
    """Members as the core's plain roster entries; staff per the LTI roles (``lti.claims.is_staff``)."""
    return [
        rosters.RosterEntry(
            sub=m.user_id,
            roles=m.roles,
            staff=is_staff(m.roles),
            active=m.status == "Active",
            name=m.display_name,
            email=m.email or None,
        )
        for m in membership.members
    ]


# -- the worker job ---------------------------------------------------------------------------


def _tokens(app: Flask) -> ServiceTokens:
    tokens = app.extensions.get(TOKENS_EXTENSION)
    if tokens is None:
        tokens = app.extensions.setdefault(TOKENS_EXTENSION, ServiceTokens())
    return tokens


def _claims(app: Flask, session: Any) -> Iterator[rosters.ClaimedSource]:
    """Claim due sources batch by batch (each claim committed at once) until none is left."""
    for _ in range(10_000):
        batch = rosters.claim_due(session, utcnow(), limit=CLAIM_BATCH, lease=CLAIM_LEASE)
        session.commit()
        if not batch:
            return
        yield from batch


def sync_rosters(app: Flask) -> dict[str, int]:
    """The ``roster-sync`` job: fetch and apply every due roster; one course's failure never stops the others."""
    settings = get_settings(app)
    interval = timedelta(hours=settings.roster_sync_hours)
    tokens = _tokens(app)
    counts = {"synced": 0, "failed": 0, "members": 0, "skipped": 0, "pages": 0}
    session = app.extensions["wordofmouth.sessions"]()
    http = requests.Session()
    http.headers["User-Agent"] = USER_AGENT
    try:
        for claimed in _claims(app, session):
            platform = session.get(Platform, claimed.platform_id)
            service = platform and ServicePlatform(platform.id, platform.client_id, platform.auth_token_url)
            signing = tool_keys.signing_key(session)
            key = ToolSigningKey(signing.kid, signing.private_key_pem)
            session.commit()  # plain values only from here: no transaction stays open while we wait on the network
            reason = None
            try:
                if service is None:
                    raise NrpsError("platform no longer registered")
                token = tokens.token(service, key, [NAMES_ROLES_SCOPE])
                try:
                    membership = fetch_membership(http, claimed.memberships_url, token)
                except NrpsError:
                    tokens.forget(service)  # a revoked token must not be reused for the next try
                    raise
                source = session.get(RosterSource, claimed.id)
                if source is None:
                    continue
                rosters.apply_roster(session, source, roster_entries(membership), utcnow(), interval=interval)
                session.commit()
                counts["synced"] += 1
                counts["members"] += len(membership.members)
                counts["skipped"] += membership.skipped
                counts["pages"] += membership.pages
                if membership.skipped:
                    log.warning(
                        "roster %s (platform %s): skipped %d malformed members",
                        claimed.context_id[:80],
                        claimed.platform_id,
                        membership.skipped,
                    )
            except (ServiceAuthError, NrpsError) as exc:
                reason = exc.reason
            except Exception as exc:  # bad platform data must never stop the worker
                log.exception("roster %s (platform %s) failed", claimed.context_id[:80], claimed.platform_id)
                reason = f"internal error ({type(exc).__name__})"
            if reason is not None:
                session.rollback()
                source = session.get(RosterSource, claimed.id)
                if source is not None:
                    rosters.record_failure(session, source, reason, utcnow())
                    session.commit()
                counts["failed"] += 1
                log.warning("roster %s (platform %s): %s", claimed.context_id[:80], claimed.platform_id, reason)
    finally:
        session.rollback()
        session.close()
        http.close()
    return counts
