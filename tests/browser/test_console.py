"""The operator console in Chromium: sign in, find a real refused launch by the learner's code,
rotate the tool keys with the button; and no other site can frame it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlencode

import pytest
from flask import Flask
from playwright.sync_api import expect

from plugin.app import create_app
from plugin.models.platform import KeyStatus
from plugin.services import tool_keys
from tests.support.processes import free_port
from tests.support.servers import serve

PASSWORD = "operator password for the browser"
WAIT = 15_000  # ms: generous for a loaded machine; every wait is on a condition


@dataclass
class ConsoleSite:
    url: str
    app: Flask


@pytest.fixture
def console_site(app_config: dict[str, str]) -> Iterator[ConsoleSite]:
    port = free_port()
    url = f"http://localhost:{port}"
    app = create_app({**app_config, "WOM_BASE_URL": url, "WOM_ADMIN_PASSWORD": PASSWORD})
    with serve(app, port, host="127.0.0.1"):
        yield ConsoleSite(url, app)
    app.extensions["wordofmouth.engine"].dispose()


def _kids(app: Flask) -> dict[KeyStatus, str]:
    session = app.extensions["wordofmouth.sessions"]()
    try:
        tool_keys.ensure_keys(session)
        session.commit()
        return {k.status: k.kid for k in tool_keys.list_keys(session) if k.status != KeyStatus.RETIRED}
    finally:
        session.close()


def nav(page, name: str):  # type: ignore[no-untyped-def]
    return page.get_by_role("navigation", name="Console").get_by_role("link", name=name)


def sign_in(page, site: ConsoleSite) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{site.url}/admin/")
    expect(page).to_have_url(f"{site.url}/admin/sign-in?next=/admin/", timeout=WAIT)
    page.get_by_label("Operator password").fill("not it")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("That is not the console password.", timeout=WAIT)
    page.get_by_label("Operator password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Overview")).to_be_visible(timeout=WAIT)


def test_a_refused_launch_appears_in_the_console_with_its_reason(page, console_site: ConsoleSite) -> None:  # type: ignore[no-untyped-def]
    # A learner's browser follows an LMS login for an issuer nobody registered.
    login = {
        "iss": "https://moodle.nobody-registered.example",
        "login_hint": "user-1",
        "target_link_uri": f"{console_site.url}/lti/launch",
        "client_id": "<b>client</b>",
    }
    page.goto(f"{console_site.url}/lti/login?{urlencode(login)}")
    code_element = page.locator("code.refusal-code")
    expect(code_element).to_be_visible(timeout=WAIT)
    expect(page.get_by_text("tell your LMS administrator this code:")).to_be_visible()
    code = code_element.inner_text().strip()
    assert code

    sign_in(page, console_site)
    nav(page, "Launch failures").click()
    page.get_by_label("Code from the refusal page").fill(code)
    page.get_by_role("button", name="Find").click()
    expect(page.get_by_role("status")).to_contain_text("1 failure with the code", timeout=WAIT)
    row = page.locator("table.failures tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("unknown issuer https://moodle.nobody-registered.example")
    expect(row).to_contain_text("wordofmouth platform add")  # the fix, for the operator only
    expect(row).to_contain_text("<b>client</b>")  # sent by anyone: shown as text
    expect(row.locator("b")).to_have_count(0)
    expect(row).to_contain_text(code)


def test_rotating_the_keys_with_the_button(page, console_site: ConsoleSite) -> None:  # type: ignore[no-untyped-def]
    before = _kids(console_site.app)
    sign_in(page, console_site)
    nav(page, "Tool keys").click()
    expect(page.get_by_role("heading", name="Tool keys", exact=True)).to_be_visible(timeout=WAIT)
    expect(page.get_by_text(before[KeyStatus.ACTIVE])).to_be_visible()
    page.get_by_role("link", name="Rotate the keys…").click()
    expect(page.get_by_role("heading", name="Rotate the tool keys?")).to_be_visible(timeout=WAIT)
    page.get_by_role("button", name="Rotate now").click()
    expect(page.get_by_role("status")).to_contain_text(f"now signing with {before[KeyStatus.NEXT]}", timeout=WAIT)
    after = _kids(console_site.app)
    assert after[KeyStatus.ACTIVE] == before[KeyStatus.NEXT]
    assert after[KeyStatus.NEXT] not in before.values()


def test_the_registration_url_copy_button(page, console_site: ConsoleSite) -> None:  # type: ignore[no-untyped-def]
    sign_in(page, console_site)
    nav(page, "Registration URLs").click()
    page.get_by_label("7 days").check()
    page.get_by_label("Note (optional)").fill("Acme Moodle")
    page.get_by_role("button", name="Create URL").click()
    url = page.get_by_label("Registration URL")
    expect(url).to_be_visible(timeout=WAIT)
    assert url.input_value().startswith(f"{console_site.url}/lti/register?wom_token=")
    page.get_by_role("button", name="Copy the URL").click()
    expect(page.locator("#copy-status")).to_have_text("Copied.", timeout=WAIT)
    expect(page.get_by_role("row").filter(has_text="Acme Moodle")).to_contain_text("unused")


def test_console_pages_pass_axe(page, console_site: ConsoleSite) -> None:  # type: ignore[no-untyped-def]
    """axe-core on every console page, with content and with the add form's errors shown."""
    from tests.browser.test_accessibility import blocking_violations, describe

    page.goto(f"{console_site.url}/lti/login?iss=https%3A%2F%2Funknown.example&login_hint=u&target_link_uri=x")
    expect(page.locator("code.refusal-code")).to_be_visible(timeout=WAIT)
    sign_in(page, console_site)
    nav(page, "Platforms").click()
    page.get_by_role("link", name="Add a platform").click()
    page.get_by_label("Issuer").fill("https://moodle.example.org")
    page.get_by_role("button", name="Add platform").click()
    expect(page.get_by_role("heading", name="There is a problem")).to_be_visible(timeout=WAIT)
    violations = {"add platform with errors": blocking_violations(page.main_frame)}
    for name, value in (
        ("Client id", "wom"),
        ("OIDC authentication request URL", "https://moodle.example.org/auth"),
        ("Access token URL", "https://moodle.example.org/token"),
        ("Public key set (JWKS) URL", "https://moodle.example.org/jwks"),
        ("Deployment id", "1"),
    ):
        page.get_by_label(name, exact=True).fill(value)
    page.get_by_role("button", name="Add platform").click()
    expect(page.get_by_role("status")).to_contain_text("Added the platform", timeout=WAIT)
    violations["platform"] = blocking_violations(page.main_frame)
    nav(page, "Registration URLs").click()
    page.get_by_role("button", name="Create URL").click()
    expect(page.get_by_label("Registration URL")).to_be_visible(timeout=WAIT)
    violations["registration URL shown"] = blocking_violations(page.main_frame)
    for link in ("Overview", "Platforms", "Tool keys", "LRS delivery", "Registration URLs", "Launch failures"):
        nav(page, link).click()
        expect(nav(page, link)).to_have_attribute("aria-current", "page", timeout=WAIT)
        violations[link] = blocking_violations(page.main_frame)
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in to the console")).to_be_visible(timeout=WAIT)
    violations["sign in"] = blocking_violations(page.main_frame)
    found = {name: v for name, v in violations.items() if v}
    assert not found, "\n".join(f"{name}: {describe(v)}" for name, v in found.items())
