"""Chromium enforces frame-ancestors: the tool shows in its LMS's frame and in no other site's."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask

from lti.demo import platform as demo
from plugin import framing
from plugin.services import platform_origins, platforms
from tests.browser.conftest import DemoSite
from tests.support.processes import free_port
from tests.support.servers import serve


@contextmanager
def framing_site(target: str) -> Iterator[str]:
    """A page on another origin (another port of 127.0.0.1) that frames ``target``."""
    app = Flask("framing-site")

    @app.get("/")
    def framer() -> str:
        return f'<!doctype html><title>Elsewhere</title><h1>Elsewhere</h1><iframe id="target" src="{target}"></iframe>'

    with serve(app, free_port(), host="127.0.0.1") as url:
        yield url


def allow(site: DemoSite, origin: str) -> None:
    session = site.app.extensions["wordofmouth.sessions"]()
    try:
        demo = platforms.find_platform(session, site.lms_url + "/demo", "wom-demo-client")
        assert demo is not None
        platform_origins.add_origin(session, demo.id, origin)
        session.commit()
    finally:
        session.close()
    framing.invalidate(site.app)


def demo_launch_url(site: DemoSite) -> str:
    """The URL an LMS page frames to launch the tool for Ada in Safety at Work (OIDC login first)."""
    settings = site.app.extensions["wordofmouth.settings"]
    return demo.DemoPlatform(settings).login_url(demo.user("ada"), demo.course("safety"), "safety-wom")


def test_another_site_cannot_frame_the_tool(page, demo_site: DemoSite) -> None:
    page.goto(f"{demo_site.lms_url}/demo/")  # registers the demo LMS
    with framing_site(demo_launch_url(demo_site)) as elsewhere:
        with page.expect_console_message(lambda m: "frame-ancestors" in m.text, timeout=15_000):
            page.goto(elsewhere)
        page.get_by_role("heading", name="Elsewhere").wait_for()
        assert page.frame_locator("#target").locator("#wom-app").count() == 0

        # The same launch shows once that site is one of the LMS's page origins: the refusal was
        # frame-ancestors, and it was the launched widgets page that refused.
        allow(demo_site, elsewhere)
        page.reload()
        page.frame_locator("#target").locator("#wom-app[data-connected='true']").wait_for(timeout=15_000)


def test_the_registered_lms_shows_the_launched_tool(page, demo_site: DemoSite) -> None:
    responses = []
    page.on("response", lambda r: responses.append(r) if r.url == demo_site.tool_url + "/lti/launch" else None)
    page.goto(f"{demo_site.lms_url}/demo/course/safety?as=ada")
    frame = page.frame_locator("#tool-frame")
    frame.locator("#wom-app[data-connected='true']").wait_for(timeout=10_000)
    assert "Ada Lovelace" in frame.locator("#wom-where").inner_text()
    policy = responses[-1].header_value("content-security-policy") or ""
    assert policy.endswith(f"frame-ancestors 'self' {demo_site.lms_url}"), policy
