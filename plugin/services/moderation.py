"""Reports from learners and what instructors do about them: hide, unhide, pin, approve.

Moderation is scoped like everything else: an instructor acts on the item of their own launch
(their course), never on another course's discussion. Acting on a reported review or comment
(hiding it) resolves its open reports; unhiding does not reopen them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, joinedload

from plugin.db import utcnow
from plugin.errors import ConflictError, ForbiddenError, InvalidFieldError
from plugin.models import Comment, Rating, Report
from plugin.models.social import REASON_MAX_LENGTH
from plugin.services import comments as comment_service
from plugin.services import ratings as rating_service
from plugin.services.actors import Actor
from plugin.services.launches import _get_or_create
from plugin.services.text import clean_text


def require_staff(actor: Actor) -> None:
    if not actor.staff:
        raise ForbiddenError("Only instructors of this course can moderate.")


def resolve_reports(
    session: Session,
    actor: Actor,
    *,
    rating_id: int | None = None,
    comment_id: int | None = None,
    now: datetime | None = None,
) -> None:
    target = Report.rating_id == rating_id if rating_id is not None else Report.comment_id == comment_id
    session.execute(
        update(Report)
        .where(
            Report.platform_id == actor.platform_id,
            Report.item_id == actor.item_id,
            target,
            Report.resolved_at.is_(None),
        )
        .values(resolved_at=now or utcnow())
    )


def _reason(reason: str | None, *, required: bool) -> str:
    text = clean_text(reason) or ""
    if required and not text:
        raise InvalidFieldError("reason", "Give a reason.")
    if len(text) > REASON_MAX_LENGTH:
        raise InvalidFieldError("reason", "A reason can be at most 500 characters long.")
    return text


def report_review(session: Session, actor: Actor, rating_id: int, reason: str | None) -> Report:
    rating = rating_service.find_review(session, actor, rating_id)
    if rating.learner_id == actor.learner_id:
        raise ConflictError("You cannot report your own review.")
    return _report(session, actor, _reason(reason, required=False), rating_id=rating.id)


def report_comment(session: Session, actor: Actor, comment_id: int, reason: str | None) -> Report:
    comment = comment_service.find_comment(session, actor, comment_id)
    if comment.learner_id == actor.learner_id:
        raise ConflictError("You cannot report your own comment.")
    return _report(session, actor, _reason(reason, required=False), comment_id=comment.id)


def _report(session: Session, actor: Actor, reason: str, **target: int) -> Report:
    """One open report per learner and target; reporting again after a resolution reopens it."""
    ((column, target_id),) = target.items()

    def find() -> Report | None:
        return session.scalars(
            select(Report).where(Report.learner_id == actor.learner_id, getattr(Report, column) == target_id)
        ).one_or_none()

    report = _get_or_create(
        session,
        find,
        lambda: Report(
            platform_id=actor.platform_id, item_id=actor.item_id, learner_id=actor.learner_id, reason=reason, **target
        ),
    )
    report.reason = reason or report.reason
    report.resolved_at = None
    session.flush()
    return report


def hide_review(session: Session, actor: Actor, rating_id: int, reason: str, now: datetime | None = None) -> Rating:
    require_staff(actor)
    rating = rating_service.find_review(session, actor, rating_id)
    hidden_reason = _reason(reason, required=True)  # before any change: a refusal leaves the row as it was
    rating.hidden_at = now or utcnow()
    rating.hidden_reason = hidden_reason
    rating.hidden_by = actor.learner_id
    resolve_reports(session, actor, rating_id=rating.id, now=rating.hidden_at)
    session.flush()
    return rating


def unhide_review(session: Session, actor: Actor, rating_id: int) -> Rating:
    require_staff(actor)
    rating = rating_service.find_review(session, actor, rating_id)
    rating.hidden_at = rating.hidden_reason = rating.hidden_by = None
    session.flush()
    return rating


def hide_comment(
    session: Session, actor: Actor, comment_id: int, reason: str | None, now: datetime | None = None
) -> Comment:
    require_staff(actor)
    comment = comment_service.find_comment(session, actor, comment_id)
    hidden_reason = _reason(reason, required=True)  # before any change: a refusal leaves the row as it was
    comment.hidden_at = now or utcnow()
    comment.hidden_reason = hidden_reason
    comment.hidden_by = actor.learner_id
    comment.pinned_at = None
    resolve_reports(session, actor, comment_id=comment.id, now=comment.hidden_at)
    session.flush()
    return comment


def unhide_comment(session: Session, actor: Actor, comment_id: int) -> Comment:
    require_staff(actor)
    comment = comment_service.find_comment(session, actor, comment_id)
    comment.hidden_at = comment.hidden_reason = comment.hidden_by = None
    session.flush()
    return comment


def set_pinned(session: Session, actor: Actor, comment_id: int, pinned: bool, now: datetime | None = None) -> Comment:
    require_staff(actor)
    comment = comment_service.find_comment(session, actor, comment_id)
    if pinned and comment.parent_id is not None:
        raise ConflictError("Only comments at the top of a conversation can be pinned.")
    if pinned and (comment.hidden_at is not None or comment.approved_at is None):
        raise ConflictError("Approve or unhide this comment before pinning it.")
    comment.pinned_at = (now or utcnow()) if pinned else None
    session.flush()
    return comment


def approve_comment(session: Session, actor: Actor, comment_id: int, now: datetime | None = None) -> Comment:
    require_staff(actor)
    comment = comment_service.find_comment(session, actor, comment_id)
    if comment.approved_at is None:
        comment.approved_at = now or utcnow()
    resolve_reports(session, actor, comment_id=comment.id, now=comment.approved_at)
    session.flush()
    return comment


def dismiss_reports(
    session: Session, actor: Actor, *, rating_id: int | None = None, comment_id: int | None = None
) -> None:
    """Keep the reported text as it is and close its reports."""
    require_staff(actor)
    if rating_id is not None:
        rating_service.find_review(session, actor, rating_id)
    else:
        comment_service.find_comment(session, actor, comment_id or 0)
    resolve_reports(session, actor, rating_id=rating_id, comment_id=comment_id)
    session.flush()


@dataclass(frozen=True)
class QueueEntry:
    kind: str  # "review" or "comment"
    review: Rating | None
    comment: Comment | None
    reports: int
    reasons: list[str]
    held: bool

    @property
    def created_at(self) -> datetime:
        target = self.review or self.comment
        assert target is not None
        return target.created_at


def queue(session: Session, actor: Actor) -> list[QueueEntry]:
    """Reported reviews and comments with open reports, and comments held for approval, oldest first."""
    require_staff(actor)
    open_reports = session.execute(
        select(Report.rating_id, Report.comment_id, func.count(), func.min(Report.created_at))
        .where(Report.platform_id == actor.platform_id, Report.item_id == actor.item_id, Report.resolved_at.is_(None))
        .group_by(Report.rating_id, Report.comment_id)
    ).all()
    reasons: dict[tuple[str, int], list[str]] = {}
    for kind, target_id, reason in session.execute(
        select(
            func.coalesce(Report.rating_id, 0),
            func.coalesce(Report.comment_id, 0),
            Report.reason,
        ).where(Report.platform_id == actor.platform_id, Report.item_id == actor.item_id, Report.resolved_at.is_(None))
    ).all():
        key = ("review", kind) if kind else ("comment", target_id)
        if reason:
            reasons.setdefault(key, []).append(reason)
    review_counts = {int(r): int(n) for r, c, n, _ in open_reports if r is not None}
    comment_counts = {int(c): int(n) for r, c, n, _ in open_reports if c is not None}
    reviews = (
        session.scalars(
            select(Rating)
            .where(Rating.id.in_(review_counts), Rating.platform_id == actor.platform_id, Rating.review.is_not(None))
            .options(joinedload(Rating.author))
        ).all()
        if review_counts
        else []
    )
    held_or_reported = session.scalars(
        select(Comment)
        .where(
            Comment.platform_id == actor.platform_id,
            Comment.item_id == actor.item_id,
            Comment.deleted_at.is_(None),
            (Comment.approved_at.is_(None) & Comment.hidden_at.is_(None)) | Comment.id.in_(comment_counts or [0]),
        )
        .options(joinedload(Comment.author))
    ).all()
    entries = [
        QueueEntry("review", r, None, review_counts[r.id], reasons.get(("review", r.id), []), False) for r in reviews
    ] + [
        QueueEntry(
            "comment", None, c, comment_counts.get(c.id, 0), reasons.get(("comment", c.id), []), c.approved_at is None
        )
        for c in held_or_reported
    ]
    return sorted(entries, key=lambda e: e.created_at)
