"""Colleagues who took this and Recommended for you, as people use them in the demo LMS.

The lived-in organisation (``wordofmouth demo seed``) shows real counts and reasons; a fresh one
shows the privacy rules at work: counts under 3 are words, and only colleagues who chose to show
their name can be found and sent a recommendation. Every step waits on what the page shows.
"""

from __future__ import annotations

import re

from playwright.sync_api import FrameLocator, Locator, Page, expect

from lti.demo import platform as demo
from lti.demo.seed import PLAN
from tests.browser.conftest import DemoSite
from tests.browser.test_widgets import WAIT, act, launch, region

COLLEAGUES, RECOMMENDED = "Colleagues who took this", "Recommended for you"
TAKERS = re.compile(r"^(\d+ colleagues? took this|Fewer than 3 colleagues took this)")


def press(frame: FrameLocator, control: Locator, announced: str) -> None:
    """Like ``act``, with the keyboard only: focus the control, press Enter, wait for the announcement."""
    status = frame.locator("#wom-status")
    status.evaluate("element => { element.textContent = ''; }")
    control.focus()
    expect(control).to_be_focused()
    control.press("Enter")
    expect(status).to_contain_text(announced, timeout=WAIT)


def named_row(colleagues: Locator, name: str) -> Locator:
    return (
        colleagues.get_by_role("list", name="Colleagues who show their name")
        .get_by_role("listitem")
        .filter(has_text=name)
    )


def choose_privacy(frame: FrameLocator, show: bool) -> None:
    colleagues = region(frame, COLLEAGUES)
    choice = "Yes, show my name" if show else "No, count me without my name"
    colleagues.get_by_role("radio", name=choice).check()
    act(frame, colleagues.get_by_role("button", name="Save choice"), "Your choice is saved.")


def recommend(frame: FrameLocator, part_of_name: str, name: str) -> None:
    colleagues = region(frame, COLLEAGUES)
    opener = colleagues.get_by_role("button", name="Recommend to a colleague")
    opener.click()
    expect(opener).to_have_attribute("aria-expanded", "true")
    colleagues.get_by_role("searchbox", name="Colleague\u2019s name").fill(part_of_name)
    colleagues.get_by_role("button", name="Find", exact=True).click()
    found = colleagues.get_by_role("list", name="Colleagues found")
    act(frame, found.get_by_role("button", name=f"Recommend to {name}", exact=True), f"Recommended to {name}.")
    expect(colleagues.locator("#wom-sent-to")).to_have_text(f"You recommended this to {name}.")


# -- the lived-in organisation ---------------------------------------------------------------------
def test_ada_sees_colleagues_counts_and_reasons_and_follows_with_the_keyboard(
    page: Page, seeded_demo_site: DemoSite
) -> None:
    ada = launch(page, seeded_demo_site, "ada")
    colleagues = region(ada, COLLEAGUES)
    count = colleagues.locator("#wom-takers-count")
    expect(count).to_have_text(TAKERS, timeout=WAIT)
    expect(count).to_contain_text(re.compile(r"\d+ colleagues took this · \d+ of them in Engineering"))
    also = colleagues.get_by_role("list", name="Colleagues who took this also took").get_by_role("listitem")
    expect(also.first).to_contain_text(re.compile(r"\d+ colleagues"))

    recommended = region(ada, RECOMMENDED)
    items = recommended.get_by_role("list").get_by_role("listitem")
    expect(items.first).to_be_visible(timeout=WAIT)
    assert 3 <= items.count() <= 5
    for n in range(items.count()):
        expect(items.nth(n).locator(".wom-reason")).to_have_text(re.compile(r"\w"))
    expect(recommended).to_contain_text("Recommended to you by Grace Hopper")  # the seed's explicit one
    expect(recommended).to_contain_text(
        re.compile(r"\d+ colleagues( in [\w &]+)? who rated .+ 4★ or 5★ also took this")
    )

    # Follow a colleague she does not follow yet, then unfollow from "Colleagues you follow".
    row = (
        colleagues.get_by_role("list", name="Colleagues who show their name")
        .get_by_role("listitem")
        .filter(has=ada.get_by_role("button", name="Follow", exact=True))
    )
    name = row.first.locator(".wom-person").evaluate("element => element.firstChild.textContent.trim()")
    press(ada, row.first.get_by_role("button", name="Follow", exact=True), f"You follow {name} now.")
    expect(named_row(colleagues, name).get_by_role("button", name="Unfollow", exact=True)).to_be_visible()
    following = colleagues.get_by_role("list", name="Colleagues you follow")
    expect(following).to_contain_text(name)

    press(
        ada,
        following.get_by_role("listitem").filter(has_text=name).get_by_role("button", name="Unfollow", exact=True),
        f"You no longer follow {name}.",
    )
    expect(named_row(colleagues, name).get_by_role("button", name="Follow", exact=True)).to_be_visible()
    expect(following).not_to_contain_text(name)
    expect(following).to_contain_text("Grace Hopper")  # the seed's follows stay


def test_a_recommendation_to_a_colleague_reaches_them_in_the_lived_in_organisation(
    page: Page, seeded_demo_site: DemoSite
) -> None:
    course = next(c for c in (*demo.COURSES, *demo.CATALOGUE) if ("grace", c.id) not in PLAN.took)
    ada = launch(page, seeded_demo_site, "ada", course.id)
    recommend(ada, "hopp", "Grace Hopper")

    grace = launch(page, seeded_demo_site, "grace")
    sent = region(grace, RECOMMENDED).get_by_role("listitem").filter(has_text=course.title)
    expect(sent).to_contain_text("Recommended to you by Ada Lovelace", timeout=WAIT)


# -- a fresh organisation: the privacy rules ---------------------------------------------------------
def test_privacy_choice_decides_who_can_be_found_and_recommended_to(page: Page, demo_site: DemoSite) -> None:
    # Grace has not chosen: the organisation's default (names hidden) applies. She chooses to be named.
    grace = launch(page, demo_site, "grace", "python")
    colleagues = region(grace, COLLEAGUES)
    expect(colleagues.get_by_role("radio", name="No, count me without my name")).to_be_checked()
    expect(colleagues).to_contain_text("You have not chosen yet")
    choose_privacy(grace, True)
    grace = launch(page, demo_site, "grace", "python")  # saved: it holds after a new launch
    colleagues = region(grace, COLLEAGUES)
    expect(colleagues.get_by_role("radio", name="Yes, show my name")).to_be_checked()
    expect(colleagues).not_to_contain_text("You have not chosen yet")

    # Ada is the only one who took Safety at Work: a count under 3 is words, not a number.
    ada = launch(page, demo_site, "ada", "safety")
    expect(region(ada, COLLEAGUES).locator("#wom-takers-count")).to_have_text("Fewer than 3 colleagues took this")
    recommend(ada, "Grace", "Grace Hopper")

    grace = launch(page, demo_site, "grace", "python")
    recommended = region(grace, RECOMMENDED)
    sent = recommended.get_by_role("list").get_by_role("listitem").filter(has_text="Safety at Work")
    expect(sent.locator(".wom-reason")).to_have_text("Recommended to you by Ada Lovelace", timeout=WAIT)

    # Grace changes her mind: she is no longer found by name.
    choose_privacy(grace, False)
    grace = launch(page, demo_site, "grace", "python")
    expect(region(grace, COLLEAGUES).get_by_role("radio", name="No, count me without my name")).to_be_checked()

    ada = launch(page, demo_site, "ada", "leading")
    colleagues = region(ada, COLLEAGUES)
    colleagues.get_by_role("button", name="Recommend to a colleague").click()
    colleagues.get_by_role("searchbox", name="Colleague\u2019s name").fill("Grace")
    colleagues.get_by_role("button", name="Find", exact=True).click()
    expect(colleagues).to_contain_text("No colleague who shows their name matches \u201cGrace\u201d.", timeout=WAIT)
