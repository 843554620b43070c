"""CSP frame-ancestors: the registered platforms' page origins, learned from launches at once."""

from __future__ import annotations

import requests
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from plugin import framing
from plugin.models.platform import OriginSource, PlatformOrigin
from plugin.services import platform_origins, platforms
from tests.integration.lti.conftest import Tool, register
from tests.support.lti_platform import LTI, LmsPlatform, running_platform

CUSTOMER_PAGE = "https://School.Example.edu/courses/7/external_content/success/external_tool_redirect"


def frame_ancestors(response: requests.Response) -> list[str]:
    policy = response.headers["Content-Security-Policy"]
    directives = [d.strip() for d in policy.split(";")]
    found = [d for d in directives if d.startswith("frame-ancestors ")]
    assert len(found) == 1, policy
    return found[0].split()[1:]


def presentation(return_url: str) -> dict[str, object]:
    return {LTI + "launch_presentation": {"document_target": "iframe", "return_url": return_url}}


def test_a_launch_from_a_new_origin_is_allowed_at_once_and_afterwards(tool: Tool, lms: LmsPlatform, browser) -> None:
    before = frame_ancestors(requests.get(tool.url + "/"))  # fills the cache
    assert before == ["'self'", "https://lms.example.org"]  # the issuer's origin counts without a row

    launched = lms.launch(browser, tool.url, claims=presentation(CUSTOMER_PAGE))
    assert launched.status_code == 200, launched.text
    assert frame_ancestors(launched) == ["'self'", "https://lms.example.org", "https://school.example.edu"]

    later = requests.get(tool.url + "/")  # another HTML page, within the cache's lifetime
    assert "https://school.example.edu" in frame_ancestors(later)
    session = tool.session()
    try:
        row = session.scalars(select(PlatformOrigin)).one()
        assert (row.origin, row.source) == ("https://school.example.edu", OriginSource.LAUNCH)
    finally:
        session.close()

    again = lms.launch(browser, tool.url, claims=presentation(CUSTOMER_PAGE))
    assert again.status_code == 200
    assert frame_ancestors(again) == frame_ancestors(launched)


def test_frame_ancestors_is_one_list_for_all_platforms(tool: Tool, lms: LmsPlatform, browser) -> None:
    with running_platform("https://other-lms.example.net", client_id="other") as other:
        register(tool, other)  # behind the app's back, as another process would
        session = tool.session()
        try:
            found = platforms.find_platform(session, other.issuer, other.client_id)
            assert found is not None
            platform_origins.add_origin(session, found.id, "https://college.example.edu")
            session.commit()
        finally:
            session.close()
        framing.invalidate(tool.app)  # what `wordofmouth platform origin add` does in its own process
        launched = lms.launch(browser, tool.url, claims=presentation(CUSTOMER_PAGE))
    assert launched.status_code == 200
    assert frame_ancestors(launched) == [
        "'self'",
        "https://college.example.edu",
        "https://lms.example.org",
        "https://other-lms.example.net",
        "https://school.example.edu",
    ]


def test_an_unusable_return_url_does_not_fail_the_launch(tool: Tool, lms: LmsPlatform, browser) -> None:
    for bad in ("javascript:alert(1)", "/courses/7", "https://lms.example.org; script-src *"):
        launched = lms.launch(browser, tool.url, claims=presentation(bad))
        assert launched.status_code == 200, launched.text
        assert frame_ancestors(launched) == ["'self'", "https://lms.example.org"]
    session = tool.session()
    try:
        assert session.scalars(select(PlatformOrigin)).all() == []
    finally:
        session.close()


def test_json_answers_may_not_be_framed_and_pages_are_cached(app: Flask, client: FlaskClient, db) -> None:  # type: ignore[no-untyped-def]
    health = client.get("/healthz")
    assert health.headers["Content-Security-Policy"].endswith("; frame-ancestors 'none'")
    assert client.get("/").headers["Content-Security-Policy"].endswith("; frame-ancestors 'self'")

    platforms.add_or_update_platform(
        db,
        platforms.PlatformSpec(
            issuer="https://moodle.example.org",
            client_id="m",
            auth_login_url="https://moodle.example.org/auth",
            auth_token_url="https://moodle.example.org/token",
            key_set_url="https://moodle.example.org/jwks",
            deployment_ids=("1",),
        ),
    )
    db.commit()
    cached = client.get("/").headers["Content-Security-Policy"]
    assert cached.endswith("; frame-ancestors 'self'")  # no query per request: the list is cached
    framing.invalidate(app)
    fresh = client.get("/").headers["Content-Security-Policy"]
    assert fresh.endswith("; frame-ancestors 'self' https://moodle.example.org")


def test_a_page_with_its_own_frame_ancestors_keeps_it(app: Flask) -> None:
    from flask import Response

    @app.get("/test-own-policy")
    def own_policy() -> Response:
        response = Response("<p>hi</p>", mimetype="text/html")
        response.headers["Content-Security-Policy"] = "default-src 'self'; frame-ancestors https://x.example"
        return response

    policy = app.test_client().get("/test-own-policy").headers["Content-Security-Policy"]
    assert policy == "default-src 'self'; frame-ancestors https://x.example"
