"""Colleagues who took an item, the colleagues a learner follows, and privacy between co-workers.

Colleagues are the other learners of the same organisation (platform); closer colleagues share a
department (``Learner.org_group``). Instructors and teaching assistants are not takers.

Privacy rules, kept here and nowhere else:

- a learner is *named* to colleagues only when they chose so, or made no choice and the platform's
  default is to name (``Platform.show_names_default``, off unless the admin turns it on);
- a count below :data:`PRIVACY_THRESHOLD` is never shown as a number ("fewer than 3"), so no one
  can be singled out; the department split is hidden when the department's count is that small;
- a learner can be followed, or sent a recommendation, only when they may be named.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import quote

from sqlalchemy import Select, and_, bindparam, case, delete, exists, func, or_, select
from sqlalchemy.orm import Session

from plugin.errors import InvalidFieldError, NotFoundError
from plugin.events import ActionKind, act
from plugin.models import (
    ColleagueRecommendation,
    Enrolment,
    Follow,
    Item,
    ItemAlsoTook,
    ItemTakers,
    Learner,
    Platform,
    RecommendBuild,
)
from plugin.models.colleagues import NOTE_MAX_LENGTH
from plugin.services.actors import Actor
from plugin.services.launches import _get_or_create
from plugin.services.text import clean_text

PRIVACY_THRESHOLD = 3
NAMED_COLLEAGUES_SHOWN = 12
ALSO_TOOK_SHOWN = 5
SEARCH_RESULTS = 10


def shown_count(count: int) -> int | None:
    """The count as colleagues may see it: the number, or None for "fewer than 3"."""
    return count if count >= PRIVACY_THRESHOLD else None


@dataclass(frozen=True)
class Colleague:
    id: int
    name: str
    org_group: str | None
    followed: bool


@dataclass(frozen=True)
class AlsoTook:
    item_id: int
    title: str
    url: str | None
    takers: int
    mean_rating: float | None  # None when fewer than 3 of them rated it


@dataclass(frozen=True)
class Takers:
    """Who took the item, as this learner may see it. Counts exclude the learner themself."""

    total: int | None  # None: fewer than PRIVACY_THRESHOLD
    org_group: str | None  # the learner's department, when the platform sends one
    in_group: int | None  # None: hidden (no department, or fewer than PRIVACY_THRESHOLD)
    named: list[Colleague]
    you_took: bool


@dataclass(frozen=True)
class PrivacyChoice:
    choice: bool | None  # the learner's own choice; None = the platform's default applies
    platform_default: bool

    @property
    def shows_name(self) -> bool:
        return self.platform_default if self.choice is None else self.choice


def _named_clause(default: bool):  # type: ignore[no-untyped-def]
    """SQL: the learner may be named to colleagues."""
    return Learner.show_name.is_(True) if not default else or_(Learner.show_name.is_(None), Learner.show_name.is_(True))


def _platform_default(session: Session, platform_id: int) -> bool:
    return bool(session.scalar(select(Platform.show_names_default).where(Platform.id == platform_id)))


def _learner(session: Session, actor: Actor) -> Learner:
    learner = session.scalars(
        select(Learner).where(Learner.platform_id == actor.platform_id, Learner.id == actor.learner_id)
    ).one_or_none()
    if learner is None:
        raise NotFoundError("Your account is not known here any more: open the course page again.")
    return learner


def _takers_of(platform_id: int, item_id: int):  # type: ignore[no-untyped-def]
    return and_(Enrolment.platform_id == platform_id, Enrolment.item_id == item_id, Enrolment.staff.is_(False))


# Read statements are built once, with the actor's values bound per call (as in ratings.py):
# building the expressions costs more than these index lookups.
_PLATFORM, _ITEM, _LEARNER = bindparam("platform_id"), bindparam("item_id"), bindparam("learner_id")


@functools.cache
def _context_statement() -> Select:
    """The reader's department, the platform's naming default and when its last build ran."""
    return (
        select(Learner.org_group, Platform.show_names_default, RecommendBuild.built_at)
        .join(Platform, Platform.id == Learner.platform_id)
        .outerjoin(RecommendBuild, RecommendBuild.platform_id == Platform.id)
        .where(Learner.platform_id == _PLATFORM, Learner.id == _LEARNER)
    )


@functools.cache
def _own_enrolment_statement() -> Select:
    return select(Enrolment.first_seen).where(
        Enrolment.platform_id == _PLATFORM,
        Enrolment.item_id == _ITEM,
        Enrolment.learner_id == _LEARNER,
        Enrolment.staff.is_(False),
    )


@functools.cache
def _stored_counts_statement() -> Select:
    return select(ItemTakers.org_group, ItemTakers.takers).where(
        ItemTakers.platform_id == _PLATFORM,
        ItemTakers.item_id == _ITEM,
        ItemTakers.org_group.in_(bindparam("groups", expanding=True)),
    )


@functools.cache
def _named_statement(default: bool, followed_only: bool) -> Select:
    """Named takers of the item, most recently seen first: the index on (platform, item, last_seen)
    is walked backwards and stops at the limit, however many took the item."""
    statement = (
        select(Learner.id, Learner.name, Learner.org_group)
        .join(Enrolment, and_(Enrolment.platform_id == Learner.platform_id, Enrolment.learner_id == Learner.id))
        .where(
            Enrolment.platform_id == _PLATFORM,
            Enrolment.item_id == _ITEM,
            Enrolment.staff.is_(False),
            Enrolment.learner_id != _LEARNER,
            _named_clause(default),
            Learner.name != "",
        )
        .order_by(Enrolment.last_seen.desc(), Enrolment.learner_id)
        .limit(bindparam("limit"))
    )
    if followed_only:
        statement = statement.join(
            Follow,
            and_(
                Follow.platform_id == Learner.platform_id,
                Follow.followee_id == Learner.id,
                Follow.follower_id == _LEARNER,
            ),
        )
    return statement


def _live_counts(session: Session, actor: Actor, org_group: str | None) -> tuple[int, int]:
    """Counted now, for a platform that has no build yet (a new installation, a test)."""
    in_group_expr = func.count(case((Learner.org_group == org_group, 1))) if org_group else func.count(case((False, 1)))
    total, in_group = session.execute(
        select(func.count(), in_group_expr)
        .select_from(Enrolment)
        .join(Learner, and_(Learner.platform_id == Enrolment.platform_id, Learner.id == Enrolment.learner_id))
        .where(_takers_of(actor.platform_id, actor.item_id), Enrolment.learner_id != actor.learner_id)
    ).one()
    return total, in_group


def takers(session: Session, actor: Actor) -> Takers:
    """How many colleagues took the actor's item, how many in their department, whom they may see.

    Counts come from the last recommendation build (``item_takers``), so a widget never counts
    thousands of rows; the reader is taken out when the build counted them. Names are read live,
    so a colleague who hides their name disappears at once.
    """
    params = {"platform_id": actor.platform_id, "item_id": actor.item_id, "learner_id": actor.learner_id}
    context = session.execute(_context_statement(), params).one_or_none()
    if context is None:
        raise NotFoundError("Your account is not known here any more: open the course page again.")
    org_group, default, built_at = context
    first_seen = session.scalar(_own_enrolment_statement(), params)
    if built_at is None:
        total, in_group = _live_counts(session, actor, org_group)
    else:
        groups = ["", org_group] if org_group else [""]
        stored = dict(session.execute(_stored_counts_statement(), {**params, "groups": groups}).all())
        counted_me = first_seen is not None and first_seen <= built_at
        total = max(0, stored.get("", 0) - counted_me)
        in_group = max(0, stored.get(org_group, 0) - counted_me) if org_group else 0

    followed = session.execute(_named_statement(default, True), {**params, "limit": NAMED_COLLEAGUES_SHOWN}).all()
    recent = session.execute(_named_statement(default, False), {**params, "limit": 2 * NAMED_COLLEAGUES_SHOWN}).all()
    followed_ids = {row.id for row in followed}
    rest = [row for row in recent if row.id not in followed_ids]
    same_group = [row for row in rest if org_group and row.org_group == org_group]
    others = [row for row in rest if not (org_group and row.org_group == org_group)]
    named = [
        Colleague(row.id, row.name, row.org_group, row.id in followed_ids)
        for row in [*followed, *same_group, *others][:NAMED_COLLEAGUES_SHOWN]
    ]
    return Takers(
        total=shown_count(total),
        org_group=org_group,
        in_group=shown_count(in_group) if org_group else None,
        named=named,
        you_took=first_seen is not None,
    )


def course_url(url: str | None, context_id: str | None, issuer: str, template: str | None) -> str | None:
    """An item's page in the LMS: the URL the launch sent, else the platform's template filled in."""
    if url:
        return url
    if not template or not context_id:
        return None
    try:
        return template.format(issuer=issuer, context_id=quote(context_id, safe=""))
    except (KeyError, IndexError, ValueError):
        return None


def item_url(item: Item, platform: Platform) -> str | None:
    return course_url(item.url, item.context_id, platform.issuer, platform.course_url_template)


@functools.cache
def _also_took_statement() -> Select:
    return (
        select(
            Item.id,
            Item.title,
            Item.label,
            Item.key,
            Item.url,
            Item.context_id,
            ItemAlsoTook.takers,
            ItemAlsoTook.raters,
            ItemAlsoTook.mean_rating,
            Platform.issuer,
            Platform.course_url_template,
        )
        .join(Item, and_(Item.platform_id == ItemAlsoTook.platform_id, Item.id == ItemAlsoTook.other_item_id))
        .join(Platform, Platform.id == ItemAlsoTook.platform_id)
        .where(
            ItemAlsoTook.platform_id == _PLATFORM,
            ItemAlsoTook.item_id == _ITEM,
            ItemAlsoTook.takers >= PRIVACY_THRESHOLD,
        )
        .order_by(ItemAlsoTook.rank)
        .limit(bindparam("limit"))
    )


def also_took(session: Session, actor: Actor, limit: int = ALSO_TOOK_SHOWN) -> list[AlsoTook]:
    """Items most taken by colleagues who took this one (last build), from the privacy threshold up."""
    rows = session.execute(
        _also_took_statement(), {"platform_id": actor.platform_id, "item_id": actor.item_id, "limit": limit}
    )
    return [
        AlsoTook(
            item_id=row.id,
            title=row.title or row.label or row.key,
            url=course_url(row.url, row.context_id, row.issuer, row.course_url_template),
            takers=row.takers,
            mean_rating=row.mean_rating if row.raters >= PRIVACY_THRESHOLD else None,
        )
        for row in rows
    ]


@functools.cache
def _privacy_statement() -> Select:
    return (
        select(Learner.show_name, Platform.show_names_default)
        .join(Platform, Platform.id == Learner.platform_id)
        .where(Learner.platform_id == _PLATFORM, Learner.id == _LEARNER)
    )


def privacy_choice(session: Session, actor: Actor) -> PrivacyChoice:
    row = session.execute(
        _privacy_statement(), {"platform_id": actor.platform_id, "learner_id": actor.learner_id}
    ).one_or_none()
    if row is None:
        raise NotFoundError("Your account is not known here any more: open the course page again.")
    return PrivacyChoice(row.show_name, bool(row.show_names_default))


def set_privacy_choice(session: Session, actor: Actor, show_name: bool) -> PrivacyChoice:
    """The learner's own choice, which from now on overrides the platform's default."""
    _learner(session, actor).show_name = show_name
    session.flush()
    return privacy_choice(session, actor)


def _nameable(session: Session, actor: Actor, colleague_id: int) -> Learner:
    """A colleague the actor may see by name: same platform, not themself, named by choice or default."""
    default = _platform_default(session, actor.platform_id)
    colleague = session.scalars(
        select(Learner).where(
            Learner.platform_id == actor.platform_id,
            Learner.id == colleague_id,
            Learner.id != actor.learner_id,
            _named_clause(default),
        )
    ).one_or_none()
    if colleague is None:
        raise NotFoundError("There is no such colleague.")
    return colleague


def follow(session: Session, actor: Actor, colleague_id: int) -> Learner:
    colleague = _nameable(session, actor, colleague_id)
    new = session.get(Follow, (actor.learner_id, colleague.id)) is None
    _get_or_create(
        session,
        lambda: session.get(Follow, (actor.learner_id, colleague.id)),
        lambda: Follow(platform_id=actor.platform_id, follower_id=actor.learner_id, followee_id=colleague.id),
    )
    session.flush()
    if new:
        subject = _follow_subject(actor, colleague.id)
        act(session, ActionKind.FOLLOWED, actor, subject=subject, colleague_id=colleague.id)
    return colleague


def _follow_subject(actor: Actor, colleague_id: int) -> str:
    return f"follow:{actor.learner_id}:{colleague_id}"


def unfollow(session: Session, actor: Actor, colleague_id: int) -> bool:
    """Stop following; True when there was something to undo. Works even if the colleague has
    since hidden their name; an id of no colleague of this organisation is not found."""
    known = session.scalar(select(exists().where(Learner.platform_id == actor.platform_id, Learner.id == colleague_id)))
    if not known:
        raise NotFoundError("There is no such colleague.")
    result = session.execute(
        delete(Follow).where(
            Follow.platform_id == actor.platform_id,
            Follow.follower_id == actor.learner_id,
            Follow.followee_id == colleague_id,
        )
    )
    if result.rowcount:
        subject = _follow_subject(actor, colleague_id)
        act(session, ActionKind.UNFOLLOWED, actor, subject=subject, colleague_id=colleague_id)
    return bool(result.rowcount)


@functools.cache
def _following_statement() -> Select:
    return (
        select(Learner.id, Learner.name, Learner.org_group)
        .join(Follow, and_(Follow.platform_id == Learner.platform_id, Follow.followee_id == Learner.id))
        .where(Follow.platform_id == _PLATFORM, Follow.follower_id == _LEARNER)
        .order_by(Learner.name, Learner.id)
    )


def following(session: Session, actor: Actor) -> list[Colleague]:
    rows = session.execute(_following_statement(), {"platform_id": actor.platform_id, "learner_id": actor.learner_id})
    return [Colleague(r.id, r.name, r.org_group, True) for r in rows]


def search(session: Session, actor: Actor, query: str, limit: int = SEARCH_RESULTS) -> list[Colleague]:
    """Colleagues the actor may name, whose name contains ``query`` (at least 2 characters)."""
    text = " ".join((query or "").split())
    if len(text) < 2:
        raise InvalidFieldError("q", "Type at least 2 letters of your colleague's name.")
    if len(text) > 100:
        raise InvalidFieldError("q", "A name to search for has at most 100 characters.")
    default = _platform_default(session, actor.platform_id)
    pattern = "%" + text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    followed = exists().where(Follow.follower_id == actor.learner_id, Follow.followee_id == Learner.id)
    rows = session.execute(
        select(Learner.id, Learner.name, Learner.org_group, followed.label("followed"))
        .where(
            Learner.platform_id == actor.platform_id,
            Learner.id != actor.learner_id,
            Learner.name != "",
            _named_clause(default),
            func.lower(Learner.name).like(pattern, escape="\\"),
        )
        .order_by(followed.desc(), Learner.name, Learner.id)
        .limit(limit)
    ).all()
    return [Colleague(r.id, r.name, r.org_group, bool(r.followed)) for r in rows]


def recommend_to_colleague(
    session: Session, actor: Actor, colleague_id: int, note: str | None = None
) -> tuple[ColleagueRecommendation, Learner]:
    """Recommend the actor's item to a colleague; sending it again keeps the first (and its note)."""
    colleague = _nameable(session, actor, colleague_id)
    text = clean_text(note or "") or ""
    if len(text) > NOTE_MAX_LENGTH:
        raise InvalidFieldError("note", f"A note has at most {NOTE_MAX_LENGTH} characters.")
    sent_before = recommended_before(session, actor, colleague.id)
    recommendation = _get_or_create(
        session,
        lambda: session.scalars(
            select(ColleagueRecommendation).where(
                ColleagueRecommendation.sender_id == actor.learner_id,
                ColleagueRecommendation.recipient_id == colleague.id,
                ColleagueRecommendation.item_id == actor.item_id,
            )
        ).one_or_none(),
        lambda: ColleagueRecommendation(
            platform_id=actor.platform_id,
            sender_id=actor.learner_id,
            recipient_id=colleague.id,
            item_id=actor.item_id,
            note=text,
        ),
    )
    session.flush()
    if not sent_before:
        act(
            session,
            ActionKind.RECOMMENDED,
            actor,
            subject=f"recommendation:{recommendation.id}",
            colleague_id=colleague.id,
            text=recommendation.note or None,
        )
    return recommendation, colleague


def recommended_before(session: Session, actor: Actor, colleague_id: int) -> bool:
    return bool(
        session.scalar(
            select(
                exists().where(
                    ColleagueRecommendation.sender_id == actor.learner_id,
                    ColleagueRecommendation.recipient_id == colleague_id,
                    ColleagueRecommendation.item_id == actor.item_id,
                )
            )
        )
    )


@functools.cache
def _sent_to_statement() -> Select:
    return (
        select(Learner.name)
        .join(
            ColleagueRecommendation,
            and_(
                ColleagueRecommendation.platform_id == Learner.platform_id,
                ColleagueRecommendation.recipient_id == Learner.id,
            ),
        )
        .where(
            ColleagueRecommendation.platform_id == _PLATFORM,
            ColleagueRecommendation.sender_id == _LEARNER,
            ColleagueRecommendation.item_id == _ITEM,
        )
        .order_by(Learner.name)
    )


def recommended_by_actor(session: Session, actor: Actor) -> list[str]:
    """Names of the colleagues the actor already recommended this item to."""
    params = {"platform_id": actor.platform_id, "learner_id": actor.learner_id, "item_id": actor.item_id}
    return list(session.scalars(_sent_to_statement(), params))


def initials(name: str) -> str:
    """Up to two initials for an avatar: "Ada Lovelace" -> "AL", "grace" -> "G"."""
    parts = [p for p in name.replace("-", " ").split() if p and p[0].isalnum()]
    if not parts:
        return "?"
    picked: Sequence[str] = parts if len(parts) == 1 else (parts[0], parts[-1])
    return "".join(p[0].upper() for p in picked)
