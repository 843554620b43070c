"""Checks come before writes: a refused request writes nothing and never fails on a foreign key."""

from __future__ import annotations

from sqlalchemy import func, select

from plugin.models import Item, Placement
from tests.integration.lti.conftest import Tool
from tests.integration.lti.test_deep_linking import hidden, picker
from tests.support.lti_platform import LmsPlatform


def _count(tool: Tool, model: type) -> int:
    session = tool.session()
    try:
        return session.scalar(select(func.count()).select_from(model)) or 0
    finally:
        session.close()


def test_a_picker_token_after_platform_remove_is_a_clear_403(tool: Tool, lms: LmsPlatform, browser) -> None:
    token = hidden(picker(tool, lms, browser), "dl_token")
    result = tool.app.test_cli_runner().invoke(
        args=["platform", "remove", lms.issuer, "--client-id", lms.client_id, "--yes"]
    )
    assert result.exit_code == 0, result.output
    response = browser.post(
        tool.url + "/lti/deep-linking/respond",
        data={"dl_token": token, "widget_ratings": "1"},
        headers={"Accept": "text/html"},
    )
    assert response.status_code == 403, response.text
    assert "registration was removed while the placement form was open" in response.text
    assert _count(tool, Placement) == 0
    assert _count(tool, Item) == 0
