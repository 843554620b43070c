"""Who is acting, and where: what every social service checks before it reads or writes.

The LTI adapter builds an :class:`Actor` from a verified widget token. Services scope every query
by ``platform_id`` and ``item_id`` from here, never from ids in the request body, so a learner
acts only as themselves, on the item of their own launch, inside their own organisation.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    platform_id: int
    learner_id: int
    item_id: int
    staff: bool = False
    # Where the action happened, for the record it leaves (xAPI context); optional everywhere else.
    deployment_id: str | None = None
    placement_id: int | None = None


@dataclass(frozen=True)
class Thread:
    """A discussion: every comment of an item, or of one placement when the instructor chose that."""

    platform_id: int
    item_id: int
    placement_id: int | None = None
