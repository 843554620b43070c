"""Real Chromium (Debian's package) driven by Playwright, against the tool served on loopback.

The demo LMS page is opened on http://127.0.0.1:PORT while the tool's base URL is
http://localhost:PORT: two different sites, so the iframe is third-party, as in a real LMS.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from flask import Flask

from plugin.app import create_app
from tests.support.processes import free_port
from tests.support.servers import serve

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def _chromium_problem() -> str | None:
    if not shutil.which(CHROMIUM):
        return f"{CHROMIUM} is not installed (apt-get install -y chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[dev]')"
    return None


@pytest.fixture(scope="session")
def chromium():  # type: ignore[no-untyped-def]
    problem = _chromium_problem()
    if problem:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"browser tests cannot run in CI: {problem}")
        pytest.skip(problem)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@dataclass
class DemoSite:
    lms_url: str
    tool_url: str
    app: Flask


@pytest.fixture
def demo_site(app_config: dict[str, str]) -> Iterator[DemoSite]:
    port = free_port()
    lms_url, tool_url = f"http://127.0.0.1:{port}", f"http://localhost:{port}"
    app = create_app({**app_config, "WOM_BASE_URL": tool_url, "WOM_DEMO": "1", "WOM_DEMO_LMS_URL": lms_url})
    with serve(app, port, host="127.0.0.1"):
        yield DemoSite(lms_url, tool_url, app)
    app.extensions["wordofmouth.engine"].dispose()


@pytest.fixture
def seeded_demo_site(demo_site: DemoSite) -> DemoSite:
    """The demo site after `wordofmouth demo seed`: the lived-in organisation of `make run`."""
    result = demo_site.app.test_cli_runner().invoke(args=["demo", "seed"])
    assert result.exit_code == 0 and "seeded" in result.output, result.output
    return demo_site


@pytest.fixture
def page(chromium):  # type: ignore[no-untyped-def]
    context = chromium.new_context()
    page = context.new_page()
    yield page
    context.close()
