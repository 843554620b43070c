"""axe-core (bundled with axe-playwright-python, nothing downloaded) on the widgets with content.

The course holds a review, a comment with a reply, held comments and a reported review; each
widget is scanned as a learner and as the instructor, with some of its hidden forms opened. The
colleagues and recommendations widgets are scanned again in the seeded demo, where they are full.
Violations of impact "serious" or "critical" fail the test.
"""

from __future__ import annotations

import json

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Frame, FrameLocator, Page, expect

from tests.browser.conftest import DemoSite
from tests.browser.test_colleagues import COLLEAGUES, RECOMMENDED
from tests.browser.test_widgets import (
    HELD,
    WAIT,
    comment,
    launch,
    place_widgets,
    post_comment,
    rate,
    region,
    reply,
    report,
    review_by,
    tool_frame,
)

BLOCKING = {"serious", "critical"}
COURSE, LINK = "leading", "Team talk"


def fill_course(page: Page, site: DemoSite) -> None:
    place_widgets(page, site, COURSE, LINK, hold=True, recommendations=True)
    ines = launch(page, site, "ines", COURSE, link=LINK)
    post_comment(ines, "Welcome! Tell us what you would change in this course.")

    ada = launch(page, site, "ada", COURSE, link=LINK)
    rate(ada, 4, "Useful role plays. See https://example.org/role-plays for the scripts.")
    reply(ada, comment(ada, "Welcome!"), "More time for the feedback exercise, please.", HELD)
    post_comment(ada, "Is there a follow-up course?", HELD)

    grace = launch(page, site, "grace", COURSE, link=LINK)
    rate(grace, 2, "Too long for what it covers.")
    report(grace, review_by(grace, "Ada Lovelace"), "Links to an outside site")
    post_comment(grace, "Could we get the slides?", HELD)

    ines = launch(page, site, "ines", COURSE, link=LINK)
    answer = comment(ines, "Welcome!").get_by_role("article").filter(has_text="feedback exercise")
    answer.get_by_role("button", name="Approve", exact=True).click()
    expect(answer).not_to_contain_text("Waiting for approval", timeout=WAIT)


def blocking_violations(frame: Frame, selector: str | None = None) -> list[dict]:
    results = Axe().run(frame, context=selector)
    return [v for v in results.response["violations"] if v["impact"] in BLOCKING]


def describe(violations: list[dict]) -> str:
    return json.dumps(
        [
            {
                "id": v["id"],
                "impact": v["impact"],
                "help": v["help"],
                "nodes": [{"target": n["target"], "summary": n.get("failureSummary", "")} for n in v["nodes"][:5]],
            }
            for v in violations
        ],
        indent=2,
    )


def open_forms(frame: FrameLocator, staff: bool) -> None:
    """Reveal a few hidden forms (reply, report, edit, hide, recommend) so axe sees them too."""
    open_search(frame, "Grace")
    comments = region(frame, "Comments")
    welcome = comment(frame, "Welcome!")
    welcome.get_by_role("button", name="Reply", exact=True).first.click()
    if staff:
        review_by(frame, "Grace Hopper").get_by_role("button", name="Hide", exact=True).click()
        moderation = region(frame, "Moderation and insights")
        moderation.get_by_role("article").first.get_by_role("button", name="Hide", exact=True).click()
    else:
        review_by(frame, "Grace Hopper").get_by_role("button", name="Report", exact=True).click()
        comments.get_by_role("article").filter(has_text="follow-up").get_by_role(
            "button", name="Edit", exact=True
        ).click()


def open_search(frame: FrameLocator, name: str) -> None:
    """Open "Recommend to a colleague" and search, so the form and its results are scanned."""
    colleagues = region(frame, COLLEAGUES)
    colleagues.get_by_role("button", name="Recommend to a colleague").click()
    colleagues.get_by_role("searchbox", name="Colleague\u2019s name").fill(name)
    colleagues.get_by_role("button", name="Find", exact=True).click()
    expect(colleagues.locator("#wom-share-results")).to_be_visible(timeout=WAIT)


@pytest.mark.parametrize("person", ["ada", "ines"])
def test_widgets_have_no_serious_accessibility_violations(page: Page, demo_site: DemoSite, person: str) -> None:
    fill_course(page, demo_site)
    frame = launch(page, demo_site, person, COURSE, link=LINK)
    staff = person == "ines"
    comments = region(frame, "Comments")
    expect(comments).to_contain_text("Waiting for approval")  # Ada's own held comment, or the queue's
    expect(region(frame, "Ratings and reviews")).to_contain_text("2 reviews")
    expect(region(frame, "Moderation and insights")).to_have_count(1 if staff else 0)
    if staff:
        expect(region(frame, "Moderation and insights")).to_contain_text("1 report")
    open_forms(frame, staff)

    document = tool_frame(page)
    expect(region(frame, RECOMMENDED)).to_be_visible()
    widgets = ["ratings", "comments", "colleagues", "recommendations"] + (["moderation"] if staff else [])
    found = {kind: blocking_violations(document, f"[data-widget='{kind}']") for kind in widgets}
    found["whole page"] = blocking_violations(document)
    problems = {where: describe(v) for where, v in found.items() if v}
    assert not problems, "\n".join(f"{where} as {person}:\n{text}" for where, text in problems.items())


def test_colleagues_and_recommendations_in_the_seeded_demo_have_no_serious_violations(
    page: Page, seeded_demo_site: DemoSite
) -> None:
    frame = launch(page, seeded_demo_site, "ada")
    expect(region(frame, RECOMMENDED).get_by_role("listitem").first).to_be_visible(timeout=WAIT)
    expect(region(frame, COLLEAGUES).get_by_role("list", name="Colleagues you follow")).to_be_visible()
    open_search(frame, "an")

    document = tool_frame(page)
    found = {
        kind: blocking_violations(document, f"[data-widget='{kind}']") for kind in ("colleagues", "recommendations")
    }
    found["whole page"] = blocking_violations(document)
    problems = {where: describe(v) for where, v in found.items() if v}
    assert not problems, "\n".join(f"{where}:\n{text}" for where, text in problems.items())
