"""Domain objects to the plain dicts the API schemas dump and the fragments render.

One place decides what a reader sees of a review or a comment: staff-only fields are left out
for learners, and a deleted or hidden comment shows no text and no author.
"""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from typing import Any

from plugin.models import Comment, Rating
from plugin.services.actors import Actor
from plugin.services.comments import CommentPage
from plugin.services.ratings import ReviewPage


def review(
    rating: Rating,
    actor: Actor,
    voted: set[int],
    reports: dict[int, int] | None = None,
    reported: AbstractSet[int] = frozenset(),
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": rating.id,
        "stars": rating.stars,
        "review": rating.review or "",
        "author": rating.author,
        "helpful_count": rating.helpful_count,
        "voted_helpful": rating.id in voted,
        "reported": rating.id in reported,
        "mine": rating.learner_id == actor.learner_id,
        "created_at": rating.created_at,
        "review_updated_at": rating.review_updated_at or rating.updated_at,
        "hidden": rating.hidden_at is not None,
    }
    if actor.staff:
        data["hidden_reason"] = rating.hidden_reason
        data["open_reports"] = (reports or {}).get(rating.id, 0)
    return data


def review_page(page: ReviewPage, actor: Actor, sort: str, reports: dict[int, int] | None = None) -> dict[str, Any]:
    return {
        "reviews": [review(r, actor, page.voted, reports, page.reported) for r in page.reviews],
        "total": page.total,
        "page": page.page,
        "pages": page.pages,
        "sort": sort,
    }


def comment(
    item: Comment,
    actor: Actor,
    replies: list[Comment] | None = None,
    reported: AbstractSet[int] = frozenset(),
) -> dict[str, Any]:
    gone = item.deleted_at is not None or (item.hidden_at is not None and not actor.staff)
    data: dict[str, Any] = {
        "id": item.id,
        "parent_id": item.parent_id,
        "body": "" if gone else item.body,
        "author": None if gone else item.author,
        "mine": item.learner_id == actor.learner_id and not gone,
        "created_at": item.created_at,
        "edited": item.edited_at is not None,
        "deleted": item.deleted_at is not None,
        "hidden": item.hidden_at is not None,
        "held": item.approved_at is None,
        "pinned": item.pinned_at is not None,
        "reported": item.id in reported,
        "replies": [comment(r, actor, reported=reported) for r in replies or []],
    }
    if actor.staff:
        data["hidden_reason"] = item.hidden_reason
    return data


def comment_page(page: CommentPage, actor: Actor) -> dict[str, Any]:
    return {
        "pinned": [comment(c, actor, page.replies.get(c.id), page.reported) for c in page.pinned],
        "comments": [comment(c, actor, page.replies.get(c.id), page.reported) for c in page.comments],
        "count": page.count,
        "next_cursor": page.next_cursor,
        "order": page.order,
    }
