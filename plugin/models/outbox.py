"""The xAPI outbox and the organisation's LRS settings.

The core stores statements as JSON documents it does not interpret: the xAPI adapter builds each
one when the action happens and adds it here in the action's own transaction (a transactional
outbox), and the worker sends exactly that document later. A resend is idempotent because the
statement id is fixed at that moment. See docs/xapi.md.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from plugin.db import Base, UTCDateTime, string_enum, utcnow


class OutboxStatus(enum.StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"  # the LRS refused it (4xx); kept with the LRS's answer until `xapi retry --failed`


class ActorIdentity(enum.StrEnum):
    """How statements name the learner (docs/xapi.md, "Who the actor is")."""

    ACCOUNT = "account"  # {homePage: issuer, name: LTI sub}: the default, no personal data
    MBOX = "mbox"  # mailto: e-mail from the launch
    MBOX_SHA1SUM = "mbox_sha1sum"  # SHA-1 of the mailto: IRI
    PSEUDONYMOUS = "pseudonymous"  # {homePage: tool, name: keyed hash of issuer and sub}


class OutboxStatement(Base):
    """One statement to deliver (or delivered) to the platform's LRS."""

    __tablename__ = "xapi_outbox"
    __table_args__ = (
        Index("ix_xapi_outbox_status_next_attempt_at", "status", "next_attempt_at"),
        Index("ix_xapi_outbox_platform_id_subject", "platform_id", "subject"),
        Index("ix_xapi_outbox_platform_id_learner_id", "platform_id", "learner_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("platform.id", ondelete="CASCADE"))
    # Whose action it was (no foreign key: the row outlives nothing, privacy erasure removes it).
    learner_id: Mapped[int | None] = mapped_column(Integer)
    statement_id: Mapped[str] = mapped_column(String(36), unique=True)
    verb: Mapped[str] = mapped_column(String(255))
    # The record the statement is about ("comment:12") and whether this is its live statement;
    # an edit or a deletion voids the live one.
    subject: Mapped[str | None] = mapped_column(String(64))
    current: Mapped[bool] = mapped_column(default=True)
    statement: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[OutboxStatus] = mapped_column(
        string_enum(OutboxStatus, "xapi_outbox_status"), default=OutboxStatus.PENDING
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(String(1000))


class LrsSettings(Base):
    """A platform's xAPI choices; every column left empty falls back to the ``WOM_LRS_*`` default."""

    __tablename__ = "lrs_settings"

    platform_id: Mapped[int] = mapped_column(ForeignKey("platform.id", ondelete="CASCADE"), primary_key=True)
    endpoint: Mapped[str | None] = mapped_column(String(2048))
    username: Mapped[str | None] = mapped_column(String(255))
    password: Mapped[str | None] = mapped_column(String(255))
    actor_identity: Mapped[ActorIdentity] = mapped_column(
        string_enum(ActorIdentity, "lrs_actor_identity"), default=ActorIdentity.ACCOUNT
    )
    # Activity IRI of an item, e.g. "{issuer}/course/view.php?id={context_id}" (Moodle's logstore_xapi).
    activity_iri_template: Mapped[str | None] = mapped_column(String(2048))
    send_launched: Mapped[bool] = mapped_column(default=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class LrsCursor(Base):
    """Where ``wordofmouth xapi pull`` stopped reading an LRS: the next ``since``."""

    __tablename__ = "lrs_cursor"

    id: Mapped[int] = mapped_column(primary_key=True)
    endpoint: Mapped[str] = mapped_column(String(1024), unique=True)
    since: Mapped[str | None] = mapped_column(String(64))  # an ISO 8601 timestamp as the LRS wrote it
    pulled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    statements: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
