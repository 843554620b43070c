"""Ratings (1-5 stars per learner and item), written reviews and "Helpful" votes.

The summary's ``damped`` average is a Bayesian average: the item's ratings blended with
``PRIOR_WEIGHT`` imaginary ratings of ``PRIOR_MEAN``, so one 5-star vote (3.33) does not outrank
fifty 4.6s (4.45) when items are ranked. Reviews are ratings with text; hiding one removes the
text from learners' view but keeps its stars in the summary.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import ColumnElement, Integer, Select, bindparam, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from plugin.db import utcnow
from plugin.errors import ConflictError, ForbiddenError, InvalidFieldError, NotFoundError
from plugin.events import ActionKind, act
from plugin.models import Rating, RatingTally, Report, ReviewVote
from plugin.models.social import REVIEW_MAX_LENGTH
from plugin.services.actors import Actor
from plugin.services.launches import _get_or_create
from plugin.services.text import clean_text

PRIOR_MEAN = 3.0
PRIOR_WEIGHT = 5
REVIEWS_PER_PAGE = 10
REVIEW_SORTS = ("helpful", "newest")


@dataclass(frozen=True)
class RatingSummary:
    count: int
    average: float | None
    damped: float
    distribution: dict[int, int]
    mine: Rating | None = None


@dataclass(frozen=True)
class ReviewPage:
    reviews: list[Rating]
    total: int
    page: int
    per_page: int
    voted: set[int] = field(default_factory=set)
    reported: set[int] = field(default_factory=set)  # reviews the reader reported, still open

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def damped_average(count: int, total_stars: int) -> float:
    return (PRIOR_MEAN * PRIOR_WEIGHT + total_stars) / (PRIOR_WEIGHT + count)


# Read statements are built once and cached, with the actor's values as bound parameters:
# building SQL expressions costs more than running these queries (see bench/widgets_load.py).
_PLATFORM, _ITEM, _LEARNER = bindparam("platform_id"), bindparam("item_id"), bindparam("learner_id")


def _params(actor: Actor, **more: object) -> dict[str, object]:
    return {"platform_id": actor.platform_id, "item_id": actor.item_id, "learner_id": actor.learner_id, **more}


@functools.cache
def _distribution_statement() -> Select:
    return select(RatingTally.stars, RatingTally.count).where(
        RatingTally.platform_id == _PLATFORM, RatingTally.item_id == _ITEM
    )


@functools.cache
def _own_statement() -> Select:
    return select(Rating).where(Rating.platform_id == _PLATFORM, Rating.item_id == _ITEM, Rating.learner_id == _LEARNER)


def summary(session: Session, actor: Actor) -> RatingSummary:
    """Count, average, damped average and the 5-bar distribution, plus the actor's own rating."""
    distribution = {stars: 0 for stars in range(1, 6)}
    for stars, count in session.execute(_distribution_statement(), _params(actor)):
        distribution[int(stars)] = int(count)
    count = sum(distribution.values())
    total = sum(stars * n for stars, n in distribution.items())
    return RatingSummary(
        count=count,
        average=round(total / count, 2) if count else None,
        damped=round(damped_average(count, total), 2),
        distribution=distribution,
        mine=own_rating(session, actor),
    )


def own_rating(session: Session, actor: Actor) -> Rating | None:
    return session.scalars(_own_statement(), _params(actor)).one_or_none()


def rate(
    session: Session,
    actor: Actor,
    stars: int,
    review: str | None = None,
    *,
    reviews_allowed: bool = True,
    now: datetime | None = None,
) -> Rating:
    """Set the actor's rating (and review); a second call changes it."""
    now = now or utcnow()
    if actor.staff:  # the ratings are the learners' word; teachers of the course would tilt them
        raise ForbiddenError("Instructors do not rate their own course: the ratings here are the learners'.")
    if isinstance(stars, bool) or not isinstance(stars, int) or not 1 <= stars <= 5:
        raise InvalidFieldError("stars", "Choose a rating from 1 to 5 stars.")
    text = clean_text(review)
    if text and not reviews_allowed:
        raise InvalidFieldError("review", "Written reviews are turned off here; save the stars without a review.")
    if text and len(text) > REVIEW_MAX_LENGTH:
        raise InvalidFieldError("review", "A review can be at most 2000 characters long.")
    rating = own_rating(session, actor)
    previous = rating.stars if rating is not None else None
    said = (rating.stars, rating.review) if rating is not None else None
    if rating is None:
        try:
            with session.begin_nested():
                rating = Rating(
                    platform_id=actor.platform_id,
                    learner_id=actor.learner_id,
                    item_id=actor.item_id,
                    stars=stars,
                    helpful_count=0,
                    created_at=now,
                    updated_at=now,
                )
                session.add(rating)
                session.flush()
                # Inside the savepoint: on SQLite, releasing the outermost savepoint commits, and the
                # rating and its tally must become visible to other requests together.
                _tally(session, actor, stars, +1)
            previous = stars
        except IntegrityError:  # the same learner's other request made it first: change that one
            rating = own_rating(session, actor)
            if rating is None:
                raise
            previous = rating.stars
    if previous != stars:
        # Always lock the two tally rows lowest star first, so two changes in opposite
        # directions (3 -> 5 and 5 -> 3) cannot deadlock.
        for star_value, delta in sorted(((previous, -1), (stars, +1))):
            _tally(session, actor, star_value, delta)
    rating.stars = stars
    rating.updated_at = now
    if reviews_allowed and text != rating.review:
        rating.review = text
        rating.review_updated_at = now if text else None
        if not text:  # nothing left to moderate: close the reports about the words that are gone
            session.execute(
                update(Report)
                .where(
                    Report.platform_id == actor.platform_id, Report.rating_id == rating.id, Report.resolved_at.is_(None)
                )
                .values(resolved_at=now)
            )
    session.flush()
    if said != (rating.stars, rating.review):
        act(session, ActionKind.RATED, actor, now, subject=f"rating:{rating.id}", stars=stars, text=rating.review)
    return rating


def remove_rating(session: Session, actor: Actor) -> bool:
    """Remove the actor's rating, its review, the votes on it and reports about it."""
    rating = own_rating(session, actor)
    if rating is None:
        return False
    _tally(session, actor, rating.stars, -1)
    act(session, ActionKind.RATING_REMOVED, actor, subject=f"rating:{rating.id}")
    session.delete(rating)
    session.flush()
    return True


def _tally(session: Session, actor: Actor, stars: int, delta: int) -> None:
    """Move the item's count of ``stars`` by ``delta`` in the same transaction as the rating."""
    if delta > 0:
        insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
        statement = insert(RatingTally).values(
            platform_id=actor.platform_id, item_id=actor.item_id, stars=stars, count=delta
        )
        session.execute(
            statement.on_conflict_do_update(
                index_elements=[RatingTally.item_id, RatingTally.stars],
                set_={"count": RatingTally.count + delta},
            )
        )
    else:
        session.execute(
            update(RatingTally)
            .where(RatingTally.item_id == actor.item_id, RatingTally.stars == stars)
            .values(count=RatingTally.count + delta)
        )


def rebuild_tallies(session: Session | Connection, platform_id: int | None = None) -> None:
    """Recount every item's stars from the ratings themselves (after bulk loads, or as a repair)."""
    scope = [RatingTally.platform_id == platform_id] if platform_id is not None else []
    session.execute(delete(RatingTally).where(*scope))
    counts = select(Rating.platform_id, Rating.item_id, Rating.stars, func.count()).group_by(
        Rating.platform_id, Rating.item_id, Rating.stars
    )
    if platform_id is not None:
        counts = counts.where(Rating.platform_id == platform_id)
    session.execute(RatingTally.__table__.insert().from_select(["platform_id", "item_id", "stars", "count"], counts))


def _visible_reviews_where(staff: bool) -> list[ColumnElement[bool]]:
    where = [Rating.platform_id == _PLATFORM, Rating.item_id == _ITEM, Rating.review.is_not(None)]
    return where if staff else [*where, Rating.hidden_at.is_(None)]


@functools.cache
def _review_count_statement(staff: bool) -> Select:
    return select(func.count()).select_from(Rating).where(*_visible_reviews_where(staff))


@functools.cache
def _review_page_statement(staff: bool, sort: str) -> Select:
    order = (
        (Rating.helpful_count.desc(), Rating.review_updated_at.desc(), Rating.id.desc())
        if sort == "helpful"
        else (Rating.review_updated_at.desc(), Rating.id.desc())
    )
    return (
        select(Rating)
        .where(*_visible_reviews_where(staff))
        .options(joinedload(Rating.author))
        .order_by(*order)
        .limit(REVIEWS_PER_PAGE)
        .offset(bindparam("skip", type_=Integer, literal_execute=True))
    )


@functools.cache
def _voted_statement() -> Select:
    return select(ReviewVote.rating_id).where(
        ReviewVote.platform_id == _PLATFORM,
        ReviewVote.learner_id == _LEARNER,
        ReviewVote.rating_id.in_(bindparam("rating_ids", expanding=True)),
    )


@functools.cache
def _reported_statement() -> Select:
    """Which of these reviews the reader has reported and no instructor has acted on yet."""
    return select(Report.rating_id).where(
        Report.platform_id == _PLATFORM,
        Report.learner_id == _LEARNER,
        Report.resolved_at.is_(None),
        Report.rating_id.in_(bindparam("rating_ids", expanding=True)),
    )


def list_reviews(session: Session, actor: Actor, sort: str = "helpful", page: int = 1) -> ReviewPage:
    """One page of reviews, most helpful or newest first; hidden ones only for staff."""
    if sort not in REVIEW_SORTS:
        raise InvalidFieldError("sort", "Sort by one of: helpful, newest.")
    page = max(1, page)
    params = _params(actor, skip=(page - 1) * REVIEWS_PER_PAGE)
    total = session.scalar(_review_count_statement(actor.staff), params) or 0
    reviews = list(session.scalars(_review_page_statement(actor.staff, sort), params))
    voted: set[int] = set()
    reported: set[int] = set()
    if reviews:
        ids = {**params, "rating_ids": [r.id for r in reviews]}
        voted = set(session.scalars(_voted_statement(), ids))
        reported = set(session.scalars(_reported_statement(), ids))
    return ReviewPage(
        reviews=reviews, total=total, page=page, per_page=REVIEWS_PER_PAGE, voted=voted, reported=reported
    )


def find_review(session: Session, actor: Actor, rating_id: int, *, with_author: bool = False) -> Rating:
    """A review of the actor's item that the actor may see; 404 otherwise (no cross-item probing)."""
    query = select(Rating).where(*_visible_reviews_where(actor.staff), Rating.id == rating_id)
    if with_author:
        query = query.options(joinedload(Rating.author))
    rating = session.scalars(query, _params(actor)).one_or_none()
    if rating is None:
        raise NotFoundError("There is no such review here. It may have been removed.")
    return rating


def set_helpful(session: Session, actor: Actor, rating_id: int, helpful: bool) -> Rating:
    """Vote a review helpful (once per learner, never your own) or take the vote back."""
    rating = find_review(session, actor, rating_id)
    if rating.learner_id == actor.learner_id:
        raise ConflictError("You cannot vote for your own review.")
    existing = session.scalars(
        select(ReviewVote).where(ReviewVote.rating_id == rating.id, ReviewVote.learner_id == actor.learner_id)
    ).one_or_none()
    if helpful and existing is None:
        _get_or_create(
            session,
            lambda: session.scalars(
                select(ReviewVote).where(ReviewVote.rating_id == rating.id, ReviewVote.learner_id == actor.learner_id)
            ).one_or_none(),
            lambda: ReviewVote(platform_id=actor.platform_id, rating_id=rating.id, learner_id=actor.learner_id),
        )
    elif not helpful and existing is not None:
        session.execute(delete(ReviewVote).where(ReviewVote.id == existing.id))
    if helpful == (existing is None):  # a vote cast or taken back, not a repeat
        kind = ActionKind.VOTED_HELPFUL if helpful else ActionKind.HELPFUL_VOTE_WITHDRAWN
        vote = f"vote:{rating.id}:{actor.learner_id}"
        act(session, kind, actor, subject=vote, refers_to=f"rating:{rating.id}")
    _recount_helpful(session, rating)
    return rating


def _recount_helpful(session: Session, rating: Rating) -> None:
    """Set ``helpful_count`` from the votes themselves, so concurrent votes cannot drift it."""
    votes = select(func.count()).where(ReviewVote.rating_id == rating.id).scalar_subquery()
    session.execute(update(Rating).where(Rating.id == rating.id).values(helpful_count=votes))
    session.flush()
    session.refresh(rating, ["helpful_count"])


def open_report_counts(session: Session, actor: Actor, rating_ids: list[int]) -> dict[int, int]:
    if not rating_ids:
        return {}
    rows = session.execute(
        select(Report.rating_id, func.count())
        .where(
            Report.platform_id == actor.platform_id,
            Report.item_id == actor.item_id,
            Report.rating_id.in_(rating_ids),
            Report.resolved_at.is_(None),
        )
        .group_by(Report.rating_id)
    ).all()
    return {int(k): int(v) for k, v in rows}
