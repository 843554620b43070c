"""What a validated launch records: the learner, the item, the placement and the enrolment.

The LTI adapter turns the id_token into a :class:`LaunchRecord`; this module knows nothing of
JWTs. Upserts tolerate two first launches of the same learner racing each other: the loser of
the insert reads the winner's row inside a savepoint instead of failing the launch.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from plugin.db import utcnow
from plugin.events import ActionKind, act
from plugin.models import Enrolment, Item, Learner, Placement, RosterSource
from plugin.models.learning import EnrolmentSource, ItemSource
from plugin.services.actors import Actor

WIDGET_KINDS = ("ratings", "comments", "colleagues", "recommendations")
WIDGET_TITLES = {
    "ratings": "Ratings and reviews",
    "comments": "Comments",
    "colleagues": "Colleagues who took this",
    "recommendations": "Recommended for you",
}
# Widgets that exist (all of them now); a kind added later is placed before it is shown.
LIVE_WIDGETS = ("ratings", "comments", "colleagues", "recommendations")
# A custom parameter the platform could not fill arrives literally: "$Canvas.user.id", "${Person.x}";
# Canvas fills "${...}" inside a longer value one by one, so "https://x/courses/${Canvas.course.id}"
# is as unfilled as the whole variable.
_UNFILLED = re.compile(r"^\$(\{[^}]*\}|[A-Za-z][\w.]*)$")
_UNFILLED_PART = re.compile(r"\$\{[A-Za-z][\w.<>]*\}")

T = TypeVar("T")


def filled(value: object) -> str | None:
    """The parameter's value, or None when it is empty or an unfilled substitution variable."""
    if value is None:
        return None
    text = str(value).strip()
    if not text or _UNFILLED.match(text) or _UNFILLED_PART.search(text):
        return None
    return text


def http_url(value: str | None) -> str | None:
    """An absolute http(s) URL of sane length, or None: never a ``javascript:`` link in a page."""
    if not value or len(value) > 2048:
        return None
    parts = urlsplit(value.strip())
    return value.strip() if parts.scheme in ("http", "https") and parts.netloc else None


@dataclass(frozen=True)
class LaunchRecord:
    platform_id: int
    sub: str
    name: str
    email: str | None
    locale: str | None
    org_group: str | None
    roles: tuple[str, ...]
    context_id: str
    context_title: str
    context_label: str
    resource_link_id: str | None
    resource_link_title: str
    catalogue_item: str | None = None
    placement_id: int | None = None
    widget_kinds: tuple[str, ...] = ()
    settings: dict[str, Any] = field(default_factory=dict)
    staff: bool = False
    memberships_url: str | None = None
    course_url: str | None = None
    deployment_id: str | None = None


@dataclass(frozen=True)
class RecordedLaunch:
    learner: Learner
    item: Item
    placement: Placement | None
    enrolment: Enrolment


def _get_or_create(session: Session, find: Callable[[], T | None], make: Callable[[], T]) -> T:
    found = find()
    if found is not None:
        return found
    try:
        with session.begin_nested():
            row = make()
            session.add(row)
            session.flush()
            return row
    except IntegrityError:
        found = find()
        if found is None:
            raise
        return found


def upsert_learner(session: Session, record: LaunchRecord) -> Learner:
    learner = _get_or_create(
        session,
        lambda: session.scalars(
            select(Learner).where(Learner.platform_id == record.platform_id, Learner.sub == record.sub)
        ).one_or_none(),
        lambda: Learner(platform_id=record.platform_id, sub=record.sub),
    )
    if record.name:
        learner.name = record.name[:255]
    learner.email = record.email[:320] if record.email else None
    if record.locale:
        learner.locale = record.locale[:35]
    if record.org_group:
        learner.org_group = record.org_group[:255]
    return learner


def upsert_item(
    session: Session,
    platform_id: int,
    *,
    context_id: str,
    title: str,
    label: str,
    catalogue_item: str | None = None,
    course_url: str | None = None,
) -> Item:
    """The item a course is: its LTI context, or the shared catalogue entry it names.

    A context item takes the course's current title and label; a catalogue item keeps the first
    ones it was given, since several course copies with their own titles share it.
    """
    source, key = (ItemSource.CATALOGUE, catalogue_item) if catalogue_item else (ItemSource.CONTEXT, context_id)
    item = _get_or_create(
        session,
        lambda: session.scalars(
            select(Item).where(Item.platform_id == platform_id, Item.source == source, Item.key == key)
        ).one_or_none(),
        lambda: Item(platform_id=platform_id, source=source, key=key),
    )
    if title and (source == ItemSource.CONTEXT or not item.title):
        item.title = title[:1024]
    if label and (source == ItemSource.CONTEXT or not item.label):
        item.label = label[:255]
    if context_id:
        item.context_id = context_id[:255]
    if course_url:
        item.url = course_url
    return item


def clean_widget_kinds(kinds: Sequence[str]) -> tuple[str, ...]:
    """Known widget kinds in their canonical order; all of them when none is named."""
    chosen = {k.strip().lower() for k in kinds if k and k.strip()}
    known = tuple(k for k in WIDGET_KINDS if k in chosen)
    return known or WIDGET_KINDS


def page_widgets(kinds: Sequence[str], staff: bool) -> tuple[str, ...]:
    """What the launched page shows: the placed widgets that exist, and moderation for staff."""
    shown = tuple(k for k in clean_widget_kinds(kinds) if k in LIVE_WIDGETS)
    return (*shown, "moderation") if staff and shown else shown


def upsert_placement(session: Session, record: LaunchRecord, item: Item) -> Placement | None:
    """Find the placement of this resource link, adopting or copying a deep-linked one.

    A placement made by deep linking has no resource link id until its first launch. When a
    course copy launches the same placement id through a new resource link, the copy gets its own
    placement with the same widgets and settings.
    """
    if record.resource_link_id is None:
        return None

    def by_link() -> Placement | None:
        return session.scalars(
            select(Placement).where(
                Placement.platform_id == record.platform_id, Placement.resource_link_id == record.resource_link_id
            )
        ).one_or_none()

    placement = by_link()
    origin = None
    if placement is None and record.placement_id is not None:
        origin = session.scalars(
            select(Placement).where(Placement.platform_id == record.platform_id, Placement.id == record.placement_id)
        ).one_or_none()
        if origin is not None and origin.resource_link_id is None:
            origin.resource_link_id = record.resource_link_id
            placement = origin
    if placement is None:
        # A course copy (origin already linked elsewhere) takes the origin's widgets and settings.
        title, kinds, settings = (
            (origin.title, origin.widget_kinds, origin.settings)
            if origin is not None
            else ("", clean_widget_kinds(record.widget_kinds), record.settings)
        )
        placement = _get_or_create(
            session,
            by_link,
            lambda: Placement(
                platform_id=record.platform_id,
                resource_link_id=record.resource_link_id,
                title=title,
                widget_kinds=list(kinds),
                settings=dict(settings),
            ),
        )
    placement.item_id = item.id
    if record.resource_link_title and not placement.title:
        placement.title = record.resource_link_title[:1024]
    return placement


def record_enrolment(
    session: Session,
    learner: Learner,
    item: Item,
    roles: Sequence[str],
    now: datetime | None = None,
    *,
    staff: bool = False,
    source: EnrolmentSource = EnrolmentSource.LAUNCH,
) -> Enrolment:
    """The learner took the item (or, for staff, taught it): first and last seen, roles."""
    now = now or utcnow()
    enrolment = _get_or_create(
        session,
        lambda: session.scalars(
            select(Enrolment).where(Enrolment.learner_id == learner.id, Enrolment.item_id == item.id)
        ).one_or_none(),
        lambda: Enrolment(
            platform_id=learner.platform_id,
            learner_id=learner.id,
            item_id=item.id,
            source=source,
            roles=list(roles),
            staff=staff,
            first_seen=now,
            last_seen=now,
        ),
    )
    enrolment.last_seen = max(enrolment.last_seen, now)
    enrolment.roles = list(roles)
    enrolment.staff = staff
    return enrolment


def record_roster_source(
    session: Session, platform_id: int, item: Item, context_id: str, memberships_url: str
) -> RosterSource:
    """Remember where this course's roster is; the worker fetches it when it is due."""
    source = _get_or_create(
        session,
        lambda: session.scalars(
            select(RosterSource).where(RosterSource.platform_id == platform_id, RosterSource.context_id == context_id)
        ).one_or_none(),
        lambda: RosterSource(
            platform_id=platform_id, item_id=item.id, context_id=context_id, memberships_url=memberships_url
        ),
    )
    source.memberships_url = memberships_url
    source.item_id = item.id
    return source


def record_launch(session: Session, record: LaunchRecord, now: datetime | None = None) -> RecordedLaunch:
    learner = upsert_learner(session, record)
    item = upsert_item(
        session,
        record.platform_id,
        context_id=record.context_id,
        title=record.context_title,
        label=record.context_label,
        catalogue_item=record.catalogue_item,
        course_url=record.course_url,
    )
    placement = upsert_placement(session, record, item)
    enrolment = record_enrolment(session, learner, item, record.roles, now, staff=record.staff)
    if record.memberships_url and record.context_id:
        record_roster_source(session, record.platform_id, item, record.context_id, record.memberships_url)
    session.flush()
    actor = Actor(
        platform_id=record.platform_id,
        learner_id=learner.id,
        item_id=item.id,
        staff=record.staff,
        deployment_id=record.deployment_id,
        placement_id=placement.id if placement is not None else None,
    )
    act(session, ActionKind.LAUNCHED, actor, now)
    return RecordedLaunch(learner=learner, item=item, placement=placement, enrolment=enrolment)


def create_placements(
    session: Session,
    platform_id: int,
    item: Item | None,
    choices: Sequence[tuple[str, tuple[str, ...], dict[str, Any]]],
) -> list[Placement]:
    """Placements chosen in a deep linking picker: (title, widget kinds, settings) each."""
    placements = [
        Placement(
            platform_id=platform_id,
            item_id=item.id if item else None,
            title=title[:1024],
            widget_kinds=list(clean_widget_kinds(kinds)),
            settings=dict(settings),
        )
        for title, kinds, settings in choices
    ]
    session.add_all(placements)
    session.flush()
    return placements
