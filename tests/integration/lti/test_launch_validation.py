"""Every launch check, each proven by a forged or broken launch that must be refused.

A refused launch answers 4xx with a page naming the problem, and writes nothing.
"""

from __future__ import annotations

import base64
import json
import time
from datetime import timedelta

import jwt
import pytest
from sqlalchemy import func, select, update

from plugin.db import utcnow
from plugin.models import Enrolment, Learner, LoginState
from tests.integration.lti.conftest import Tool
from tests.support.lti_platform import INSTRUCTOR, LTI, REMOVE, LmsPlatform, new_key


def assert_refused(response, status: int, *phrases: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("text/html")
    assert "Traceback" not in response.text
    for phrase in phrases:
        assert phrase in response.text, response.text


def assert_nothing_written(tool: Tool) -> None:
    session = tool.session()
    try:
        assert session.scalar(select(func.count()).select_from(Learner)) == 0
        assert session.scalar(select(func.count()).select_from(Enrolment)) == 0
    finally:
        session.close()


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


# -- signature and algorithm -------------------------------------------------------------------
def test_alg_none_is_refused(tool: Tool, lms: LmsPlatform, browser) -> None:
    def unsigned(body, _redirect):  # type: ignore[no-untyped-def]
        return f"{_b64({'alg': 'none', 'kid': lms.key.kid})}.{_b64(body)}."

    assert_refused(lms.launch(browser, tool.url, token=unsigned), 401, "only RS256 is accepted")
    assert_nothing_written(tool)


def test_hs256_signed_with_the_public_key_is_refused(tool: Tool, lms: LmsPlatform, browser) -> None:
    from cryptography.hazmat.primitives import serialization

    public_pem = lms.key.private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )

    def confused(body, _redirect):  # type: ignore[no-untyped-def]
        header = _b64({"alg": "HS256", "kid": lms.key.kid, "typ": "JWT"})
        payload = _b64(body)
        import hashlib
        import hmac

        signature = hmac.new(public_pem, f"{header}.{payload}".encode(), hashlib.sha256).digest()
        return f"{header}.{payload}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"

    assert_refused(lms.launch(browser, tool.url, token=confused), 401, "only RS256 is accepted")


def test_signature_from_another_key_under_a_known_kid_is_refused(tool: Tool, lms: LmsPlatform, browser) -> None:
    impostor = new_key()
    impostor.kid = lms.key.kid

    def forged(body, _redirect):  # type: ignore[no-untyped-def]
        return lms.sign(body, key=impostor)

    assert_refused(lms.launch(browser, tool.url, token=forged), 401, "signature does not verify")
    assert_nothing_written(tool)


def test_unknown_kid_is_refused_after_one_refetch(tool: Tool, lms: LmsPlatform, browser) -> None:
    assert lms.launch(browser, tool.url).status_code == 200
    fetched = lms.jwks_requests
    stranger = new_key()

    def forged(body, _redirect):  # type: ignore[no-untyped-def]
        return lms.sign(body, key=stranger)

    tool.app.extensions["wordofmouth.key_sets"].min_refetch_interval = 0
    assert_refused(lms.launch(browser, tool.url, token=forged), 401, "has no key")
    assert lms.jwks_requests == fetched + 1


def test_platform_key_rotation_is_picked_up_with_one_refetch(tool: Tool, lms: LmsPlatform, browser) -> None:
    assert lms.launch(browser, tool.url).status_code == 200
    assert lms.jwks_requests == 1
    tool.app.extensions["wordofmouth.key_sets"].min_refetch_interval = 0
    lms.rotate_key()
    assert lms.launch(browser, tool.url).status_code == 200
    assert lms.jwks_requests == 2
    assert lms.launch(browser, tool.url).status_code == 200
    assert lms.jwks_requests == 2  # cached


def test_unreachable_key_set_is_a_clear_4xx(tool: Tool, lms: LmsPlatform, browser) -> None:
    from plugin.models import Platform

    session = tool.session()
    session.execute(update(Platform).values(key_set_url="http://127.0.0.1:1/jwks"))
    session.commit()
    session.close()
    response = lms.launch(browser, tool.url)
    assert_refused(response, 400, "could not fetch the platform", "127.0.0.1:1/jwks")
    assert "wordofmouth platform list" not in response.text  # the admin's fix is in the log


# -- issuer, audience, authorized party ----------------------------------------------------------
def test_unknown_issuer_is_refused_with_a_code_for_the_admin(tool: Tool, lms: LmsPlatform, browser) -> None:
    def other_issuer(body, _redirect):  # type: ignore[no-untyped-def]
        return lms.sign({**body, "iss": "https://moodle.unknown.example"})

    response = lms.launch(browser, tool.url, token=other_issuer)
    assert_refused(response, 403, "unknown issuer https://moodle.unknown.example", response.headers["X-Request-Id"])
    assert "wordofmouth platform add" not in response.text  # the admin's command is in the log (test_refusal_page.py)


def test_audience_without_our_client_id_is_refused(tool: Tool, lms: LmsPlatform, browser) -> None:
    response = lms.launch(browser, tool.url, claims={"aud": "someone-else"})
    assert_refused(response, 403, "client id &#39;someone-else&#39; is not registered")


def test_several_audiences_need_azp(tool: Tool, lms: LmsPlatform, browser) -> None:
    response = lms.launch(browser, tool.url, claims={"aud": [lms.client_id, "other-tool"]})
    assert_refused(response, 401, "no authorized party (azp)")


def test_azp_must_be_our_client_id(tool: Tool, lms: LmsPlatform, browser) -> None:
    response = lms.launch(browser, tool.url, claims={"aud": [lms.client_id, "other-tool"], "azp": "other-tool"})
    assert_refused(response, 401, "authorized party (azp)")


def test_several_audiences_with_our_azp_are_accepted(tool: Tool, lms: LmsPlatform, browser) -> None:
    response = lms.launch(browser, tool.url, claims={"aud": ["other-tool", lms.client_id], "azp": lms.client_id})
    assert response.status_code == 200, response.text


# -- time --------------------------------------------------------------------------------------
def test_expired_token_is_refused(tool: Tool, lms: LmsPlatform, browser) -> None:
    now = int(time.time())
    response = lms.launch(browser, tool.url, claims={"iat": now - 300, "exp": now - 90})
    assert_refused(response, 401, "expired")


def test_expiry_within_a_minute_of_skew_is_accepted(tool: Tool, lms: LmsPlatform, browser) -> None:
    now = int(time.time())
    response = lms.launch(browser, tool.url, claims={"iat": now - 90, "exp": now - 30})
    assert response.status_code == 200, response.text


def test_token_issued_in_the_future_is_refused(tool: Tool, lms: LmsPlatform, browser) -> None:
    now = int(time.time())
    response = lms.launch(browser, tool.url, claims={"iat": now + 600, "exp": now + 660})
    assert_refused(response, 401, "issued in the future")


@pytest.mark.parametrize("claim", ["exp", "iat", "nonce"])
def test_required_token_claims(tool: Tool, lms: LmsPlatform, browser, claim: str) -> None:
    response = lms.launch(browser, tool.url, claims={claim: REMOVE})
    assert_refused(response, 401, f"required claim &#39;{claim}&#39;")


# -- nonce and state ---------------------------------------------------------------------------
def test_replayed_launch_is_refused(tool: Tool, lms: LmsPlatform, browser) -> None:
    redirect = lms.login(browser, tool.url)
    id_token = lms.sign(lms.claims(redirect.nonce, tool.url))
    first = browser.post(redirect.redirect_uri, data={"id_token": id_token, "state": redirect.state})
    assert first.status_code == 200
    replay = browser.post(redirect.redirect_uri, data={"id_token": id_token, "state": redirect.state})
    assert_refused(replay, 401, "already used")


def test_nonce_of_another_login_is_refused(tool: Tool, lms: LmsPlatform, browser) -> None:
    used = lms.login(browser, tool.url)
    fresh = lms.login(browser, tool.url)
    id_token = lms.sign(lms.claims(used.nonce, tool.url))
    response = browser.post(fresh.redirect_uri, data={"id_token": id_token, "state": fresh.state})
    assert_refused(response, 401, "nonce does not belong to this login")
    assert_nothing_written(tool)


def test_state_not_issued_by_us_is_refused(tool: Tool, lms: LmsPlatform, browser) -> None:
    assert_refused(lms.launch(browser, tool.url, state="made-up-state"), 401, "login state is unknown")


def test_expired_state_is_refused(tool: Tool, lms: LmsPlatform, browser) -> None:
    redirect = lms.login(browser, tool.url)
    session = tool.session()
    session.execute(update(LoginState).values(expires_at=utcnow() - timedelta(seconds=1)))
    session.commit()
    session.close()
    id_token = lms.sign(lms.claims(redirect.nonce, tool.url))
    response = browser.post(redirect.redirect_uri, data={"id_token": id_token, "state": redirect.state})
    assert_refused(response, 401, "login expired")


def test_browser_that_did_not_start_the_login_is_refused(tool: Tool, lms: LmsPlatform, browser) -> None:
    redirect = lms.login(browser, tool.url)
    id_token = lms.sign(lms.claims(redirect.nonce, tool.url))
    response = browser.post(
        redirect.redirect_uri,
        data={"id_token": id_token, "state": redirect.state},
        headers={"Cookie": f"wom_lti_{redirect.state}=somebody-elses-binding"},
    )
    assert_refused(response, 401, "this browser did not start this login")


def test_refused_launch_leaves_the_state_usable(tool: Tool, lms: LmsPlatform, browser) -> None:
    redirect = lms.login(browser, tool.url)
    body = lms.claims(redirect.nonce, tool.url)
    broken = browser.post(
        redirect.redirect_uri, data={"id_token": lms.sign({**body, "aud": "x"}), "state": redirect.state}
    )
    assert broken.status_code == 403
    good = browser.post(redirect.redirect_uri, data={"id_token": lms.sign(body), "state": redirect.state})
    assert good.status_code == 200, good.text


# -- deployment, message, claims ---------------------------------------------------------------
def test_unregistered_deployment_is_refused(tool: Tool, lms: LmsPlatform, browser) -> None:
    response = lms.launch(browser, tool.url, claims={LTI + "deployment_id": "deployment-9"})
    assert_refused(response, 403, "deployment &#39;deployment-9&#39; is not registered")
    assert "--deployment-id" not in response.text  # the admin's command is in the log


def test_unregistered_deployment_is_refused_at_login(tool: Tool, lms: LmsPlatform, browser) -> None:
    response = lms.post_login(browser, tool.url, client_id=lms.client_id, lti_deployment_id="nope")
    assert_refused(response, 403, "deployment &#39;nope&#39; is not registered")


@pytest.mark.parametrize(
    ("claims", "phrase"),
    [
        ({LTI + "message_type": "LtiSubmissionReviewRequest"}, "message type &#39;LtiSubmissionReviewRequest&#39;"),
        ({LTI + "version": "1.1"}, "LTI version &#39;1.1&#39; is not supported"),
        ({"sub": REMOVE}, "Must have a user (sub)"),
        ({LTI + "roles": REMOVE}, "Missing Roles Claim"),
        ({LTI + "resource_link": REMOVE}, "Missing Resource Link Id"),
        ({LTI + "context": REMOVE}, "no course context"),
        ({LTI + "target_link_uri": REMOVE}, "no target_link_uri"),
        ({LTI + "target_link_uri": "https://evil.example/lti/launch"}, "is not on this tool"),
        ({LTI + "deployment_id": REMOVE}, "no deployment id"),
    ],
)
def test_message_claims_are_checked(tool: Tool, lms: LmsPlatform, browser, claims: dict, phrase: str) -> None:
    response = lms.launch(browser, tool.url, claims=claims)
    assert response.status_code in (400, 403), response.text
    assert phrase in response.text
    assert_nothing_written(tool)


def test_deep_linking_request_needs_settings(tool: Tool, lms: LmsPlatform, browser) -> None:
    response = lms.launch(
        browser,
        tool.url,
        claims={LTI + "message_type": "LtiDeepLinkingRequest", LTI + "roles": [INSTRUCTOR]},
    )
    assert_refused(response, 400, "Missing Deep Linking Settings")


# -- the requests themselves -------------------------------------------------------------------
def test_launch_without_id_token_or_state(tool: Tool, browser) -> None:
    assert_refused(browser.post(tool.url + "/lti/launch", data={"state": "s"}), 400, "carries no id_token")
    assert_refused(browser.post(tool.url + "/lti/launch", data={"id_token": "a.b.c"}), 400, "carries no state")
    assert_refused(
        browser.post(tool.url + "/lti/launch", data={"id_token": "junk", "state": "s"}), 400, "not a readable JWT"
    )


def test_get_on_launch_is_a_friendly_405(tool: Tool, browser) -> None:
    response = browser.get(tool.url + "/lti/launch", headers={"Accept": "text/html"})
    assert response.status_code == 405


@pytest.mark.parametrize(
    ("params", "status", "phrase"),
    [
        ({"login_hint": "u", "target_link_uri": "x"}, 400, "lacks iss"),
        (
            {"iss": "https://nobody.example", "login_hint": "u", "target_link_uri": "x", "client_id": "c"},
            403,
            "unknown issuer",
        ),
    ],
)
def test_broken_logins_are_refused(tool: Tool, browser, params: dict, status: int, phrase: str) -> None:
    response = browser.post(tool.url + "/lti/login", data=params, allow_redirects=False)
    assert_refused(response, status, phrase)


def test_login_for_unknown_client_or_foreign_target(tool: Tool, lms: LmsPlatform, browser) -> None:
    response = lms.post_login(browser, tool.url, client_id="nope")
    assert_refused(response, 403, "client id &#39;nope&#39; is not registered")
    response = lms.post_login(browser, tool.url, client_id=lms.client_id, target_link_uri="https://evil.example/")
    assert_refused(response, 400, "is not on this tool")


def test_refusals_are_logged_with_reason_and_registration(tool: Tool, lms: LmsPlatform, browser, caplog) -> None:
    import logging

    logger = logging.getLogger("wordofmouth")
    logger.addHandler(caplog.handler)
    try:
        lms.launch(browser, tool.url, claims={LTI + "deployment_id": "deployment-9"})
    finally:
        logger.removeHandler(caplog.handler)
    messages = [r.getMessage() for r in caplog.records if r.name == "wordofmouth.lti"]
    assert any(
        "refused" in m and "deployment-9" in m and f"issuer={lms.issuer}" in m and f"client_id={lms.client_id}" in m
        for m in messages
    ), messages


def test_jwt_decoding_of_garbage_never_500s(tool: Tool, lms: LmsPlatform, browser) -> None:
    redirect = lms.login(browser, tool.url)
    for junk in ("", "a.b", "x.y.z", jwt.encode({"a": 1}, "k" * 32, algorithm="HS256"), "e30.e30.e30"):
        response = browser.post(redirect.redirect_uri, data={"id_token": junk, "state": redirect.state})
        assert 400 <= response.status_code < 500, (junk, response.status_code)
