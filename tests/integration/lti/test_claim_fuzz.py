"""Property-based: random claim shapes and sizes at login, launch and deep linking never give a 5xx.

Every example goes through the real flow (OIDC login, an id_token signed with the test LMS's key,
the launch, the picker's submit) on each backend; a refusal must be a 4xx page, never a 500.
"""

from __future__ import annotations

import html
import re
from typing import Any

import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.integration.lti.conftest import Tool
from tests.integration.lti.test_deep_linking import DL, deep_linking_claims
from tests.support.lti_platform import LTI, REMOVE, LmsPlatform

FUZZ = settings(
    max_examples=30,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)

tricky_text = st.sampled_from(
    ["", " ", "²", "٣", "99999999999", "-1", "0", "1", "$Canvas.user.id", "${Person.x}", "\r\nX: y", "null", "{}"]
)
texts = st.one_of(st.text(max_size=12), st.text(min_size=250, max_size=300), tricky_text)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    texts,
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)
inner_values = st.one_of(texts, json_values)
values = st.one_of(inner_values, st.just(REMOVE))  # a top-level claim may also be left out


def _object(*keys: str) -> st.SearchStrategy[Any]:
    """A claim that should be an object: usually one with its keys (random values), sometimes anything."""
    return st.one_of(st.dictionaries(st.sampled_from(keys), inner_values, max_size=len(keys)), values)


CLAIMS: dict[str, st.SearchStrategy[Any]] = {
    "sub": values,
    "name": values,
    "given_name": values,
    "family_name": values,
    "email": values,
    "locale": values,
    LTI + "deployment_id": values,
    LTI + "target_link_uri": values,
    LTI + "roles": st.one_of(st.lists(texts, max_size=3), values),
    LTI + "context": _object("id", "title", "label", "type"),
    LTI + "resource_link": _object("id", "title", "description"),
    LTI + "custom": _object("wom_item", "wom_placement", "wom_widgets", "wom_settings", "department", "course_url"),
    LTI + "launch_presentation": _object("locale", "return_url", "document_target"),
    "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice": _object("context_memberships_url"),
}
claim_overrides = st.dictionaries(st.sampled_from(sorted(CLAIMS)), st.none(), max_size=4).flatmap(
    lambda chosen: st.fixed_dictionaries({name: CLAIMS[name] for name in chosen})
)
dl_settings = _object(
    "deep_link_return_url", "accept_types", "accept_presentation_document_targets", "accept_multiple", "data", "title"
)
LOGIN_PARAMS = ["iss", "login_hint", "target_link_uri", "client_id", "lti_deployment_id", "lti_message_hint"]
login_params = st.dictionaries(
    st.sampled_from(LOGIN_PARAMS),
    st.one_of(st.text(max_size=12), st.text(min_size=2040, max_size=2100), st.text(min_size=250, max_size=300)),
    max_size=4,
)


def _no_5xx(response: requests.Response) -> None:
    assert response.status_code < 500, response.text[-3000:]


def test_random_login_parameters_never_give_a_5xx(tool: Tool, lms: LmsPlatform) -> None:
    @FUZZ
    @given(params=login_params, keep_target=st.booleans())
    def check(params: dict[str, str], keep_target: bool) -> None:
        if keep_target and "target_link_uri" in params:
            params["target_link_uri"] = tool.url + "/lti/launch?" + params["target_link_uri"]
        with requests.Session() as browser:
            _no_5xx(lms.post_login(browser, tool.url, **{"client_id": lms.client_id, **params}))

    check()


def test_random_launch_claims_never_give_a_5xx(tool: Tool, lms: LmsPlatform) -> None:
    @FUZZ
    @given(overrides=claim_overrides)
    def check(overrides: dict[str, Any]) -> None:
        with requests.Session() as browser:
            _no_5xx(lms.launch(browser, tool.url, claims=overrides))

    check()


def test_random_deep_linking_requests_and_picker_posts_never_give_a_5xx(tool: Tool, lms: LmsPlatform) -> None:
    @FUZZ
    @given(
        overrides=claim_overrides,
        settings_claim=st.one_of(st.none(), dl_settings),
        form=st.dictionaries(
            st.sampled_from(["title", "widget_ratings", "widget_comments", "colleagues_min_count", "layout"]),
            texts,
            max_size=4,
        ),
    )
    def check(overrides: dict[str, Any], settings_claim: Any, form: dict[str, str]) -> None:
        claims = {**deep_linking_claims(lms), **overrides}
        claims.pop(LTI + "resource_link", None)
        claims[LTI + "resource_link"] = REMOVE
        if settings_claim is not None:
            claims[DL + "deep_linking_settings"] = settings_claim
        with requests.Session() as browser:
            response = lms.launch(browser, tool.url, claims=claims)
            _no_5xx(response)
            token = re.search(r'name="dl_token" value="([^"]*)"', response.text)
            if response.status_code == 200 and token:
                answer = browser.post(
                    tool.url + "/lti/deep-linking/respond",
                    data={"dl_token": html.unescape(token.group(1)), "widget_ratings": "1", **form},
                )
                _no_5xx(answer)

    check()
