"""Rows built through the real models and services, and the Actors that act on them.

``make_world(session)`` is the usual starting point: two organisations (platforms A and B), two
courses on A, one on B, a placement of the first course, learners and instructors::

    world = make_world(db)
    ratings.rate(db, world.ada, 5, "Great")
    ratings.list_reviews(db, world.foreign_teacher)  # platform B sees nothing of A

Timestamps: ``at(n)`` is a fixed UTC instant plus ``n`` minutes, for tests where order matters.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask import Flask
from sqlalchemy.orm import Session

from lti.tokens import WidgetGrant, issue_widget_token
from plugin.models import Item, Learner, Placement, Platform
from plugin.services.actors import Actor, Thread
from plugin.services.launches import upsert_item
from plugin.services.platforms import PlatformSpec, add_or_update_platform

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def at(minutes: float = 0) -> datetime:
    """A fixed, timezone-aware UTC instant ``minutes`` after :data:`T0`."""
    return T0 + timedelta(minutes=minutes)


def make_platform(session: Session, name: str = "a") -> Platform:
    """A registered platform ``https://<name>.lms.example`` with one deployment ``deployment-<name>``."""
    base = f"https://{name}.lms.example"
    platform, _ = add_or_update_platform(
        session,
        PlatformSpec(
            issuer=base,
            client_id=f"client-{name}",
            auth_login_url=f"{base}/auth",
            auth_token_url=f"{base}/token",
            key_set_url=f"{base}/jwks",
            deployment_ids=(f"deployment-{name}",),
            name=f"LMS {name.upper()}",
        ),
    )
    return platform


def make_learner(session: Session, platform: Platform, sub: str, name: str | None = None) -> Learner:
    learner = Learner(platform_id=platform.id, sub=sub, name=name if name is not None else sub.title())
    session.add(learner)
    session.flush()
    return learner


def make_item(session: Session, platform: Platform, context_id: str, title: str | None = None) -> Item:
    item = upsert_item(session, platform.id, context_id=context_id, title=title or context_id, label=context_id)
    session.flush()
    return item


def make_placement(session: Session, item: Item, resource_link_id: str | None = None) -> Placement:
    placement = Placement(
        platform_id=item.platform_id,
        item_id=item.id,
        resource_link_id=resource_link_id,
        title=f"Widgets of {item.title}",
        widget_kinds=["ratings", "comments"],
        settings={},
    )
    session.add(placement)
    session.flush()
    return placement


def actor(learner: Learner, item: Item, *, staff: bool = False) -> Actor:
    """``learner`` acting on ``item`` (as an instructor when ``staff``)."""
    if learner.platform_id != item.platform_id:
        raise ValueError("an actor's learner and item belong to one platform")
    return Actor(platform_id=item.platform_id, learner_id=learner.id, item_id=item.id, staff=staff)


def thread(item: Item, placement: Placement | None = None) -> Thread:
    """The item's discussion, or the discussion of one of its placements."""
    return Thread(platform_id=item.platform_id, item_id=item.id, placement_id=placement.id if placement else None)


@dataclass(frozen=True)
class World:
    platform_a: Platform
    platform_b: Platform
    course: Item  # on A: where ada, bob, cy learn and teacher teaches
    other_course: Item  # also on A
    foreign_course: Item  # on B, with the same context id as ``course``
    placement: Placement  # a placement of ``course``
    ada: Actor
    bob: Actor
    cy: Actor
    teacher: Actor
    other_course_learner: Actor  # ada herself, launched from ``other_course``
    other_course_teacher: Actor
    foreign_learner: Actor  # platform B, same sub as ada
    foreign_teacher: Actor

    @property
    def outsiders(self) -> dict[str, Actor]:
        """Everyone who must not reach ``course``'s rows, by name."""
        return {
            "other_course_learner": self.other_course_learner,
            "other_course_teacher": self.other_course_teacher,
            "foreign_learner": self.foreign_learner,
            "foreign_teacher": self.foreign_teacher,
        }

    def thread(self, placement: Placement | None = None) -> Thread:
        """``course``'s item-wide discussion, or the one of ``placement``."""
        return thread(self.course, placement)


def make_world(session: Session) -> World:
    platform_a, platform_b = make_platform(session, "a"), make_platform(session, "b")
    course = make_item(session, platform_a, "course-1", "Negotiation basics")
    other_course = make_item(session, platform_a, "course-2", "Advanced negotiation")
    foreign_course = make_item(session, platform_b, "course-1", "Negotiation basics")
    ada, bob, cy = (make_learner(session, platform_a, sub) for sub in ("ada", "bob", "cy"))
    teacher = make_learner(session, platform_a, "teacher", "Ms Teacher")
    other_teacher = make_learner(session, platform_a, "other-teacher", "Mr Other")
    foreign_ada = make_learner(session, platform_b, "ada")
    foreign_teacher = make_learner(session, platform_b, "teacher", "Dr Foreign")
    return World(
        platform_a=platform_a,
        platform_b=platform_b,
        course=course,
        other_course=other_course,
        foreign_course=foreign_course,
        placement=make_placement(session, course, "link-1"),
        ada=actor(ada, course),
        bob=actor(bob, course),
        cy=actor(cy, course),
        teacher=actor(teacher, course, staff=True),
        other_course_learner=actor(ada, other_course),
        other_course_teacher=actor(other_teacher, other_course, staff=True),
        foreign_learner=actor(foreign_ada, foreign_course),
        foreign_teacher=actor(foreign_teacher, foreign_course, staff=True),
    )


def bearer(app: Flask, who: Actor, placement_id: int | None = None, locale: str = "en") -> dict[str, str]:
    """The Authorization header of a fresh launch of ``who`` (each call is another token)."""
    grant = WidgetGrant(
        platform_id=who.platform_id,
        deployment_id="deployment-a",
        learner_id=who.learner_id,
        item_id=who.item_id,
        placement_id=placement_id,
        roles=(),
        staff=who.staff,
        locale=locale,
    )
    with app.app_context():
        return {"Authorization": f"Bearer {issue_widget_token(grant)}"}
