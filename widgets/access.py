"""From the verified widget token to the core's Actor, Thread and placement settings.

Everything the widgets may touch is derived from the token (platform, learner, item,
placement, staff), never from ids in the request, which is what keeps one organisation, one
course and one learner from reaching another's data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import g
from sqlalchemy import select

from lti.tokens import WidgetGrant
from plugin.models import Placement
from plugin.services.actors import Actor, Thread
from plugin.web import db_session


@dataclass(frozen=True)
class WidgetSettings:
    """What the instructor chose in the deep linking picker for this placement."""

    kinds: tuple[str, ...]
    reviews_allowed: bool = True
    premoderate: bool = False
    per_placement: bool = False

    @classmethod
    def of(cls, placement: Placement | None) -> WidgetSettings:
        if placement is None:
            return cls(kinds=("ratings", "comments"))
        settings: dict[str, Any] = placement.settings or {}
        return cls(
            kinds=tuple(placement.widget_kinds or ()),
            reviews_allowed=bool(settings.get("ratings.reviews", True)),
            premoderate=bool(settings.get("comments.premoderate", False)),
            per_placement=bool(settings.get("comments.per_placement", False)),
        )


def grant() -> WidgetGrant:
    return g.grant


def actor() -> Actor:
    current = grant()
    return Actor(
        platform_id=current.platform_id,
        learner_id=current.learner_id,
        item_id=current.item_id,
        staff=current.staff,
        deployment_id=current.deployment_id,
        placement_id=current.placement_id,
    )


def placement() -> Placement | None:
    """The placement of this launch, loaded once per request."""
    if "wom_placement" not in g:
        current = grant()
        g.wom_placement = (
            db_session()
            .scalars(
                select(Placement).where(
                    Placement.platform_id == current.platform_id, Placement.id == current.placement_id
                )
            )
            .one_or_none()
            if current.placement_id is not None
            else None
        )
    return g.wom_placement


def widget_settings() -> WidgetSettings:
    return WidgetSettings.of(placement())


def thread() -> Thread:
    current = grant()
    per_placement = widget_settings().per_placement and current.placement_id is not None
    return Thread(
        platform_id=current.platform_id,
        item_id=current.item_id,
        placement_id=current.placement_id if per_placement else None,
    )
