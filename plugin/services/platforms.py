"""The platform registry: LMS registrations keyed by (issuer, client id), with their deployments."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from string import Formatter
from urllib.parse import urlsplit

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from plugin.db import utcnow
from plugin.errors import DomainError
from plugin.models import Deployment, Platform
from plugin.models.platform import UsedFormToken


@dataclass(frozen=True)
class PlatformSpec:
    """What an admin tells us about a registration (``wordofmouth platform add``)."""

    issuer: str
    client_id: str
    auth_login_url: str
    auth_token_url: str
    key_set_url: str
    deployment_ids: tuple[str, ...]
    name: str = ""


def _check_url(label: str, url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise DomainError(f"{label} must be an absolute http(s) URL (got {url!r})")


def validate_spec(spec: PlatformSpec, *, require_deployment: bool = True) -> None:
    if not spec.issuer.strip():
        raise DomainError("the issuer must not be empty")
    if not spec.client_id.strip():
        raise DomainError("the client id must not be empty")
    _check_url("the auth login URL", spec.auth_login_url)
    _check_url("the auth token URL", spec.auth_token_url)
    _check_url("the key set URL", spec.key_set_url)
    if (require_deployment and not spec.deployment_ids) or any(not d.strip() for d in spec.deployment_ids):
        raise DomainError("at least one non-empty deployment id is required")


def find_platform(session: Session, issuer: str, client_id: str) -> Platform | None:
    return session.scalars(
        select(Platform).where(Platform.issuer == issuer, Platform.client_id == client_id)
    ).one_or_none()


def platforms_of_issuer(session: Session, issuer: str) -> list[Platform]:
    return list(session.scalars(select(Platform).where(Platform.issuer == issuer).order_by(Platform.client_id)))


def add_or_update_platform(
    session: Session, spec: PlatformSpec, *, require_deployment: bool = True
) -> tuple[Platform, bool]:
    """Register ``spec``; an existing registration gets the new URLs and any new deployment ids.

    Returns the platform and whether it was created. ``require_deployment=False`` is for dynamic
    registration, where a platform may answer without a deployment id (lti/registration.py).
    """
    validate_spec(spec, require_deployment=require_deployment)
    platform = find_platform(session, spec.issuer, spec.client_id)
    created = platform is None
    if platform is None:
        platform = Platform(issuer=spec.issuer, client_id=spec.client_id)
        session.add(platform)
    platform.name = spec.name or platform.name or urlsplit(spec.issuer).netloc or spec.issuer
    platform.auth_login_url = spec.auth_login_url
    platform.auth_token_url = spec.auth_token_url
    platform.key_set_url = spec.key_set_url
    known = {d.deployment_id for d in platform.deployments} if not created else set()
    for deployment_id in dict.fromkeys(spec.deployment_ids):
        if deployment_id not in known:
            platform.deployments.append(Deployment(deployment_id=deployment_id))
    session.flush()
    return platform, created


def list_platforms(session: Session) -> list[Platform]:
    return list(
        session.scalars(
            select(Platform).options(selectinload(Platform.deployments)).order_by(Platform.issuer, Platform.client_id)
        )
    )


def remove_platform(session: Session, issuer: str, client_id: str) -> None:
    """Remove a registration and, through the tenant foreign keys, every row of its data."""
    platform = find_platform(session, issuer, client_id)
    if platform is None:
        raise DomainError(f"no platform registered with issuer {issuer} and client id {client_id}")
    session.delete(platform)
    session.flush()


def find_deployment(session: Session, platform: Platform, deployment_id: str) -> Deployment | None:
    return session.scalars(
        select(Deployment).where(Deployment.platform_id == platform.id, Deployment.deployment_id == deployment_id)
    ).one_or_none()


DEPLOYMENT_ID_MAX = 255  # Deployment.deployment_id's column


def add_deployment(session: Session, platform: Platform, deployment_id: str) -> tuple[Deployment, bool]:
    """Accept launches from ``deployment_id`` under ``platform``; returns it and whether it is new."""
    deployment_id = deployment_id.strip()
    if not deployment_id or len(deployment_id) > DEPLOYMENT_ID_MAX:
        raise DomainError(f"a deployment id must be 1 to {DEPLOYMENT_ID_MAX} characters")
    existing = find_deployment(session, platform, deployment_id)
    if existing is not None:
        return existing, False
    deployment = Deployment(platform_id=platform.id, deployment_id=deployment_id)
    session.add(deployment)
    session.flush()
    return deployment, True


def remove_deployment(session: Session, platform: Platform, deployment_id: str) -> None:
    """Stop accepting ``deployment_id``; a registration keeps at least one deployment."""
    deployment = find_deployment(session, platform, deployment_id)
    if deployment is None:
        raise DomainError(f"deployment {deployment_id!r} is not registered for {platform.issuer}")
    if len(platform.deployments) <= 1:
        raise DomainError("a registration needs at least one deployment: remove the platform instead")
    platform.deployments.remove(deployment)
    session.flush()


def set_enabled(session: Session, platform: Platform, enabled: bool) -> None:
    """A disabled registration is refused at login and launch; its learners' data stays."""
    platform.enabled = enabled
    session.flush()


def set_auto_accept_deployments(session: Session, platform: Platform, accept: bool) -> None:
    """Whether a launch with an unknown deployment id adds it instead of being refused."""
    platform.auto_accept_deployments = accept
    session.flush()


def describe(platforms: Iterable[Platform]) -> list[dict[str, object]]:
    """Plain dictionaries for listing (``platform list --json``)."""
    return [
        {
            "name": p.name,
            "issuer": p.issuer,
            "client_id": p.client_id,
            "deployment_ids": [d.deployment_id for d in p.deployments],
            "auth_login_url": p.auth_login_url,
            "auth_token_url": p.auth_token_url,
            "key_set_url": p.key_set_url,
            "show_names_default": p.show_names_default,
            "course_url_template": p.course_url_template,
            "enabled": p.enabled,
            "auto_accept_deployments": p.auto_accept_deployments,
            "registered_via": p.registered_via,
        }
        for p in platforms
    ]


COURSE_URL_FIELDS = {"issuer", "context_id"}


def check_course_url_template(template: str) -> str:
    """A course URL template such as ``{issuer}/course/view.php?id={context_id}``: only those two
    fields, and an absolute http(s) URL once filled in."""
    template = template.strip()
    try:
        fields = {name for _, name, _, _ in Formatter().parse(template) if name is not None}
    except ValueError as exc:
        raise DomainError(f"the course URL template is not a valid template: {exc}") from exc
    if unknown := fields - COURSE_URL_FIELDS:
        raise DomainError(
            f"the course URL template may use {{issuer}} and {{context_id}} only (not {', '.join(sorted(unknown))})"
        )
    if len(template) > 2000:
        raise DomainError("the course URL template is too long")
    _check_url("the filled-in course URL template", template.format(issuer="https://lms.example", context_id="42"))
    return template


def set_colleague_settings(
    session: Session,
    platform: Platform,
    *,
    show_names_default: bool | None = None,
    course_url_template: str | None = None,
) -> Platform:
    """Per-platform privacy default (name learners who made no choice?) and how to link to a course.

    An empty ``course_url_template`` removes it.
    """
    if show_names_default is not None:
        platform.show_names_default = show_names_default
    if course_url_template is not None:
        text = course_url_template.strip()
        platform.course_url_template = check_course_url_template(text) if text else None
    session.flush()
    return platform


def use_form_token(session: Session, jti: str, expires_at: datetime, now: datetime | None = None) -> bool:
    """Record that the form token ``jti`` was used; False when it already was.

    The insert is what decides: of two submits at once, one insert wins and the other meets the
    primary key (on PostgreSQL it waits for the winner's transaction, and wins if that one rolls
    back). Used tokens past their expiry are purged here.
    """
    now = now or utcnow()
    session.execute(delete(UsedFormToken).where(UsedFormToken.expires_at < now))
    try:
        with session.begin_nested():
            session.add(UsedFormToken(jti=jti, expires_at=expires_at))
    except IntegrityError:
        return False
    return True
