"""Discussion under an item: comments, one level of replies, edits, deletes, cursor pages.

Who sees what:
- learners see approved, unhidden comments, and their own comments still waiting for approval;
- a deleted or hidden top-level comment that has visible replies stays as a placeholder, so the
  replies keep their place; otherwise it disappears;
- instructors (staff of the item) see everything, with its state.

Pages are cut by a cursor on (created_at, id), so a new comment never shifts the next page.
Pinned top-level comments come first on the first page and are not repeated later.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Integer, Select, and_, bindparam, exists, func, or_, select
from sqlalchemy.orm import Session, aliased, joinedload

from plugin.db import utcnow
from plugin.errors import ConflictError, ForbiddenError, InvalidFieldError, NotFoundError
from plugin.events import ActionKind, act
from plugin.models import Comment, Report
from plugin.models.social import COMMENT_MAX_LENGTH
from plugin.services.actors import Actor, Thread
from plugin.services.text import clean_text

PAGE_SIZE = 20
ORDERS = ("newest", "oldest")


@dataclass(frozen=True)
class CommentPage:
    pinned: list[Comment]
    comments: list[Comment]
    replies: dict[int, list[Comment]]
    count: int
    next_cursor: str | None
    order: str
    reported: set[int] = field(default_factory=set)  # comments the reader reported, still open


# Statements are built once per shape and cached, with the actor's and thread's values as bound
# parameters: building these expressions costs more than running them (see bench/widgets_load.py).
_PLATFORM, _ITEM, _PLACEMENT, _LEARNER = (
    bindparam("platform_id"),
    bindparam("item_id"),
    bindparam("placement_id"),
    bindparam("learner_id"),
)


def _params(actor: Actor, thread: Thread, **more: object) -> dict[str, object]:
    return {
        "platform_id": thread.platform_id,
        "item_id": thread.item_id,
        "placement_id": thread.placement_id,
        "learner_id": actor.learner_id,
        **more,
    }


def _in_thread(per_placement: bool, table=Comment):  # type: ignore[no-untyped-def]
    placement = table.placement_id == _PLACEMENT if per_placement else table.placement_id.is_(None)
    return and_(table.platform_id == _PLATFORM, table.item_id == _ITEM, placement)


def _readable(staff: bool, table=Comment):  # type: ignore[no-untyped-def]
    """Comments the reader may read in full (not placeholders)."""
    if staff:
        return table.deleted_at.is_(None)
    return and_(
        table.deleted_at.is_(None),
        table.hidden_at.is_(None),
        or_(table.approved_at.is_not(None), table.learner_id == _LEARNER),
    )


def _listed_top_level(staff: bool, per_placement: bool) -> Select:
    """Top-level comments to list: readable ones, and placeholders for gone ones with readable replies."""
    reply = aliased(Comment)
    gone = or_(Comment.deleted_at.is_not(None), Comment.hidden_at.is_not(None))
    has_readable_reply = exists().where(reply.parent_id == Comment.id, _readable(staff, reply))
    return (
        select(Comment)
        .where(
            _in_thread(per_placement),
            Comment.parent_id.is_(None),
            or_(_readable(staff), and_(gone, has_readable_reply)),
        )
        .options(joinedload(Comment.author))
    )


@functools.cache
def _pinned_statement(staff: bool, per_placement: bool) -> Select:
    return (
        _listed_top_level(staff, per_placement)
        .where(Comment.pinned_at.is_not(None))
        .order_by(Comment.pinned_at.desc(), Comment.id.desc())
    )


@functools.cache
def _page_statement(staff: bool, per_placement: bool, order: str, after_cursor: bool) -> Select:
    query = _listed_top_level(staff, per_placement).where(Comment.pinned_at.is_(None))
    created, last_id = bindparam("after_created"), bindparam("after_id")
    if order == "newest":
        query = query.order_by(Comment.created_at.desc(), Comment.id.desc())
        later = or_(Comment.created_at < created, and_(Comment.created_at == created, Comment.id < last_id))
    else:
        query = query.order_by(Comment.created_at.asc(), Comment.id.asc())
        later = or_(Comment.created_at > created, and_(Comment.created_at == created, Comment.id > last_id))
    return (query.where(later) if after_cursor else query).limit(
        bindparam("page_limit", type_=Integer, literal_execute=True)
    )


@functools.cache
def _replies_statement(staff: bool) -> Select:
    return (
        select(Comment)
        .where(Comment.parent_id.in_(bindparam("parents", expanding=True)), _readable(staff))
        .options(joinedload(Comment.author))
        .order_by(Comment.created_at.asc(), Comment.id.asc())
    )


@functools.cache
def _reported_statement() -> Select:
    """Which of these comments the reader has reported and no instructor has acted on yet."""
    return select(Report.comment_id).where(
        Report.platform_id == _PLATFORM,
        Report.learner_id == _LEARNER,
        Report.resolved_at.is_(None),
        Report.comment_id.in_(bindparam("comment_ids", expanding=True)),
    )


@functools.cache
def _count_statement(staff: bool, per_placement: bool) -> Select:
    query = select(func.count()).select_from(Comment).where(_in_thread(per_placement), _readable(staff))
    if not staff:
        # A reply counts only where it is listed: under a published top-level comment (or the
        # placeholder of one), or under the reader's own comment that waits for approval.
        parent = aliased(Comment)
        shown_parent = exists().where(
            parent.id == Comment.parent_id, or_(parent.approved_at.is_not(None), parent.learner_id == _LEARNER)
        )
        query = query.where(or_(Comment.parent_id.is_(None), shown_parent))
    return query


def encode_cursor(comment: Comment) -> str:
    raw = json.dumps([comment.created_at.isoformat(), comment.id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        created, comment_id = json.loads(base64.urlsafe_b64decode(padded.encode()))
        created_at, last_id = datetime.fromisoformat(created), int(comment_id)
        if created_at.tzinfo is None or not 0 <= last_id < 2**31:
            raise ValueError("not a cursor this service made")
        return created_at, last_id
    except (ValueError, TypeError, binascii.Error) as exc:
        raise InvalidFieldError("cursor", "This page link is not valid; reload the comments.") from exc


def list_comments(
    session: Session,
    actor: Actor,
    thread: Thread,
    order: str = "newest",
    cursor: str | None = None,
    limit: int = PAGE_SIZE,
) -> CommentPage:
    """A page of top-level comments with all their visible replies (oldest reply first)."""
    if order not in ORDERS:
        raise InvalidFieldError("order", "Order by one of: newest, oldest.")
    limit = max(1, min(limit, 100))
    per_placement = thread.placement_id is not None
    params = _params(actor, thread, page_limit=limit + 1)
    pinned: list[Comment] = []
    if cursor is None:
        pinned = list(session.scalars(_pinned_statement(actor.staff, per_placement), params))
    else:
        params["after_created"], params["after_id"] = decode_cursor(cursor)
    statement = _page_statement(actor.staff, per_placement, order, cursor is not None)
    rows = list(session.scalars(statement, params))
    next_cursor = encode_cursor(rows[limit - 1]) if len(rows) > limit else None
    comments = rows[:limit]
    parents = [c.id for c in pinned + comments]
    replies: dict[int, list[Comment]] = {pid: [] for pid in parents}
    reported: set[int] = set()
    if parents:
        for reply in session.scalars(_replies_statement(actor.staff), {**params, "parents": parents}):
            replies[reply.parent_id].append(reply)  # type: ignore[index]
        shown = parents + [r.id for rs in replies.values() for r in rs]
        reported = set(session.scalars(_reported_statement(), {**params, "comment_ids": shown}))
    return CommentPage(
        pinned=pinned,
        comments=comments,
        replies=replies,
        count=count_comments(session, actor, thread),
        next_cursor=next_cursor,
        order=order,
        reported=reported,
    )


def count_comments(session: Session, actor: Actor, thread: Thread) -> int:
    """Comments the actor can read in this thread, replies included, as they are listed."""
    statement = _count_statement(actor.staff, thread.placement_id is not None)
    return session.scalar(statement, _params(actor, thread)) or 0


def find_comment(session: Session, actor: Actor, comment_id: int, *, with_author: bool = False) -> Comment:
    """A comment of the actor's item; 404 when it is elsewhere or the actor may not see it."""
    query = select(Comment).where(
        Comment.platform_id == actor.platform_id, Comment.item_id == actor.item_id, Comment.id == comment_id
    )
    if with_author:
        query = query.options(joinedload(Comment.author))
    comment = session.scalars(query).one_or_none()
    visible_to_learner = (
        comment is not None
        and comment.hidden_at is None
        and (comment.approved_at is not None or comment.learner_id == actor.learner_id)
    )
    if comment is None or comment.deleted_at is not None or not (actor.staff or visible_to_learner):
        raise NotFoundError("There is no such comment here. It may have been removed.")
    return comment


def _body(text: str | None) -> str:
    body = clean_text(text)
    if not body:
        raise InvalidFieldError("body", "Write something before posting.")
    if len(body) > COMMENT_MAX_LENGTH:
        raise InvalidFieldError("body", "A comment can be at most 5000 characters long.")
    return body


def post_comment(
    session: Session,
    actor: Actor,
    thread: Thread,
    body: str | None,
    parent_id: int | None = None,
    *,
    premoderate: bool = False,
    now: datetime | None = None,
) -> Comment:
    """Post a comment, or a reply under a top-level comment of the same thread."""
    now = now or utcnow()
    text = _body(body)
    if parent_id is not None:
        parent = session.scalars(
            select(Comment).where(_in_thread(thread.placement_id is not None), Comment.id == parent_id),
            _params(actor, thread),
        ).one_or_none()
        if parent is None or parent.deleted_at is not None or parent.hidden_at is not None:
            raise NotFoundError("The comment you are replying to is no longer here.")
        if parent.parent_id is not None:
            raise ConflictError("Replies go one level deep: reply to the comment at the top of this conversation.")
        if parent.approved_at is None and not actor.staff:
            raise ConflictError("This comment is waiting for approval; replies open once an instructor approves it.")
    comment = Comment(
        platform_id=thread.platform_id,
        item_id=thread.item_id,
        placement_id=thread.placement_id,
        learner_id=actor.learner_id,
        parent_id=parent_id,
        body=text,
        created_at=now,
        approved_at=None if premoderate and not actor.staff else now,
    )
    session.add(comment)
    session.flush()
    parent = f"comment:{parent_id}" if parent_id is not None else None
    act(session, ActionKind.COMMENTED, actor, now, subject=f"comment:{comment.id}", refers_to=parent, text=text)
    return comment


def _own(session: Session, actor: Actor, comment_id: int) -> Comment:
    comment = find_comment(session, actor, comment_id)
    if comment.learner_id != actor.learner_id:
        raise ForbiddenError("You can only change your own comments.")
    return comment


def edit_comment(
    session: Session, actor: Actor, comment_id: int, body: str | None, now: datetime | None = None
) -> Comment:
    comment = _own(session, actor, comment_id)
    text = _body(body)
    if text != comment.body:
        comment.body = text
        comment.edited_at = now or utcnow()
        parent = f"comment:{comment.parent_id}" if comment.parent_id is not None else None
        act(
            session,
            ActionKind.COMMENT_EDITED,
            actor,
            comment.edited_at,
            subject=f"comment:{comment.id}",
            refers_to=parent,
            text=text,
        )
    session.flush()
    return comment


def delete_comment(session: Session, actor: Actor, comment_id: int, now: datetime | None = None) -> Comment:
    """Delete your own comment: its text goes, the row stays so replies keep their place."""
    comment = _own(session, actor, comment_id)
    comment.body = ""
    comment.deleted_at = now or utcnow()
    comment.pinned_at = None
    session.flush()
    act(session, ActionKind.COMMENT_DELETED, actor, comment.deleted_at, subject=f"comment:{comment.id}")
    return comment
