"""Comments: posting, one level of replies, held comments, edits, deletes, cursor pages, threads."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from plugin.errors import ConflictError, ForbiddenError, InvalidFieldError, NotFoundError
from plugin.models import Comment
from plugin.models.social import COMMENT_MAX_LENGTH
from plugin.services import comments, moderation
from plugin.services.actors import Actor, Thread
from plugin.services.comments import CommentPage
from tests.support.factories import World, at, make_placement, make_world, thread


@pytest.fixture
def world(db: Session) -> World:
    return make_world(db)


def ids(rows: list[Comment]) -> list[int]:
    return [c.id for c in rows]


def listed(page: CommentPage) -> list[int]:
    """Every top-level comment of the page, pinned first."""
    return ids(page.pinned + page.comments)


def all_pages(db: Session, reader: Actor, where: Thread, order: str, limit: int) -> list[list[int]]:
    pages, cursor = [], None
    while True:
        page = comments.list_comments(db, reader, where, order=order, cursor=cursor, limit=limit)
        pages.append(listed(page))
        cursor = page.next_cursor
        if cursor is None:
            return pages
        assert len(pages) < 50, "the cursor does not advance"


# --- posting -----------------------------------------------------------------------------------------


def test_post_a_comment(db: Session, world: World) -> None:
    comment = comments.post_comment(db, world.ada, world.thread(), "  Hello\r\nclass  ", now=at(0))
    db.commit()
    db.expunge_all()
    stored = db.get(Comment, comment.id)
    assert stored is not None
    assert (stored.platform_id, stored.item_id, stored.placement_id, stored.parent_id) == (
        world.platform_a.id,
        world.course.id,
        None,
        None,
    )
    assert (stored.learner_id, stored.body) == (world.ada.learner_id, "Hello\nclass")
    assert stored.created_at == stored.approved_at == at(0)
    assert (stored.edited_at, stored.deleted_at, stored.hidden_at, stored.pinned_at) == (None, None, None, None)


def test_post_in_a_placement_thread(db: Session, world: World) -> None:
    comment = comments.post_comment(db, world.ada, world.thread(world.placement), "Here", now=at(0))
    assert comment.placement_id == world.placement.id


@pytest.mark.parametrize("body", [None, "", "   ", "\n\r\n\t", "\x00\x1b"])
def test_an_empty_comment_is_refused(db: Session, world: World, body: str | None) -> None:
    with pytest.raises(InvalidFieldError) as caught:
        comments.post_comment(db, world.ada, world.thread(), body)
    assert caught.value.field == "body"
    assert db.scalar(select(func.count()).select_from(Comment)) == 0


def test_comment_length_limit(db: Session, world: World) -> None:
    longest = "y" * COMMENT_MAX_LENGTH
    assert comments.post_comment(db, world.ada, world.thread(), longest).body == longest
    with pytest.raises(InvalidFieldError) as caught:
        comments.post_comment(db, world.ada, world.thread(), longest + "y")
    assert caught.value.field == "body"
    assert db.scalar(select(func.count()).select_from(Comment)) == 1


# --- replies -----------------------------------------------------------------------------------------


def test_replies_are_listed_under_their_comment_oldest_first(db: Session, world: World) -> None:
    top = comments.post_comment(db, world.ada, world.thread(), "Question?", now=at(0))
    later = comments.post_comment(db, world.teacher, world.thread(), "Answer 2", top.id, now=at(5))
    earlier = comments.post_comment(db, world.bob, world.thread(), "Answer 1", top.id, now=at(3))
    page = comments.list_comments(db, world.cy, world.thread())
    assert listed(page) == [top.id]
    assert ids(page.replies[top.id]) == [earlier.id, later.id]
    assert (later.parent_id, later.placement_id) == (top.id, None)
    assert page.count == 3


def test_replies_go_one_level_deep(db: Session, world: World) -> None:
    top = comments.post_comment(db, world.ada, world.thread(), "Top", now=at(0))
    reply = comments.post_comment(db, world.bob, world.thread(), "Reply", top.id, now=at(1))
    with pytest.raises(ConflictError):
        comments.post_comment(db, world.cy, world.thread(), "Reply to reply", reply.id, now=at(2))
    assert db.scalar(select(func.count()).select_from(Comment)) == 2


def test_a_reply_stays_in_the_thread_of_its_comment(db: Session, world: World) -> None:
    in_placement = comments.post_comment(db, world.ada, world.thread(world.placement), "Placement", now=at(0))
    with pytest.raises(NotFoundError):
        comments.post_comment(db, world.bob, world.thread(), "From the item thread", in_placement.id)
    in_item = comments.post_comment(db, world.ada, world.thread(), "Item", now=at(0))
    with pytest.raises(NotFoundError):
        comments.post_comment(db, world.bob, world.thread(world.placement), "From the placement", in_item.id)


def test_no_reply_to_a_missing_deleted_or_hidden_comment(db: Session, world: World) -> None:
    deleted = comments.post_comment(db, world.ada, world.thread(), "Gone", now=at(0))
    comments.delete_comment(db, world.ada, deleted.id, now=at(1))
    hidden = comments.post_comment(db, world.ada, world.thread(), "Rude", now=at(2))
    moderation.hide_comment(db, world.teacher, hidden.id, "Rude")
    for parent_id in (deleted.id, hidden.id, hidden.id + 1000):
        for who in (world.bob, world.teacher):
            with pytest.raises(NotFoundError):
                comments.post_comment(db, who, world.thread(), "Reply", parent_id)


def test_learners_cannot_reply_to_a_held_comment_but_staff_can(db: Session, world: World) -> None:
    held = comments.post_comment(db, world.ada, world.thread(), "Held", premoderate=True, now=at(0))
    for who in (world.ada, world.bob):
        with pytest.raises(ConflictError):
            comments.post_comment(db, who, world.thread(), "Reply", held.id, premoderate=False)
    reply = comments.post_comment(db, world.teacher, world.thread(), "Please rephrase", held.id, now=at(1))
    assert reply.parent_id == held.id


# --- premoderation -----------------------------------------------------------------------------------


def test_premoderated_comments_are_held_for_learners_only(db: Session, world: World) -> None:
    held = comments.post_comment(db, world.ada, world.thread(), "Held", premoderate=True, now=at(0))
    staff = comments.post_comment(db, world.teacher, world.thread(), "Staff", premoderate=True, now=at(1))
    assert held.approved_at is None
    assert staff.approved_at == at(1)


def test_a_held_comment_is_seen_by_its_author_and_staff_only(db: Session, world: World) -> None:
    held = comments.post_comment(db, world.ada, world.thread(), "Held", premoderate=True, now=at(0))
    shown = comments.post_comment(db, world.bob, world.thread(), "Shown", now=at(1))
    for who in (world.ada, world.teacher):
        page = comments.list_comments(db, who, world.thread())
        assert (listed(page), page.count) == ([shown.id, held.id], 2)
        assert comments.find_comment(db, who, held.id).id == held.id
    page = comments.list_comments(db, world.bob, world.thread())
    assert (listed(page), page.count) == ([shown.id], 1)
    with pytest.raises(NotFoundError):
        comments.find_comment(db, world.bob, held.id)


def test_a_held_reply_is_seen_by_its_author_and_staff_only(db: Session, world: World) -> None:
    top = comments.post_comment(db, world.ada, world.thread(), "Top", now=at(0))
    held = comments.post_comment(db, world.bob, world.thread(), "Held reply", top.id, premoderate=True, now=at(1))
    for who, expected in ((world.bob, [held.id]), (world.teacher, [held.id]), (world.ada, []), (world.cy, [])):
        page = comments.list_comments(db, who, world.thread())
        assert ids(page.replies[top.id]) == expected
        assert page.count == 1 + len(expected)


def test_approval_shows_a_held_comment_to_everyone(db: Session, world: World) -> None:
    held = comments.post_comment(db, world.ada, world.thread(), "Held", premoderate=True, now=at(0))
    moderation.approve_comment(db, world.teacher, held.id, now=at(1))
    assert listed(comments.list_comments(db, world.bob, world.thread())) == [held.id]
    assert comments.post_comment(db, world.bob, world.thread(), "Reply", held.id).parent_id == held.id


def test_a_held_comment_with_a_staff_reply_stays_hidden_from_other_learners(db: Session, world: World) -> None:
    held = comments.post_comment(db, world.ada, world.thread(), "Held words", premoderate=True, now=at(0))
    comments.post_comment(db, world.teacher, world.thread(), "Please rephrase", held.id, now=at(1))
    for who in (world.bob, world.cy):
        page = comments.list_comments(db, who, world.thread())
        assert [c.body for c in page.pinned + page.comments] == []
    assert listed(comments.list_comments(db, world.ada, world.thread())) == [held.id]


# --- editing -----------------------------------------------------------------------------------------


def test_editing_changes_the_text_and_marks_it_edited(db: Session, world: World) -> None:
    comment = comments.post_comment(db, world.ada, world.thread(), "Frist", now=at(0))
    edited = comments.edit_comment(db, world.ada, comment.id, " First \r\n", now=at(3))
    assert (edited.body, edited.edited_at, edited.created_at) == ("First", at(3), at(0))
    db.commit()
    db.expunge_all()
    assert db.get(Comment, comment.id).edited_at == at(3)


def test_saving_the_same_text_is_not_an_edit(db: Session, world: World) -> None:
    comment = comments.post_comment(db, world.ada, world.thread(), "Same", now=at(0))
    assert comments.edit_comment(db, world.ada, comment.id, "  Same\n", now=at(3)).edited_at is None


def test_an_edit_must_keep_some_text(db: Session, world: World) -> None:
    comment = comments.post_comment(db, world.ada, world.thread(), "Keep", now=at(0))
    with pytest.raises(InvalidFieldError):
        comments.edit_comment(db, world.ada, comment.id, "  ", now=at(3))
    with pytest.raises(InvalidFieldError):
        comments.edit_comment(db, world.ada, comment.id, "z" * (COMMENT_MAX_LENGTH + 1), now=at(3))
    db.refresh(comment)
    assert (comment.body, comment.edited_at) == ("Keep", None)


def test_the_author_may_edit_a_held_comment_and_it_stays_held(db: Session, world: World) -> None:
    held = comments.post_comment(db, world.ada, world.thread(), "Held", premoderate=True, now=at(0))
    assert comments.edit_comment(db, world.ada, held.id, "Better", now=at(1)).approved_at is None


@pytest.mark.parametrize("who", ["bob", "teacher"])
def test_only_the_author_may_edit_or_delete(db: Session, world: World, who: str) -> None:
    comment = comments.post_comment(db, world.ada, world.thread(), "Mine", now=at(0))
    other: Actor = getattr(world, who)
    with pytest.raises(ForbiddenError):
        comments.edit_comment(db, other, comment.id, "Theirs", now=at(1))
    with pytest.raises(ForbiddenError):
        comments.delete_comment(db, other, comment.id, now=at(1))
    db.refresh(comment)
    assert (comment.body, comment.edited_at, comment.deleted_at) == ("Mine", None, None)


def test_deleted_or_hidden_comments_cannot_be_edited_or_deleted(db: Session, world: World) -> None:
    deleted = comments.post_comment(db, world.ada, world.thread(), "Deleted", now=at(0))
    comments.delete_comment(db, world.ada, deleted.id, now=at(1))
    hidden = comments.post_comment(db, world.ada, world.thread(), "Hidden", now=at(2))
    moderation.hide_comment(db, world.teacher, hidden.id, "Spam")
    for comment_id in (deleted.id, hidden.id):
        with pytest.raises(NotFoundError):
            comments.edit_comment(db, world.ada, comment_id, "Back", now=at(3))
        with pytest.raises(NotFoundError):
            comments.delete_comment(db, world.ada, comment_id, now=at(3))
    db.refresh(hidden)
    assert (hidden.body, hidden.deleted_at) == ("Hidden", None)


# --- deleting ----------------------------------------------------------------------------------------


def test_a_deleted_comment_without_replies_disappears(db: Session, world: World) -> None:
    gone = comments.post_comment(db, world.ada, world.thread(), "Oops", now=at(0))
    stays = comments.post_comment(db, world.bob, world.thread(), "Stays", now=at(1))
    deleted = comments.delete_comment(db, world.ada, gone.id, now=at(2))
    assert (deleted.body, deleted.deleted_at) == ("", at(2))
    for who in (world.ada, world.bob, world.teacher):
        page = comments.list_comments(db, who, world.thread())
        assert (listed(page), page.count) == ([stays.id], 1)
    with pytest.raises(NotFoundError):
        comments.find_comment(db, world.ada, gone.id)


def test_a_deleted_comment_with_visible_replies_stays_as_a_placeholder(db: Session, world: World) -> None:
    top = comments.post_comment(db, world.ada, world.thread(), "Secret words", now=at(0))
    reply = comments.post_comment(db, world.bob, world.thread(), "Reply", top.id, now=at(1))
    comments.delete_comment(db, world.ada, top.id, now=at(2))
    for who in (world.cy, world.teacher):
        page = comments.list_comments(db, who, world.thread())
        assert listed(page) == [top.id]
        placeholder = page.comments[0]
        assert (placeholder.body, placeholder.deleted_at) == ("", at(2))
        assert ids(page.replies[top.id]) == [reply.id]
        assert page.count == 1  # the reply; the placeholder is not a readable comment
    with pytest.raises(NotFoundError):
        comments.post_comment(db, world.cy, world.thread(), "Another reply", top.id)


def test_the_placeholder_goes_with_its_last_visible_reply(db: Session, world: World) -> None:
    top = comments.post_comment(db, world.ada, world.thread(), "Top", now=at(0))
    reply = comments.post_comment(db, world.bob, world.thread(), "Reply", top.id, now=at(1))
    comments.delete_comment(db, world.ada, top.id, now=at(2))
    comments.delete_comment(db, world.bob, reply.id, now=at(3))
    page = comments.list_comments(db, world.cy, world.thread())
    assert (listed(page), page.count) == ([], 0)


def test_a_deleted_comment_whose_replies_only_staff_may_read(db: Session, world: World) -> None:
    top = comments.post_comment(db, world.ada, world.thread(), "Top", now=at(0))
    comments.post_comment(db, world.bob, world.thread(), "Held reply", top.id, premoderate=True, now=at(1))
    comments.delete_comment(db, world.ada, top.id, now=at(2))
    assert listed(comments.list_comments(db, world.cy, world.thread())) == []
    assert listed(comments.list_comments(db, world.bob, world.thread())) == [top.id]  # bob's own reply
    assert listed(comments.list_comments(db, world.teacher, world.thread())) == [top.id]


def test_a_deleted_reply_disappears(db: Session, world: World) -> None:
    top = comments.post_comment(db, world.ada, world.thread(), "Top", now=at(0))
    gone = comments.post_comment(db, world.bob, world.thread(), "Reply", top.id, now=at(1))
    kept = comments.post_comment(db, world.cy, world.thread(), "Reply", top.id, now=at(2))
    comments.delete_comment(db, world.bob, gone.id, now=at(3))
    page = comments.list_comments(db, world.ada, world.thread())
    assert (ids(page.replies[top.id]), page.count) == ([kept.id], 2)


def test_a_hidden_comment_with_visible_replies_is_a_placeholder_for_learners(db: Session, world: World) -> None:
    top = comments.post_comment(db, world.ada, world.thread(), "Rude", now=at(0))
    reply = comments.post_comment(db, world.bob, world.thread(), "Reply", top.id, now=at(1))
    moderation.hide_comment(db, world.teacher, top.id, "Insults")
    page = comments.list_comments(db, world.cy, world.thread())
    assert listed(page) == [top.id]
    assert page.comments[0].hidden_at is not None
    assert ids(page.replies[top.id]) == [reply.id]
    assert page.count == 1
    assert comments.list_comments(db, world.teacher, world.thread()).count == 2


def test_deleting_a_pinned_comment_unpins_it(db: Session, world: World) -> None:
    pinned = comments.post_comment(db, world.ada, world.thread(), "Pinned", now=at(0))
    moderation.set_pinned(db, world.teacher, pinned.id, True, now=at(1))
    assert comments.delete_comment(db, world.ada, pinned.id, now=at(2)).pinned_at is None
    page = comments.list_comments(db, world.teacher, world.thread())
    assert (page.pinned, page.comments) == ([], [])


# --- pages -------------------------------------------------------------------------------------------


@pytest.fixture
def crowded(db: Session, world: World) -> list[Comment]:
    """Nine top-level comments in creation order, several sharing a created_at, ids not in time order."""
    minutes = [5, 0, 5, 0, 2, 5, 2, 0, 9]
    authors = [world.ada, world.bob, world.cy]
    return [
        comments.post_comment(db, authors[n % 3], world.thread(), f"Comment {n}", now=at(m))
        for n, m in enumerate(minutes)
    ]


def expected_order(rows: list[Comment], order: str) -> list[int]:
    key = sorted(rows, key=lambda c: (c.created_at, c.id))
    return ids(key if order == "oldest" else list(reversed(key)))


@pytest.mark.parametrize("order", comments.ORDERS)
@pytest.mark.parametrize("limit", [1, 2, 3, 4, 9, 20])
def test_cursor_pages_have_no_duplicates_or_gaps(
    db: Session, world: World, crowded: list[Comment], order: str, limit: int
) -> None:
    pages = all_pages(db, world.bob, world.thread(), order, limit)
    assert [len(p) for p in pages[:-1]] == [limit] * (len(pages) - 1)
    assert 1 <= len(pages[-1]) <= limit
    assert [c for p in pages for c in p] == expected_order(crowded, order)


def test_newest_first_is_the_default(db: Session, world: World, crowded: list[Comment]) -> None:
    page = comments.list_comments(db, world.bob, world.thread())
    assert listed(page) == expected_order(crowded, "newest")
    assert page.next_cursor is None
    assert page.order == "newest"


def test_a_new_comment_does_not_shift_the_next_page(db: Session, world: World, crowded: list[Comment]) -> None:
    first = comments.list_comments(db, world.bob, world.thread(), limit=4)
    comments.post_comment(db, world.cy, world.thread(), "Newest of all", now=at(60))
    comments.post_comment(db, world.cy, world.thread(), "Same time as the cut", now=first.comments[-1].created_at)
    second = comments.list_comments(db, world.bob, world.thread(), cursor=first.next_cursor, limit=4)
    assert listed(second) == expected_order(crowded, "newest")[4:8]


def test_a_cursor_works_across_sessions(db: Session, world: World, crowded: list[Comment]) -> None:
    first = comments.list_comments(db, world.bob, world.thread(), order="oldest", limit=5)
    db.commit()
    db.expunge_all()
    second = comments.list_comments(db, world.bob, world.thread(), order="oldest", cursor=first.next_cursor)
    assert listed(second) == expected_order(crowded, "oldest")[5:]


def encoded(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "not-a-cursor",
        "!!!!",
        encoded([]),
        encoded(["x", 1]),
        encoded({"a": 1}),
        encoded([None, 1]),
        encoded(["2026-03-02T09:00:00+00:00", "one"]),
        encoded(["2026-03-02T09:00:00", 5]),  # no time zone
        encoded(["2026-03-02T09:00:00+00:00", 10**30]),  # no id is that large
    ],
)
def test_a_broken_cursor_is_refused(db: Session, world: World, cursor: str) -> None:
    with pytest.raises(InvalidFieldError) as caught:
        comments.list_comments(db, world.bob, world.thread(), cursor=cursor)
    assert caught.value.field == "cursor"


def test_unknown_order_is_refused(db: Session, world: World) -> None:
    with pytest.raises(InvalidFieldError) as caught:
        comments.list_comments(db, world.bob, world.thread(), order="popular")
    assert caught.value.field == "order"


@pytest.mark.parametrize("limit", [0, -5])
def test_a_page_has_at_least_one_comment(db: Session, world: World, crowded: list[Comment], limit: int) -> None:
    page = comments.list_comments(db, world.bob, world.thread(), limit=limit)
    assert len(page.comments) == 1
    assert page.next_cursor is not None


def test_pinned_comments_come_first_on_the_first_page_only(db: Session, world: World, crowded: list[Comment]) -> None:
    older, old = crowded[1], crowded[4]
    moderation.set_pinned(db, world.teacher, older.id, True, now=at(100))
    moderation.set_pinned(db, world.teacher, old.id, True, now=at(101))
    reply = comments.post_comment(db, world.cy, world.thread(), "Reply to pinned", old.id, now=at(102))
    rest = [c for c in expected_order(crowded, "newest") if c not in (older.id, old.id)]
    first = comments.list_comments(db, world.bob, world.thread(), limit=3)
    assert ids(first.pinned) == [old.id, older.id]  # most recently pinned first
    assert ids(first.comments) == rest[:3]
    assert ids(first.replies[old.id]) == [reply.id]
    seen = ids(first.comments)
    cursor = first.next_cursor
    while cursor is not None:
        page = comments.list_comments(db, world.bob, world.thread(), cursor=cursor, limit=3)
        assert page.pinned == []
        seen += ids(page.comments)
        cursor = page.next_cursor
    assert seen == rest


def test_unpinning_puts_a_comment_back_in_its_place(db: Session, world: World, crowded: list[Comment]) -> None:
    moderation.set_pinned(db, world.teacher, crowded[3].id, True, now=at(100))
    moderation.set_pinned(db, world.teacher, crowded[3].id, False)
    page = comments.list_comments(db, world.bob, world.thread(), order="oldest")
    assert (page.pinned, ids(page.comments)) == ([], expected_order(crowded, "oldest"))


def test_the_count_covers_the_whole_thread_not_the_page(db: Session, world: World, crowded: list[Comment]) -> None:
    comments.post_comment(db, world.ada, world.thread(), "Reply", crowded[0].id, now=at(20))
    page = comments.list_comments(db, world.bob, world.thread(), limit=2)
    assert page.count == comments.count_comments(db, world.bob, world.thread()) == 10


def test_counts_follow_what_the_reader_may_see(db: Session, world: World) -> None:
    top = comments.post_comment(db, world.ada, world.thread(), "Top", now=at(0))
    comments.post_comment(db, world.bob, world.thread(), "Reply", top.id, now=at(1))
    comments.post_comment(db, world.bob, world.thread(), "Held", premoderate=True, now=at(2))
    hidden = comments.post_comment(db, world.cy, world.thread(), "Hidden", now=at(3))
    moderation.hide_comment(db, world.teacher, hidden.id, "Spam")
    deleted = comments.post_comment(db, world.cy, world.thread(), "Deleted", now=at(4))
    comments.delete_comment(db, world.cy, deleted.id)
    assert comments.count_comments(db, world.ada, world.thread()) == 2
    assert comments.count_comments(db, world.bob, world.thread()) == 3
    assert comments.count_comments(db, world.cy, world.thread()) == 2
    assert comments.count_comments(db, world.teacher, world.thread()) == 4


def test_a_reply_under_someone_elses_held_comment_is_not_counted(db: Session, world: World) -> None:
    held = comments.post_comment(db, world.ada, world.thread(), "Held words", premoderate=True, now=at(0))
    comments.post_comment(db, world.teacher, world.thread(), "Please rephrase", held.id, now=at(1))
    assert comments.count_comments(db, world.bob, world.thread()) == 0  # nothing listed, nothing counted
    assert comments.count_comments(db, world.ada, world.thread()) == 2  # her comment and the reply to it
    moderation.approve_comment(db, world.teacher, held.id)
    assert comments.count_comments(db, world.bob, world.thread()) == 2


# --- threads -----------------------------------------------------------------------------------------


def test_item_and_placement_threads_are_separate(db: Session, world: World) -> None:
    second_placement = make_placement(db, world.course, "link-2")
    item_wide = comments.post_comment(db, world.ada, world.thread(), "Item", now=at(0))
    first = comments.post_comment(db, world.ada, world.thread(world.placement), "Placement 1", now=at(1))
    second = comments.post_comment(db, world.ada, world.thread(second_placement), "Placement 2", now=at(2))
    for where, expected in (
        (world.thread(), item_wide),
        (world.thread(world.placement), first),
        (world.thread(second_placement), second),
    ):
        page = comments.list_comments(db, world.bob, where)
        assert (listed(page), page.count) == ([expected.id], 1)
        assert comments.count_comments(db, world.teacher, where) == 1


def test_threads_of_other_items_and_platforms_are_separate(db: Session, world: World) -> None:
    mine = comments.post_comment(db, world.ada, world.thread(), "Course 1", now=at(0))
    other = comments.post_comment(db, world.other_course_learner, thread(world.other_course), "Course 2", now=at(1))
    foreign = comments.post_comment(db, world.foreign_learner, thread(world.foreign_course), "Platform B", now=at(2))
    assert listed(comments.list_comments(db, world.bob, world.thread())) == [mine.id]
    assert listed(comments.list_comments(db, world.other_course_teacher, thread(world.other_course))) == [other.id]
    assert listed(comments.list_comments(db, world.foreign_teacher, thread(world.foreign_course))) == [foreign.id]
    assert foreign.platform_id == world.platform_b.id


# --- finding and scoping -----------------------------------------------------------------------------


def test_find_comment(db: Session, world: World) -> None:
    comment = comments.post_comment(db, world.ada, world.thread(world.placement), "Here", now=at(0))
    assert comments.find_comment(db, world.bob, comment.id).id == comment.id
    with pytest.raises(NotFoundError):
        comments.find_comment(db, world.bob, comment.id + 1000)


def test_a_hidden_comment_is_found_by_staff_only(db: Session, world: World) -> None:
    comment = comments.post_comment(db, world.ada, world.thread(), "Rude", now=at(0))
    moderation.hide_comment(db, world.teacher, comment.id, "Rude")
    for who in (world.ada, world.bob):
        with pytest.raises(NotFoundError):
            comments.find_comment(db, who, comment.id)
    assert comments.find_comment(db, world.teacher, comment.id).hidden_reason == "Rude"


COMMENT_OPERATIONS: dict[str, Callable[[Session, Actor, int], object]] = {
    "find_comment": comments.find_comment,
    "edit_comment": lambda db, who, comment_id: comments.edit_comment(db, who, comment_id, "Changed"),
    "delete_comment": comments.delete_comment,
}


@pytest.mark.parametrize("operation", COMMENT_OPERATIONS)
@pytest.mark.parametrize(
    "outsider", ["other_course_learner", "other_course_teacher", "foreign_learner", "foreign_teacher"]
)
def test_comments_of_another_item_or_platform_are_not_found(
    db: Session, world: World, operation: str, outsider: str
) -> None:
    comment = comments.post_comment(db, world.ada, world.thread(), "Course 1", now=at(0))  # ada: same learner
    with pytest.raises(NotFoundError):
        COMMENT_OPERATIONS[operation](db, world.outsiders[outsider], comment.id)
    db.refresh(comment)
    assert (comment.body, comment.edited_at, comment.deleted_at) == ("Course 1", None, None)


@pytest.mark.parametrize(
    "outsider", ["other_course_learner", "other_course_teacher", "foreign_learner", "foreign_teacher"]
)
def test_no_reply_from_another_item_or_platform(db: Session, world: World, outsider: str) -> None:
    comment = comments.post_comment(db, world.ada, world.thread(), "Course 1", now=at(0))
    who = world.outsiders[outsider]
    own_thread = Thread(platform_id=who.platform_id, item_id=who.item_id)
    with pytest.raises(NotFoundError):
        comments.post_comment(db, who, own_thread, "Reply", comment.id)
    assert db.scalar(select(func.count()).select_from(Comment)) == 1
