"""The widget JSON API under ``/api/v1``. Every call carries the bearer token handed out at launch.

Requests and responses are marshmallow schemas (``widgets/schemas.py``); flask-smorest builds
the OpenAPI document at ``/api/openapi.json`` from them. Errors are RFC 9457 problem details;
a 422 names each field in ``errors``.
"""

from __future__ import annotations

import hashlib
from typing import Any

from flask import request
from flask_smorest import Blueprint
from sqlalchemy import select

from lti.tokens import NotAuthorizedError, read_widget_token, require_widget_token
from plugin.errors import DomainError
from plugin.models import Item, Learner
from plugin.services import comments, moderation, ratings
from plugin.web import db_session
from widgets import access, present
from widgets import schemas as s

bp = Blueprint(
    "widgets_api",
    __name__,
    url_prefix="/api/v1",
    description="Ratings, reviews and comments of the item the launch token names.",
)
WRITE_METHODS = ["POST", "PUT", "PATCH", "DELETE"]
# Path ids fit the database's 32-bit integer columns; larger ones are simply not found (404).
ID = "int(min=1, max=2147483647)"


def rate_limit_key() -> str:
    """Limit per launch (bearer token), not per address: learners of one office share an address."""
    token = request.headers.get("Authorization", "")
    if token:
        return "token:" + hashlib.sha256(token.encode()).hexdigest()
    return "addr:" + (request.remote_addr or "-")


def learner_limit_key() -> str:
    """Writes are limited per learner, whichever launch (token) they come through."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        try:
            current = read_widget_token(token.strip())
        except DomainError:  # a bad or expired token is refused by the view itself
            return rate_limit_key()
        return f"learner:{current.platform_id}:{current.learner_id}"
    return rate_limit_key()


# -- who and where ----------------------------------------------------------------------------
@bp.route("/me", methods=["GET"])
@require_widget_token
@bp.response(200, s.MeOut)
def me() -> dict[str, Any]:
    """Who and where this launch is."""
    current = access.grant()
    session = db_session()
    learner = session.scalars(
        select(Learner).where(Learner.platform_id == current.platform_id, Learner.id == current.learner_id)
    ).one_or_none()
    item = session.scalars(
        select(Item).where(Item.platform_id == current.platform_id, Item.id == current.item_id)
    ).one_or_none()
    if learner is None or item is None:
        raise NotAuthorizedError("This access token no longer matches any learner. Reload the page to continue.")
    return {"learner": learner, "item": item, "placement": access.placement(), "staff": current.staff}


# -- ratings and reviews ----------------------------------------------------------------------
def _summary() -> dict[str, Any]:
    result = ratings.summary(db_session(), access.actor())
    return {
        "count": result.count,
        "average": result.average,
        "damped": result.damped,
        "distribution": {str(k): v for k, v in result.distribution.items()},
        "mine": result.mine,
        "reviews_allowed": access.widget_settings().reviews_allowed,
    }


@bp.route("/ratings", methods=["GET"])
@require_widget_token
@bp.response(200, s.RatingSummaryOut)
def rating_summary() -> dict[str, Any]:
    """Average, count, distribution and damped average of this item, and your own rating."""
    return _summary()


@bp.route("/ratings/mine", methods=["PUT"])
@require_widget_token
@bp.arguments(s.RatingIn)
@bp.response(200, s.RatingSummaryOut)
def put_rating(data: dict[str, Any]) -> dict[str, Any]:
    """Rate this item (1-5 stars) with an optional review; a second call changes it."""
    ratings.rate(
        db_session(),
        access.actor(),
        data["stars"],
        data.get("review"),
        reviews_allowed=access.widget_settings().reviews_allowed,
    )
    return _summary()


@bp.route("/ratings/mine", methods=["DELETE"])
@require_widget_token
@bp.response(200, s.RatingSummaryOut)
def delete_rating() -> dict[str, Any]:
    """Remove your rating and review."""
    ratings.remove_rating(db_session(), access.actor())
    return _summary()


@bp.route("/reviews", methods=["GET"])
@require_widget_token
@bp.arguments(s.ReviewListArgs, location="query")
@bp.response(200, s.ReviewPageOut)
def list_reviews(args: dict[str, Any]) -> dict[str, Any]:
    """Reviews of this item, most helpful or newest first, ten a page."""
    actor = access.actor()
    session = db_session()
    page = ratings.list_reviews(session, actor, args["sort"], args["page"])
    reports = ratings.open_report_counts(session, actor, [r.id for r in page.reviews]) if actor.staff else None
    return present.review_page(page, actor, args["sort"], reports)


def _helpful(review_id: int, helpful: bool) -> dict[str, Any]:
    rating = ratings.set_helpful(db_session(), access.actor(), review_id, helpful)
    return {"id": rating.id, "helpful_count": rating.helpful_count, "voted_helpful": helpful}


@bp.route(f"/reviews/<{ID}:review_id>/helpful", methods=["PUT"])
@require_widget_token
@bp.response(200, s.HelpfulOut)
def vote_helpful(review_id: int) -> dict[str, Any]:
    """Mark someone else's review as helpful (once per learner)."""
    return _helpful(review_id, True)


@bp.route(f"/reviews/<{ID}:review_id>/helpful", methods=["DELETE"])
@require_widget_token
@bp.response(200, s.HelpfulOut)
def unvote_helpful(review_id: int) -> dict[str, Any]:
    """Take back your helpful vote."""
    return _helpful(review_id, False)


@bp.route(f"/reviews/<{ID}:review_id>/reports", methods=["POST"])
@require_widget_token
@bp.arguments(s.ReportIn)
@bp.response(201, s.ReportOut)
def report_review(data: dict[str, Any], review_id: int) -> Any:
    """Report a review to the course's instructors."""
    return moderation.report_review(db_session(), access.actor(), review_id, data.get("reason"))


@bp.route(f"/reviews/<{ID}:review_id>/hide", methods=["POST"])
@require_widget_token
@bp.arguments(s.HideIn)
@bp.response(200, s.ReviewOut)
def hide_review(data: dict[str, Any], review_id: int) -> dict[str, Any]:
    """Instructors: hide a review from learners, with a reason."""
    actor = access.actor()
    rating = moderation.hide_review(db_session(), actor, review_id, data["reason"])
    return _review_out(rating.id)


@bp.route(f"/reviews/<{ID}:review_id>/unhide", methods=["POST"])
@require_widget_token
@bp.response(200, s.ReviewOut)
def unhide_review(review_id: int) -> dict[str, Any]:
    """Instructors: show a hidden review again."""
    moderation.unhide_review(db_session(), access.actor(), review_id)
    return _review_out(review_id)


def _review_out(review_id: int) -> dict[str, Any]:
    actor = access.actor()
    session = db_session()
    session.expire_all()
    rating = ratings.find_review(session, actor, review_id, with_author=True)
    return present.review(rating, actor, set(), ratings.open_report_counts(session, actor, [rating.id]))


# -- comments ---------------------------------------------------------------------------------
@bp.route("/comments", methods=["GET"])
@require_widget_token
@bp.arguments(s.CommentListArgs, location="query")
@bp.response(200, s.CommentPageOut)
def list_comments(args: dict[str, Any]) -> dict[str, Any]:
    """A page of the discussion: pinned comments first (first page only), then by date, with replies."""
    actor = access.actor()
    page = comments.list_comments(
        db_session(), actor, access.thread(), args["order"], args.get("cursor"), args["limit"]
    )
    return present.comment_page(page, actor)


def _comment_out(comment_id: int) -> dict[str, Any]:
    actor = access.actor()
    session = db_session()
    return present.comment(comments.find_comment(session, actor, comment_id, with_author=True), actor)


@bp.route("/comments", methods=["POST"])
@require_widget_token
@bp.arguments(s.CommentIn)
@bp.response(201, s.CommentOut)
def post_comment(data: dict[str, Any]) -> dict[str, Any]:
    """Post a comment, or a reply (``parent_id``) under a top-level comment."""
    comment = comments.post_comment(
        db_session(),
        access.actor(),
        access.thread(),
        data["body"],
        data.get("parent_id"),
        premoderate=access.widget_settings().premoderate,
    )
    return _comment_out(comment.id)


@bp.route(f"/comments/<{ID}:comment_id>", methods=["PATCH"])
@require_widget_token
@bp.arguments(s.CommentEditIn)
@bp.response(200, s.CommentOut)
def edit_comment(data: dict[str, Any], comment_id: int) -> dict[str, Any]:
    """Edit your own comment; it is marked as edited."""
    comments.edit_comment(db_session(), access.actor(), comment_id, data["body"])
    return _comment_out(comment_id)


@bp.route(f"/comments/<{ID}:comment_id>", methods=["DELETE"])
@require_widget_token
@bp.response(204)
def delete_comment(comment_id: int) -> None:
    """Delete your own comment; replies under it stay."""
    comments.delete_comment(db_session(), access.actor(), comment_id)


@bp.route(f"/comments/<{ID}:comment_id>/reports", methods=["POST"])
@require_widget_token
@bp.arguments(s.ReportIn)
@bp.response(201, s.ReportOut)
def report_comment(data: dict[str, Any], comment_id: int) -> Any:
    """Report a comment to the course's instructors."""
    return moderation.report_comment(db_session(), access.actor(), comment_id, data.get("reason"))


@bp.route(f"/comments/<{ID}:comment_id>/hide", methods=["POST"])
@require_widget_token
@bp.arguments(s.HideIn)
@bp.response(200, s.CommentOut)
def hide_comment(data: dict[str, Any], comment_id: int) -> dict[str, Any]:
    """Instructors: hide a comment from learners, with a reason."""
    moderation.hide_comment(db_session(), access.actor(), comment_id, data["reason"])
    return _comment_out(comment_id)


def _staff_action(name: str, summary: str, action: Any) -> None:
    def view(comment_id: int) -> dict[str, Any]:
        action(db_session(), access.actor(), comment_id)
        return _comment_out(comment_id)

    view.__name__ = name
    view.__doc__ = summary
    bp.route(f"/comments/<{ID}:comment_id>/{name.split('_')[0]}", methods=["POST"])(
        require_widget_token(bp.response(200, s.CommentOut)(view))
    )


_staff_action("unhide_comment", "Instructors: show a hidden comment again.", moderation.unhide_comment)
_staff_action("approve_comment", "Instructors: publish a comment held for approval.", moderation.approve_comment)
_staff_action(
    "pin_comment", "Instructors: pin a top-level comment.", lambda db, a, cid: moderation.set_pinned(db, a, cid, True)
)
_staff_action(
    "unpin_comment", "Instructors: unpin a comment.", lambda db, a, cid: moderation.set_pinned(db, a, cid, False)
)


# -- moderation -------------------------------------------------------------------------------
@bp.route("/moderation/queue", methods=["GET"])
@require_widget_token
@bp.response(200, s.QueueOut)
def moderation_queue() -> dict[str, Any]:
    """Instructors: reported reviews and comments, and comments held for approval."""
    entries = moderation.queue(db_session(), access.actor())
    return {
        "entries": [
            {
                "kind": e.kind,
                "id": (e.review or e.comment).id,  # type: ignore[union-attr]
                "text": e.review.review if e.review else e.comment.body,  # type: ignore[union-attr]
                "author": (e.review or e.comment).author,  # type: ignore[union-attr]
                "reports": e.reports,
                "reasons": e.reasons,
                "held": e.held,
                "created_at": e.created_at,
            }
            for e in entries
        ]
    }


@bp.route("/moderation/dismiss", methods=["POST"])
@require_widget_token
@bp.arguments(s.DismissIn)
@bp.response(204)
def dismiss_reports(data: dict[str, Any]) -> None:
    """Instructors: keep a reported review or comment as it is and close its reports."""
    target = {"rating_id": data["id"]} if data["kind"] == "review" else {"comment_id": data["id"]}
    moderation.dismiss_reports(db_session(), access.actor(), **target)
