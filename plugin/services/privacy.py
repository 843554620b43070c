"""What we hold about one learner, written out (export) or removed (erase), for GDPR-style requests.

``export`` gathers every row that is the learner's own: profile, courses taken and rostered,
ratings and reviews, helpful votes, comments, reports, follows, recommendations sent and received,
and the stored recommendations of the last build. Of others it names only what the learner was
shown anyway (who recommended something to them); followers are a count.

``erase`` deletes all of it. Comments other learners replied to are kept as "deleted" placeholders
so the replies keep their place, but their text is removed and they move to a per-platform
anonymous author, so nothing links them to the learner any more. Rating tallies and helpful counts
are corrected in the same transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, exists, func, select, update
from sqlalchemy.orm import Session, aliased

from plugin.db import utcnow
from plugin.errors import NotFoundError
from plugin.events import ActionKind, act
from plugin.models import (
    ColleagueRecommendation,
    Comment,
    Enrolment,
    Follow,
    Item,
    Learner,
    LearnerRecommendation,
    OutboxStatement,
    Platform,
    Rating,
    Report,
    ReviewVote,
    RosterMember,
)
from plugin.services import ratings
from plugin.services.actors import Actor
from plugin.services.launches import _get_or_create

ERASED_SUB = "wom:erased"


def find_learner(session: Session, issuer: str, sub: str, client_id: str | None = None) -> Learner:
    """The learner ``sub`` of the platform(s) with ``issuer`` (and ``client_id`` when several share it)."""
    statement = (
        select(Learner)
        .join(Platform, Platform.id == Learner.platform_id)
        .where(Platform.issuer == issuer, Learner.sub == sub)
    )
    if client_id:
        statement = statement.where(Platform.client_id == client_id)
    found = session.scalars(statement).all()
    if not found:
        raise NotFoundError(f"no learner {sub!r} on a platform with issuer {issuer}")
    if len(found) > 1:
        raise NotFoundError(f"several platforms with issuer {issuer} know {sub!r}: name one with --client-id")
    return found[0]


def _when(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _item(item: Item) -> dict[str, str]:
    return {"key": item.key, "title": item.title}


def export(session: Session, learner: Learner) -> dict[str, Any]:
    """Everything we hold about ``learner``, as JSON-ready data."""
    pid, lid = learner.platform_id, learner.id
    platform = session.get(Platform, pid)
    assert platform is not None

    def rows(statement):  # type: ignore[no-untyped-def]
        return session.execute(statement).all()

    items = {item.id: item for item in session.scalars(select(Item).where(Item.platform_id == pid))}
    other = aliased(Learner)
    return {
        "platform": {"issuer": platform.issuer, "client_id": platform.client_id, "name": platform.name},
        "learner": {
            "sub": learner.sub,
            "name": learner.name,
            "email": learner.email,
            "locale": learner.locale,
            "department": learner.org_group,
            "name_shown_to_colleagues": learner.show_name,
            "created_at": _when(learner.created_at),
        },
        "courses_taken": [
            {
                "item": _item(items[e.item_id]),
                "how": e.source.value,
                "roles": e.roles,
                "first_seen": _when(e.first_seen),
                "last_seen": _when(e.last_seen),
            }
            for e in session.scalars(select(Enrolment).where(Enrolment.platform_id == pid, Enrolment.learner_id == lid))
        ],
        "course_rosters": [
            {"item": _item(items[m.item_id]), "roles": m.roles, "active": m.active, "synced_at": _when(m.synced_at)}
            for m in session.scalars(
                select(RosterMember).where(RosterMember.platform_id == pid, RosterMember.learner_id == lid)
            )
        ],
        "ratings": [
            {
                "item": _item(items[r.item_id]),
                "stars": r.stars,
                "review": r.review,
                "hidden_by_instructor": r.hidden_at is not None,
                "created_at": _when(r.created_at),
                "updated_at": _when(r.updated_at),
            }
            for r in session.scalars(select(Rating).where(Rating.platform_id == pid, Rating.learner_id == lid))
        ],
        "helpful_votes": [
            {"item": _item(items[item_id]), "created_at": _when(created)}
            for item_id, created in rows(
                select(Rating.item_id, ReviewVote.created_at)
                .join(Rating, and_(Rating.platform_id == ReviewVote.platform_id, Rating.id == ReviewVote.rating_id))
                .where(ReviewVote.platform_id == pid, ReviewVote.learner_id == lid)
            )
        ],
        "comments": [
            {
                "item": _item(items[c.item_id]),
                "reply": c.parent_id is not None,
                "body": c.body,
                "created_at": _when(c.created_at),
                "edited_at": _when(c.edited_at),
                "deleted_at": _when(c.deleted_at),
                "hidden_by_instructor": c.hidden_at is not None,
            }
            for c in session.scalars(select(Comment).where(Comment.platform_id == pid, Comment.learner_id == lid))
        ],
        "reports": [
            {"item": _item(items[r.item_id]), "reason": r.reason, "created_at": _when(r.created_at)}
            for r in session.scalars(select(Report).where(Report.platform_id == pid, Report.learner_id == lid))
        ],
        "following": [
            {"name": name, "sub": sub}
            for name, sub in rows(
                select(other.name, other.sub)
                .join(Follow, and_(Follow.platform_id == other.platform_id, Follow.followee_id == other.id))
                .where(Follow.platform_id == pid, Follow.follower_id == lid)
            )
        ],
        "followers": session.scalar(select(func.count()).where(Follow.platform_id == pid, Follow.followee_id == lid)),
        "recommendations_sent": _between_colleagues(session, learner, items, sent=True),
        "recommendations_received": _between_colleagues(session, learner, items, sent=False),
        "recommended_for_you": [
            {"item": _item(items[r.item_id]), "rank": r.rank, "why": r.kind}
            for r in session.scalars(
                select(LearnerRecommendation)
                .where(LearnerRecommendation.platform_id == pid, LearnerRecommendation.learner_id == lid)
                .order_by(LearnerRecommendation.rank)
            )
        ],
        "xapi_statements": [
            {"status": row.status.value, "queued_at": _when(row.created_at), "statement": row.statement}
            for row in session.scalars(
                select(OutboxStatement)
                .where(OutboxStatement.platform_id == pid, OutboxStatement.learner_id == lid)
                .order_by(OutboxStatement.id)
            )
        ],
    }


def _between_colleagues(session: Session, learner: Learner, items: dict[int, Item], *, sent: bool) -> list[dict]:
    """Recommendations the learner sent (with the recipient's name) or received (with the sender's)."""
    mine, theirs, label = (
        (ColleagueRecommendation.sender_id, ColleagueRecommendation.recipient_id, "to")
        if sent
        else (ColleagueRecommendation.recipient_id, ColleagueRecommendation.sender_id, "from")
    )
    other = aliased(Learner)
    rows = session.execute(
        select(
            other.name,
            ColleagueRecommendation.item_id,
            ColleagueRecommendation.note,
            ColleagueRecommendation.created_at,
        )
        .join(other, and_(other.platform_id == ColleagueRecommendation.platform_id, other.id == theirs))
        .where(ColleagueRecommendation.platform_id == learner.platform_id, mine == learner.id)
    )
    return [
        {label: name, "item": _item(items[item_id]), "note": note, "created_at": _when(created)}
        for name, item_id, note, created in rows
    ]


def _anonymous_author(session: Session, platform_id: int) -> Learner:
    return _get_or_create(
        session,
        lambda: session.scalars(
            select(Learner).where(Learner.platform_id == platform_id, Learner.sub == ERASED_SUB)
        ).one_or_none(),
        lambda: Learner(platform_id=platform_id, sub=ERASED_SUB, name="", show_name=False),
    )


def erase(session: Session, learner: Learner, now: datetime | None = None) -> dict[str, int]:
    """Delete everything of ``learner``; counts of what went, for the operator's log."""
    now = now or utcnow()
    pid, lid = learner.platform_id, learner.id
    counts: dict[str, int] = {}
    # First, so what was said about the learner is withdrawn before the records go (the removals
    # below find nothing left to withdraw).
    act(session, ActionKind.ERASED, Actor(platform_id=pid, learner_id=lid, item_id=0), now)

    own_ratings = session.scalars(select(Rating).where(Rating.platform_id == pid, Rating.learner_id == lid)).all()
    for rating in own_ratings:
        ratings.remove_rating(session, Actor(platform_id=pid, learner_id=lid, item_id=rating.item_id))
    counts["ratings"] = len(own_ratings)

    voted = list(
        session.scalars(select(ReviewVote.rating_id).where(ReviewVote.platform_id == pid, ReviewVote.learner_id == lid))
    )
    session.execute(delete(ReviewVote).where(ReviewVote.platform_id == pid, ReviewVote.learner_id == lid))
    if voted:
        votes = select(func.count()).where(ReviewVote.rating_id == Rating.id).scalar_subquery()
        session.execute(update(Rating).where(Rating.id.in_(voted)).values(helpful_count=votes))
    counts["helpful_votes"] = len(voted)

    reply = aliased(Comment)
    replied = exists().where(reply.parent_id == Comment.id, reply.learner_id != lid)
    kept = list(
        session.scalars(select(Comment.id).where(Comment.platform_id == pid, Comment.learner_id == lid, replied))
    )
    if kept:
        anonymous = _anonymous_author(session, pid)
        session.execute(
            update(Comment)
            .where(Comment.id.in_(kept))
            .values(body="", learner_id=anonymous.id, deleted_at=func.coalesce(Comment.deleted_at, now))
        )
    gone = session.execute(delete(Comment).where(Comment.platform_id == pid, Comment.learner_id == lid))
    counts["comments"] = len(kept) + (gone.rowcount or 0)

    session.delete(learner)  # enrolments, rosters, follows, recommendations, reports: ON DELETE CASCADE
    session.flush()
    return counts
