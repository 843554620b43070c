"""Screenshots of the widgets for the README, taken from the demo LMS in Debian's Chromium.

Run from the repository root: ``.venv/bin/python docs/screenshots/make_screenshots.py``.
It starts the app on a free loopback port with a throw-away SQLite database, fills a course
with a few ratings, reviews and comments through the real widgets, and saves:

- ratings-learner.png: the "Ratings and reviews" widget as a learner sees it
- comments-learner.png: the "Comments" widget as a learner sees it
- moderation-instructor.png: the instructor's "Moderation and insights" panel
- widgets-375px.png: the whole tool page at a phone's width (375 px)
- colleagues-learner.png, recommendations-learner.png: "Colleagues who took this" and
  "Recommended for you" for Ada in the seeded demo organisation (``wordofmouth demo seed``)
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from flask import Flask  # noqa: E402
from playwright.sync_api import Browser, FrameLocator, Page, sync_playwright  # noqa: E402

from plugin import migrate  # noqa: E402
from plugin.app import create_app  # noqa: E402
from tests.support.processes import free_port  # noqa: E402
from tests.support.servers import serve  # noqa: E402

OUT = Path(__file__).resolve().parent
CHROMIUM = "/usr/bin/chromium"
WAIT = 15_000


def launch(page: Page, lms_url: str, person: str, course: str = "safety") -> FrameLocator:
    page.goto(f"{lms_url}/demo/course/{course}?as={person}")
    frame = page.frame_locator("#tool-frame")
    frame.locator("#wom-app[data-connected='true']").wait_for(timeout=WAIT)
    return frame


def done(frame: FrameLocator, message: str) -> None:
    frame.locator("#wom-status", has_text=message).wait_for(timeout=WAIT)


def rate(frame: FrameLocator, stars: int, review: str) -> None:
    region = frame.get_by_role("region", name="Ratings and reviews")
    region.get_by_role("radio", name=f"{stars} star" + ("s" if stars > 1 else ""), exact=True).check()
    region.get_by_role("textbox", name="Your review").fill(review)
    region.get_by_role("button", name="Save rating").click()
    done(frame, "Your rating is saved.")


def comment(frame: FrameLocator, text: str) -> None:
    region = frame.get_by_role("region", name="Comments")
    region.get_by_role("textbox", name="Add a comment").fill(text)
    region.get_by_role("button", name="Post comment").click()
    done(frame, "Your comment is")


def fill_course(page: Page, lms_url: str) -> None:
    frame = launch(page, lms_url, "grace")
    rate(frame, 5, "Clear and practical. The checklist at the end is worth printing: see https://example.org/checklist")
    comment(frame, "Does anyone know whether the fire drill part applies to remote staff too?")
    frame = launch(page, lms_url, "alan")
    rate(frame, 4, "Good pace. The quiz could use a few harder questions.")
    frame = launch(page, lms_url, "katherine")
    rate(frame, 3, "")
    region = frame.get_by_role("region", name="Comments")
    region.get_by_role("button", name="Reply", exact=True).first.click()
    region.get_by_role("textbox", name="Your reply").fill("It does: section 3 covers working from home.")
    region.get_by_role("button", name="Post reply").click()
    done(frame, "Your reply is posted.")
    comment(frame, "Buy cheap watches at spam.example!!!")
    frame = launch(page, lms_url, "ada")
    rate(frame, 4, "Short and to the point.")
    reviews = frame.get_by_role("region", name="Ratings and reviews")
    reviews.get_by_role("article").filter(has_text="Grace Hopper").get_by_role("button", name="Helpful").click()
    done(frame, "Thanks for your vote.")
    spam = frame.get_by_role("region", name="Comments").get_by_role("article").filter(has_text="cheap watches")
    spam.get_by_role("button", name="Report", exact=True).first.click()
    spam.get_by_role("textbox").first.fill("Advertising")
    spam.get_by_role("button", name="Send report").click()
    done(frame, "An instructor will look at it.")


def shoot(page: Page, frame: FrameLocator, name: str, selector: str | None = None) -> None:
    page.wait_for_function(
        "() => { const f = document.getElementById('tool-frame'); return f && parseInt(f.style.height || '0') > 0; }",
        timeout=WAIT,
    )
    # The frame grows in steps (lti.frameResize) while widgets load: wait until it holds the content.
    tool = next(f for f in page.frames if f.url.startswith("http://localhost"))
    page.wait_for_function(
        "need => parseInt(document.getElementById('tool-frame').style.height || '0') >= need - 2",
        arg=tool.evaluate("() => Math.ceil(document.body.getBoundingClientRect().height)"),
        timeout=WAIT,
    )
    if selector:  # the widget with a margin of white around it
        box = frame.locator(selector).bounding_box()
        assert box is not None
        margin = 8
        clip = {
            "x": box["x"] - margin,
            "y": box["y"] - margin,
            "width": box["width"] + 2 * margin,
            "height": box["height"] + 2 * margin,
        }
        page.screenshot(path=str(OUT / name), clip=clip)
    else:
        page.locator("#tool-frame").screenshot(path=str(OUT / name))
    print("saved", OUT / name)


@dataclass
class DemoSite:
    """The app with the demo LMS, served on a loopback port, and a Chromium to look at it."""

    app: Flask
    lms_url: str
    browser: Browser


@contextmanager
def demo_site(seed: bool = False) -> Iterator[DemoSite]:
    """A throw-away SQLite database, the app on a free port (the LMS on 127.0.0.1, the tool on
    localhost: two sites, as in a real LMS) and Chromium; ``seed`` runs ``wordofmouth demo seed``."""
    with tempfile.TemporaryDirectory() as folder:
        database_url = f"sqlite:///{folder}/screenshots.db"
        migrate.upgrade(database_url)
        port = free_port()
        lms_url = f"http://127.0.0.1:{port}"
        app = create_app(
            {
                "WOM_DATABASE_URL": database_url,
                "WOM_INSTANCE_PATH": f"{folder}/instance",
                "WOM_SECRET_KEY": "screenshots-only-secret-key-0123456789abcdef",
                "WOM_BASE_URL": f"http://localhost:{port}",
                "WOM_ENV": "development",
                "WOM_DEMO": "1",
                "WOM_DEMO_LMS_URL": lms_url,
            }
        )
        if seed:
            result = app.test_cli_runner().invoke(args=["demo", "seed"])
            assert result.exit_code == 0, result.output
        try:
            with serve(app, port, host="127.0.0.1"), sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
                try:
                    yield DemoSite(app, lms_url, browser)
                finally:
                    browser.close()
        finally:
            app.extensions["wordofmouth.engine"].dispose()


def colleague_shots() -> None:
    """The colleague widgets need an organisation with a history: the demo seed's."""
    with demo_site(seed=True) as site:
        # The seeded course page is long: the recommendations come last, far down.
        page = site.browser.new_context(viewport={"width": 760, "height": 9000}, device_scale_factor=1).new_page()
        frame = launch(page, site.lms_url, "ada")
        shoot(page, frame, "colleagues-learner.png", "[data-widget='colleagues']")
        shoot(page, frame, "recommendations-learner.png", "[data-widget='recommendations']")


def main() -> None:
    colleague_shots()
    with demo_site() as site:
        lms_url = site.lms_url
        # Tall viewports: Chromium paints a cross-site iframe only where it is on screen.
        page = site.browser.new_context(viewport={"width": 760, "height": 4000}, device_scale_factor=1).new_page()
        fill_course(page, lms_url)

        frame = launch(page, lms_url, "ada")
        shoot(page, frame, "ratings-learner.png", "[data-widget='ratings']")
        shoot(page, frame, "comments-learner.png", "[data-widget='comments']")

        frame = launch(page, lms_url, "ines")
        shoot(page, frame, "moderation-instructor.png", "[data-widget='moderation']")

        # The iframe at a phone's width.
        small = site.browser.new_context(viewport={"width": 375, "height": 4000}, device_scale_factor=1).new_page()
        frame = launch(small, lms_url, "ada")
        shoot(small, frame, "widgets-375px.png")


if __name__ == "__main__":
    main()
