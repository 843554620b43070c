"""From a validated :class:`LaunchContext` to what the core records and the page it shows."""

from __future__ import annotations

import json
from typing import Any

from lti.context import LaunchContext
from plugin.services.launches import LaunchRecord, filled, http_url

CUSTOM_ITEM = "wom_item"
CUSTOM_PLACEMENT = "wom_placement"
CUSTOM_WIDGETS = "wom_widgets"
CUSTOM_SETTINGS = "wom_settings"
# The course page in the LMS, when the admin adds it as a custom parameter (e.g. Canvas
# "course_url=$Canvas.course.url"-style substitutions); otherwise the platform's URL template.
CUSTOM_COURSE_URL = "course_url"


def _settings(raw: str | None) -> dict[str, Any]:
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _group(raw: str | None) -> str | None:
    group = filled(raw)
    return group[:255] if group else None


def to_launch_record(ctx: LaunchContext, group_parameter: str) -> LaunchRecord:
    placement = filled(ctx.custom.get(CUSTOM_PLACEMENT))
    widgets = filled(ctx.custom.get(CUSTOM_WIDGETS)) or ""
    return LaunchRecord(
        platform_id=ctx.platform_id,
        sub=ctx.sub,
        name=ctx.name,
        email=ctx.email,
        locale=ctx.locale,
        org_group=_group(ctx.custom.get(group_parameter)) if group_parameter else None,
        roles=ctx.roles,
        staff=ctx.is_staff,
        context_id=ctx.context_id or "",
        context_title=ctx.context_title,
        context_label=ctx.context_label,
        resource_link_id=ctx.resource_link_id,
        resource_link_title=ctx.resource_link_title,
        catalogue_item=filled(ctx.custom.get(CUSTOM_ITEM)),
        placement_id=int(placement) if placement and placement.isascii() and placement.isdigit() else None,
        widget_kinds=tuple(w for w in widgets.split(",") if w),
        settings=_settings(filled(ctx.custom.get(CUSTOM_SETTINGS))),
        memberships_url=ctx.memberships_url,
        course_url=http_url(filled(ctx.custom.get(CUSTOM_COURSE_URL))),
        deployment_id=ctx.deployment_id,
    )
