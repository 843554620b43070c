"""The Canvas developer key configuration (``GET /lti/config/canvas.json``).

Canvas makes an LTI 1.3 tool from a developer key; its admin screen takes the key's settings as
JSON, pasted or fetched from a URL (*Admin → Developer Keys → + Developer Key → + LTI Key →
Method: Paste JSON / Enter URL*). The format is Canvas's own, described in "Configuring LTI
Advantage Tools" (https://canvas.instructure.com/doc/api/file.lti_dev_key_config.html).

What this configuration asks of Canvas, and why:

- ``oidc_initiation_url``, ``target_link_uri`` and ``public_jwk_url``: the tool's login, launch
  and key set URLs, all under ``WOM_BASE_URL`` (never the request's ``Host``).
- ``scopes``: only Names and Role Provisioning Services (``lti/nrps.py`` reads course rosters with
  it). The tool posts no grades, so no Assignment and Grade Services scope.
- ``privacy_level`` ``name_only``: the tool shows a learner's name to colleagues when the learner
  (or the platform's default) allows it, and never uses an email address; Canvas's ``public``
  would also send emails and profile pictures, which the tool would only have to store.
- placements: *Course Navigation* (a resource link launch from the course menu; it shows every
  widget), and *Link Selection* and *Editor Button* with deep linking, where an instructor picks
  the widgets (modules' "External Tool" item and the rich content editor).
- ``icon_url``: the tool's logo (``lti/static/logo.svg``, the one dynamic registration sends).
- ``custom_fields``: ``course_url`` (``lti/launch.py``), the course's page, built from Canvas's
  own address and the course id with ``${...}`` substitutions. Canvas has no substitution for a
  learner's department (https://canvas.instructure.com/doc/api/file.tools_variable_substitutions.html),
  so none is asked for: see ``docs/install-canvas.md`` for what an admin can add.

The builder is a pure function of the tool's URLs, so a unit test can read it whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from lti.claims import DEEP_LINKING_REQUEST, NAMES_ROLES_SCOPE, RESOURCE_LINK_REQUEST
from lti.launch import CUSTOM_COURSE_URL

CANVAS_PLATFORM = "canvas.instructure.com"
TOOL_ID = "wordofmouth"
TITLE = "Word of Mouth"
DESCRIPTION = "Ratings, reviews, comments, colleagues who took a course and recommendations, inside the course page."
PRIVACY_LEVEL = "name_only"
# Canvas fills each ${...} when it launches from a course; a value it cannot fill arrives with the
# ${...} left in, which the tool treats as absent (plugin/services/launches.py ``filled``).
COURSE_URL_SUBSTITUTION = "${Canvas.api.baseUrl}/courses/${Canvas.course.id}"


@dataclass(frozen=True)
class ToolUrls:
    """The absolute URLs Canvas needs, all under ``WOM_BASE_URL``."""

    login: str
    launch: str
    jwks: str
    icon: str = ""  # the tool's logo (the same one dynamic registration sends); none: Canvas's default


def placement(name: str, message_type: str, urls: ToolUrls, text: str) -> dict[str, Any]:
    entry = {"placement": name, "message_type": message_type, "target_link_uri": urls.launch, "text": text}
    if urls.icon:
        entry["icon_url"] = urls.icon
    return entry


def canvas_configuration(urls: ToolUrls) -> dict[str, Any]:
    """The developer key JSON Canvas reads (its "Paste JSON" and "Enter URL" methods)."""
    return {
        "title": TITLE,
        "description": DESCRIPTION,
        "oidc_initiation_url": urls.login,
        "target_link_uri": urls.launch,
        "public_jwk_url": urls.jwks,
        # The developer key form has a field of its own for these; newer Canvas reads them from here.
        "redirect_uris": [urls.launch],
        "scopes": [NAMES_ROLES_SCOPE],
        "extensions": [
            {
                "platform": CANVAS_PLATFORM,
                "privacy_level": PRIVACY_LEVEL,
                "domain": urlsplit(urls.launch).hostname or "",
                "tool_id": TOOL_ID,
                "settings": {
                    "text": TITLE,
                    **({"icon_url": urls.icon} if urls.icon else {}),
                    "placements": [
                        placement("course_navigation", RESOURCE_LINK_REQUEST, urls, TITLE),
                        placement("link_selection", DEEP_LINKING_REQUEST, urls, "Word of Mouth widgets"),
                        placement("editor_button", DEEP_LINKING_REQUEST, urls, "Word of Mouth widgets"),
                    ],
                },
            }
        ],
        "custom_fields": {CUSTOM_COURSE_URL: COURSE_URL_SUBSTITUTION},
    }
