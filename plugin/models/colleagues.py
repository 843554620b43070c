"""Colleagues and recommendations: follows, recommendations between colleagues, course rosters,
and the stored results of the recommendation build.

"Took" and "enrolled" are different facts. :class:`~plugin.models.learning.Enrolment` says a
learner took an item (launched it, completed it per the LRS, or rated it); :class:`RosterMember`
says the LMS lists them in the course roster (Names and Role Provisioning Service), which is
who *could* take it. Counts of "colleagues who took this" read enrolments only.

The build (``wordofmouth recommend build``) writes :class:`LearnerRecommendation`,
:class:`ItemAlsoTook` and :class:`GroupPopular` per platform; widgets read these tables and do
no matrix work.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from plugin.db import Base, UTCDateTime, utcnow
from plugin.models.learning import tenant_fk

NOTE_MAX_LENGTH = 300


class Follow(Base):
    """A learner follows a colleague: the colleague's judgement weighs more in their recommendations."""

    __tablename__ = "follow"
    __table_args__ = (
        PrimaryKeyConstraint("follower_id", "followee_id"),
        CheckConstraint("follower_id <> followee_id", name="not_self"),
        tenant_fk(["follower_id"], "learner"),
        tenant_fk(["followee_id"], "learner"),
        Index("ix_follow_platform_id_followee_id", "platform_id", "followee_id"),
    )

    platform_id: Mapped[int] = mapped_column(Integer)
    follower_id: Mapped[int] = mapped_column(Integer)
    followee_id: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ColleagueRecommendation(Base):
    """A learner recommends an item to a colleague, who sees it with the sender's name."""

    __tablename__ = "colleague_recommendation"
    __table_args__ = (
        UniqueConstraint("sender_id", "recipient_id", "item_id"),
        CheckConstraint("sender_id <> recipient_id", name="not_self"),
        tenant_fk(["sender_id"], "learner"),
        tenant_fk(["recipient_id"], "learner"),
        tenant_fk(["item_id"], "item"),
        Index("ix_colleague_recommendation_recipient_id_created_at", "recipient_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(Integer)
    sender_id: Mapped[int] = mapped_column(Integer)
    recipient_id: Mapped[int] = mapped_column(Integer)
    item_id: Mapped[int] = mapped_column(Integer)
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RosterSource(Base):
    """A course roster the platform offers through NRPS, and when the worker syncs it next.

    Launches record the ``context_memberships_url``; the worker claims due rows (``FOR UPDATE
    SKIP LOCKED`` on PostgreSQL) and fetches the roster outside any learner's request.
    """

    __tablename__ = "roster_source"
    __table_args__ = (
        UniqueConstraint("platform_id", "context_id"),
        tenant_fk(["item_id"], "item"),
        Index("ix_roster_source_next_sync_at", "next_sync_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("platform.id", ondelete="CASCADE"))
    item_id: Mapped[int] = mapped_column(Integer)
    context_id: Mapped[str] = mapped_column(String(255))
    memberships_url: Mapped[str] = mapped_column(String(2048))
    next_sync_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    synced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    members: Mapped[int | None] = mapped_column(Integer)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(500))
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)


class RosterMember(Base):
    """A learner listed in a course roster: enrolled, which is not the same as having taken it."""

    __tablename__ = "roster_member"
    __table_args__ = (
        PrimaryKeyConstraint("item_id", "learner_id"),
        tenant_fk(["learner_id"], "learner"),
        tenant_fk(["item_id"], "item"),
        Index("ix_roster_member_platform_id_learner_id", "platform_id", "learner_id"),
    )

    platform_id: Mapped[int] = mapped_column(Integer)
    item_id: Mapped[int] = mapped_column(Integer)
    learner_id: Mapped[int] = mapped_column(Integer)
    roles: Mapped[list[str]] = mapped_column(JSON, default=list)
    staff: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True)
    synced_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LearnerRecommendation(Base):
    """One stored recommendation of the last build: rank, score and the facts behind its reason.

    ``kind`` is the engine's reason kind (neighbours, trusted, group_popular, popular);
    ``because_item_id`` the learner's own item that led to it; ``group_count`` and ``all_count``
    how many colleagues (in the learner's department, and in all) who liked that item also took
    this one. Readers show counts only from the privacy threshold up.
    """

    __tablename__ = "learner_recommendation"
    __table_args__ = (
        PrimaryKeyConstraint("learner_id", "rank"),
        tenant_fk(["learner_id"], "learner"),
        tenant_fk(["item_id"], "item"),
        tenant_fk(["because_item_id"], "item"),
        Index("ix_learner_recommendation_platform_id", "platform_id"),
    )

    platform_id: Mapped[int] = mapped_column(Integer)
    learner_id: Mapped[int] = mapped_column(Integer)
    rank: Mapped[int] = mapped_column(Integer)
    item_id: Mapped[int] = mapped_column(Integer)
    score: Mapped[float] = mapped_column(Float)
    kind: Mapped[str] = mapped_column(String(16))
    because_item_id: Mapped[int | None] = mapped_column(Integer)
    group_count: Mapped[int] = mapped_column(Integer, default=0)
    all_count: Mapped[int] = mapped_column(Integer, default=0)


class ItemAlsoTook(Base):
    """Of the learners who took ``item_id``, how many also took ``other_item_id`` (last build)."""

    __tablename__ = "item_also_took"
    __table_args__ = (
        PrimaryKeyConstraint("item_id", "rank"),
        tenant_fk(["item_id"], "item"),
        tenant_fk(["other_item_id"], "item"),
        Index("ix_item_also_took_platform_id", "platform_id"),
    )

    platform_id: Mapped[int] = mapped_column(Integer)
    item_id: Mapped[int] = mapped_column(Integer)
    rank: Mapped[int] = mapped_column(Integer)
    other_item_id: Mapped[int] = mapped_column(Integer)
    takers: Mapped[int] = mapped_column(Integer)
    raters: Mapped[int] = mapped_column(Integer, default=0)
    mean_rating: Mapped[float | None] = mapped_column(Float)


class ItemTakers(Base):
    """How many learners took an item at the last build, per department ('' = all of them): what
    "N colleagues took this · M of them in Sales" reads without counting thousands of rows."""

    __tablename__ = "item_takers"
    __table_args__ = (
        PrimaryKeyConstraint("item_id", "org_group"),
        tenant_fk(["item_id"], "item"),
        Index("ix_item_takers_platform_id", "platform_id"),
    )

    platform_id: Mapped[int] = mapped_column(Integer)
    item_id: Mapped[int] = mapped_column(Integer)
    org_group: Mapped[str] = mapped_column(String(255))
    takers: Mapped[int] = mapped_column(Integer)


class GroupPopular(Base):
    """The most taken items per department ('' = the whole organisation), for learners the last
    build did not know yet."""

    __tablename__ = "group_popular"
    __table_args__ = (
        PrimaryKeyConstraint("platform_id", "org_group", "rank"),
        tenant_fk(["item_id"], "item"),
    )

    platform_id: Mapped[int] = mapped_column(ForeignKey("platform.id", ondelete="CASCADE"))
    org_group: Mapped[str] = mapped_column(String(255))
    rank: Mapped[int] = mapped_column(Integer)
    item_id: Mapped[int] = mapped_column(Integer)
    takers: Mapped[int] = mapped_column(Integer)


class RecommendBuild(Base):
    """The last recommendation build of a platform, and the fingerprint of the data it read, so an
    unchanged platform is skipped."""

    __tablename__ = "recommend_build"

    platform_id: Mapped[int] = mapped_column(ForeignKey("platform.id", ondelete="CASCADE"), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(128), default="")
    built_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    learners: Mapped[int] = mapped_column(Integer, default=0)
    items: Mapped[int] = mapped_column(Integer, default=0)
    interactions: Mapped[int] = mapped_column(Integer, default=0)
    seconds: Mapped[float] = mapped_column(Float, default=0.0)
    requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
