"""A resource link launch through the real flow: login, signed id_token, launch."""

from __future__ import annotations

import re

import requests
from sqlalchemy import func, select

from plugin.models import Enrolment, Item, Learner, LoginState, Placement
from tests.integration.lti.conftest import Tool
from tests.support.lti_platform import LTI, LmsPlatform


def widget_token(page: str) -> str:
    match = re.search(r'data-token="([^"]+)"', page)
    assert match, page
    return match.group(1)


def test_launch_records_learner_item_placement_and_enrolment(tool: Tool, lms: LmsPlatform, browser) -> None:
    response = lms.launch(browser, tool.url)
    assert response.status_code == 200, response.text
    assert response.headers["Cache-Control"] == "no-store"
    assert "Ada Lovelace" in response.text
    assert "Safety at Work" in response.text

    session = tool.session()
    learner = session.scalars(select(Learner)).one()
    assert (learner.sub, learner.name, learner.email, learner.locale, learner.org_group) == (
        "user-1",
        "Ada Lovelace",
        "ada@example.org",
        "en-GB",
        "Logistics",
    )
    item = session.scalars(select(Item)).one()
    assert (item.key, item.title, item.label) == ("course-1", "Safety at Work", "SAFE101")
    placement = session.scalars(select(Placement)).one()
    assert placement.resource_link_id == "resource-link-1"
    assert placement.item_id == item.id
    enrolment = session.scalars(select(Enrolment)).one()
    assert enrolment.learner_id == learner.id and enrolment.item_id == item.id
    assert enrolment.roles == ["http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"]
    first_seen = enrolment.first_seen
    session.close()

    again = lms.launch(browser, tool.url)
    assert again.status_code == 200
    session = tool.session()
    enrolment = session.scalars(select(Enrolment)).one()
    assert enrolment.first_seen == first_seen
    assert enrolment.last_seen >= first_seen
    assert session.scalar(select(func.count()).select_from(Learner)) == 1
    session.close()


def test_widget_api_accepts_the_token_from_the_launch_and_nothing_else(tool: Tool, lms: LmsPlatform, browser) -> None:
    page = lms.launch(browser, tool.url).text
    token = widget_token(page)
    fresh = requests.get(tool.url + "/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert fresh.status_code == 200
    body = fresh.json()
    assert body["learner"]["name"] == "Ada Lovelace"
    assert body["item"]["title"] == "Safety at Work"
    assert body["staff"] is False
    assert body["placement"]["widget_kinds"] == ["ratings", "comments", "colleagues", "recommendations"]

    missing = requests.get(tool.url + "/api/v1/me")
    assert missing.status_code == 401
    assert missing.headers["Content-Type"] == "application/problem+json"
    forged = requests.get(tool.url + "/api/v1/me", headers={"Authorization": f"Bearer {token[:-2]}xx"})
    assert forged.status_code == 401


def test_expired_widget_token_says_reload(tool: Tool, lms: LmsPlatform, browser) -> None:
    import pytest

    from lti.tokens import SessionExpiredError, read_widget_token

    token = widget_token(lms.launch(browser, tool.url).text)
    with tool.app.test_request_context(), pytest.raises(SessionExpiredError, match="Reload the page to continue"):
        read_widget_token(token, max_age=-1)


def test_concurrent_launches_with_one_state_let_exactly_one_through(tool: Tool, lms: LmsPlatform, browser) -> None:
    from concurrent.futures import ThreadPoolExecutor

    redirect = lms.login(browser, tool.url)
    id_token = lms.sign(lms.claims(redirect.nonce, tool.url))

    def post(_: int) -> int:
        return requests.post(redirect.redirect_uri, data={"id_token": id_token, "state": redirect.state}).status_code

    with ThreadPoolExecutor(max_workers=4) as pool:
        statuses = sorted(pool.map(post, range(4)))
    assert statuses == [200, 401, 401, 401]


def test_login_by_get_works_too(tool: Tool, lms: LmsPlatform, browser) -> None:
    response = lms.launch(browser, tool.url, login={"method": "get"})
    assert response.status_code == 200, response.text


def test_login_redirect_carries_the_oidc_parameters(tool: Tool, lms: LmsPlatform, browser) -> None:
    redirect = lms.login(browser, tool.url)
    assert redirect.params["scope"] == "openid"
    assert redirect.params["response_type"] == "id_token"
    assert redirect.params["response_mode"] == "form_post"
    assert redirect.params["prompt"] == "none"
    assert redirect.params["client_id"] == lms.client_id
    assert redirect.params["login_hint"] == "user-1"
    assert redirect.params["lti_message_hint"] == "resource-link-1"
    assert redirect.redirect_uri == tool.url + "/lti/launch"
    session = tool.session()
    row = session.scalars(select(LoginState)).one()
    assert row.state == redirect.state and row.nonce == redirect.nonce and row.used_at is None
    session.close()


def test_login_sets_a_partitioned_binding_cookie(tool: Tool, lms: LmsPlatform, browser) -> None:
    response = lms.post_login(browser, tool.url, client_id=lms.client_id)
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("wom_lti_")
    for attribute in ("Secure", "HttpOnly", "SameSite=None", "Partitioned", "Path=/lti;"):
        assert attribute in cookie


def test_unfilled_substitution_variables_count_as_absent(tool: Tool, lms: LmsPlatform, browser) -> None:
    response = lms.launch(browser, tool.url, claims={LTI + "custom": {"department": "$Canvas.user.department"}})
    assert response.status_code == 200
    session = tool.session()
    assert session.scalars(select(Learner)).one().org_group is None
    session.close()


def test_catalogue_item_joins_course_copies(tool: Tool, lms: LmsPlatform, browser) -> None:
    for context_id, link in (("course-1", "link-a"), ("course-1-copy", "link-b")):
        response = lms.launch(
            browser,
            tool.url,
            claims={
                LTI + "context": {"id": context_id, "title": "Safety at Work"},
                LTI + "resource_link": {"id": link},
                LTI + "custom": {"wom_item": "catalogue-safety"},
            },
        )
        assert response.status_code == 200, response.text
    session = tool.session()
    item = session.scalars(select(Item)).one()
    assert (item.source.value, item.key) == ("catalogue", "catalogue-safety")
    assert session.scalar(select(func.count()).select_from(Placement)) == 2
    session.close()


def test_two_platforms_never_share_learners(tool: Tool, lms: LmsPlatform, browser) -> None:
    from tests.integration.lti.conftest import register
    from tests.support.lti_platform import running_platform

    with running_platform("https://other-lms.example.org") as other:
        register(tool, other)
        assert lms.launch(browser, tool.url).status_code == 200
        assert other.launch(browser, tool.url).status_code == 200
    session = tool.session()
    learners = session.scalars(select(Learner)).all()
    assert len(learners) == 2
    assert len({learner.platform_id for learner in learners}) == 2
    assert session.scalar(select(func.count()).select_from(Item)) == 2
    session.close()


def test_login_without_client_id_uses_the_issuers_only_registration(tool: Tool, lms: LmsPlatform, browser) -> None:
    response = lms.launch(browser, tool.url, login={"client_id": None, "lti_storage_target": "_parent"})
    assert response.status_code == 200, response.text


def test_login_without_client_id_is_refused_when_the_issuer_has_several(tool: Tool, lms: LmsPlatform, browser) -> None:
    from tests.integration.lti.conftest import register
    from tests.support.lti_platform import LmsPlatform as Platform

    register(tool, Platform(issuer=lms.issuer, client_id="second-client", base_url=lms.base_url))
    response = lms.post_login(browser, tool.url)
    assert response.status_code == 400
    assert "several registrations" in response.text
    assert lms.launch(browser, tool.url).status_code == 200  # with client_id it is unambiguous
