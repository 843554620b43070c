"""Screenshots for the install guides (docs/install-moodle.md, docs/install-canvas.md).

Run from the repository root: ``.venv/bin/python docs/screenshots/make_install_screenshots.py``.
It starts the app with the demo LMS on a free loopback port and a throw-away SQLite database
(``make_screenshots.demo_site``), disables the demo LMS's registration (``wordofmouth platform
disable``) and saves:

- refusal-learner.png: what a learner sees in the course page when a launch is refused, the
  details for the administrator unfolded, with the code to pass on;
- console-failure.png: the operator console's *Launch failures* page found by that code.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from make_screenshots import OUT, WAIT, demo_site, launch

DEMO_CLIENT_ID = "wom-demo-client"


def main() -> None:
    with demo_site() as site:
        lms_url = site.lms_url
        page = site.browser.new_context(viewport={"width": 760, "height": 1400}, device_scale_factor=1).new_page()
        launch(page, lms_url, "ada")  # a working launch first: the demo registers its platform on first use

        result = site.app.test_cli_runner().invoke(
            args=["platform", "disable", f"{lms_url}/demo", "--client-id", DEMO_CLIENT_ID]
        )
        assert result.exit_code == 0, result.output

        page.goto(f"{lms_url}/demo/course/safety?as=ada")
        frame = page.frame_locator("#tool-frame")
        code = frame.locator(".refusal-code").inner_text(timeout=WAIT).strip()
        frame.locator("details summary").click()
        page.locator("#tool-frame").screenshot(path=str(OUT / "refusal-learner.png"))
        print("saved", OUT / "refusal-learner.png", "code", code)

        admin = site.browser.new_context(viewport={"width": 1100, "height": 700}, device_scale_factor=1).new_page()
        admin.goto(f"{lms_url}/admin/failures?code={code}")
        admin.get_by_text(code).first.wait_for(timeout=WAIT)
        admin.screenshot(path=str(OUT / "console-failure.png"), full_page=True)
        print("saved", OUT / "console-failure.png")


if __name__ == "__main__":
    main()
