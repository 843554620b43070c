"""Reports and moderation: staff only, reasons, resolving reports, the queue, and course scoping."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from plugin.errors import ConflictError, ForbiddenError, InvalidFieldError, NotFoundError
from plugin.models import Comment, Rating, Report
from plugin.models.social import REASON_MAX_LENGTH
from plugin.services import comments, moderation, ratings
from plugin.services.actors import Actor
from tests.support.factories import World, at, make_world, thread


@pytest.fixture
def world(db: Session) -> World:
    return make_world(db)


@pytest.fixture
def review(db: Session, world: World) -> Rating:
    return ratings.rate(db, world.ada, 2, "Boring and the teacher is rude", now=at(0))


@pytest.fixture
def comment(db: Session, world: World) -> Comment:
    return comments.post_comment(db, world.ada, world.thread(), "Anyone else lost?", now=at(1))


def open_reports(db: Session) -> list[Report]:
    return list(db.scalars(select(Report).where(Report.resolved_at.is_(None)).order_by(Report.id)))


# --- staff only --------------------------------------------------------------------------------------

STAFF_ACTIONS: dict[str, Callable[[Session, Actor, Rating, Comment], object]] = {
    "hide_review": lambda db, who, r, c: moderation.hide_review(db, who, r.id, "Rude"),
    "unhide_review": lambda db, who, r, c: moderation.unhide_review(db, who, r.id),
    "hide_comment": lambda db, who, r, c: moderation.hide_comment(db, who, c.id, "Rude"),
    "unhide_comment": lambda db, who, r, c: moderation.unhide_comment(db, who, c.id),
    "pin": lambda db, who, r, c: moderation.set_pinned(db, who, c.id, True),
    "unpin": lambda db, who, r, c: moderation.set_pinned(db, who, c.id, False),
    "approve_comment": lambda db, who, r, c: moderation.approve_comment(db, who, c.id),
    "dismiss_review_reports": lambda db, who, r, c: moderation.dismiss_reports(db, who, rating_id=r.id),
    "dismiss_comment_reports": lambda db, who, r, c: moderation.dismiss_reports(db, who, comment_id=c.id),
    "queue": lambda db, who, r, c: moderation.queue(db, who),
}


@pytest.mark.parametrize("action", STAFF_ACTIONS)
@pytest.mark.parametrize("learner", ["ada", "bob"])
def test_learners_may_not_moderate(
    db: Session, world: World, review: Rating, comment: Comment, action: str, learner: str
) -> None:
    moderation.report_review(db, world.cy, review.id, "Rude")
    moderation.report_comment(db, world.cy, comment.id, "Rude")
    with pytest.raises(ForbiddenError):
        STAFF_ACTIONS[action](db, getattr(world, learner), review, comment)
    db.refresh(review)
    db.refresh(comment)
    assert (review.hidden_at, comment.hidden_at, comment.pinned_at) == (None, None, None)
    assert len(open_reports(db)) == 2


def test_require_staff(world: World) -> None:
    moderation.require_staff(world.teacher)
    with pytest.raises(ForbiddenError):
        moderation.require_staff(world.ada)


# --- hiding reviews ----------------------------------------------------------------------------------


def test_hide_a_review_with_a_reason(db: Session, world: World, review: Rating) -> None:
    hidden = moderation.hide_review(db, world.teacher, review.id, "  Personal attack \n", now=at(5))
    db.commit()
    db.expunge_all()
    stored = db.get(Rating, hidden.id)
    assert stored is not None
    assert (stored.hidden_at, stored.hidden_reason, stored.hidden_by) == (
        at(5),
        "Personal attack",
        world.teacher.learner_id,
    )
    assert stored.review == "Boring and the teacher is rude"
    assert ratings.list_reviews(db, world.bob).total == 0


@pytest.mark.parametrize("reason", [None, "", "   ", "\n\x00"])
def test_hiding_a_review_needs_a_reason(db: Session, world: World, review: Rating, reason: str | None) -> None:
    with pytest.raises(InvalidFieldError) as caught:
        moderation.hide_review(db, world.teacher, review.id, reason)
    assert caught.value.field == "reason"
    assert [r.id for r in ratings.list_reviews(db, world.bob).reviews] == [review.id]
    db.commit()
    db.expunge_all()
    assert db.get(Rating, review.id).hidden_at is None


def test_a_reason_has_a_length_limit(db: Session, world: World, review: Rating, comment: Comment) -> None:
    assert moderation.hide_review(db, world.teacher, review.id, "r" * REASON_MAX_LENGTH).hidden_reason == (
        "r" * REASON_MAX_LENGTH
    )
    with pytest.raises(InvalidFieldError):
        moderation.hide_comment(db, world.teacher, comment.id, "r" * (REASON_MAX_LENGTH + 1))
    with pytest.raises(InvalidFieldError):
        moderation.report_comment(db, world.bob, comment.id, "r" * (REASON_MAX_LENGTH + 1))
    assert comments.find_comment(db, world.bob, comment.id).hidden_at is None
    assert open_reports(db) == []


def test_hiding_a_review_resolves_its_open_reports(db: Session, world: World, review: Rating) -> None:
    other = ratings.rate(db, world.bob, 4, "Fine", now=at(1))
    moderation.report_review(db, world.bob, review.id, "Rude")
    moderation.report_review(db, world.cy, review.id, None)
    moderation.report_review(db, world.cy, other.id, "Spam")
    moderation.hide_review(db, world.teacher, review.id, "Rude", now=at(9))
    resolved = db.scalars(select(Report).where(Report.rating_id == review.id)).all()
    assert [r.resolved_at for r in resolved] == [at(9), at(9)]
    assert [r.rating_id for r in open_reports(db)] == [other.id]


def test_unhiding_a_review_shows_it_again_without_reopening_reports(db: Session, world: World, review: Rating) -> None:
    moderation.report_review(db, world.bob, review.id, "Rude")
    moderation.hide_review(db, world.teacher, review.id, "Rude", now=at(9))
    shown = moderation.unhide_review(db, world.teacher, review.id)
    assert (shown.hidden_at, shown.hidden_reason, shown.hidden_by) == (None, None, None)
    assert [r.id for r in ratings.list_reviews(db, world.bob).reviews] == [review.id]
    assert open_reports(db) == []


# --- hiding comments ---------------------------------------------------------------------------------


def test_hide_a_comment_with_a_reason(db: Session, world: World, comment: Comment) -> None:
    moderation.set_pinned(db, world.teacher, comment.id, True, now=at(2))
    moderation.report_comment(db, world.bob, comment.id, "Spam")
    hidden = moderation.hide_comment(db, world.teacher, comment.id, "Advertising", now=at(5))
    assert (hidden.hidden_at, hidden.hidden_reason, hidden.hidden_by) == (
        at(5),
        "Advertising",
        world.teacher.learner_id,
    )
    assert hidden.pinned_at is None
    assert hidden.body == "Anyone else lost?"
    assert open_reports(db) == []
    assert comments.list_comments(db, world.bob, world.thread()).comments == []
    staff_page = comments.list_comments(db, world.teacher, world.thread())
    assert ([c.id for c in staff_page.comments], staff_page.pinned) == ([comment.id], [])


@pytest.mark.parametrize("reason", [None, "", "  \n "])
def test_hiding_a_comment_needs_a_reason(db: Session, world: World, comment: Comment, reason: str | None) -> None:
    moderation.set_pinned(db, world.teacher, comment.id, True, now=at(2))
    with pytest.raises(InvalidFieldError) as caught:
        moderation.hide_comment(db, world.teacher, comment.id, reason)
    assert caught.value.field == "reason"
    page = comments.list_comments(db, world.bob, world.thread())
    assert [c.id for c in page.pinned] == [comment.id]
    assert page.pinned[0].hidden_at is None


def test_unhiding_a_comment_shows_it_again(db: Session, world: World, comment: Comment) -> None:
    moderation.report_comment(db, world.bob, comment.id, "Spam")
    moderation.hide_comment(db, world.teacher, comment.id, "Spam")
    shown = moderation.unhide_comment(db, world.teacher, comment.id)
    assert (shown.hidden_at, shown.hidden_reason, shown.hidden_by) == (None, None, None)
    assert [c.id for c in comments.list_comments(db, world.bob, world.thread()).comments] == [comment.id]
    assert open_reports(db) == []


def test_staff_can_moderate_comments_of_any_placement_of_their_item(db: Session, world: World) -> None:
    placed = comments.post_comment(db, world.ada, world.thread(world.placement), "In a placement", now=at(0))
    moderation.hide_comment(db, world.teacher, placed.id, "Spam")
    assert comments.list_comments(db, world.bob, world.thread(world.placement)).comments == []


# --- pinning and approving ---------------------------------------------------------------------------


def test_pin_and_unpin(db: Session, world: World, comment: Comment) -> None:
    assert moderation.set_pinned(db, world.teacher, comment.id, True, now=at(3)).pinned_at == at(3)
    assert moderation.set_pinned(db, world.teacher, comment.id, False).pinned_at is None


def test_only_visible_top_level_comments_can_be_pinned(db: Session, world: World, comment: Comment) -> None:
    reply = comments.post_comment(db, world.bob, world.thread(), "Reply", comment.id, now=at(2))
    held = comments.post_comment(db, world.bob, world.thread(), "Held", premoderate=True, now=at(3))
    hidden = comments.post_comment(db, world.cy, world.thread(), "Hidden", now=at(4))
    moderation.hide_comment(db, world.teacher, hidden.id, "Spam")
    for target in (reply, held, hidden):
        with pytest.raises(ConflictError):
            moderation.set_pinned(db, world.teacher, target.id, True)
        assert target.pinned_at is None


def test_approving_a_held_comment(db: Session, world: World) -> None:
    held = comments.post_comment(db, world.ada, world.thread(), "Held", premoderate=True, now=at(0))
    approved = moderation.approve_comment(db, world.teacher, held.id, now=at(4))
    assert approved.approved_at == at(4)
    assert [c.id for c in comments.list_comments(db, world.bob, world.thread()).comments] == [held.id]
    assert moderation.approve_comment(db, world.teacher, held.id, now=at(8)).approved_at == at(4)


def test_approving_a_reported_comment_resolves_its_reports(db: Session, world: World, comment: Comment) -> None:
    moderation.report_comment(db, world.bob, comment.id, "Spam")
    moderation.approve_comment(db, world.teacher, comment.id, now=at(4))
    assert open_reports(db) == []
    assert comment.approved_at == at(1)


def test_dismissing_reports_keeps_the_text(db: Session, world: World, review: Rating, comment: Comment) -> None:
    moderation.report_review(db, world.bob, review.id, "Rude")
    moderation.report_comment(db, world.bob, comment.id, "Spam")
    moderation.dismiss_reports(db, world.teacher, rating_id=review.id)
    assert [r.comment_id for r in open_reports(db)] == [comment.id]
    moderation.dismiss_reports(db, world.teacher, comment_id=comment.id)
    assert open_reports(db) == []
    assert ratings.find_review(db, world.bob, review.id).hidden_at is None
    assert comments.find_comment(db, world.bob, comment.id).hidden_at is None


def test_dismissing_without_a_target_is_not_found(db: Session, world: World) -> None:
    with pytest.raises(NotFoundError):
        moderation.dismiss_reports(db, world.teacher)


# --- reports -----------------------------------------------------------------------------------------


def test_report_a_review_and_a_comment(db: Session, world: World, review: Rating, comment: Comment) -> None:
    on_review = moderation.report_review(db, world.bob, review.id, "  Insulting\r\n")
    on_comment = moderation.report_comment(db, world.bob, comment.id, None)
    db.commit()
    db.expunge_all()
    stored = {r.id: r for r in db.scalars(select(Report))}
    assert (stored[on_review.id].rating_id, stored[on_review.id].comment_id) == (review.id, None)
    assert (stored[on_comment.id].rating_id, stored[on_comment.id].comment_id) == (None, comment.id)
    assert stored[on_review.id].reason == "Insulting"
    assert stored[on_comment.id].reason == ""
    for report in stored.values():
        assert (report.platform_id, report.item_id, report.learner_id, report.resolved_at) == (
            world.platform_a.id,
            world.course.id,
            world.bob.learner_id,
            None,
        )


def test_a_learner_reports_a_target_once(db: Session, world: World, review: Rating, comment: Comment) -> None:
    first = moderation.report_review(db, world.bob, review.id, "Rude")
    again = moderation.report_review(db, world.bob, review.id, "Very rude")
    quiet = moderation.report_review(db, world.bob, review.id, None)
    assert first.id == again.id == quiet.id
    assert quiet.reason == "Very rude"
    moderation.report_comment(db, world.bob, comment.id, "Spam")
    moderation.report_comment(db, world.bob, comment.id, "Spam")
    moderation.report_review(db, world.cy, review.id, "Rude")
    assert db.scalar(select(func.count()).select_from(Report)) == 3


def test_reporting_again_after_a_resolution_reopens_the_report(db: Session, world: World, review: Rating) -> None:
    first = moderation.report_review(db, world.bob, review.id, "Rude")
    moderation.dismiss_reports(db, world.teacher, rating_id=review.id)
    assert open_reports(db) == []
    again = moderation.report_review(db, world.bob, review.id, None)
    assert (again.id, again.resolved_at, again.reason) == (first.id, None, "Rude")
    assert [e.reports for e in moderation.queue(db, world.teacher)] == [1]


def test_you_cannot_report_or_vote_for_your_own(db: Session, world: World, review: Rating, comment: Comment) -> None:
    with pytest.raises(ConflictError):
        moderation.report_review(db, world.ada, review.id, "Mine")
    with pytest.raises(ConflictError):
        moderation.report_comment(db, world.ada, comment.id, "Mine")
    with pytest.raises(ConflictError):
        ratings.set_helpful(db, world.ada, review.id, True)
    assert db.scalar(select(func.count()).select_from(Report)) == 0
    assert review.helpful_count == 0


def test_what_a_learner_cannot_see_they_cannot_report(db: Session, world: World, review: Rating) -> None:
    moderation.hide_review(db, world.teacher, review.id, "Rude")
    held = comments.post_comment(db, world.ada, world.thread(), "Held", premoderate=True, now=at(2))
    deleted = comments.post_comment(db, world.ada, world.thread(), "Deleted", now=at(3))
    comments.delete_comment(db, world.ada, deleted.id)
    stars_only = ratings.rate(db, world.cy, 5)
    with pytest.raises(NotFoundError):
        moderation.report_review(db, world.bob, review.id, "Rude")
    with pytest.raises(NotFoundError):
        moderation.report_review(db, world.bob, stars_only.id, "Rude")
    for comment_id in (held.id, deleted.id, deleted.id + 1000):
        with pytest.raises(NotFoundError):
            moderation.report_comment(db, world.bob, comment_id, "Rude")
    assert db.scalar(select(func.count()).select_from(Report)) == 0


# --- the queue ---------------------------------------------------------------------------------------


def test_the_queue_is_empty_when_nothing_needs_an_instructor(db: Session, world: World, review: Rating) -> None:
    comments.post_comment(db, world.ada, world.thread(), "Fine", now=at(1))
    assert moderation.queue(db, world.teacher) == []


def test_the_queue_lists_reported_and_held_oldest_first(
    db: Session, world: World, review: Rating, comment: Comment
) -> None:
    held = comments.post_comment(db, world.bob, world.thread(world.placement), "Held", premoderate=True, now=at(2))
    moderation.report_comment(db, world.bob, comment.id, "Spam")
    moderation.report_review(db, world.bob, review.id, "Rude")
    moderation.report_review(db, world.cy, review.id, None)
    moderation.report_review(db, world.teacher, review.id, "Off topic")
    entries = moderation.queue(db, world.teacher)
    assert [(e.kind, e.created_at) for e in entries] == [("review", at(0)), ("comment", at(1)), ("comment", at(2))]
    by_review, by_comment, by_hold = entries
    assert (by_review.review.id, by_review.comment) == (review.id, None)
    assert (by_review.reports, sorted(by_review.reasons), by_review.held) == (3, ["Off topic", "Rude"], False)
    assert by_review.review.author.sub == "ada"
    assert (by_comment.comment.id, by_comment.reports, by_comment.reasons) == (comment.id, 1, ["Spam"])
    assert (by_comment.held, by_comment.review) == (False, None)
    assert (by_hold.comment.id, by_hold.reports, by_hold.reasons, by_hold.held) == (held.id, 0, [], True)
    assert by_hold.comment.author.sub == "bob"


def test_a_reported_held_comment_is_one_entry(db: Session, world: World) -> None:
    held = comments.post_comment(db, world.ada, world.thread(), "Held", premoderate=True, now=at(0))
    moderation.report_comment(db, world.teacher, held.id, "Check")
    ((entry,),) = [moderation.queue(db, world.teacher)]
    assert (entry.comment.id, entry.reports, entry.held) == (held.id, 1, True)


def test_acted_on_entries_leave_the_queue(db: Session, world: World, review: Rating, comment: Comment) -> None:
    held = comments.post_comment(db, world.bob, world.thread(), "Held", premoderate=True, now=at(2))
    held_then_deleted = comments.post_comment(db, world.cy, world.thread(), "Oops", premoderate=True, now=at(3))
    held_then_hidden = comments.post_comment(db, world.cy, world.thread(), "Spam", premoderate=True, now=at(4))
    moderation.report_review(db, world.bob, review.id, "Rude")
    moderation.report_comment(db, world.bob, comment.id, "Spam")
    assert len(moderation.queue(db, world.teacher)) == 5
    comments.delete_comment(db, world.cy, held_then_deleted.id)
    moderation.hide_comment(db, world.teacher, held_then_hidden.id, "Spam")
    moderation.hide_review(db, world.teacher, review.id, "Rude")
    moderation.dismiss_reports(db, world.teacher, comment_id=comment.id)
    assert [e.comment.id for e in moderation.queue(db, world.teacher)] == [held.id]
    moderation.approve_comment(db, world.teacher, held.id)
    assert moderation.queue(db, world.teacher) == []


def test_a_review_whose_words_are_removed_leaves_the_queue(db: Session, world: World, review: Rating) -> None:
    moderation.report_review(db, world.bob, review.id, "Rude")
    assert [e.kind for e in moderation.queue(db, world.teacher)] == ["review"]
    ratings.rate(db, world.ada, 2, None, now=at(5))  # keeps the stars, drops the review
    assert moderation.queue(db, world.teacher) == []
    open_reports = db.scalar(select(func.count()).select_from(Report).where(Report.resolved_at.is_(None)))
    assert open_reports == 0


def test_readers_see_what_they_reported_until_an_instructor_acts(
    db: Session, world: World, review: Rating, comment: Comment
) -> None:
    assert ratings.list_reviews(db, world.bob).reported == set()
    moderation.report_review(db, world.bob, review.id, "Rude")
    moderation.report_comment(db, world.bob, comment.id, None)
    assert ratings.list_reviews(db, world.bob).reported == {review.id}
    assert comments.list_comments(db, world.bob, world.thread()).reported == {comment.id}
    # Only the reporter's own reports count.
    assert ratings.list_reviews(db, world.cy).reported == set()
    assert comments.list_comments(db, world.cy, world.thread()).reported == set()
    moderation.dismiss_reports(db, world.teacher, rating_id=review.id)
    assert ratings.list_reviews(db, world.bob).reported == set()


def test_the_queue_is_of_the_actors_item_only(db: Session, world: World, review: Rating, comment: Comment) -> None:
    moderation.report_review(db, world.bob, review.id, "Rude")
    moderation.report_comment(db, world.bob, comment.id, "Spam")
    comments.post_comment(db, world.bob, world.thread(), "Held", premoderate=True, now=at(2))
    assert len(moderation.queue(db, world.teacher)) == 3
    assert moderation.queue(db, world.other_course_teacher) == []
    assert moderation.queue(db, world.foreign_teacher) == []

    elsewhere = comments.post_comment(
        db, world.other_course_learner, thread(world.other_course), "Held elsewhere", premoderate=True, now=at(3)
    )
    foreign_review = ratings.rate(db, world.foreign_learner, 1, "Foreign", now=at(4))
    moderation.report_review(db, world.foreign_teacher, foreign_review.id, "Check")
    assert [e.comment.id for e in moderation.queue(db, world.other_course_teacher)] == [elsewhere.id]
    assert [e.review.id for e in moderation.queue(db, world.foreign_teacher)] == [foreign_review.id]
    assert len(moderation.queue(db, world.teacher)) == 3


# --- scoping -----------------------------------------------------------------------------------------

OUTSIDER_TEACHERS = ["other_course_teacher", "foreign_teacher"]


@pytest.mark.parametrize("action", [a for a in STAFF_ACTIONS if a != "queue"])
@pytest.mark.parametrize("outsider", OUTSIDER_TEACHERS)
def test_instructors_of_another_course_or_platform_get_not_found(
    db: Session, world: World, review: Rating, comment: Comment, action: str, outsider: str
) -> None:
    moderation.report_review(db, world.bob, review.id, "Rude")
    moderation.report_comment(db, world.bob, comment.id, "Spam")
    held = comments.post_comment(db, world.bob, world.thread(), "Held", premoderate=True, now=at(2))
    target = held if action == "approve_comment" else comment
    with pytest.raises(NotFoundError):
        STAFF_ACTIONS[action](db, world.outsiders[outsider], review, target)
    for row in (review, comment, held):
        db.refresh(row)
    assert (review.hidden_at, comment.hidden_at, comment.pinned_at, held.approved_at) == (None, None, None, None)
    assert len(open_reports(db)) == 2


@pytest.mark.parametrize("outsider", ["other_course_learner", "foreign_learner", *OUTSIDER_TEACHERS])
def test_reports_from_another_course_or_platform_are_not_found(
    db: Session, world: World, review: Rating, comment: Comment, outsider: str
) -> None:
    who = world.outsiders[outsider]
    with pytest.raises(NotFoundError):
        moderation.report_review(db, who, review.id, "Rude")
    with pytest.raises(NotFoundError):
        moderation.report_comment(db, who, comment.id, "Rude")
    assert db.scalar(select(func.count()).select_from(Report)) == 0


@pytest.mark.parametrize("outsider", OUTSIDER_TEACHERS)
def test_resolving_reports_from_another_course_or_platform_changes_nothing(
    db: Session, world: World, review: Rating, comment: Comment, outsider: str
) -> None:
    moderation.report_review(db, world.bob, review.id, "Rude")
    moderation.report_comment(db, world.bob, comment.id, "Spam")
    moderation.resolve_reports(db, world.outsiders[outsider], rating_id=review.id)
    moderation.resolve_reports(db, world.outsiders[outsider], comment_id=comment.id)
    assert len(open_reports(db)) == 2
