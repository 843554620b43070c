"""What learners write and do with each other: ratings with reviews, helpful votes, comments, reports.

Every row carries ``platform_id`` and points at its learner, item and target through composite
tenant foreign keys, so one organisation's vote can never land on another's review. Learner text
is stored as the plain text they typed; pages escape it when they render it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from plugin.db import Base, UTCDateTime, utcnow
from plugin.models.learning import Learner, tenant_fk

REVIEW_MAX_LENGTH = 2000
COMMENT_MAX_LENGTH = 5000
REASON_MAX_LENGTH = 500


def _partial(name: str, columns: list[str], where: str) -> Index:
    """A partial index, the same on PostgreSQL and SQLite."""
    return Index(name, *columns, postgresql_where=text(where), sqlite_where=text(where))


def _author(cls_name: str, column: str = "learner_id") -> Mapped[Learner]:
    return relationship(
        Learner,
        primaryjoin=f"and_({cls_name}.{column} == Learner.id, {cls_name}.platform_id == Learner.platform_id)",
        foreign_keys=f"[{cls_name}.platform_id, {cls_name}.{column}]",
        viewonly=True,
        lazy="raise",
    )


class Rating(Base):
    """One learner's 1-5 stars for an item, with an optional written review.

    ``helpful_count`` mirrors the number of :class:`ReviewVote` rows so "most helpful first" is an
    index scan, not a count per review. A hidden review keeps its stars in the summary: hiding
    takes the words away from readers, not the learner's rating.
    """

    __tablename__ = "rating"
    __table_args__ = (
        UniqueConstraint("learner_id", "item_id"),
        UniqueConstraint("platform_id", "id"),
        CheckConstraint("stars BETWEEN 1 AND 5", name="stars_1_to_5"),
        tenant_fk(["learner_id"], "learner"),
        tenant_fk(["item_id"], "item"),
        Index("ix_rating_platform_id_item_id_stars", "platform_id", "item_id", "stars"),
        # Review pages, newest or most helpful first, read in index order (only rows with a review).
        _partial("ix_rating_reviews_newest", ["item_id", "review_updated_at", "id"], "review IS NOT NULL"),
        _partial(
            "ix_rating_reviews_helpful", ["item_id", "helpful_count", "review_updated_at", "id"], "review IS NOT NULL"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column()
    learner_id: Mapped[int] = mapped_column()
    item_id: Mapped[int] = mapped_column()
    stars: Mapped[int] = mapped_column(Integer)
    review: Mapped[str | None] = mapped_column(Text)
    helpful_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    review_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    hidden_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    hidden_reason: Mapped[str | None] = mapped_column(String(REASON_MAX_LENGTH))
    hidden_by: Mapped[int | None] = mapped_column()

    author: Mapped[Learner] = _author("Rating")


class RatingTally(Base):
    """How many ratings of each star an item has, kept in step with :class:`Rating` by the service.

    The summary every page load shows reads five rows instead of counting all of an item's
    ratings; one row per star value lets ratings of different stars update without waiting on
    each other.
    """

    __tablename__ = "rating_tally"
    __table_args__ = (
        PrimaryKeyConstraint("item_id", "stars"),
        CheckConstraint("stars BETWEEN 1 AND 5", name="stars_1_to_5"),
        CheckConstraint("count >= 0", name="count_not_negative"),
        tenant_fk(["item_id"], "item"),
    )

    platform_id: Mapped[int] = mapped_column()
    item_id: Mapped[int] = mapped_column()
    stars: Mapped[int] = mapped_column(Integer)
    count: Mapped[int] = mapped_column(Integer, default=0)


class ReviewVote(Base):
    """A learner found someone else's review helpful: the trust signal recommendations use."""

    __tablename__ = "review_vote"
    __table_args__ = (
        UniqueConstraint("rating_id", "learner_id"),
        tenant_fk(["rating_id"], "rating"),
        tenant_fk(["learner_id"], "learner"),
        Index("ix_review_vote_platform_id_learner_id", "platform_id", "learner_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column()
    rating_id: Mapped[int] = mapped_column()
    learner_id: Mapped[int] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Comment(Base):
    """A comment in an item's discussion (``placement_id`` set when the thread is per placement).

    Replies sit one level under a top-level comment (``parent_id``). A deleted comment keeps its
    row without text so its replies stay in place. ``approved_at`` is empty while a comment is
    held for an instructor; ``reply_count`` counts replies that readers may see.
    """

    __tablename__ = "comment"
    __table_args__ = (
        UniqueConstraint("platform_id", "id"),
        tenant_fk(["learner_id"], "learner"),
        tenant_fk(["item_id"], "item"),
        tenant_fk(["placement_id"], "placement"),
        tenant_fk(["parent_id"], "comment"),
        Index("ix_comment_thread", "item_id", "placement_id", "parent_id", "created_at", "id"),
        Index("ix_comment_parent_id", "parent_id"),
        # A page of top-level comments comes straight off an index in date order, whatever the thread's size.
        _partial(
            "ix_comment_top_of_item", ["item_id", "created_at", "id"], "parent_id IS NULL AND placement_id IS NULL"
        ),
        _partial(
            "ix_comment_top_of_placement",
            ["placement_id", "created_at", "id"],
            "parent_id IS NULL AND placement_id IS NOT NULL",
        ),
        _partial("ix_comment_pinned", ["item_id", "pinned_at"], "pinned_at IS NOT NULL"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column()
    item_id: Mapped[int] = mapped_column()
    placement_id: Mapped[int | None] = mapped_column()
    learner_id: Mapped[int] = mapped_column()
    parent_id: Mapped[int | None] = mapped_column()
    body: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    edited_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    pinned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    hidden_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    hidden_reason: Mapped[str | None] = mapped_column(String(REASON_MAX_LENGTH))
    hidden_by: Mapped[int | None] = mapped_column()

    author: Mapped[Learner] = _author("Comment")


class Report(Base):
    """A learner flags a review or a comment for the instructors; resolved when one acts on it."""

    __tablename__ = "report"
    __table_args__ = (
        UniqueConstraint("rating_id", "learner_id"),
        UniqueConstraint("comment_id", "learner_id"),
        CheckConstraint("(rating_id IS NULL) <> (comment_id IS NULL)", name="one_target"),
        tenant_fk(["learner_id"], "learner"),
        tenant_fk(["rating_id"], "rating"),
        tenant_fk(["comment_id"], "comment"),
        tenant_fk(["item_id"], "item"),
        Index("ix_report_item_id_resolved_at", "item_id", "resolved_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column()
    item_id: Mapped[int] = mapped_column()
    learner_id: Mapped[int] = mapped_column()
    rating_id: Mapped[int | None] = mapped_column()
    comment_id: Mapped[int | None] = mapped_column()
    reason: Mapped[str] = mapped_column(String(REASON_MAX_LENGTH), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
