"""Deep Linking 2.0: an instructor picks widgets; the LMS gets a signed response; launches follow it."""

from __future__ import annotations

import html
import re
from typing import Any

import jwt
import requests
from jwt.algorithms import RSAAlgorithm
from sqlalchemy import select

from plugin.models import Placement
from tests.integration.lti.conftest import Tool
from tests.support.lti_platform import INSTRUCTOR, LTI, REMOVE, LmsPlatform

DL = "https://purl.imsglobal.org/spec/lti-dl/claim/"


def deep_linking_claims(lms: LmsPlatform, *, accept_multiple: bool = True, roles: list[str] | None = None) -> dict:
    return {
        LTI + "message_type": "LtiDeepLinkingRequest",
        LTI + "roles": roles or [INSTRUCTOR],
        LTI + "resource_link": REMOVE,
        DL + "deep_linking_settings": {
            "deep_link_return_url": lms.issuer + "/deep-link-return",
            "accept_types": ["ltiResourceLink"],
            "accept_presentation_document_targets": ["iframe", "window"],
            "accept_multiple": accept_multiple,
            "data": "opaque-platform-data",
        },
    }


def hidden(page: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert match, page
    return html.unescape(match.group(1))


def verify_response(tool: Tool, lms: LmsPlatform, page: str) -> dict[str, Any]:
    assert f'action="{lms.issuer}/deep-link-return"' in page
    token = hidden(page, "JWT")
    jwks = requests.get(tool.url + "/lti/jwks").json()
    kid = jwt.get_unverified_header(token)["kid"]
    key = next(k for k in jwks["keys"] if k["kid"] == kid)
    return jwt.decode(
        token, RSAAlgorithm.from_jwk(key), algorithms=["RS256"], audience=lms.issuer, issuer=lms.client_id
    )


def picker(tool: Tool, lms: LmsPlatform, browser, **kwargs: Any) -> str:
    response = lms.launch(browser, tool.url, claims=deep_linking_claims(lms, **kwargs))
    assert response.status_code == 200, response.text
    assert "Place Word of Mouth in Safety at Work" in response.text
    return response.text


def test_instructor_places_widgets_and_the_lms_gets_a_signed_response(tool: Tool, lms: LmsPlatform, browser) -> None:
    page = picker(tool, lms, browser)
    response = browser.post(
        tool.url + "/lti/deep-linking/respond",
        data={
            "dl_token": hidden(page, "dl_token"),
            "title": "Reviews & talk",
            "widget_ratings": "1",
            "ratings_reviews": "1",
            "widget_comments": "1",
            "layout": "together",
        },
    )
    assert response.status_code == 200, response.text
    message = verify_response(tool, lms, response.text)
    assert message[LTI + "message_type"] == "LtiDeepLinkingResponse"
    assert message[LTI + "version"] == "1.3.0"
    assert message[LTI + "deployment_id"] == lms.deployment_id
    assert message[DL + "data"] == "opaque-platform-data"
    (content,) = message[DL + "content_items"]
    assert content["type"] == "ltiResourceLink"
    assert content["title"] == "Reviews & talk"
    assert content["url"] == tool.url + "/lti/launch"
    assert content["custom"]["wom_widgets"] == "ratings,comments"
    placement_id = int(content["custom"]["wom_placement"])

    session = tool.session()
    placement = session.get(Placement, placement_id)
    assert placement.resource_link_id is None
    assert placement.settings == {
        "ratings.reviews": True,
        "comments.premoderate": False,
        "comments.per_placement": False,
    }
    session.close()

    # The LMS creates the link; its first launch adopts the placement, a course copy gets its own.
    for link in ("new-link-1", "copied-link-7"):
        launched = lms.launch(
            browser, tool.url, claims={LTI + "resource_link": {"id": link}, LTI + "custom": content["custom"]}
        )
        assert launched.status_code == 200, launched.text
        assert 'data-widget="ratings"' in launched.text and 'data-widget="comments"' in launched.text
        assert "Recommended for you" not in launched.text
    session = tool.session()
    placements = {p.resource_link_id: p for p in session.scalars(select(Placement))}
    assert placements["new-link-1"].id == placement_id
    assert placements["copied-link-7"].id != placement_id
    assert placements["copied-link-7"].widget_kinds == ["ratings", "comments"]
    assert placements["copied-link-7"].settings == placement.settings
    session.close()


def test_one_link_per_widget_when_the_platform_accepts_several(tool: Tool, lms: LmsPlatform, browser) -> None:
    page = picker(tool, lms, browser)
    response = browser.post(
        tool.url + "/lti/deep-linking/respond",
        data={
            "dl_token": hidden(page, "dl_token"),
            "widget_colleagues": "1",
            "colleagues_min_count": "7",
            "widget_recommendations": "1",
            "recommendations_count": "3",
            "layout": "separate",
        },
    )
    items = verify_response(tool, lms, response.text)[DL + "content_items"]
    assert [i["custom"]["wom_widgets"] for i in items] == ["colleagues", "recommendations"]
    assert [i["title"] for i in items] == ["Colleagues who took this", "Recommended for you"]


def test_picker_without_multiple_offers_one_link(tool: Tool, lms: LmsPlatform, browser) -> None:
    page = picker(tool, lms, browser, accept_multiple=False)
    assert 'value="separate"' not in page
    response = browser.post(
        tool.url + "/lti/deep-linking/respond",
        data={
            "dl_token": hidden(page, "dl_token"),
            "widget_ratings": "1",
            "widget_comments": "1",
            "layout": "separate",
        },
    )
    assert response.status_code == 422
    assert "accepts one link at a time" in response.text


def test_picker_input_errors_are_shown_in_the_form(tool: Tool, lms: LmsPlatform, browser) -> None:
    token = hidden(picker(tool, lms, browser), "dl_token")
    none_chosen = browser.post(tool.url + "/lti/deep-linking/respond", data={"dl_token": token})
    assert none_chosen.status_code == 422 and "Choose at least one widget" in none_chosen.text
    out_of_range = browser.post(
        tool.url + "/lti/deep-linking/respond",
        data={"dl_token": token, "widget_colleagues": "1", "colleagues_min_count": "1"},
    )
    assert out_of_range.status_code == 422 and "between 3 and 50" in out_of_range.text
    not_a_number = browser.post(
        tool.url + "/lti/deep-linking/respond",
        data={"dl_token": token, "widget_recommendations": "1", "recommendations_count": "many"},
    )
    assert not_a_number.status_code == 422 and "whole number" in not_a_number.text


def test_picker_submit_needs_the_token_we_issued(tool: Tool, lms: LmsPlatform, browser) -> None:
    token = hidden(picker(tool, lms, browser), "dl_token")
    missing = browser.post(tool.url + "/lti/deep-linking/respond", data={"widget_ratings": "1"})
    assert missing.status_code == 403
    tampered = browser.post(
        tool.url + "/lti/deep-linking/respond", data={"dl_token": token[:-3] + "abc", "widget_ratings": "1"}
    )
    assert tampered.status_code == 403
    assert "not issued by Word of Mouth" in tampered.text
    session = tool.session()
    assert session.scalars(select(Placement)).all() == []
    session.close()


def test_learners_cannot_place_widgets(tool: Tool, lms: LmsPlatform, browser) -> None:
    response = lms.launch(
        browser,
        tool.url,
        claims=deep_linking_claims(lms, roles=["http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"]),
    )
    assert response.status_code == 403
    assert "only instructors and administrators can place" in response.text


def test_responses_keep_verifying_across_a_tool_key_rotation(tool: Tool, lms: LmsPlatform, browser) -> None:
    def respond() -> str:
        page = picker(tool, lms, browser)
        return browser.post(
            tool.url + "/lti/deep-linking/respond", data={"dl_token": hidden(page, "dl_token"), "widget_ratings": "1"}
        ).text

    before = respond()
    first_kid = jwt.get_unverified_header(hidden(before, "JWT"))["kid"]
    published = {k["kid"] for k in requests.get(tool.url + "/lti/jwks").json()["keys"]}
    assert len(published) == 2 and first_kid in published
    next_kid = (published - {first_kid}).pop()

    result = tool.app.test_cli_runner().invoke(args=["keys", "rotate"])
    assert result.exit_code == 0, result.output
    assert f"now signing with {next_kid}" in result.output

    verify_response(tool, lms, before)  # signed by the retired key, still published
    after = respond()
    assert jwt.get_unverified_header(hidden(after, "JWT"))["kid"] == next_kid
    verify_response(tool, lms, after)
    keys = requests.get(tool.url + "/lti/jwks").json()["keys"]
    assert len(keys) == 3
    assert all(k["alg"] == "RS256" and k["use"] == "sig" and "d" not in k for k in keys)
