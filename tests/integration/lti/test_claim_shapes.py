"""Claims and login parameters of the wrong type or size are a clear 400, never a 500 (checked on both backends)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from plugin.models import Learner, LoginState
from tests.integration.lti.conftest import Tool
from tests.integration.lti.test_deep_linking import DL, deep_linking_claims
from tests.support.lti_platform import LTI, LmsPlatform

LONG_ID = "x" * 256


def _assert_clear_400(response, *phrases: str) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == 400, response.text
    assert response.headers["Content-Type"].startswith("text/html")
    for phrase in phrases:
        assert phrase in response.text, response.text


def _count(tool: Tool, model: type) -> int:
    session = tool.session()
    try:
        return session.scalar(select(func.count()).select_from(model)) or 0
    finally:
        session.close()


def test_a_login_target_link_uri_over_2048_characters_is_refused(tool: Tool, lms: LmsPlatform, browser) -> None:
    long_target = tool.url + "/lti/launch?" + "a" * 2100
    response = lms.post_login(browser, tool.url, target_link_uri=long_target)
    _assert_clear_400(response, "login parameter &#39;target_link_uri&#39; is not acceptable", "longer than 2048")
    assert _count(tool, LoginState) == 0


@pytest.mark.parametrize(
    ("name", "value"),
    [("login_hint", "h" * 5000), ("client_id", LONG_ID), ("lti_deployment_id", LONG_ID), ("iss", "i" * 2100)],
)
def test_other_over_long_login_parameters_are_refused(
    tool: Tool, lms: LmsPlatform, browser, name: str, value: str
) -> None:
    _assert_clear_400(lms.post_login(browser, tool.url, **{name: value}), f"&#39;{name}&#39; is not acceptable")


CASES: list[tuple[dict[str, Any], str]] = [
    ({"sub": LONG_ID}, "&#39;sub&#39; is not acceptable: must be between 1 and 255 characters long"),
    ({LTI + "context": {"id": LONG_ID, "title": "T"}}, "&#39;context.id&#39; is not acceptable"),
    ({LTI + "resource_link": {"id": LONG_ID}}, "&#39;resource_link.id&#39; is not acceptable"),
    ({LTI + "custom": {"wom_item": LONG_ID}}, "&#39;custom.wom_item&#39; is not acceptable"),
    ({LTI + "custom": {"wom_placement": "²"}}, "&#39;custom.wom_placement&#39; is not acceptable"),
    ({LTI + "custom": {"wom_placement": "99999999999"}}, "&#39;custom.wom_placement&#39; is not acceptable"),
    ({LTI + "custom": {"wom_placement": "-1"}}, "&#39;custom.wom_placement&#39; is not acceptable"),
    ({LTI + "custom": "department=Logistics"}, "&#39;custom&#39; is not acceptable"),
    ({LTI + "custom": {"department": {"nested": 1}}}, "&#39;custom.department&#39; is not acceptable"),
    ({"given_name": ["Ada"], "name": None}, "&#39;given_name&#39; is not acceptable: Not a valid string"),
    ({"name": 42}, "&#39;name&#39; is not acceptable: Not a valid string"),
    ({"email": {"a": 1}}, "&#39;email&#39; is not acceptable"),
    ({LTI + "context": "course-1"}, "&#39;context&#39; is not acceptable: not a JSON object"),
    ({LTI + "launch_presentation": ["iframe"]}, "&#39;launch_presentation&#39; is not acceptable"),
    ({LTI + "roles": ["Learner", 7]}, "&#39;roles.1&#39; is not acceptable"),
    ({LTI + "target_link_uri": 12}, "&#39;target_link_uri&#39; is not acceptable"),
]


@pytest.mark.parametrize(("claims", "phrase"), CASES, ids=[c[1].split("&#39;")[1] for c in CASES])
def test_claims_of_the_wrong_type_or_size_are_a_clear_400(
    tool: Tool, lms: LmsPlatform, browser, claims: dict[str, Any], phrase: str
) -> None:
    _assert_clear_400(lms.launch(browser, tool.url, claims=claims), phrase)
    assert _count(tool, Learner) == 0


@pytest.mark.parametrize("settings", ["https://lms.example.org/return", ["a"], 3])
def test_deep_linking_settings_that_are_not_an_object_are_a_clear_400(
    tool: Tool, lms: LmsPlatform, browser, settings: object
) -> None:
    claims = deep_linking_claims(lms)
    claims[DL + "deep_linking_settings"] = settings
    _assert_clear_400(lms.launch(browser, tool.url, claims=claims), "deep linking settings claim is not a JSON object")


def test_long_display_texts_are_cut_not_refused(tool: Tool, lms: LmsPlatform, browser) -> None:
    response = lms.launch(
        browser,
        tool.url,
        claims={
            "name": "N" * 400,
            "email": "e" * 400 + "@example.org",
            LTI + "context": {"id": "course-1", "title": "T" * 3000, "label": "L" * 400},
            LTI + "custom": {"department": "D" * 400, "wom_placement": "$ResourceLink.id"},
            LTI + "launch_presentation": {"locale": "de-" + "x" * 100},
        },
    )
    assert response.status_code == 200, response.text
    session = tool.session()
    try:
        learner = session.scalars(select(Learner)).one()
        assert learner.name == "N" * 255 and learner.email is None and learner.org_group == "D" * 255
    finally:
        session.close()
