"""The launch works inside the LMS iframe with the LMS and the tool on different sites."""

from __future__ import annotations

from sqlalchemy import select

from plugin.models import Enrolment, Learner, LoginState
from tests.browser.conftest import DemoSite


def tool_frame(page, site: DemoSite):  # type: ignore[no-untyped-def]
    page.wait_for_selector("#tool-frame")
    return page.frame_locator("#tool-frame")


def test_learner_launch_inside_a_cross_site_iframe(page, demo_site: DemoSite) -> None:
    page.goto(f"{demo_site.lms_url}/demo/course/safety?as=ada")
    frame = tool_frame(page, demo_site)
    frame.locator("#wom-where").wait_for()
    assert "Ada Lovelace" in frame.locator("#wom-where").inner_text()
    assert "Safety at Work" in frame.locator("#wom-where").inner_text()
    frame.locator("#wom-app[data-connected='true']").wait_for(timeout=10_000)
    # Connected: the widgets loaded with the launch's token, and nothing went wrong.
    frame.get_by_role("region", name="Ratings and reviews").wait_for(timeout=10_000)
    frame.get_by_role("region", name="Comments").wait_for(timeout=10_000)
    assert frame.locator("#wom-status").inner_text() == ""

    launched = next(f for f in page.frames if f.url.startswith(demo_site.tool_url))
    assert launched.url == demo_site.tool_url + "/lti/launch"
    session = demo_site.app.extensions["wordofmouth.sessions"]()
    try:
        learner = session.scalars(select(Learner)).one()
        assert (learner.name, learner.org_group) == ("Ada Lovelace", "Engineering")
        assert session.scalars(select(Enrolment)).one().learner_id == learner.id
        state = session.scalars(select(LoginState)).one()
        assert state.used_at is not None
    finally:
        session.close()


def test_the_partitioned_login_cookie_binds_the_launch(page, demo_site: DemoSite, caplog) -> None:
    import logging

    logger = logging.getLogger("wordofmouth")
    logger.addHandler(caplog.handler)
    try:
        page.goto(f"{demo_site.lms_url}/demo/course/python?as=grace")
        tool_frame(page, demo_site).locator("#wom-app[data-connected='true']").wait_for(timeout=10_000)
    finally:
        logger.removeHandler(caplog.handler)
    accepted = [r.getMessage() for r in caplog.records if "accepted" in r.getMessage()]
    assert accepted and "browser_bound=True" in accepted[-1], accepted


def test_instructor_places_widgets_with_deep_linking(page, demo_site: DemoSite) -> None:
    page.goto(f"{demo_site.lms_url}/demo/course/leading?as=ines&link=deep-linking")
    frame = tool_frame(page, demo_site)
    frame.get_by_role("heading", name="Place Word of Mouth in Leading Teams").wait_for()
    frame.get_by_label("Title shown in the course").fill("Team talk")
    frame.get_by_label("Ratings and reviews").uncheck()
    frame.get_by_label("Recommended for you").uncheck()
    frame.get_by_role("button", name="Add to course").click()
    frame.locator("#added").wait_for()
    assert frame.locator("#added").inner_text() == "Team talk"

    page.goto(f"{demo_site.lms_url}/demo/course/leading?as=alan")
    page.get_by_role("link", name="Team talk").click()
    frame = tool_frame(page, demo_site)
    frame.locator("#wom-app[data-connected='true']").wait_for(timeout=10_000)
    frame.get_by_role("region", name="Comments").wait_for(timeout=10_000)
    assert frame.get_by_role("region", name="Ratings and reviews").count() == 0
    assert frame.get_by_role("region", name="Moderation and insights").count() == 0


def test_blocked_iframe_offers_a_new_window_that_works(page, demo_site: DemoSite) -> None:
    blocked = {"first": True}

    def block_first_api_call(route):  # type: ignore[no-untyped-def]
        if blocked["first"]:
            blocked["first"] = False
            route.abort()
        else:
            route.continue_()

    # The launched page asks for its widgets' fragments first (the new window asks /api/v1/me first).
    page.context.route("**/api/v1/fragments/ratings*", block_first_api_call)
    page.goto(f"{demo_site.lms_url}/demo/course/safety?as=katherine")
    frame = tool_frame(page, demo_site)
    link = frame.get_by_role("link", name="Open Word of Mouth in a new window")
    link.wait_for(timeout=10_000)
    assert "blocked" in frame.locator("#wom-status").inner_text()
    with page.context.expect_page() as opened:
        link.click()
    window = opened.value
    window.locator("#wom-app[data-connected='true']").wait_for(timeout=10_000)
    assert "Katherine Johnson" in window.locator("#wom-where").inner_text()
    window.get_by_role("region", name="Ratings and reviews").wait_for(timeout=10_000)
    assert "#token=" not in window.url  # the token does not linger in the address bar
