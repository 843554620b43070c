"""An instructor's view of one item: ratings over time, top reviews, comment activity, CSV rows.

Grouping by month and week happens in Python so the same code runs on SQLite and PostgreSQL;
it reads two narrow columns per row and only instructors ask for it.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from plugin.db import utcnow
from plugin.models import Comment, Rating
from plugin.services.actors import Actor
from plugin.services.moderation import require_staff

MONTHS = 12
WEEKS = 8


@dataclass(frozen=True)
class MonthRatings:
    month: datetime
    count: int
    average: float


@dataclass(frozen=True)
class WeekComments:
    week: datetime
    count: int


@dataclass(frozen=True)
class Insights:
    months: list[MonthRatings]
    weeks: list[WeekComments]
    top_reviews: list[Rating]


def _month(moment: datetime) -> datetime:
    return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _week(moment: datetime) -> datetime:
    start = moment - timedelta(days=moment.weekday())
    return start.replace(hour=0, minute=0, second=0, microsecond=0)


def insights(session: Session, actor: Actor, now: datetime | None = None) -> Insights:
    require_staff(actor)
    now = now or utcnow()
    first_month = _month(now - timedelta(days=31 * (MONTHS - 1)))
    by_month: dict[datetime, list[int]] = defaultdict(list)
    for created_at, stars in session.execute(
        select(Rating.created_at, Rating.stars).where(
            Rating.platform_id == actor.platform_id, Rating.item_id == actor.item_id, Rating.created_at >= first_month
        )
    ):
        by_month[_month(created_at)].append(stars)
    months = [
        MonthRatings(month, len(values), round(sum(values) / len(values), 2))
        for month, values in sorted(by_month.items())
    ]
    first_week = _week(now) - timedelta(weeks=WEEKS - 1)
    per_week = Counter(
        _week(created_at)
        for created_at in session.scalars(
            select(Comment.created_at).where(
                Comment.platform_id == actor.platform_id,
                Comment.item_id == actor.item_id,
                Comment.deleted_at.is_(None),
                Comment.created_at >= first_week,
            )
        )
    )
    weeks = [
        WeekComments(first_week + timedelta(weeks=i), per_week.get(first_week + timedelta(weeks=i), 0))
        for i in range(WEEKS)
    ]
    top = list(
        session.scalars(
            select(Rating)
            .where(
                Rating.platform_id == actor.platform_id,
                Rating.item_id == actor.item_id,
                Rating.review.is_not(None),
                Rating.hidden_at.is_(None),
            )
            .options(joinedload(Rating.author))
            .order_by(Rating.helpful_count.desc(), Rating.id.desc())
            .limit(3)
        )
    )
    return Insights(months=months, weeks=weeks, top_reviews=top)


CSV_HEADER = ("rated_at", "changed_at", "stars", "review", "helpful_votes", "review_hidden", "author")


def rating_rows(session: Session, actor: Actor) -> list[tuple[str, str, int, str, int, str, str]]:
    """Every rating of the item for the instructor's report, oldest first."""
    require_staff(actor)
    return [
        (
            r.created_at.isoformat(timespec="seconds"),
            r.updated_at.isoformat(timespec="seconds"),
            r.stars,
            r.review or "",
            r.helpful_count,
            "yes" if r.hidden_at else "no",
            r.author.name,
        )
        for r in session.scalars(
            select(Rating)
            .where(Rating.platform_id == actor.platform_id, Rating.item_id == actor.item_id)
            .options(joinedload(Rating.author))
            .order_by(Rating.created_at, Rating.id)
        )
    ]
