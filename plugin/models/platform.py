"""LMS registrations (the tenants), their deployments and the tool's own signing keys."""

from __future__ import annotations

import enum
import secrets
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from plugin.db import Base, UTCDateTime, string_enum, utcnow

URL = String(2048)


def new_platform_uid() -> str:
    return secrets.token_hex(16)


class Platform(Base):
    """One LTI 1.3 registration, keyed by (issuer, client id); the tenant of all data below it.

    Canvas uses one issuer for all its customers, so the issuer alone cannot identify an
    organisation; Moodle gives every registration its own client id.
    """

    __tablename__ = "platform"
    __table_args__ = (UniqueConstraint("issuer", "client_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # The tenant's name in tokens: random and never reused (SQLite reuses the ids of removed rows).
    uid: Mapped[str] = mapped_column(String(32), unique=True, default=new_platform_uid)
    issuer: Mapped[str] = mapped_column(URL)
    client_id: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255), default="")
    auth_login_url: Mapped[str] = mapped_column(URL)
    auth_token_url: Mapped[str] = mapped_column(URL)
    key_set_url: Mapped[str] = mapped_column(URL)
    # Privacy: whether learners who made no choice are named to colleagues (off: counted only).
    show_names_default: Mapped[bool] = mapped_column(default=False)
    # How to link to a course in this LMS, e.g. Moodle "{issuer}/course/view.php?id={context_id}".
    course_url_template: Mapped[str | None] = mapped_column(URL)
    # A disabled registration is refused at login and launch; its data stays.
    enabled: Mapped[bool] = mapped_column(default=True, server_default=text("true"))
    # Launches with a deployment id not yet known add it instead of being refused (off by default).
    auto_accept_deployments: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    # "manual" (``platform add``, the console) or "dynamic" (LTI Dynamic Registration).
    registered_via: Mapped[str] = mapped_column(String(16), default="manual", server_default="manual")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    deployments: Mapped[list[Deployment]] = relationship(
        back_populates="platform", cascade="all, delete-orphan", order_by="Deployment.deployment_id"
    )


class OriginSource(enum.StrEnum):
    """How we know that a platform shows its pages at an origin."""

    ISSUER = "issuer"
    LAUNCH = "launch"
    ADMIN = "admin"


class PlatformOrigin(Base):
    """A web origin (``https://lms.example.org``) whose pages may frame the tool for this platform.

    The issuer is not always the page origin: Canvas uses one issuer for every customer while
    course pages live on each customer's own domain. Origins are learned from launches (the
    ``return_url`` of the launch presentation) or added by the admin.
    """

    __tablename__ = "platform_origin"
    __table_args__ = (UniqueConstraint("platform_id", "origin"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("platform.id", ondelete="CASCADE"), index=True)
    origin: Mapped[str] = mapped_column(String(300))
    source: Mapped[OriginSource] = mapped_column(string_enum(OriginSource, "origin_source"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Deployment(Base):
    """A deployment id the platform sends in ``https://purl.imsglobal.org/spec/lti/claim/deployment_id``."""

    __tablename__ = "deployment"
    __table_args__ = (UniqueConstraint("platform_id", "deployment_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("platform.id", ondelete="CASCADE"), index=True)
    deployment_id: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    platform: Mapped[Platform] = relationship(back_populates="deployments")


class KeyStatus(enum.StrEnum):
    """Life of a tool key: published as ``next`` before it signs, ``active`` while it signs,
    published but unused when ``retired`` is not yet reached."""

    NEXT = "next"
    ACTIVE = "active"
    RETIRED = "retired"


def _one_key_of_status(status: KeyStatus) -> Index:
    """A partial unique index: at most one key of ``status`` (PostgreSQL and SQLite alike)."""
    where = text(f"status = '{status.value}'")
    return Index(f"uq_tool_key_one_{status.value}", "status", unique=True, postgresql_where=where, sqlite_where=where)


class ToolKey(Base):
    """An RSA key of the tool itself. Not tenant data: every platform sees the same key set.

    Exactly one ``active`` and one ``next`` key: the database refuses a second one.
    """

    __tablename__ = "tool_key"
    __table_args__ = (_one_key_of_status(KeyStatus.ACTIVE), _one_key_of_status(KeyStatus.NEXT))

    id: Mapped[int] = mapped_column(primary_key=True)
    kid: Mapped[str] = mapped_column(String(64), unique=True)
    private_key_pem: Mapped[str] = mapped_column(Text)
    status: Mapped[KeyStatus] = mapped_column(string_enum(KeyStatus, "tool_key_status"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    activated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class UsedFormToken(Base):
    """A deep linking picker token that was submitted: each may be used once (until it expires).

    The primary key is the token's ``jti``, so of two submits at once the database lets one insert
    win; rows past ``expires_at`` are purged by later submits.
    """

    __tablename__ = "used_form_token"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class LaunchFailure(Base):
    """A refused login, launch or registration, kept for the operator console (``/admin``).

    Bounded: only the newest ``WOM_LAUNCH_FAILURES_KEPT`` rows are kept. Not tenant data (the
    refusal may name an issuer nobody registered); the refusal page's code is ``request_id``.
    """

    __tablename__ = "launch_failure"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[str] = mapped_column(String(64), index=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    endpoint: Mapped[str] = mapped_column(String(64), default="")
    status: Mapped[int] = mapped_column(default=400)
    reason: Mapped[str] = mapped_column(Text)
    hint: Mapped[str] = mapped_column(Text, default="")
    issuer: Mapped[str | None] = mapped_column(URL)
    client_id: Mapped[str | None] = mapped_column(String(255))
    deployment_id: Mapped[str | None] = mapped_column(String(255))


class RegistrationToken(Base):
    """A one-time token that lets an LMS register through ``/lti/register`` (dynamic registration).

    Only the SHA-256 of the token is stored; the URL that carries it is shown once when it is made.
    """

    __tablename__ = "registration_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    note: Mapped[str] = mapped_column(String(255), default="")
    platform_id: Mapped[int | None] = mapped_column(ForeignKey("platform.id", ondelete="SET NULL"), index=True)
