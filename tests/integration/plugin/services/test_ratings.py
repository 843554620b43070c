"""Ratings, reviews and helpful votes: the summary, rating and changing, listing, voting, scoping."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from plugin.errors import ConflictError, ForbiddenError, InvalidFieldError, NotFoundError
from plugin.models import Rating, RatingTally, Report, ReviewVote
from plugin.models.social import REVIEW_MAX_LENGTH
from plugin.services import moderation, ratings
from plugin.services.actors import Actor
from tests.support.factories import World, actor, at, make_learner, make_world


@pytest.fixture
def world(db: Session) -> World:
    return make_world(db)


def learners(db: Session, world: World, count: int) -> list[Actor]:
    """``count`` extra learners of ``world.course``."""
    return [actor(make_learner(db, world.platform_a, f"extra-{n}"), world.course) for n in range(count)]


# --- summary ---------------------------------------------------------------------------------------


def test_summary_of_an_unrated_item(db: Session, world: World) -> None:
    result = ratings.summary(db, world.ada)
    assert result.count == 0
    assert result.average is None
    assert result.damped == ratings.PRIOR_MEAN
    assert result.distribution == {1: 0, 2: 0, 3: 0, 4: 0, 5: 0}
    assert result.mine is None


def test_summary_counts_averages_and_distributes(db: Session, world: World) -> None:
    ratings.rate(db, world.ada, 5)
    ratings.rate(db, world.bob, 4, "Solid")
    ratings.rate(db, world.cy, 4)
    result = ratings.summary(db, world.bob)
    assert result.count == 3
    assert result.average == 4.33
    assert result.damped == 3.5  # (5 * 3.0 + 13) / (5 + 3)
    assert result.distribution == {1: 0, 2: 0, 3: 0, 4: 2, 5: 1}
    assert result.mine is not None
    assert (result.mine.learner_id, result.mine.stars, result.mine.review) == (world.bob.learner_id, 4, "Solid")


def counted_from_ratings(db: Session, who: Actor) -> dict[int, int]:
    """The distribution counted the slow way, from the rating rows themselves."""
    rows = db.execute(
        select(Rating.stars, func.count())
        .where(Rating.platform_id == who.platform_id, Rating.item_id == who.item_id)
        .group_by(Rating.stars)
    ).all()
    return {stars: dict(rows).get(stars, 0) for stars in range(1, 6)}


def test_instructors_do_not_rate_their_own_course(db: Session, world: World) -> None:
    with pytest.raises(ForbiddenError, match="Instructors do not rate"):
        ratings.rate(db, world.teacher, 5, "Best course ever")
    assert ratings.summary(db, world.teacher).count == 0
    assert ratings.remove_rating(db, world.teacher) is False  # nothing to remove, and no error


def test_the_tallies_follow_every_rating_change(db: Session, world: World) -> None:
    crowd = learners(db, world, 6)
    steps = [(0, 5), (1, 4), (2, 4), (0, 3), (3, 1), (1, 4), (4, 2), (0, 5), (5, 5)]
    for who, stars in steps:
        ratings.rate(db, crowd[who], stars)
        assert ratings.summary(db, crowd[who]).distribution == counted_from_ratings(db, crowd[who])
    for who in (3, 0, 0):  # removing twice is a no-op the second time
        ratings.remove_rating(db, crowd[who])
        assert ratings.summary(db, crowd[who]).distribution == counted_from_ratings(db, crowd[who])
    assert ratings.summary(db, crowd[1]).distribution == {1: 0, 2: 1, 3: 0, 4: 2, 5: 1}
    # Another item of the same platform has its own tallies.
    ratings.rate(db, world.other_course_learner, 1)
    assert ratings.summary(db, world.ada).distribution == {1: 0, 2: 1, 3: 0, 4: 2, 5: 1}


def test_rebuild_tallies_recounts_from_the_ratings(db: Session, world: World) -> None:
    ratings.rate(db, world.ada, 5)
    ratings.rate(db, world.bob, 2)
    db.execute(RatingTally.__table__.update().values(count=99))  # drifted, e.g. after a bulk load
    ratings.rebuild_tallies(db, world.ada.platform_id)
    assert ratings.summary(db, world.ada).distribution == {1: 0, 2: 1, 3: 0, 4: 0, 5: 1}


def test_one_five_star_rating_does_not_outrank_many_good_ones(db: Session, world: World) -> None:
    ratings.rate(db, world.ada, 5)
    assert ratings.summary(db, world.ada).damped == 3.33
    assert round(ratings.damped_average(50, 230), 2) == 4.45  # fifty ratings of 4.6
    assert ratings.damped_average(50, 230) > ratings.damped_average(1, 5)


def test_summary_is_of_the_actors_item_and_platform_only(db: Session, world: World) -> None:
    ratings.rate(db, world.ada, 1)
    ratings.rate(db, world.other_course_learner, 5)
    ratings.rate(db, world.foreign_learner, 5)
    assert ratings.summary(db, world.bob).distribution == {1: 1, 2: 0, 3: 0, 4: 0, 5: 0}
    other = ratings.summary(db, world.other_course_learner)
    assert (other.count, other.average) == (1, 5.0)
    assert other.mine is not None and other.mine.item_id == world.other_course.id
    foreign = ratings.summary(db, world.foreign_teacher)
    assert (foreign.count, foreign.average, foreign.mine) == (1, 5.0, None)


def test_hidden_review_keeps_its_stars_in_the_summary(db: Session, world: World) -> None:
    rating = ratings.rate(db, world.ada, 1, "Awful and rude")
    moderation.hide_review(db, world.teacher, rating.id, "Rude")
    result = ratings.summary(db, world.bob)
    assert (result.count, result.distribution[1]) == (1, 1)


# --- rate, change, remove ----------------------------------------------------------------------------


def test_rate_stores_stars_and_cleaned_review(db: Session, world: World) -> None:
    rating = ratings.rate(db, world.ada, 4, "  Good pace.\r\n\r\n\r\nClear slides.  ", now=at(0))
    db.commit()
    db.expunge_all()
    stored = db.scalars(select(Rating)).one()
    assert stored.id == rating.id
    assert (stored.platform_id, stored.item_id, stored.learner_id) == (
        world.platform_a.id,
        world.course.id,
        world.ada.learner_id,
    )
    assert stored.stars == 4
    assert stored.review == "Good pace.\n\nClear slides."
    assert stored.helpful_count == 0
    assert stored.created_at == stored.updated_at == stored.review_updated_at == at(0)


def test_rating_again_changes_the_one_rating(db: Session, world: World) -> None:
    first = ratings.rate(db, world.ada, 2, "Meh", now=at(0))
    second = ratings.rate(db, world.ada, 5, "Grew on me", now=at(10))
    assert second.id == first.id
    assert db.scalar(select(func.count()).select_from(Rating)) == 1
    assert (second.stars, second.review) == (5, "Grew on me")
    assert second.created_at == at(0)
    assert second.updated_at == second.review_updated_at == at(10)


def test_changing_only_the_stars_keeps_the_review_date(db: Session, world: World) -> None:
    ratings.rate(db, world.ada, 2, "Meh", now=at(0))
    rating = ratings.rate(db, world.ada, 3, "Meh", now=at(10))
    assert (rating.stars, rating.review, rating.updated_at, rating.review_updated_at) == (3, "Meh", at(10), at(0))


def test_rating_without_a_review_removes_the_review(db: Session, world: World) -> None:
    ratings.rate(db, world.ada, 2, "Meh", now=at(0))
    rating = ratings.rate(db, world.ada, 2, "   ", now=at(10))
    assert (rating.review, rating.review_updated_at) == (None, None)
    assert ratings.list_reviews(db, world.bob).total == 0


def test_stars_only_where_reviews_are_off_keeps_an_earlier_review(db: Session, world: World) -> None:
    ratings.rate(db, world.ada, 2, "Meh", now=at(0))
    rating = ratings.rate(db, world.ada, 4, None, reviews_allowed=False, now=at(10))
    assert (rating.stars, rating.review, rating.review_updated_at) == (4, "Meh", at(0))


def test_a_review_where_reviews_are_off_is_refused(db: Session, world: World) -> None:
    with pytest.raises(InvalidFieldError) as caught:
        ratings.rate(db, world.ada, 4, "Words", reviews_allowed=False)
    assert caught.value.field == "review"
    assert ratings.own_rating(db, world.ada) is None


@pytest.mark.parametrize("stars", [0, 6, -1, True, False, 4.0, "5", None])
def test_stars_must_be_a_whole_number_from_1_to_5(db: Session, world: World, stars: object) -> None:
    with pytest.raises(InvalidFieldError) as caught:
        ratings.rate(db, world.ada, stars)
    assert caught.value.field == "stars"
    assert ratings.own_rating(db, world.ada) is None


@pytest.mark.parametrize("stars", [1, 2, 3, 4, 5])
def test_every_star_value_is_accepted(db: Session, world: World, stars: int) -> None:
    assert ratings.rate(db, world.ada, stars).stars == stars


def test_review_length_limit(db: Session, world: World) -> None:
    longest = "x" * REVIEW_MAX_LENGTH
    assert ratings.rate(db, world.ada, 3, longest).review == longest
    with pytest.raises(InvalidFieldError) as caught:
        ratings.rate(db, world.ada, 3, longest + "y")
    assert caught.value.field == "review"
    assert ratings.own_rating(db, world.ada).review == longest


def test_review_length_is_measured_after_cleaning(db: Session, world: World) -> None:
    padded = "   " + "x" * REVIEW_MAX_LENGTH + "   \n\n"
    assert ratings.rate(db, world.ada, 3, padded).review == "x" * REVIEW_MAX_LENGTH


def test_remove_rating_takes_votes_and_reports_with_it(db: Session, world: World) -> None:
    rating = ratings.rate(db, world.ada, 4, "Nice")
    ratings.set_helpful(db, world.bob, rating.id, True)
    moderation.report_review(db, world.cy, rating.id, "Off topic")
    db.commit()
    assert ratings.remove_rating(db, world.ada) is True
    db.commit()
    assert ratings.own_rating(db, world.ada) is None
    assert db.scalar(select(func.count()).select_from(ReviewVote)) == 0
    assert db.scalar(select(func.count()).select_from(Report)) == 0
    assert ratings.summary(db, world.bob).count == 0


def test_remove_rating_without_a_rating(db: Session, world: World) -> None:
    ratings.rate(db, world.bob, 4)
    ratings.rate(db, world.other_course_learner, 4)
    assert ratings.remove_rating(db, world.ada) is False
    assert db.scalar(select(func.count()).select_from(Rating)) == 2


def test_remove_rating_removes_only_the_actors_rating_of_this_item(db: Session, world: World) -> None:
    ratings.rate(db, world.ada, 4)
    ratings.rate(db, world.other_course_learner, 2)  # ada in her other course
    ratings.rate(db, world.bob, 5)
    assert ratings.remove_rating(db, world.ada) is True
    assert ratings.own_rating(db, world.other_course_learner) is not None
    assert ratings.summary(db, world.bob).count == 1


# --- list_reviews ------------------------------------------------------------------------------------


def test_reviews_list_only_ratings_with_text(db: Session, world: World) -> None:
    with_text = ratings.rate(db, world.ada, 4, "Words")
    ratings.rate(db, world.bob, 5)
    page = ratings.list_reviews(db, world.cy)
    assert [r.id for r in page.reviews] == [with_text.id]
    assert page.total == 1
    assert page.reviews[0].author.sub == "ada"


def test_newest_first_by_review_date(db: Session, world: World) -> None:
    a = ratings.rate(db, world.ada, 4, "First", now=at(0))
    b = ratings.rate(db, world.bob, 4, "Second", now=at(5))
    c = ratings.rate(db, world.cy, 4, "Third", now=at(10))
    ratings.rate(db, world.ada, 1, "First", now=at(20))  # only the stars change: no new review date
    assert [r.id for r in ratings.list_reviews(db, world.teacher, "newest").reviews] == [c.id, b.id, a.id]
    ratings.rate(db, world.ada, 1, "First, rewritten", now=at(30))
    assert [r.id for r in ratings.list_reviews(db, world.teacher, "newest").reviews] == [a.id, c.id, b.id]


def test_most_helpful_first_then_newest(db: Session, world: World) -> None:
    voters = learners(db, world, 3)
    old = ratings.rate(db, world.ada, 4, "Old", now=at(0))
    popular = ratings.rate(db, world.bob, 4, "Popular", now=at(1))
    new = ratings.rate(db, world.cy, 4, "New", now=at(2))
    for voter in voters:
        ratings.set_helpful(db, voter, popular.id, True)
    ratings.set_helpful(db, voters[0], old.id, True)
    page = ratings.list_reviews(db, world.teacher)  # "helpful" is the default
    assert [r.id for r in page.reviews] == [popular.id, old.id, new.id]
    assert [r.helpful_count for r in page.reviews] == [3, 1, 0]


def test_equal_reviews_are_ordered_by_id_so_pages_are_stable(db: Session, world: World) -> None:
    same_time = [ratings.rate(db, a, 3, "Same", now=at(0)) for a in (world.ada, world.bob, world.cy)]
    expected = [r.id for r in sorted(same_time, key=lambda r: r.id, reverse=True)]
    for sort in ratings.REVIEW_SORTS:
        assert [r.id for r in ratings.list_reviews(db, world.teacher, sort).reviews] == expected


def test_reviews_come_in_pages(db: Session, world: World) -> None:
    authors = learners(db, world, ratings.REVIEWS_PER_PAGE + 2)
    written = [ratings.rate(db, a, 3, f"Review {n}", now=at(n)) for n, a in enumerate(authors)]
    newest_first = [r.id for r in reversed(written)]
    first = ratings.list_reviews(db, world.ada, "newest", page=1)
    second = ratings.list_reviews(db, world.ada, "newest", page=2)
    third = ratings.list_reviews(db, world.ada, "newest", page=3)
    assert (first.total, first.pages, first.per_page, first.page) == (12, 2, ratings.REVIEWS_PER_PAGE, 1)
    assert [r.id for r in first.reviews] == newest_first[:10]
    assert [r.id for r in second.reviews] == newest_first[10:]
    assert (third.reviews, third.total, third.page) == ([], 12, 3)


@pytest.mark.parametrize("page", [0, -3])
def test_a_page_below_one_is_the_first_page(db: Session, world: World, page: int) -> None:
    review = ratings.rate(db, world.ada, 3, "Only one")
    listed = ratings.list_reviews(db, world.bob, page=page)
    assert (listed.page, [r.id for r in listed.reviews]) == (1, [review.id])


def test_an_empty_list_has_one_page(db: Session, world: World) -> None:
    page = ratings.list_reviews(db, world.ada)
    assert (page.reviews, page.total, page.pages, page.voted) == ([], 0, 1, set())


def test_unknown_sort_is_refused(db: Session, world: World) -> None:
    with pytest.raises(InvalidFieldError) as caught:
        ratings.list_reviews(db, world.ada, "stars")
    assert caught.value.field == "sort"


def test_hidden_reviews_are_listed_for_staff_only(db: Session, world: World) -> None:
    shown = ratings.rate(db, world.ada, 4, "Fine", now=at(0))
    hidden = ratings.rate(db, world.bob, 1, "Rude words", now=at(1))
    moderation.hide_review(db, world.teacher, hidden.id, "Insults")
    for reader in (world.ada, world.bob, world.cy):  # the author too
        page = ratings.list_reviews(db, reader, "newest")
        assert ([r.id for r in page.reviews], page.total) == ([shown.id], 1)
    staff_page = ratings.list_reviews(db, world.teacher, "newest")
    assert ([r.id for r in staff_page.reviews], staff_page.total) == ([hidden.id, shown.id], 2)
    assert staff_page.reviews[0].hidden_reason == "Insults"


def test_the_page_tells_which_reviews_the_reader_voted_for(db: Session, world: World) -> None:
    a = ratings.rate(db, world.ada, 4, "A", now=at(0))
    b = ratings.rate(db, world.bob, 4, "B", now=at(1))
    ratings.set_helpful(db, world.cy, a.id, True)
    ratings.set_helpful(db, world.ada, b.id, True)
    assert ratings.list_reviews(db, world.cy).voted == {a.id}
    assert ratings.list_reviews(db, world.ada).voted == {b.id}
    assert ratings.list_reviews(db, world.teacher).voted == set()


def test_reviews_are_listed_for_the_actors_item_only(db: Session, world: World) -> None:
    ratings.rate(db, world.ada, 4, "Course one")
    elsewhere = ratings.rate(db, world.other_course_learner, 4, "Course two")
    foreign = ratings.rate(db, world.foreign_learner, 4, "Platform B")
    assert [r.review for r in ratings.list_reviews(db, world.bob).reviews] == ["Course one"]
    assert [r.id for r in ratings.list_reviews(db, world.other_course_teacher).reviews] == [elsewhere.id]
    assert [r.id for r in ratings.list_reviews(db, world.foreign_teacher).reviews] == [foreign.id]


# --- helpful votes -----------------------------------------------------------------------------------


def test_helpful_vote_counts_once_per_learner(db: Session, world: World) -> None:
    review = ratings.rate(db, world.ada, 4, "Useful")
    assert ratings.set_helpful(db, world.bob, review.id, True).helpful_count == 1
    assert ratings.set_helpful(db, world.bob, review.id, True).helpful_count == 1
    assert ratings.set_helpful(db, world.cy, review.id, True).helpful_count == 2
    assert db.scalar(select(func.count()).select_from(ReviewVote)) == 2
    db.commit()
    db.expunge_all()
    assert db.get(Rating, review.id).helpful_count == 2


def test_taking_a_vote_back(db: Session, world: World) -> None:
    review = ratings.rate(db, world.ada, 4, "Useful")
    ratings.set_helpful(db, world.bob, review.id, True)
    ratings.set_helpful(db, world.cy, review.id, True)
    assert ratings.set_helpful(db, world.bob, review.id, False).helpful_count == 1
    assert ratings.set_helpful(db, world.bob, review.id, False).helpful_count == 1
    assert db.scalars(select(ReviewVote.learner_id)).all() == [world.cy.learner_id]
    assert ratings.list_reviews(db, world.bob).voted == set()


def test_taking_back_a_vote_never_given_changes_nothing(db: Session, world: World) -> None:
    review = ratings.rate(db, world.ada, 4, "Useful")
    ratings.set_helpful(db, world.cy, review.id, True)
    assert ratings.set_helpful(db, world.bob, review.id, False).helpful_count == 1


def test_instructors_can_vote_too(db: Session, world: World) -> None:
    review = ratings.rate(db, world.ada, 4, "Useful")
    assert ratings.set_helpful(db, world.teacher, review.id, True).helpful_count == 1


def test_you_cannot_vote_for_your_own_review(db: Session, world: World) -> None:
    review = ratings.rate(db, world.ada, 4, "Mine")
    with pytest.raises(ConflictError):
        ratings.set_helpful(db, world.ada, review.id, True)
    assert review.helpful_count == 0
    assert db.scalar(select(func.count()).select_from(ReviewVote)) == 0


def test_no_votes_on_a_rating_without_a_review(db: Session, world: World) -> None:
    stars_only = ratings.rate(db, world.ada, 4)
    with pytest.raises(NotFoundError):
        ratings.set_helpful(db, world.bob, stars_only.id, True)


def test_learners_cannot_vote_on_a_hidden_review(db: Session, world: World) -> None:
    review = ratings.rate(db, world.ada, 4, "Hidden later")
    moderation.hide_review(db, world.teacher, review.id, "Spam")
    with pytest.raises(NotFoundError):
        ratings.set_helpful(db, world.bob, review.id, True)
    assert db.scalar(select(func.count()).select_from(ReviewVote)) == 0


def test_helpful_count_survives_edits_of_the_review(db: Session, world: World) -> None:
    review = ratings.rate(db, world.ada, 4, "First words", now=at(0))
    ratings.set_helpful(db, world.bob, review.id, True)
    assert ratings.rate(db, world.ada, 5, "Second words", now=at(1)).helpful_count == 1


# --- find_review and scoping ------------------------------------------------------------------------


def test_find_review_finds_a_visible_review_of_the_item(db: Session, world: World) -> None:
    review = ratings.rate(db, world.ada, 4, "Here")
    assert ratings.find_review(db, world.bob, review.id).id == review.id
    assert ratings.find_review(db, world.teacher, review.id).id == review.id


def test_find_review_of_a_missing_or_textless_rating(db: Session, world: World) -> None:
    stars_only = ratings.rate(db, world.ada, 4)
    with pytest.raises(NotFoundError):
        ratings.find_review(db, world.bob, stars_only.id)
    with pytest.raises(NotFoundError):
        ratings.find_review(db, world.bob, stars_only.id + 1000)


def test_find_review_of_a_hidden_review_is_for_staff(db: Session, world: World) -> None:
    review = ratings.rate(db, world.ada, 4, "Hidden")
    moderation.hide_review(db, world.teacher, review.id, "Spam")
    for learner in (world.ada, world.bob):
        with pytest.raises(NotFoundError):
            ratings.find_review(db, learner, review.id)
    assert ratings.find_review(db, world.teacher, review.id).hidden_at is not None


REVIEW_OPERATIONS: dict[str, Callable[[Session, Actor, int], object]] = {
    "find_review": ratings.find_review,
    "set_helpful": lambda db, who, rating_id: ratings.set_helpful(db, who, rating_id, True),
    "take_back_vote": lambda db, who, rating_id: ratings.set_helpful(db, who, rating_id, False),
}


@pytest.mark.parametrize("operation", REVIEW_OPERATIONS)
@pytest.mark.parametrize(
    "outsider", ["other_course_learner", "other_course_teacher", "foreign_learner", "foreign_teacher"]
)
def test_reviews_of_another_item_or_platform_are_not_found(
    db: Session, world: World, operation: str, outsider: str
) -> None:
    review = ratings.rate(db, world.bob, 4, "Course one only")
    ratings.set_helpful(db, world.cy, review.id, True)
    with pytest.raises(NotFoundError):
        REVIEW_OPERATIONS[operation](db, world.outsiders[outsider], review.id)
    db.refresh(review)
    assert review.helpful_count == 1
    assert db.scalars(select(ReviewVote.learner_id)).all() == [world.cy.learner_id]


def test_open_report_counts_are_per_review(db: Session, world: World) -> None:
    a = ratings.rate(db, world.ada, 4, "A")
    b = ratings.rate(db, world.bob, 4, "B")
    moderation.report_review(db, world.bob, a.id, "Spam")
    moderation.report_review(db, world.cy, a.id, None)
    moderation.report_review(db, world.cy, b.id, None)
    moderation.dismiss_reports(db, world.teacher, rating_id=b.id)
    assert ratings.open_report_counts(db, world.teacher, [a.id, b.id]) == {a.id: 2}
    assert ratings.open_report_counts(db, world.teacher, []) == {}


def test_open_report_counts_of_another_item_or_platform_are_not_told(db: Session, world: World) -> None:
    review = ratings.rate(db, world.ada, 4, "A")
    moderation.report_review(db, world.bob, review.id, "Spam")
    for outsider in world.outsiders.values():
        assert ratings.open_report_counts(db, outsider, [review.id]) == {}
