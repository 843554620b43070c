"""LTI Dynamic Registration end to end: a Moodle 4.5 and a hosted-Canvas imitation over real HTTP
register through ``GET /lti/register`` and then launch the tool with the client id they issued."""

from __future__ import annotations

import html
import logging
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
import requests
from flask import Flask, redirect
from sqlalchemy import select

from lti.registration_views import HOSTED_CANVAS_EXTENSION
from plugin.app import create_app
from plugin.db import utcnow
from plugin.models import Platform, RegistrationToken
from plugin.models.platform import PlatformOrigin
from plugin.services import platforms, registration_tokens
from tests.integration.lti.conftest import Tool
from tests.support.lti_platform import LTI, REMOVE, LmsPlatform
from tests.support.processes import free_port
from tests.support.registration_platform import (
    CANVAS_ISSUER,
    NRPS_SCOPE,
    TOOL_CONFIGURATION,
    RegistrationPlatform,
    running_registration_platform,
)
from tests.support.servers import serve

NEW_URL = "wordofmouth registration-url --expires 24h"  # how the operator makes a new URL, on the page


@pytest.fixture
def moodle() -> Iterator[RegistrationPlatform]:
    with running_registration_platform("moodle") as platform:
        yield platform


@pytest.fixture
def canvas() -> Iterator[RegistrationPlatform]:
    with running_registration_platform("canvas") as platform:
        yield platform


@pytest.fixture
def hosted_canvas(tool: Tool) -> Iterator[RegistrationPlatform]:
    with running_registration_platform("canvas-hosted") as platform:
        # The loopback "Instructure hosts" of this test Canvas (lti/registration.py: HOSTED_CANVAS).
        tool.app.extensions[HOSTED_CANVAS_EXTENSION] = {CANVAS_ISSUER: frozenset({platform.sso_origin})}
        yield platform


def registration_url(tool: Tool, expires: str = "24h") -> str:
    """What the operator runs: ``wordofmouth registration-url`` (the URL is the first line)."""
    result = tool.app.test_cli_runner().invoke(args=["registration-url", "--expires", expires, "--note", "test"])
    assert result.exit_code == 0, result.output
    url = result.output.splitlines()[0]
    assert url.startswith(tool.url + "/lti/register?wom_token=")
    return url


def stored(tool: Tool, issuer: str) -> list[dict[str, Any]]:
    session = tool.session()
    try:
        return platforms.describe(platforms.platforms_of_issuer(session, issuer))
    finally:
        session.close()


def frame_ancestors(response: requests.Response) -> set[str]:
    """The sources of the response's CSP ``frame-ancestors`` (the last directive)."""
    policy = response.headers["Content-Security-Policy"]
    directive = policy.rsplit(";", 1)[-1].split()
    assert directive[0] == "frame-ancestors", policy
    return set(directive[1:])


def assert_refused(response: requests.Response, status: int, *phrases: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("text/html")
    assert "Traceback" not in response.text
    text = html.unescape(response.text)
    for phrase in phrases:
        assert phrase in text, text


# -- Moodle 4.5 ---------------------------------------------------------------------------------------
def test_moodle_registers_then_launches(tool: Tool, moodle: RegistrationPlatform, browser) -> None:
    url = registration_url(tool)
    response = moodle.open_registration(browser, url)
    assert response.status_code == 200, response.text
    page = html.unescape(response.text)
    assert "Manage tools" in page and moodle.client_id in page and "7" in page
    assert "org.imsglobal.lti.close" not in page  # the message is posted by registration.js
    assert frame_ancestors(response) == {"'self'", moodle.site}  # the registering LMS, not everyone
    assert response.headers["Cache-Control"] == "no-store"

    # What the tool POSTed, with the platform's registration token as a bearer token.
    assert moodle.authorizations == [f"Bearer {moodle.registration_token}"]
    assert moodle.configuration_authorizations == [f"Bearer {moodle.registration_token}"]
    (sent,) = moodle.registrations
    assert sent["application_type"] == "web"
    assert sent["grant_types"] == ["implicit", "client_credentials"]
    assert sent["response_types"] == ["id_token"]
    assert sent["initiate_login_uri"] == tool.url + "/lti/login"
    assert sent["redirect_uris"] == [tool.url + "/lti/launch"]
    assert sent["jwks_uri"] == tool.url + "/lti/jwks"
    assert sent["token_endpoint_auth_method"] == "private_key_jwt"
    assert sent["client_name"] == "Word of Mouth"
    assert sent["scope"] == NRPS_SCOPE  # Moodle lists it in scopes_supported
    config = sent[TOOL_CONFIGURATION]
    assert config["domain"] == tool.url.removeprefix("http://")
    assert config["target_link_uri"] == tool.url + "/lti/launch"
    assert config["claims"] == ["iss", "sub", "name", "given_name", "family_name", "locale"]
    assert [m["type"] for m in config["messages"]] == ["LtiResourceLinkRequest", "LtiDeepLinkingRequest"]
    logo = requests.get(sent["logo_uri"], timeout=10)
    assert logo.status_code == 200 and logo.headers["Content-Type"].startswith("image/svg+xml")

    (row,) = stored(tool, moodle.issuer)
    assert row["client_id"] == moodle.client_id
    assert row["deployment_ids"] == ["7"]
    assert row["registered_via"] == "dynamic"
    assert row["auto_accept_deployments"] is False
    assert row["auth_login_url"] == moodle.site + "/mod/lti/auth.php"
    assert row["key_set_url"] == moodle.site + "/jwks"
    assert row["course_url_template"] == "{issuer}/course/view.php?id={context_id}"
    assert row["name"] == "Moodle at 127.0.0.1"
    session = tool.session()
    try:
        token = session.scalars(select(RegistrationToken)).one()
        platform = session.scalars(select(Platform)).one()
        assert token.used_at is not None and token.platform_id == platform.id
    finally:
        session.close()

    launched = moodle.launch(browser, tool.url)
    assert launched.status_code == 200, launched.text


def test_reregistration_updates_the_platform(tool: Tool, moodle: RegistrationPlatform, browser) -> None:
    moodle.fixed_client_id = "moodle-client"
    assert moodle.open_registration(browser, registration_url(tool)).status_code == 200
    moodle.returned_deployment_id = "8"
    assert moodle.open_registration(browser, registration_url(tool)).status_code == 200
    (row,) = stored(tool, moodle.issuer)
    assert row["client_id"] == "moodle-client"
    assert row["deployment_ids"] == ["7", "8"]


def test_registration_without_platform_token_sends_no_authorization(
    tool: Tool, moodle: RegistrationPlatform, browser
) -> None:
    response = moodle.open_registration(browser, registration_url(tool), with_token=False)
    assert_refused(response, 502, "HTTP 401", "registration token missing or wrong")
    assert moodle.authorizations == [""]


# -- Canvas ------------------------------------------------------------------------------------------
def test_canvas_registers_then_first_launch_adds_the_deployment(
    tool: Tool, canvas: RegistrationPlatform, browser, caplog
) -> None:
    response = canvas.open_registration(browser, registration_url(tool))
    assert response.status_code == 200, response.text
    page = html.unescape(response.text)
    assert "developer key" in page and canvas.client_id in page and "None yet" in page
    # Canvas's dialog is on the school's domain, its configuration on the issuer's: both may frame.
    assert frame_ancestors(response) == {"'self'", canvas.issuer, canvas.site}
    assert canvas.configuration_authorizations == [f"Bearer {canvas.registration_token}"]
    assert canvas.registrations[0]["scope"] == NRPS_SCOPE
    tool_configuration = canvas.registrations[0]["https://purl.imsglobal.org/spec/lti-tool-configuration"]
    assert tool_configuration["custom_parameters"] == {
        "course_url": "${Canvas.api.baseUrl}/courses/${Canvas.course.id}"
    }

    (row,) = stored(tool, canvas.issuer)
    assert row["client_id"] == canvas.client_id
    assert row["deployment_ids"] == []
    assert row["auto_accept_deployments"] is True
    assert row["name"] == "Test University"
    assert row["auth_login_url"] == canvas.sso_origin + "/api/lti/authorize_redirect"
    assert row["key_set_url"] == canvas.sso_origin + "/jwks"

    with caplog.at_level(logging.INFO, logger="wordofmouth"):
        launched = canvas.launch(browser, tool.url)
    assert launched.status_code == 200, launched.text
    assert stored(tool, canvas.issuer)[0]["deployment_ids"] == [canvas.deployment_id]
    assert any("auto-accepts deployments" in r.getMessage() for r in caplog.records)


def test_canvas_without_nrps_still_gets_a_scope(tool: Tool, canvas: RegistrationPlatform, browser) -> None:
    canvas.config_overrides = {"scopes_supported": ["openid"]}
    assert canvas.open_registration(browser, registration_url(tool)).status_code == 200
    assert canvas.registrations[0]["scope"] == ""  # Canvas answers 500 when the key is missing


def test_hosted_canvas_with_the_configuration_on_the_schools_domain(
    tool: Tool, hosted_canvas: RegistrationPlatform, browser
) -> None:
    response = hosted_canvas.open_registration(browser, registration_url(tool))
    assert response.status_code == 200, response.text
    assert frame_ancestors(response) == {"'self'", CANVAS_ISSUER, hosted_canvas.site}
    (row,) = stored(tool, CANVAS_ISSUER)
    assert row["client_id"] == hosted_canvas.client_id
    assert row["auth_login_url"] == hosted_canvas.sso_origin + "/api/lti/authorize_redirect"
    session = tool.session()
    try:  # the school's domain is a page origin of this registration from now on
        assert session.scalars(select(PlatformOrigin.origin)).all() == [hosted_canvas.site]
    finally:
        session.close()
    assert hosted_canvas.launch(browser, tool.url).status_code == 200
    assert stored(tool, CANVAS_ISSUER)[0]["deployment_ids"] == [hosted_canvas.deployment_id]


def test_hosted_canvas_from_the_schools_domain_cannot_change_an_existing_client(
    tool: Tool, hosted_canvas: RegistrationPlatform, browser
) -> None:
    hosted_canvas.fixed_client_id = "10000000000123"
    assert hosted_canvas.open_registration(browser, registration_url(tool)).status_code == 200
    hosted_canvas.returned_deployment_id = "99:forged"
    again = hosted_canvas.open_registration(browser, registration_url(tool))
    assert_refused(again, 409, "client id 10000000000123 of https://canvas.instructure.com is already registered")
    assert stored(tool, CANVAS_ISSUER)[0]["deployment_ids"] == []


def test_canvas_issuer_from_a_host_that_is_not_instructure_is_refused(
    tool: Tool, hosted_canvas: RegistrationPlatform, browser
) -> None:
    tool.app.extensions[HOSTED_CANVAS_EXTENSION] = {CANVAS_ISSUER: frozenset({"https://sso.canvaslms.com"})}
    response = hosted_canvas.open_registration(browser, registration_url(tool))
    assert_refused(response, 403, "hosted Canvas issuer", "jwks_uri", "not on Instructure's hosts")
    assert hosted_canvas.registrations == []
    assert stored(tool, CANVAS_ISSUER) == []


def test_canvas_refusal_422_is_readable(tool: Tool, canvas: RegistrationPlatform, browser) -> None:
    canvas.registration_status = 422
    canvas.registration_answer = {"errors": [{"field": "grant_types", "message": "Must include implicit"}]}
    response = canvas.open_registration(browser, registration_url(tool))
    assert_refused(response, 502, "refused the registration: HTTP 422", "Must include implicit")


def test_canvas_configuration_without_the_platform_token_is_refused(
    tool: Tool, canvas: RegistrationPlatform, browser
) -> None:
    response = canvas.open_registration(browser, registration_url(tool), with_token=False)
    # The configuration URL carries Canvas's token in its query; it is never shown.
    canvas.registration_token = "other"
    response = browser.get(
        registration_url(tool), params={"openid_configuration": canvas.configuration_url.split("?")[0]}
    )
    assert_refused(response, 400, "HTTP 401")


def test_a_referrer_that_is_not_a_web_origin_adds_nothing(tool: Tool, canvas: RegistrationPlatform, browser) -> None:
    response = canvas.open_registration(browser, registration_url(tool), referrer="javascript:alert(1)")
    assert response.status_code == 200, response.text
    assert frame_ancestors(response) == {"'self'", canvas.issuer}


def test_only_canvas_adds_the_referring_page(tool: Tool, moodle: RegistrationPlatform, browser) -> None:
    response = moodle.open_registration(browser, registration_url(tool), referrer="https://elsewhere.example/")
    assert response.status_code == 200, response.text
    assert frame_ancestors(response) == {"'self'", moodle.issuer}


# -- the one-time token ------------------------------------------------------------------------------
def test_a_used_url_is_refused(tool: Tool, moodle: RegistrationPlatform, browser) -> None:
    url = registration_url(tool)
    assert moodle.open_registration(browser, url).status_code == 200
    again = moodle.open_registration(browser, url)
    assert_refused(again, 403, "already used", "could not be registered", NEW_URL)
    assert len(moodle.registrations) == 1


def test_one_url_registers_once_when_opened_twice_at_once(tool: Tool, moodle: RegistrationPlatform) -> None:
    url = registration_url(tool)
    start = threading.Barrier(2)

    def open_it() -> int:
        with requests.Session() as browser:
            start.wait()
            return moodle.open_registration(browser, url).status_code

    with ThreadPoolExecutor(2) as pool:
        statuses = sorted(pool.map(lambda _: open_it(), range(2)))
    # The loser's transaction is rolled back: the token was used (403/409), or SQLite's single
    # writer refused it (503); either way nothing of it is stored.
    assert statuses[0] == 200 and statuses[1] in (403, 409, 503), statuses
    session = tool.session()
    try:
        assert len(session.scalars(select(Platform)).all()) == 1
        assert session.scalars(select(RegistrationToken)).one().used_at is not None
    finally:
        session.close()


def test_an_expired_url_is_refused(tool: Tool, moodle: RegistrationPlatform, browser) -> None:
    session = tool.session()
    try:
        issued = registration_tokens.issue(session, timedelta(hours=1), now=utcnow() - timedelta(hours=2))
        session.commit()
    finally:
        session.close()
    response = moodle.open_registration(browser, f"{tool.url}/lti/register?wom_token={issued.token}")
    assert_refused(response, 403, "expired at", NEW_URL)
    assert moodle.registrations == []


def test_an_unknown_token_is_refused(tool: Tool, moodle: RegistrationPlatform, browser) -> None:
    response = moodle.open_registration(browser, f"{tool.url}/lti/register?wom_token=forged")
    assert_refused(response, 403, "not one Word of Mouth issued", NEW_URL)


def test_no_token_is_refused_when_registration_is_closed(tool: Tool, moodle: RegistrationPlatform, browser) -> None:
    response = moodle.open_registration(browser, tool.url + "/lti/register")
    assert_refused(response, 403, "carries no Word of Mouth registration token", NEW_URL)
    assert moodle.registrations == []
    assert stored(tool, moodle.issuer) == []


def test_open_registration_needs_no_token(app_config: dict[str, str], moodle: RegistrationPlatform, browser) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    app = create_app({**app_config, "WOM_BASE_URL": url, "WOM_OPEN_REGISTRATION": "1"})
    try:
        with serve(app, port):
            response = moodle.open_registration(browser, url + "/lti/register")
            assert response.status_code == 200, response.text
            assert moodle.launch(browser, url).status_code == 200
    finally:
        app.extensions["wordofmouth.engine"].dispose()


def test_a_failed_registration_keeps_the_url_usable(tool: Tool, moodle: RegistrationPlatform, browser) -> None:
    url = registration_url(tool)
    moodle.registration_status = 500
    assert_refused(moodle.open_registration(browser, url), 502, "HTTP 500")
    moodle.registration_status = None
    assert moodle.open_registration(browser, url).status_code == 200


def test_missing_openid_configuration_is_refused(tool: Tool, browser) -> None:
    response = browser.get(registration_url(tool))
    assert_refused(response, 400, "lacks openid_configuration")


# -- the platform's configuration --------------------------------------------------------------------
def test_issuer_not_matching_the_configuration_url_is_refused(
    tool: Tool, moodle: RegistrationPlatform, browser
) -> None:
    moodle.config_overrides = {"issuer": "https://moodle.elsewhere.example"}
    response = moodle.open_registration(browser, registration_url(tool))
    assert_refused(response, 403, "the issuer https://moodle.elsewhere.example does not match the origin")
    assert moodle.registrations == []


@pytest.mark.parametrize(
    ("field", "value", "phrase"),
    [
        ("registration_endpoint", REMOVE, "no valid registration_endpoint"),
        ("authorization_endpoint", REMOVE, "no valid authorization_endpoint"),
        ("token_endpoint", "ftp://lms/token", "no valid token_endpoint"),
        ("jwks_uri", REMOVE, "no valid jwks_uri"),
        ("issuer", REMOVE, "no valid issuer"),
        ("https://purl.imsglobal.org/spec/lti-platform-configuration", REMOVE, "lacks https://purl.imsglobal.org"),
        ("id_token_signing_alg_values_supported", ["HS256"], "does not include RS256"),
    ],
)
def test_incomplete_configuration_is_refused(
    tool: Tool, moodle: RegistrationPlatform, browser, field: str, value: Any, phrase: str
) -> None:
    moodle.config_overrides = {field: value}
    response = moodle.open_registration(browser, registration_url(tool))
    assert_refused(response, 400, phrase)
    assert moodle.registrations == []


def test_oversized_configuration_is_not_read(tool: Tool, moodle: RegistrationPlatform, browser) -> None:
    moodle.config_overrides = {"padding": "x" * (1024 * 1024)}
    response = moodle.open_registration(browser, registration_url(tool))
    assert_refused(response, 400, "is larger than 1024 KB: not read")


def test_configuration_redirect_to_another_origin_is_not_followed(tool: Tool, browser) -> None:
    with running_registration_platform("moodle") as elsewhere:
        redirecting = Flask("redirecting")

        @redirecting.get("/openid-configuration")
        def moved():  # type: ignore[no-untyped-def]
            return redirect(elsewhere.configuration_url)

        with serve(redirecting, free_port()) as url:
            response = browser.get(
                registration_url(tool), params={"openid_configuration": url + "/openid-configuration"}
            )
    assert_refused(response, 400, "redirects to another origin")
    assert elsewhere.registrations == []


def test_unreachable_configuration_is_refused(tool: Tool, browser) -> None:
    dead = f"http://127.0.0.1:{free_port()}/mod/lti/openid-configuration.php"
    response = browser.get(registration_url(tool), params={"openid_configuration": dead})
    assert_refused(response, 400, "could not fetch the platform's OpenID configuration")


@pytest.mark.parametrize("status", [400, 403, 404, 500, 503])
def test_registration_endpoint_errors_are_readable(
    tool: Tool, moodle: RegistrationPlatform, browser, status: int
) -> None:
    moodle.registration_status = status
    response = moodle.open_registration(browser, registration_url(tool))
    assert_refused(response, 502, f"HTTP {status}")
    assert stored(tool, moodle.issuer) == []


def test_registration_answer_without_client_id_is_refused(tool: Tool, moodle: RegistrationPlatform, browser) -> None:
    moodle.registration_answer = {"client_name": "Word of Mouth"}
    response = moodle.open_registration(browser, registration_url(tool))
    assert_refused(response, 400, "has no valid client_id")


# -- launches: deployments and disabled registrations -----------------------------------------------
def _set(tool: Tool, issuer: str, client_id: str, **changes: bool) -> None:
    session = tool.session()
    try:
        platform = platforms.find_platform(session, issuer, client_id)
        assert platform is not None
        if "enabled" in changes:
            platforms.set_enabled(session, platform, changes["enabled"])
        if "auto_accept" in changes:
            platforms.set_auto_accept_deployments(session, platform, changes["auto_accept"])
        session.commit()
    finally:
        session.close()


def test_unknown_deployment_is_refused_with_its_fix(tool: Tool, lms: LmsPlatform, browser, caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="wordofmouth"):
        response = lms.launch(browser, tool.url, claims={LTI + "deployment_id": "dep-new"})
    assert_refused(response, 403, "deployment 'dep-new' is not registered")
    fix = f"wordofmouth platform add-deployment {lms.issuer} --client-id {lms.client_id} dep-new"
    assert any(fix in r.getMessage() for r in caplog.records)
    assert fix not in response.text  # commands are for the admin's log, not the learner's page


def test_unknown_deployment_is_added_when_auto_accepted(tool: Tool, lms: LmsPlatform, browser) -> None:
    _set(tool, lms.issuer, lms.client_id, auto_accept=True)
    lms.deployment_id = "dep-new"
    response = lms.launch(browser, tool.url)
    assert response.status_code == 200, response.text
    assert stored(tool, lms.issuer)[0]["deployment_ids"] == ["dep-new", "deployment-1"]


def test_auto_accept_adds_only_signed_deployments(tool: Tool, lms: LmsPlatform, browser) -> None:
    _set(tool, lms.issuer, lms.client_id, auto_accept=True)
    redirect = lms.login(browser, tool.url, lti_deployment_id="dep-login-only")
    assert redirect.state  # the login passes; only a verified launch adds a deployment
    assert stored(tool, lms.issuer)[0]["deployment_ids"] == ["deployment-1"]


def test_disabled_platform_is_refused_at_login_and_launch(tool: Tool, lms: LmsPlatform, browser) -> None:
    redirect = lms.login(browser, tool.url)  # a login that started before the platform was disabled
    _set(tool, lms.issuer, lms.client_id, enabled=False)
    login = lms.post_login(browser, tool.url, client_id=lms.client_id)
    assert_refused(login, 403, f"the registration of {lms.issuer} (client {lms.client_id}) is disabled")
    body = lms.claims(redirect.nonce, tool.url)
    launch = browser.post(redirect.redirect_uri, data={"id_token": lms.sign(body), "state": redirect.state})
    assert_refused(launch, 403, "is disabled")
    _set(tool, lms.issuer, lms.client_id, enabled=True)
    assert lms.launch(browser, tool.url).status_code == 200


# -- CLI ----------------------------------------------------------------------------------------------
def test_registration_url_command(tool: Tool) -> None:
    runner = tool.app.test_cli_runner()
    result = runner.invoke(args=["registration-url", "--expires", "30m", "--note", "Moodle prod"])
    assert result.exit_code == 0, result.output
    assert "works once, until" in result.output
    for bad in ("0h", "12", "1w", "31d"):
        refused = runner.invoke(args=["registration-url", "--expires", bad])
        assert refused.exit_code == 2, (bad, refused.output)
    session = tool.session()
    try:
        rows = registration_tokens.listing(session)
        assert [r.note for r in rows] == ["Moodle prod"]
        lifetime = rows[0].expires_at - rows[0].created_at
        assert timedelta(minutes=29) < lifetime <= timedelta(minutes=30)
    finally:
        session.close()


def test_platform_deployment_and_state_commands(tool: Tool, lms: LmsPlatform) -> None:
    runner = tool.app.test_cli_runner()

    def run(*args: str) -> str:
        result = runner.invoke(args=["platform", *args])
        assert result.exit_code == 0, result.output
        return result.output

    assert "added deployment dep-2" in run("add-deployment", lms.issuer, "--client-id", lms.client_id, "dep-2")
    assert "already registered" in run("add-deployment", lms.issuer, "--client-id", lms.client_id, "dep-2")
    assert stored(tool, lms.issuer)[0]["deployment_ids"] == ["dep-2", "deployment-1"]
    assert "removed deployment dep-2" in run("remove-deployment", lms.issuer, "--client-id", lms.client_id, "dep-2")
    last = runner.invoke(
        args=["platform", "remove-deployment", lms.issuer, "--client-id", lms.client_id, "deployment-1"]
    )
    assert last.exit_code == 2 and "at least one deployment" in last.output
    out = run("set", lms.issuer, "--client-id", lms.client_id, "--auto-accept-deployments")
    assert "new deployments auto-accepted" in out
    assert stored(tool, lms.issuer)[0]["auto_accept_deployments"] is True
    run("set", lms.issuer, "--client-id", lms.client_id, "--no-auto-accept-deployments")
    assert stored(tool, lms.issuer)[0]["auto_accept_deployments"] is False
    assert "disabled" in run("disable", lms.issuer, "--client-id", lms.client_id)
    assert stored(tool, lms.issuer)[0]["enabled"] is False
    assert "enabled" in run("enable", lms.issuer, "--client-id", lms.client_id)
    assert stored(tool, lms.issuer)[0]["enabled"] is True
    listed = run("list")
    assert "new deployments: refused" in listed and "enabled:       yes" in listed
    unknown = runner.invoke(args=["platform", "disable", "https://nope.example", "--client-id", "x"])
    assert unknown.exit_code == 2 and "no platform registered" in unknown.output
