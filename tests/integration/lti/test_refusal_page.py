"""Who reads a refusal: the learner gets a short explanation and a code, the admin the fix in the log."""

from __future__ import annotations

import io
import logging

from tests.integration.lti.conftest import Tool
from tests.integration.lti.test_deep_linking import deep_linking_claims
from tests.support.lti_platform import LEARNER, LmsPlatform


def _other_issuer(lms: LmsPlatform):  # type: ignore[no-untyped-def]
    def token(body, _redirect):  # type: ignore[no-untyped-def]
        return lms.sign({**body, "iss": "https://moodle.unknown.example"})

    return token


def test_a_learner_gets_an_explanation_and_a_code_and_the_admin_gets_the_fix_in_the_log(
    tool: Tool, lms: LmsPlatform, browser
) -> None:
    handler = logging.getLogger("wordofmouth").handlers[0]
    buffer = io.StringIO()
    previous = handler.setStream(buffer)
    try:
        response = lms.launch(browser, tool.url, token=_other_issuer(lms))
    finally:
        handler.setStream(previous)
    assert response.status_code == 403
    page = response.text
    request_id = response.headers["X-Request-Id"]
    assert "nothing you can fix yourself" in page
    assert f'<code class="refusal-code">{request_id}</code>' in page
    assert "tell your LMS administrator this code:" in page
    assert "unknown issuer https://moodle.unknown.example" in page  # the reason, folded away for the admin
    assert "wordofmouth" not in page.replace("Word of Mouth", "")
    assert "`" not in page and "--client-id" not in page
    # The page may be framed by any LMS (it is an error page) and reads on its own.
    assert "frame-ancestors *" in response.headers["Content-Security-Policy"]
    (line,) = [line for line in buffer.getvalue().splitlines() if "refused" in line]
    assert f"[{request_id}]" in line
    assert "unknown issuer https://moodle.unknown.example" in line
    assert "fix: Register it with `wordofmouth platform add --issuer https://moodle.unknown.example" in line


def test_advice_fits_the_refusal(tool: Tool, lms: LmsPlatform, browser) -> None:
    learner = lms.launch(browser, tool.url, claims=deep_linking_claims(lms, roles=[LEARNER]))
    assert learner.status_code == 403
    assert "Ask an instructor of this course" in learner.text
    visit = browser.post(tool.url + "/lti/login", data={})
    assert visit.status_code == 400
    assert "Open Word of Mouth from a page of your course" in visit.text


def test_the_refusal_page_is_translated(tool: Tool, lms: LmsPlatform, browser) -> None:
    browser.headers["Accept-Language"] = "de"
    response = lms.launch(browser, tool.url, token=_other_issuer(lms))
    assert response.status_code == 403
    assert 'lang="en"' in response.text  # the technical reason stays English, marked as such
    assert "Word of Mouth konnte hier nicht geöffnet werden" in response.text
    assert "nennen Sie Ihrer LMS-Administration diesen Code" in response.text
    assert "tell your LMS administrator" not in response.text
