"""Learners, items (what they take), placements (where a widget sits) and enrolments ("took")."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from plugin.db import Base, UTCDateTime, string_enum, utcnow


def tenant_fk(columns: list[str], table: str) -> ForeignKeyConstraint:
    """A foreign key that also matches ``platform_id``, so a row cannot cross tenants."""
    return ForeignKeyConstraint(["platform_id", *columns], [f"{table}.platform_id", f"{table}.id"], ondelete="CASCADE")


class Learner(Base):
    """A person as one platform knows them: the LTI ``sub`` is stable per platform."""

    __tablename__ = "learner"
    __table_args__ = (
        UniqueConstraint("platform_id", "sub"),
        UniqueConstraint("platform_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("platform.id", ondelete="CASCADE"))
    sub: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255), default="")
    email: Mapped[str | None] = mapped_column(String(320))
    locale: Mapped[str | None] = mapped_column(String(35))
    org_group: Mapped[str | None] = mapped_column(String(255))
    # Whether colleagues may see this learner's name as someone who took a course: the learner's
    # own choice, or None for the platform's default (Platform.show_names_default).
    show_name: Mapped[bool | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class ItemSource(enum.StrEnum):
    """Where an item's key comes from: the LTI context id, or a shared catalogue id (``wom_item``)."""

    CONTEXT = "context"
    CATALOGUE = "catalogue"


_ITEM_SOURCE = string_enum(ItemSource, "item_source")


class Item(Base):
    """What learners take, rate and discuss: an LMS course by default, or a catalogue entry
    shared by several course copies."""

    __tablename__ = "item"
    __table_args__ = (
        UniqueConstraint("platform_id", "source", "key"),
        UniqueConstraint("platform_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("platform.id", ondelete="CASCADE"))
    source: Mapped[ItemSource] = mapped_column(_ITEM_SOURCE)
    key: Mapped[str] = mapped_column(String(255))
    title: Mapped[str] = mapped_column(String(1024), default="")
    label: Mapped[str] = mapped_column(String(255), default="")
    # The LMS course it was last launched from, and its page when the platform sent one
    # (custom parameter ``course_url``): how widgets link to it.
    context_id: Mapped[str | None] = mapped_column(String(255))
    url: Mapped[str | None] = mapped_column(String(2048))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Placement(Base):
    """Widgets placed at one spot of an LMS course, made by deep linking or at first launch.

    ``resource_link_id`` is empty until the first launch through the link: deep linking creates
    the placement before the LMS has assigned the link an id, and a course copy brings a new id.
    """

    __tablename__ = "placement"
    __table_args__ = (
        UniqueConstraint("platform_id", "resource_link_id"),
        UniqueConstraint("platform_id", "id"),
        tenant_fk(["item_id"], "item"),
        Index("ix_placement_platform_id_item_id", "platform_id", "item_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("platform.id", ondelete="CASCADE"))
    resource_link_id: Mapped[str | None] = mapped_column(String(255))
    item_id: Mapped[int | None] = mapped_column()
    title: Mapped[str] = mapped_column(String(1024), default="")
    widget_kinds: Mapped[list[str]] = mapped_column(JSON, default=list)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    item: Mapped[Item | None] = relationship(
        primaryjoin="and_(Placement.item_id == Item.id, Placement.platform_id == Item.platform_id)",
        foreign_keys="[Placement.platform_id, Placement.item_id]",
        viewonly=True,
    )


class EnrolmentSource(enum.StrEnum):
    """How we learned that a learner took an item."""

    LAUNCH = "launch"
    ROSTER = "roster"
    LRS = "lrs"


class Enrolment(Base):
    """A learner took an item (launched it, completed it, or rated it): first and last seen, how we
    know, with which roles. Being in the course roster is :class:`~plugin.models.colleagues.RosterMember`."""

    __tablename__ = "enrolment"
    __table_args__ = (
        UniqueConstraint("learner_id", "item_id"),
        tenant_fk(["learner_id"], "learner"),
        tenant_fk(["item_id"], "item"),
        Index("ix_enrolment_platform_id_item_id_last_seen", "platform_id", "item_id", "last_seen"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("platform.id", ondelete="CASCADE"))
    learner_id: Mapped[int] = mapped_column()
    item_id: Mapped[int] = mapped_column()
    source: Mapped[EnrolmentSource] = mapped_column(string_enum(EnrolmentSource, "enrolment_source"))
    roles: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Instructors and teaching assistants are not takers: counts and recommendations skip them.
    staff: Mapped[bool] = mapped_column(default=False)
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    learner: Mapped[Learner] = relationship(
        primaryjoin="and_(Enrolment.learner_id == Learner.id, Enrolment.platform_id == Learner.platform_id)",
        foreign_keys="[Enrolment.platform_id, Enrolment.learner_id]",
        viewonly=True,
    )
    item: Mapped[Item] = relationship(
        primaryjoin="and_(Enrolment.item_id == Item.id, Enrolment.platform_id == Item.platform_id)",
        foreign_keys="[Enrolment.platform_id, Enrolment.item_id]",
        viewonly=True,
    )
