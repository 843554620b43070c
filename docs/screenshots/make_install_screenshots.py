"""Screenshots for the install guides (docs/install-moodle.md, docs/install-canvas.md).

Run from the repository root: ``.venv/bin/python docs/screenshots/make_install_screenshots.py``.
It starts the app with the demo LMS on a free loopback port and a throw-away SQLite database,
disables the demo LMS's registration (``wordofmouth platform disable``) and saves:

- refusal-learner.png: what a learner sees in the course page when a launch is refused, the
  details for the administrator unfolded, with the code to pass on;
- console-failure.png: the operator console's *Launch failures* page found by that code (only when
  the console is part of this checkout).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402

from plugin import migrate  # noqa: E402
from plugin.app import create_app  # noqa: E402
from tests.support.processes import free_port  # noqa: E402
from tests.support.servers import serve  # noqa: E402

OUT = Path(__file__).resolve().parent
CHROMIUM = "/usr/bin/chromium"
WAIT = 15_000
DEMO_CLIENT_ID = "wom-demo-client"


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        database_url = f"sqlite:///{folder}/screenshots.db"
        migrate.upgrade(database_url)
        port = free_port()
        lms_url, tool_url = f"http://127.0.0.1:{port}", f"http://localhost:{port}"
        app = create_app(
            {
                "WOM_DATABASE_URL": database_url,
                "WOM_INSTANCE_PATH": f"{folder}/instance",
                "WOM_SECRET_KEY": "screenshots-only-secret-key-0123456789abcdef",
                "WOM_BASE_URL": tool_url,
                "WOM_ENV": "development",
                "WOM_DEMO": "1",
                "WOM_DEMO_LMS_URL": lms_url,
            }
        )
        with serve(app, port, host="127.0.0.1"), sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
            context = browser.new_context(viewport={"width": 760, "height": 1400}, device_scale_factor=1)
            page = context.new_page()
            page.goto(f"{lms_url}/demo/course/safety?as=ada")
            page.frame_locator("#tool-frame").locator("#wom-app[data-connected='true']").wait_for(timeout=WAIT)

            result = app.test_cli_runner().invoke(
                args=["platform", "disable", f"{lms_url}/demo", "--client-id", DEMO_CLIENT_ID]
            )
            assert result.exit_code == 0, result.output

            page.goto(f"{lms_url}/demo/course/safety?as=ada")
            frame = page.frame_locator("#tool-frame")
            code = frame.locator(".refusal-code").inner_text(timeout=WAIT).strip()
            frame.locator("details summary").click()
            page.locator("#tool-frame").screenshot(path=str(OUT / "refusal-learner.png"))
            print("saved", OUT / "refusal-learner.png", "code", code)

            if any(rule.rule.startswith("/admin") for rule in app.url_map.iter_rules()):
                admin = browser.new_context(viewport={"width": 1100, "height": 700}, device_scale_factor=1).new_page()
                admin.goto(f"{lms_url}/admin/failures?code={code}")
                admin.get_by_text(code).first.wait_for(timeout=WAIT)
                admin.screenshot(path=str(OUT / "console-failure.png"), full_page=True)
                print("saved", OUT / "console-failure.png")
            browser.close()
        app.extensions["wordofmouth.engine"].dispose()


if __name__ == "__main__":
    main()
