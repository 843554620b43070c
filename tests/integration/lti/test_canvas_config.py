"""``GET /lti/config/canvas.json``: the developer key JSON Canvas reads, every URL in it served here."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from sqlalchemy import select

from lti.canvas_config import COURSE_URL_SUBSTITUTION
from plugin.models import Item
from tests.integration.lti.conftest import Tool
from tests.support.lti_platform import LTI, LmsPlatform

NRPS_SCOPE = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"


def config(tool: Tool, **headers: str) -> dict[str, Any]:
    response = requests.get(tool.url + "/lti/config/canvas.json", headers=headers, timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["Cache-Control"] == "public, max-age=300"
    return response.json()


def urls_in(value: Any) -> list[str]:
    """Every string in the document that looks like a URL (``${...}`` substitutions are not URLs)."""
    if isinstance(value, dict):
        return [u for v in value.values() for u in urls_in(v)]
    if isinstance(value, list):
        return [u for v in value for u in urls_in(v)]
    return [value] if isinstance(value, str) and value.startswith(("http://", "https://")) else []


def test_the_required_keys_and_what_canvas_reads(tool: Tool) -> None:
    document = config(tool)
    for key in ("title", "description", "oidc_initiation_url", "target_link_uri", "public_jwk_url", "scopes"):
        assert document[key], key
    assert document["oidc_initiation_url"] == tool.url + "/lti/login"
    assert document["target_link_uri"] == tool.url + "/lti/launch"
    assert document["redirect_uris"] == [tool.url + "/lti/launch"]
    assert document["public_jwk_url"] == tool.url + "/lti/jwks"
    assert document["scopes"] == [NRPS_SCOPE]
    (extension,) = document["extensions"]
    assert extension["platform"] == "canvas.instructure.com"
    assert extension["privacy_level"] == "name_only"
    assert extension["domain"] == "127.0.0.1"
    assert extension["tool_id"] == "wordofmouth"


def test_placements_and_their_message_types(tool: Tool) -> None:
    placements = {p["placement"]: p for p in config(tool)["extensions"][0]["settings"]["placements"]}
    assert {name: p["message_type"] for name, p in placements.items()} == {
        "course_navigation": "LtiResourceLinkRequest",
        "link_selection": "LtiDeepLinkingRequest",
        "editor_button": "LtiDeepLinkingRequest",
    }
    for p in placements.values():
        assert p["target_link_uri"] == tool.url + "/lti/launch"
        assert p["text"]


def test_custom_fields_ask_for_the_course_url_only(tool: Tool) -> None:
    # Canvas has no substitution for a learner's department (docs/install-canvas.md says what to add).
    assert config(tool)["custom_fields"] == {"course_url": "${Canvas.api.baseUrl}/courses/${Canvas.course.id}"}


def test_every_url_is_under_the_base_url_whatever_the_host_header(tool: Tool) -> None:
    honest = config(tool)
    forged = {"Host": "evil.example:666", "X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https"}
    hostile = config(tool, **forged)
    assert hostile == honest
    found = urls_in({k: v for k, v in honest.items() if k != "scopes"})  # scopes are names, not addresses
    assert len(found) >= 11  # login, launch, jwks, redirect URI, three placements and their icons, the icon
    assert [url for url in found if not url.startswith(tool.url + "/")] == []


def test_the_login_url_starts_a_login_that_returns_to_the_redirect_uri(tool: Tool, lms: LmsPlatform, browser) -> None:
    document = config(tool)
    redirect = lms.login(browser, tool.url, method="get", target_link_uri=document["target_link_uri"])
    assert redirect.redirect_uri in document["redirect_uris"]
    assert redirect.params["client_id"] == lms.client_id


def test_the_launch_url_accepts_a_launch_with_the_course_url_canvas_fills(
    tool: Tool, lms: LmsPlatform, browser
) -> None:
    document = config(tool)
    canvas_filled = COURSE_URL_SUBSTITUTION.replace("${Canvas.api.baseUrl}", "https://school.instructure.com").replace(
        "${Canvas.course.id}", "42"
    )
    response = lms.launch(
        browser,
        tool.url,
        claims={LTI + "target_link_uri": document["target_link_uri"], LTI + "custom": {"course_url": canvas_filled}},
    )
    assert response.status_code == 200, response.text
    session = tool.session()
    try:
        assert session.scalars(select(Item)).one().url == "https://school.instructure.com/courses/42"
    finally:
        session.close()


@pytest.mark.parametrize(
    "unfilled",
    [
        "${Canvas.api.baseUrl}/courses/${Canvas.course.id}",
        "https://school.instructure.com/courses/${Canvas.course.id}",
        "$Canvas.course.id",
    ],
)
def test_a_course_url_canvas_could_not_fill_counts_as_absent(
    tool: Tool, lms: LmsPlatform, browser, unfilled: str
) -> None:
    response = lms.launch(browser, tool.url, claims={LTI + "custom": {"course_url": unfilled}})
    assert response.status_code == 200, response.text
    session = tool.session()
    try:
        assert session.scalars(select(Item)).one().url is None
    finally:
        session.close()


def test_the_icon_is_served(tool: Tool) -> None:
    settings = config(tool)["extensions"][0]["settings"]
    assert settings["icon_url"] == tool.url + "/lti/static/logo.svg"
    response = requests.get(settings["icon_url"], timeout=10)
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("image/svg+xml")


def test_the_key_set_url_serves_the_tools_keys(tool: Tool) -> None:
    response = requests.get(config(tool)["public_jwk_url"], timeout=10)
    assert response.status_code == 200
    keys = response.json()["keys"]
    assert keys and all(k["kty"] == "RSA" and k["kid"] for k in keys)
