"""LTI Dynamic Registration's pure parts: the configuration checks, our registration, the answer."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import click
import pytest

from lti.cli import parse_duration
from lti.fetching import BoundedClient
from lti.registration import (
    HOSTED_CANVAS,
    PLATFORM_CONFIGURATION,
    TOOL_CONFIGURATION,
    PlatformConfiguration,
    RegistrationError,
    ToolUrls,
    check_configuration,
    fetch_configuration,
    parse_registration,
    tool_registration,
)

NRPS = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
MOODLE = "https://moodle.example.org"
MOODLE_CONFIG_URL = MOODLE + "/mod/lti/openid-configuration.php"
CANVAS_CONFIG_URL = "https://school.instructure.com/api/lti/security/openid-configuration?registration_token=x"
URLS = ToolUrls(
    login="https://wom.example/lti/login",
    launch="https://wom.example/lti/launch",
    jwks="https://wom.example/lti/jwks",
    logo="https://wom.example/lti/static/logo.svg",
)


def moodle(**changes: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "issuer": MOODLE,
        "authorization_endpoint": MOODLE + "/mod/lti/auth.php",
        "token_endpoint": MOODLE + "/mod/lti/token.php",
        "jwks_uri": MOODLE + "/mod/lti/certs.php",
        "registration_endpoint": MOODLE + "/mod/lti/openid-registration.php",
        "scopes_supported": ["openid", NRPS],
        "id_token_signing_alg_values_supported": ["RS256"],
        PLATFORM_CONFIGURATION: {"product_family_code": "moodle", "version": "4.5"},
    }
    document.update(changes)
    return {k: v for k, v in document.items() if v is not None}


def canvas(**changes: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "issuer": "https://canvas.instructure.com",
        "authorization_endpoint": "https://sso.canvaslms.com/api/lti/authorize_redirect",
        "token_endpoint": "https://sso.canvaslms.com/login/oauth2/token",
        "jwks_uri": "https://sso.canvaslms.com/api/lti/security/jwks",
        "registration_endpoint": "https://school.instructure.com/api/lti/registrations",
        "id_token_signing_alg_values_supported": ["RS256"],
        PLATFORM_CONFIGURATION: {
            "product_family_code": "canvas",
            "https://canvas.instructure.com/lti/account_name": "School",
        },
    }
    document.update(changes)
    return document


def test_moodle_configuration_is_read() -> None:
    config = check_configuration(moodle(), MOODLE_CONFIG_URL)
    assert config.issuer == MOODLE
    assert config.product == "moodle"
    assert config.page_origin == MOODLE
    assert config.display_name() == "Moodle at moodle.example.org"
    assert NRPS in config.scopes_supported


def test_messages_do_not_show_the_configuration_urls_query() -> None:
    with pytest.raises(RegistrationError) as refused:
        check_configuration(canvas(registration_endpoint="https://evil.example/reg"), CANVAS_CONFIG_URL)
    assert "registration_token" not in refused.value.detail
    assert "openid-configuration?…" in refused.value.detail


def test_issuer_origin_must_be_the_configuration_urls() -> None:
    with pytest.raises(RegistrationError, match="does not match the origin"):
        check_configuration(moodle(issuer="https://evil.example"), MOODLE_CONFIG_URL)
    with pytest.raises(RegistrationError, match="does not match the origin"):
        check_configuration(moodle(issuer="http://moodle.example.org"), MOODLE_CONFIG_URL)  # scheme too
    # Same origin, issuer with a path (Moodle in a subdirectory): accepted.
    check_configuration(moodle(issuer=MOODLE + "/moodle"), MOODLE + "/moodle/mod/lti/openid-configuration.php")


@pytest.mark.parametrize(
    ("changes", "phrase"),
    [
        ({"issuer": None}, "no valid issuer"),
        ({"issuer": MOODLE + "?x=1"}, "no valid issuer"),
        ({"registration_endpoint": None}, "no valid registration_endpoint"),
        ({"authorization_endpoint": "javascript:alert(1)"}, "no valid authorization_endpoint"),
        ({"token_endpoint": 42}, "no valid token_endpoint"),
        ({"jwks_uri": "/relative"}, "no valid jwks_uri"),
        ({PLATFORM_CONFIGURATION: None}, "lacks https://purl.imsglobal.org/spec/lti-platform-configuration"),
        ({"id_token_signing_alg_values_supported": None}, "RS256"),
        ({"id_token_signing_alg_values_supported": ["ES256"]}, "RS256"),
    ],
)
def test_each_missing_field_is_named(changes: dict[str, Any], phrase: str) -> None:
    with pytest.raises(RegistrationError) as refused:
        check_configuration(moodle(**changes), MOODLE_CONFIG_URL)
    assert phrase in refused.value.detail


def test_not_an_object_is_refused() -> None:
    with pytest.raises(RegistrationError, match="not a JSON object"):
        check_configuration(["issuer"], MOODLE_CONFIG_URL)


def test_hosted_canvas_configuration_from_a_customer_domain_is_accepted() -> None:
    config = check_configuration(canvas(), CANVAS_CONFIG_URL)
    assert config.issuer == "https://canvas.instructure.com"
    assert config.page_origin == "https://school.instructure.com"
    assert config.display_name() == "School"


@pytest.mark.parametrize("field", ["jwks_uri", "authorization_endpoint", "token_endpoint"])
def test_hosted_canvas_issuer_needs_instructure_endpoints(field: str) -> None:
    with pytest.raises(RegistrationError, match="not on Instructure's hosts") as refused:
        check_configuration(canvas(**{field: "https://evil.example/x"}), CANVAS_CONFIG_URL)
    assert field in refused.value.detail
    assert refused.value.status == 403


def test_hosted_canvas_registration_endpoint_must_be_on_the_configuration_origin() -> None:
    with pytest.raises(RegistrationError, match="registration_endpoint"):
        check_configuration(canvas(registration_endpoint="https://evil.example/reg"), CANVAS_CONFIG_URL)


def test_only_the_listed_canvas_issuers_are_exempt() -> None:
    assert set(HOSTED_CANVAS) == {
        "https://canvas.instructure.com",
        "https://canvas.beta.instructure.com",
        "https://canvas.test.instructure.com",
    }
    with pytest.raises(RegistrationError, match="does not match the origin"):
        check_configuration(canvas(issuer="https://canvas.school.edu"), CANVAS_CONFIG_URL)


def _config(scopes: tuple[str, ...] = ()) -> PlatformConfiguration:
    return PlatformConfiguration(
        url=MOODLE_CONFIG_URL,
        issuer=MOODLE,
        authorization_endpoint="a",
        token_endpoint="t",
        jwks_uri="j",
        registration_endpoint="r",
        scopes_supported=scopes,
    )


def test_canvas_is_asked_for_the_course_url_and_moodle_for_nothing() -> None:
    moodle = tool_registration(URLS, _config())[TOOL_CONFIGURATION]["custom_parameters"]
    canvas_config = dataclasses.replace(_config(), product_family_code="canvas")
    canvas = tool_registration(URLS, canvas_config)[TOOL_CONFIGURATION]["custom_parameters"]
    assert moodle == {}
    assert canvas == {"course_url": "${Canvas.api.baseUrl}/courses/${Canvas.course.id}"}


def test_tool_registration_asks_nrps_only_when_offered() -> None:
    assert tool_registration(URLS, _config())["scope"] == ""  # Canvas needs the key
    registration = tool_registration(URLS, _config((NRPS,)))
    assert registration["scope"] == NRPS
    tool = registration[TOOL_CONFIGURATION]
    assert tool["domain"] == "wom.example"
    assert registration["logo_uri"] == URLS.logo
    deep_linking = tool["messages"][1]
    assert deep_linking == {
        "type": "LtiDeepLinkingRequest",
        "target_link_uri": URLS.launch,
        "label": "Word of Mouth",
        "icon_uri": URLS.logo,
        "placements": ["ContentArea"],
    }
    json.dumps(registration)  # serialisable as is


def test_answer_with_deployment() -> None:
    body = json.dumps({"client_id": "abc", TOOL_CONFIGURATION: {"deployment_id": 7}}).encode()
    assert parse_registration(200, body, "r").client_id == "abc"
    assert parse_registration(200, body, "r").deployment_id == "7"


def test_answer_without_deployment() -> None:
    registered = parse_registration(201, json.dumps({"client_id": 10000000000042}).encode(), "r")
    assert (registered.client_id, registered.deployment_id) == ("10000000000042", None)


@pytest.mark.parametrize(
    ("status", "body", "phrase"),
    [
        (401, b'{"error": "invalid_token"}', "HTTP 401 (invalid_token)"),
        (422, b'{"errors": [{"message": "Must be web"}]}', "Must be web"),
        (500, b"<html>oops</html>", "HTTP 500 (<html>oops</html>)"),
        (302, b"", "HTTP 302"),
        (200, b"not json", "did not answer with a JSON object"),
        (200, b'{"client_id": ""}', "no valid client_id"),
        (200, b'{"client_id": true}', "no valid client_id"),
        (
            200,
            b'{"client_id": "a", "https://purl.imsglobal.org/spec/lti-tool-configuration": {"deployment_id": []}}',
            "invalid deployment_id",
        ),
    ],
)
def test_refused_or_broken_answers(status: int, body: bytes, phrase: str) -> None:
    with pytest.raises(RegistrationError) as refused:
        parse_registration(status, body, "https://lms/reg")
    assert phrase in refused.value.detail


def test_platform_error_text_is_clipped() -> None:
    with pytest.raises(RegistrationError) as refused:
        parse_registration(500, b"x" * 5000, "r")
    assert len(refused.value.detail) < 500


@pytest.mark.parametrize(("text", "minutes"), [("30m", 30), ("24h", 1440), ("7d", 10080), (" 2H ", 120)])
def test_durations(text: str, minutes: int) -> None:
    assert parse_duration(text).total_seconds() == minutes * 60


@pytest.mark.parametrize("text", ["", "0m", "24", "1w", "h", "-1h", "1.5h"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(click.BadParameter):
        parse_duration(text)


def test_production_fetches_only_https_configurations() -> None:
    with pytest.raises(RegistrationError, match="must be https in production"):
        fetch_configuration(
            BoundedClient(https_only=True), "http://moodle.example.org/mod/lti/openid-configuration.php"
        )


@pytest.mark.parametrize("url", ["", "moodle.example.org/x", "ftp://moodle/x", "javascript:alert(1)"])
def test_configuration_url_must_be_http(url: str) -> None:
    with pytest.raises(RegistrationError, match="not an absolute http"):
        fetch_configuration(BoundedClient(), url)
