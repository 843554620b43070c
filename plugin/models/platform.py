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
