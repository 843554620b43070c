"""Chromium: the registration page shows inside the registering LMS's frame, and its Done button
tells the LMS to close the dialog (LTI Dynamic Registration 1.0 §3.6.1); other sites cannot frame it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import quote, urlencode

import pytest
from flask import Flask

from plugin.app import create_app
from tests.browser.test_framing import framing_site
from tests.support.processes import free_port
from tests.support.registration_platform import RegistrationPlatform, running_registration_platform
from tests.support.servers import serve


@dataclass
class RunningTool:
    url: str
    app: Flask

    def one_time_url(self) -> str:
        """What ``wordofmouth registration-url`` prints."""
        result = self.app.test_cli_runner().invoke(args=["registration-url", "--expires", "30m"])
        assert result.exit_code == 0, result.output
        return result.output.splitlines()[0]


@pytest.fixture
def tool(app_config: dict[str, str]) -> Iterator[RunningTool]:
    port = free_port()
    url = f"http://localhost:{port}"  # the LMS is on 127.0.0.1: another site, as in real life
    app = create_app({**app_config, "WOM_BASE_URL": url})
    with serve(app, port, host="127.0.0.1"):
        yield RunningTool(url, app)
    app.extensions["wordofmouth.engine"].dispose()


@pytest.fixture
def moodle() -> Iterator[RegistrationPlatform]:
    with running_registration_platform("moodle") as platform:
        yield platform


def test_done_closes_the_lms_dialog(page, tool: RunningTool, moodle: RegistrationPlatform) -> None:
    page.goto(f"{moodle.site}/admin/register-tool?url={quote(tool.one_time_url(), safe='')}")
    frame = page.frame_locator("#registration")
    frame.get_by_role("heading", name="Word of Mouth is registered").wait_for(timeout=30_000)
    assert frame.locator("#wom-client-id").inner_text() == moodle.client_id
    frame.get_by_role("button", name="Done").click()
    page.get_by_text(f"closed by {tool.url}").wait_for(timeout=30_000)


def test_another_site_cannot_frame_the_registration_page(page, tool: RunningTool, moodle: RegistrationPlatform) -> None:
    query = {"openid_configuration": moodle.configuration_url, "registration_token": moodle.registration_token}
    target = f"{tool.one_time_url()}&{urlencode(query)}"
    with framing_site(target) as elsewhere:
        with page.expect_console_message(lambda m: "frame-ancestors" in m.text, timeout=30_000):
            page.goto(elsewhere)
        page.get_by_role("heading", name="Elsewhere").wait_for()
        assert page.frame_locator("#target").get_by_role("button", name="Done").count() == 0
    assert len(moodle.registrations) == 1  # the registration ran; only its page was not shown there


@pytest.fixture
def canvas() -> Iterator[RegistrationPlatform]:
    with running_registration_platform("canvas") as platform:
        yield platform


def test_canvas_dialog_on_another_domain_than_its_configuration(
    page, tool: RunningTool, canvas: RegistrationPlatform
) -> None:
    # Canvas's admin pages (canvas.site) are not where its configuration is (its issuer's host).
    assert canvas.site != canvas.config_origin
    page.goto(f"{canvas.site}/admin/register-tool?url={quote(tool.one_time_url(), safe='')}")
    frame = page.frame_locator("#registration")
    frame.get_by_role("heading", name="Word of Mouth is registered").wait_for(timeout=30_000)
    frame.get_by_role("button", name="Done").click()
    page.get_by_text(f"closed by {tool.url}").wait_for(timeout=30_000)
