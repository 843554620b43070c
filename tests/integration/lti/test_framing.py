"""CSP frame-ancestors: a platform's pages may be framed by its own page origins, learned at once."""

from __future__ import annotations

import requests
from flask import Flask
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
    first = lms.launch(browser, tool.url)
    assert frame_ancestors(first) == ["'self'", "https://lms.example.org"]  # the issuer's origin, without a row

    launched = lms.launch(browser, tool.url, claims=presentation(CUSTOMER_PAGE))
    assert launched.status_code == 200, launched.text
    assert frame_ancestors(launched) == ["'self'", "https://lms.example.org", "https://school.example.edu"]

    later = lms.launch(browser, tool.url)  # no return_url this time: the learned origin stays allowed
    assert frame_ancestors(later) == ["'self'", "https://lms.example.org", "https://school.example.edu"]
    session = tool.session()
    try:
        row = session.scalars(select(PlatformOrigin)).one()
        assert (row.origin, row.source) == ("https://school.example.edu", OriginSource.LAUNCH)
    finally:
        session.close()


def test_each_platform_is_framed_by_its_own_origins_only(tool: Tool, lms: LmsPlatform, browser) -> None:
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
        ours = lms.launch(browser, tool.url, claims=presentation(CUSTOMER_PAGE))
        theirs = other.launch(requests.Session(), tool.url)
    assert ours.status_code == 200 and theirs.status_code == 200, (ours.text, theirs.text)
    # No customer's LMS is named in another customer's pages, nor in pages of no platform.
    assert frame_ancestors(ours) == ["'self'", "https://lms.example.org", "https://school.example.edu"]
    assert frame_ancestors(theirs) == ["'self'", "https://college.example.edu", "https://other-lms.example.net"]
    assert frame_ancestors(requests.get(tool.url + "/")) == ["'self'"]


def test_error_pages_show_in_any_frame(tool: Tool, lms: LmsPlatform, browser) -> None:
    """A refused launch must explain itself inside whichever LMS frame it came from; it holds no data."""
    refused = lms.launch(browser, tool.url, claims={"aud": "someone-else"})
    assert refused.status_code in (400, 401, 403)
    assert "text/html" in refused.headers["Content-Type"]
    assert frame_ancestors(refused) == ["*"]


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


def test_json_answers_may_not_be_framed_and_origins_are_cached(tool: Tool, lms: LmsPlatform, browser) -> None:
    health = requests.get(tool.url + "/healthz")
    assert health.headers["Content-Security-Policy"].endswith("; frame-ancestors 'none'")
    assert frame_ancestors(lms.launch(browser, tool.url)) == ["'self'", "https://lms.example.org"]

    session = tool.session()
    try:
        found = platforms.find_platform(session, lms.issuer, lms.client_id)
        assert found is not None
        platform_origins.add_origin(session, found.id, "https://campus.example.edu")
        session.commit()
    finally:
        session.close()
    cached = lms.launch(browser, tool.url)
    assert frame_ancestors(cached) == ["'self'", "https://lms.example.org"]  # no query per request
    framing.invalidate(tool.app)
    fresh = lms.launch(browser, tool.url)
    assert frame_ancestors(fresh) == ["'self'", "https://campus.example.edu", "https://lms.example.org"]


def test_a_page_with_its_own_frame_ancestors_keeps_it(app: Flask) -> None:
    from flask import Response

    @app.get("/test-own-policy")
    def own_policy() -> Response:
        response = Response("<p>hi</p>", mimetype="text/html")
        response.headers["Content-Security-Policy"] = "default-src 'self'; frame-ancestors https://x.example"
        return response

    policy = app.test_client().get("/test-own-policy").headers["Content-Security-Policy"]
    assert policy == "default-src 'self'; frame-ancestors https://x.example"
