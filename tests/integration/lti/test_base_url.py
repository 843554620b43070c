"""Every absolute URL the tool hands out comes from WOM_BASE_URL, never from the request's Host."""

from __future__ import annotations

import jwt

from tests.integration.lti.conftest import Tool
from tests.integration.lti.test_deep_linking import hidden, picker
from tests.support.lti_platform import LTI, LmsPlatform

EVIL_HOST = "evil.example:666"
DL = "https://purl.imsglobal.org/spec/lti-dl/claim/"


def test_login_redirect_uri_ignores_the_host_header(tool: Tool, lms: LmsPlatform, browser) -> None:
    browser.headers["Host"] = EVIL_HOST
    browser.headers["X-Forwarded-Host"] = EVIL_HOST
    browser.headers["X-Forwarded-Proto"] = "https"
    redirect = lms.login(browser, tool.url)
    assert redirect.redirect_uri == tool.url + "/lti/launch"


def test_launch_page_and_deep_linking_items_ignore_the_host_header(tool: Tool, lms: LmsPlatform, browser) -> None:
    browser.headers["Host"] = EVIL_HOST
    launched = lms.launch(browser, tool.url)
    assert launched.status_code == 200, launched.text
    assert "evil.example" not in launched.text
    assert tool.url + "/lti/app" in launched.text

    page = picker(tool, lms, browser)
    answer = browser.post(
        tool.url + "/lti/deep-linking/respond",
        data={"dl_token": hidden(page, "dl_token"), "widget_ratings": "1", "layout": "together"},
    )
    assert answer.status_code == 200, answer.text
    message = jwt.decode(hidden(answer.text, "JWT"), options={"verify_signature": False})
    (item,) = message[DL + "content_items"]
    assert item["url"] == tool.url + "/lti/launch"
    assert "evil.example" not in answer.text
    assert message[LTI + "message_type"] == "LtiDeepLinkingResponse"


def test_admin_urls_come_from_the_base_url(tool: Tool) -> None:
    from plugin.app import admin_urls

    urls = dict(admin_urls(tool.app))
    assert all(url.startswith(tool.url + "/") for url in urls.values()), urls
