"""The deep linking picker form is single-use (issue 9, item 4): a second post of the same form,
or two at once, makes no second set of placements and no second signed response."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import requests
from sqlalchemy import func, select

from plugin.models import Placement
from tests.integration.lti.conftest import Tool
from tests.integration.lti.test_deep_linking import hidden, picker
from tests.support.lti_platform import LmsPlatform


def form(page: str) -> dict[str, str]:
    return {"dl_token": hidden(page, "dl_token"), "widget_ratings": "1", "layout": "together"}


def placements(tool: Tool) -> int:
    session = tool.session()
    try:
        return session.scalar(select(func.count()).select_from(Placement)) or 0
    finally:
        session.close()


def test_the_same_picker_form_posted_three_times_answers_once(tool: Tool, lms: LmsPlatform, browser) -> None:
    data = form(picker(tool, lms, browser))
    first = browser.post(tool.url + "/lti/deep-linking/respond", data=data)
    assert first.status_code == 200, first.text
    assert 'name="JWT"' in first.text
    for _ in range(2):
        again = browser.post(tool.url + "/lti/deep-linking/respond", data=data)
        assert again.status_code == 409, again.text
        assert "already submitted" in again.text
        assert 'name="JWT"' not in again.text
    assert placements(tool) == 1


def test_a_new_picker_launch_gives_a_new_form(tool: Tool, lms: LmsPlatform, browser) -> None:
    for _ in range(2):
        response = browser.post(tool.url + "/lti/deep-linking/respond", data=form(picker(tool, lms, browser)))
        assert response.status_code == 200, response.text
    assert placements(tool) == 2


def test_a_double_submit_at_once_yields_exactly_one_success(tool: Tool, lms: LmsPlatform, browser) -> None:
    data = form(picker(tool, lms, browser))
    racers = 4
    start = threading.Barrier(racers)

    def submit(_: int) -> int:
        start.wait(timeout=60)
        return requests.post(tool.url + "/lti/deep-linking/respond", data=data, timeout=120).status_code

    with ThreadPoolExecutor(racers) as pool:
        statuses = sorted(pool.map(submit, range(racers)))
    assert statuses == [200] + [409] * (racers - 1)
    assert placements(tool) == 1


def test_a_form_with_errors_can_be_corrected_and_sent(tool: Tool, lms: LmsPlatform, browser) -> None:
    page = picker(tool, lms, browser)
    nothing = browser.post(tool.url + "/lti/deep-linking/respond", data={"dl_token": hidden(page, "dl_token")})
    assert nothing.status_code == 422  # no widget chosen: the form comes back, the token is not spent
    fixed = browser.post(tool.url + "/lti/deep-linking/respond", data=form(page))
    assert fixed.status_code == 200, fixed.text
