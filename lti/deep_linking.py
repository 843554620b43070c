"""Deep Linking 2.0: the instructor's picker and the signed response.

Spec: https://www.imsglobal.org/spec/lti-dl/v2p0. The response is an ``LtiDeepLinkingResponse``
JWT of ``ltiResourceLink`` items, signed by pylti1p3 with our active key. Each item's custom
parameters carry the placement id and the chosen widgets, so the choice survives course copies
(which give the link a new resource link id).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from pylti1p3.deep_link import DeepLink
from pylti1p3.deep_link_resource import DeepLinkResource

from lti.launch import CUSTOM_PLACEMENT, CUSTOM_SETTINGS, CUSTOM_WIDGETS
from plugin.models import Placement
from plugin.services.launches import WIDGET_KINDS, WIDGET_TITLES

# Per-widget settings the picker offers: name -> (label, kind, default).
WIDGET_SETTINGS: dict[str, dict[str, tuple[str, str, Any]]] = {
    "ratings": {"reviews": ("Allow written reviews", "bool", True)},
    "comments": {
        "premoderate": ("Hold new comments until an instructor approves them", "bool", False),
        "per_placement": ("A discussion of its own here (instead of one for the whole course)", "bool", False),
    },
    "colleagues": {"min_count": ("Hide counts of colleagues smaller than", "int", 5)},
    "recommendations": {"count": ("Number of recommendations", "int", 5)},
}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
INT_LIMITS = {"min_count": (3, 50), "count": (1, 20)}


@dataclass(frozen=True)
class Choice:
    title: str
    kinds: tuple[str, ...]
    settings: dict[str, Any]


def parse_choices(form: Any, accept_multiple: bool) -> list[Choice]:
    """Read the picker form: chosen widgets, optional title, per-widget settings, layout."""
    kinds = tuple(k for k in WIDGET_KINDS if form.get(f"widget_{k}"))
    if not kinds:
        raise ValueError("Choose at least one widget.")
    settings: dict[str, Any] = {}
    for kind in kinds:
        for name, (_label, value_kind, default) in WIDGET_SETTINGS[kind].items():
            raw = form.get(f"{kind}_{name}")
            if value_kind == "bool":
                settings[f"{kind}.{name}"] = raw is not None
            else:
                low, high = INT_LIMITS[name]
                try:
                    value = int(raw) if raw not in (None, "") else default
                except ValueError as exc:
                    raise ValueError(f"{WIDGET_SETTINGS[kind][name][0]} must be a whole number.") from exc
                if not low <= value <= high:
                    raise ValueError(f"{WIDGET_SETTINGS[kind][name][0]} must be between {low} and {high}.")
                settings[f"{kind}.{name}"] = value
    title = _CONTROL.sub("", form.get("title") or "").strip()[:200]  # no NUL (PostgreSQL) or line breaks
    if form.get("layout") == "separate" and len(kinds) > 1:
        if not accept_multiple:
            raise ValueError("This LMS accepts one link at a time: choose 'one link for all widgets'.")
        return [
            Choice(
                title=f"{title}: {WIDGET_TITLES[k]}" if title else WIDGET_TITLES[k],
                kinds=(k,),
                settings={key: v for key, v in settings.items() if key.startswith(k + ".")},
            )
            for k in kinds
        ]
    return [Choice(title=title or "Word of Mouth", kinds=kinds, settings=settings)]


def resource_for(placement: Placement, launch_url: str) -> DeepLinkResource:
    custom = {CUSTOM_PLACEMENT: str(placement.id), CUSTOM_WIDGETS: ",".join(placement.widget_kinds)}
    if placement.settings:
        custom[CUSTOM_SETTINGS] = json.dumps(placement.settings, separators=(",", ":"), sort_keys=True)
    return (
        DeepLinkResource().set_url(launch_url).set_title(placement.title).set_custom_params(custom).set_target("iframe")
    )


class ResponseDeepLink(DeepLink):
    """pylti1p3's DeepLink, but ``data`` is echoed only when the platform sent it."""

    def get_message_jwt(self, resources: Any) -> dict[str, object]:
        message = super().get_message_jwt(resources)
        key = "https://purl.imsglobal.org/spec/lti-dl/claim/data"
        if message.get(key) is None:
            message.pop(key, None)
        return message
