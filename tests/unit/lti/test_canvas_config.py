"""The Canvas developer key configuration, as a pure function of the tool's URLs."""

from __future__ import annotations

import json

from lti.canvas_config import ToolUrls, canvas_configuration
from plugin.services.launches import filled

URLS = ToolUrls(
    login="https://wom.example.org/tool/lti/login",
    launch="https://wom.example.org/tool/lti/launch",
    jwks="https://wom.example.org/tool/lti/jwks",
)


def test_the_whole_document() -> None:
    assert canvas_configuration(URLS) == {
        "title": "Word of Mouth",
        "description": (
            "Ratings, reviews, comments, colleagues who took a course and recommendations, inside the course page."
        ),
        "oidc_initiation_url": "https://wom.example.org/tool/lti/login",
        "target_link_uri": "https://wom.example.org/tool/lti/launch",
        "public_jwk_url": "https://wom.example.org/tool/lti/jwks",
        "redirect_uris": ["https://wom.example.org/tool/lti/launch"],
        "scopes": ["https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"],
        "extensions": [
            {
                "platform": "canvas.instructure.com",
                "privacy_level": "name_only",
                "domain": "wom.example.org",
                "tool_id": "wordofmouth",
                "settings": {
                    "text": "Word of Mouth",
                    "placements": [
                        {
                            "placement": "course_navigation",
                            "message_type": "LtiResourceLinkRequest",
                            "target_link_uri": "https://wom.example.org/tool/lti/launch",
                            "text": "Word of Mouth",
                        },
                        {
                            "placement": "link_selection",
                            "message_type": "LtiDeepLinkingRequest",
                            "target_link_uri": "https://wom.example.org/tool/lti/launch",
                            "text": "Word of Mouth widgets",
                        },
                        {
                            "placement": "editor_button",
                            "message_type": "LtiDeepLinkingRequest",
                            "target_link_uri": "https://wom.example.org/tool/lti/launch",
                            "text": "Word of Mouth widgets",
                        },
                    ],
                },
            }
        ],
        "custom_fields": {"course_url": "${Canvas.api.baseUrl}/courses/${Canvas.course.id}"},
    }


def test_an_icon_goes_to_the_tool_and_every_placement() -> None:
    urls = ToolUrls(login=URLS.login, launch=URLS.launch, jwks=URLS.jwks, icon="https://wom.example.org/i.svg")
    settings = canvas_configuration(urls)["extensions"][0]["settings"]
    assert settings["icon_url"] == "https://wom.example.org/i.svg"
    assert {p["icon_url"] for p in settings["placements"]} == {"https://wom.example.org/i.svg"}


def test_the_domain_is_the_host_without_a_port() -> None:
    urls = ToolUrls(login="http://localhost:5000/lti/login", launch="http://localhost:5000/lti/launch", jwks="x")
    assert canvas_configuration(urls)["extensions"][0]["domain"] == "localhost"


def test_it_is_plain_json() -> None:
    document = canvas_configuration(URLS)
    assert json.loads(json.dumps(document)) == document


def test_substitutions_canvas_left_unfilled_count_as_absent() -> None:
    assert filled("${Canvas.api.baseUrl}/courses/${Canvas.course.id}") is None
    assert filled("https://school.instructure.com/courses/${Canvas.course.id}") is None
    assert filled("$Canvas.account.name") is None
    assert filled("https://school.instructure.com/courses/42") == "https://school.instructure.com/courses/42"
    assert filled("R&D $ budget") == "R&D $ budget"
