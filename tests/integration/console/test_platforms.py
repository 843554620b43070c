"""Platforms in the console: add (with errors beside the fields), enable/disable, deployments,
auto-accept, and removal with a typed confirmation. CSRF on every action."""

from __future__ import annotations

import re

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from plugin.models import Learner, Platform
from plugin.services import platforms
from tests.integration.console.conftest import PASSWORD, csrf_of, post, session_of, sign_in
from tests.integration.lti import conftest as lti_fixtures
from tests.integration.lti.conftest import Tool, register
from tests.support.factories import make_learner, make_platform
from tests.support.lti_platform import running_platform

tool = lti_fixtures.tool  # the tool served on loopback (tests/integration/lti/conftest.py)

VALID = {
    "name": "Acme Moodle",
    "issuer": "https://moodle.acme.example",
    "client_id": "wom-client",
    "auth_login_url": "https://moodle.acme.example/mod/lti/auth.php",
    "auth_token_url": "https://moodle.acme.example/mod/lti/token.php",
    "key_set_url": "https://moodle.acme.example/mod/lti/certs.php",
    "deployment_id": "7",
}


def _platform(app: Flask, issuer: str) -> Platform | None:
    session = session_of(app)
    try:
        found = session.scalars(select(Platform).where(Platform.issuer == issuer)).one_or_none()
        if found is not None:
            _ = [d.deployment_id for d in found.deployments]
        return found
    finally:
        session.close()


def _seed(app: Flask, name: str = "a") -> int:
    session = session_of(app)
    try:
        platform = make_platform(session, name)
        make_learner(session, platform, "learner-1")
        session.commit()
        return platform.id
    finally:
        session.close()


def test_adding_a_platform(operator: FlaskClient, console_app: Flask) -> None:
    answer = post(operator, "/admin/platforms/new", "/admin/platforms/new", **VALID)
    assert answer.status_code == 303
    platform = _platform(console_app, VALID["issuer"])
    assert platform is not None
    assert (platform.name, platform.client_id, platform.registered_via) == ("Acme Moodle", "wom-client", "manual")
    assert [d.deployment_id for d in platform.deployments] == ["7"]
    assert answer.headers["Location"] == f"/admin/platforms/{platform.id}"
    detail = operator.get(answer.headers["Location"])
    assert "Added the platform Acme Moodle." in detail.text
    listing = operator.get("/admin/platforms").text
    assert "https://moodle.acme.example" in listing and "wom-client" in listing and "enabled" in listing


def test_field_errors_appear_beside_the_fields_and_in_a_summary(operator: FlaskClient, console_app: Flask) -> None:
    bad = {**VALID, "issuer": "", "auth_login_url": "javascript:alert(1)", "key_set_url": "not a url"}
    bad["name"] = '<img src=x onerror="alert(1)">'
    answer = post(operator, "/admin/platforms/new", "/admin/platforms/new", **bad)
    assert answer.status_code == 422
    page = answer.text
    summary = page[page.index('class="error-summary"') : page.index("</div>", page.index('class="error-summary"'))]
    assert re.findall(r'href="#field-(\w+)"', summary) == ["issuer", "auth_login_url", "key_set_url"]
    for field in ("issuer", "auth_login_url", "key_set_url"):
        assert re.search(rf'id="field-{field}"[^>]*aria-invalid="true"', page, re.S), field
        assert f'id="error-{field}"' in page
    assert 'id="error-client_id"' not in page
    assert "<title>Error:" in page
    # What was typed comes back, escaped.
    assert 'value="&lt;img src=x onerror=&#34;alert(1)&#34;&gt;"' in page
    assert "<img src=x" not in page
    assert _platform(console_app, "") is None
    session = session_of(console_app)
    try:
        assert session.scalar(select(func.count()).select_from(Platform)) == 0
    finally:
        session.close()


def test_an_existing_registration_is_not_added_twice(operator: FlaskClient, console_app: Flask) -> None:
    assert post(operator, "/admin/platforms/new", "/admin/platforms/new", **VALID).status_code == 303
    again = post(operator, "/admin/platforms/new", "/admin/platforms/new", **{**VALID, "deployment_id": "8"})
    assert again.status_code == 422
    assert "This issuer and client id are already registered." in again.text
    assert [d.deployment_id for d in _platform(console_app, VALID["issuer"]).deployments] == ["7"]


def test_disable_and_enable(operator: FlaskClient, console_app: Flask) -> None:
    platform_id = _seed(console_app)
    page = f"/admin/platforms/{platform_id}"
    answer = post(operator, page, f"{page}/enabled", enabled="0")
    assert answer.status_code == 303
    assert _platform(console_app, "https://a.lms.example").enabled is False
    assert "is disabled" in operator.get(page).text
    assert post(operator, page, f"{page}/enabled", enabled="1").status_code == 303
    assert _platform(console_app, "https://a.lms.example").enabled is True


def test_a_disabled_platform_is_refused_at_launch(tool: Tool) -> None:
    """Through the real app: the console disables, the next launch is refused (lti/validation.py)."""
    with running_platform() as lms, requests.Session() as browser:
        register(tool, lms)
        assert lms.launch(browser, tool.url).status_code == 200
        session = tool.session()
        try:
            platform_id = platforms.find_platform(session, lms.issuer, lms.client_id).id
        finally:
            session.close()
        client = tool.app.test_client()
        client.environ_base["REMOTE_ADDR"] = "127.0.0.1"  # development without a password: loopback
        page = f"/admin/platforms/{platform_id}"
        assert post(client, page, f"{page}/enabled", enabled="0").status_code == 303
        refused = lms.post_login(browser, tool.url, client_id=lms.client_id)
        assert refused.status_code in (400, 403), refused.text
        assert "disabled" in refused.text
        assert post(client, page, f"{page}/enabled", enabled="1").status_code == 303
        assert lms.launch(browser, tool.url).status_code == 200


def test_deployments_and_auto_accept(operator: FlaskClient, console_app: Flask) -> None:
    platform_id = _seed(console_app)
    page = f"/admin/platforms/{platform_id}"
    assert post(operator, page, f"{page}/deployments", deployment_id="  second  ").status_code == 303
    assert "Added deployment second." in operator.get(page).text
    assert [d.deployment_id for d in _platform(console_app, "https://a.lms.example").deployments] == [
        "deployment-a",
        "second",
    ]
    empty = post(operator, page, f"{page}/deployments", deployment_id=" ")
    assert empty.status_code == 422 and "Enter a deployment id of 1 to 255 characters." in empty.text
    assert post(operator, page, f"{page}/deployments/remove", deployment_id="deployment-a").status_code == 303
    assert [d.deployment_id for d in _platform(console_app, "https://a.lms.example").deployments] == ["second"]
    last = post(operator, page, f"{page}/deployments/remove", deployment_id="second")
    assert last.status_code == 409 and "at least one deployment" in last.text
    assert post(operator, page, f"{page}/deployments/remove", deployment_id="unknown").status_code == 404
    assert post(operator, page, f"{page}/auto-accept", auto_accept="1").status_code == 303
    assert _platform(console_app, "https://a.lms.example").auto_accept_deployments is True
    assert post(operator, page, f"{page}/auto-accept", auto_accept="0").status_code == 303
    assert _platform(console_app, "https://a.lms.example").auto_accept_deployments is False


def test_removal_needs_the_name_or_issuer_typed_exactly(operator: FlaskClient, console_app: Flask) -> None:
    platform_id = _seed(console_app)
    page = f"/admin/platforms/{platform_id}/remove"
    confirm = operator.get(page)
    assert "This deletes all its learners" in confirm.text
    for typed in ("", "LMS", "lms a", "https://a.lms.example/", "client-a"):
        answer = post(operator, page, page, confirm=typed)
        assert answer.status_code == 422, typed
        assert "Type the platform" in answer.text
        assert _platform(console_app, "https://a.lms.example") is not None
    answer = post(operator, page, page, confirm="LMS A")
    assert answer.status_code == 303 and answer.headers["Location"] == "/admin/platforms"
    assert _platform(console_app, "https://a.lms.example") is None
    session = session_of(console_app)
    try:
        assert session.scalar(select(func.count()).select_from(Learner)) == 0  # its learners' data went too
    finally:
        session.close()
    assert "Removed LMS A and all its learners" in operator.get("/admin/platforms").text


def test_removal_by_issuer(operator: FlaskClient, console_app: Flask) -> None:
    platform_id = _seed(console_app, "b")
    page = f"/admin/platforms/{platform_id}/remove"
    assert post(operator, page, page, confirm="https://b.lms.example").status_code == 303
    assert _platform(console_app, "https://b.lms.example") is None


@pytest.mark.parametrize("token", [None, "", "wrong-token"])
def test_actions_without_the_right_csrf_token_change_nothing(
    operator: FlaskClient, console_app: Flask, token: str | None
) -> None:
    platform_id = _seed(console_app)
    data = {} if token is None else {"csrf_token": token}
    base = f"/admin/platforms/{platform_id}"
    for action, form in (
        (f"{base}/enabled", {"enabled": "0"}),
        (f"{base}/auto-accept", {"auto_accept": "1"}),
        (f"{base}/deployments", {"deployment_id": "new"}),
        (f"{base}/remove", {"confirm": "LMS A"}),
        ("/admin/platforms/new", VALID),
        ("/admin/keys/rotate", {}),
        ("/admin/registration", {"expires": "1h"}),
        ("/admin/sign-out", {}),
    ):
        answer = operator.post(action, data={**form, **data})
        assert answer.status_code == 400, action
        assert "This form was not accepted" in answer.text and "nothing was changed" in answer.text
    platform = _platform(console_app, "https://a.lms.example")
    assert platform.enabled and not platform.auto_accept_deployments
    assert [d.deployment_id for d in platform.deployments] == ["deployment-a"]
    assert _platform(console_app, VALID["issuer"]) is None
    assert operator.get("/admin/").status_code == 200  # still signed in


def test_a_token_of_another_session_is_refused(operator: FlaskClient, console_app: Flask) -> None:
    platform_id = _seed(console_app)
    other = console_app.test_client()
    sign_in(other, PASSWORD)
    foreign = csrf_of(other.get("/admin/").text)
    answer = operator.post(f"/admin/platforms/{platform_id}/enabled", data={"enabled": "0", "csrf_token": foreign})
    assert answer.status_code == 400
    assert _platform(console_app, "https://a.lms.example").enabled


def test_hostile_platform_values_are_shown_as_text(operator: FlaskClient, console_app: Flask) -> None:
    """A registration made by dynamic registration carries whatever the LMS sent: escape it everywhere."""
    session = session_of(console_app)
    try:
        platform, _ = platforms.add_or_update_platform(
            session,
            platforms.PlatformSpec(
                issuer='https://evil.example/"><script>alert("issuer")</script>',
                client_id="<svg onload=alert(1)>",
                auth_login_url="https://evil.example/auth?<b>",
                auth_token_url="https://evil.example/token",
                key_set_url="https://evil.example/jwks",
                deployment_ids=("<i>deployment</i>",),
                name='<img src=x onerror="alert(2)">',
            ),
        )
        session.commit()
        platform_id = platform.id
    finally:
        session.close()
    for path in (
        "/admin/platforms",
        f"/admin/platforms/{platform_id}",
        f"/admin/platforms/{platform_id}/remove",
        "/admin/delivery",
    ):
        page = operator.get(path).text
        for raw in ("<script>", "<svg", "<img src=x", "<i>deployment", "?<b>"):
            assert raw not in page, (path, raw)
        assert "&lt;img src=x onerror=&#34;alert(2)&#34;&gt;" in page, path
