"""Social actions as domain events, handed to subscribers inside the action's own transaction.

A service that changes something learners or analysts care about (a rating, a comment, a
follow...) describes it once as a :class:`SocialAction` and calls :func:`publish`. Subscribers
are registered on the session factory by adapters at start-up (the xAPI adapter writes the
action's statement to its outbox table), so they run in the same database transaction as the
action: if the request rolls back, the statement was never queued; if it commits, it is queued.

The core knows nothing of xAPI: an action names *what happened* in the product's words, with the
ids a subscriber needs to look the rest up in the same session.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from plugin.db import utcnow
from plugin.services.actors import Actor

SUBSCRIBERS = "wordofmouth.action_subscribers"


class ActionKind(enum.StrEnum):
    """What a learner did. ``subject`` below says which record it was about."""

    RATED = "rated"  # new or changed stars or review
    RATING_REMOVED = "rating-removed"
    VOTED_HELPFUL = "voted-helpful"
    HELPFUL_VOTE_WITHDRAWN = "helpful-vote-withdrawn"
    COMMENTED = "commented"  # a reply when ``refers_to`` names the parent comment
    COMMENT_EDITED = "comment-edited"
    COMMENT_DELETED = "comment-deleted"
    FOLLOWED = "followed"
    UNFOLLOWED = "unfollowed"
    RECOMMENDED = "recommended"  # to a colleague
    LAUNCHED = "launched"
    ERASED = "erased"  # the learner's data was erased on request (privacy)


@dataclass(frozen=True)
class SocialAction:
    """One thing that happened.

    ``subject`` identifies the record the action created or changed (``"rating:12"``), so a later
    action on the same record (an edit, a deletion) can supersede what was said about it;
    ``refers_to`` names another record it is about (the parent comment of a reply, the voted review).
    """

    kind: ActionKind
    actor: Actor
    at: datetime
    subject: str | None = None
    refers_to: str | None = None
    colleague_id: int | None = None
    stars: int | None = None
    text: str | None = None


Subscriber = Callable[[Session, SocialAction], None]


def subscribe(sessions: sessionmaker[Session], subscriber: Subscriber) -> None:
    """Call ``subscriber(session, action)`` for every action published on sessions of ``sessions``."""
    sessions.kw.setdefault("info", {}).setdefault(SUBSCRIBERS, []).append(subscriber)


def publish(session: Session, action: SocialAction) -> None:
    """Hand ``action`` to every subscriber, in the caller's transaction. Errors propagate: an
    action whose record cannot be written must not happen either."""
    for subscriber in session.info.get(SUBSCRIBERS, ()):
        subscriber(session, action)


def act(
    session: Session,
    kind: ActionKind,
    actor: Actor,
    at: datetime | None = None,
    **details: object,
) -> None:
    """Shorthand for services: ``act(session, ActionKind.RATED, actor, now, subject=..., stars=...)``."""
    publish(session, SocialAction(kind=kind, actor=actor, at=at or utcnow(), **details))  # type: ignore[arg-type]
