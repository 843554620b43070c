"""Widget tokens name their tenant by something never reused (issue 9, item 3).

SQLite reuses the integer id of a removed platform for the next one; a token that named its
tenant by that id alone read the next platform's learner (200 on /api/v1/me).
"""

from __future__ import annotations

import requests

from plugin.services import platforms
from tests.integration.lti.conftest import Tool, register
from tests.integration.lti.test_launch import widget_token
from tests.support.lti_platform import LmsPlatform, running_platform


def me(tool: Tool, token: str) -> requests.Response:
    return requests.get(tool.url + "/api/v1/me", headers={"Authorization": f"Bearer {token}"}, timeout=30)


def platform_id(tool: Tool, lms: LmsPlatform) -> int:
    session = tool.session()
    try:
        found = platforms.find_platform(session, lms.issuer, lms.client_id)
        assert found is not None
        return found.id
    finally:
        session.close()


def test_a_token_of_a_removed_platform_does_not_read_the_next_platform(
    tool: Tool, lms: LmsPlatform, browser, backend: str
) -> None:
    old_token = widget_token(lms.launch(browser, tool.url).text)
    assert me(tool, old_token).status_code == 200
    old_id = platform_id(tool, lms)

    session = tool.session()
    platforms.remove_platform(session, lms.issuer, lms.client_id)
    session.commit()
    session.close()

    with running_platform("https://other-lms.example.org") as other:
        register(tool, other)
        new_token = widget_token(other.launch(browser, tool.url).text)  # same sub, same course id
        if backend == "sqlite":
            assert platform_id(tool, other) == old_id  # the id was reused: the case under test
        assert me(tool, new_token).status_code == 200

        refused = me(tool, old_token)
    assert refused.status_code == 401, refused.text
    assert refused.headers["Content-Type"] == "application/problem+json"
    assert "reload" in refused.json()["detail"].lower()


def test_a_token_without_the_platform_uid_is_refused(tool: Tool, lms: LmsPlatform, browser) -> None:
    """Tokens issued before the uid existed (or forged without it) are not accepted."""
    from lti.tokens import _serializer, read_widget_token

    token = widget_token(lms.launch(browser, tool.url).text)
    with tool.app.app_context():
        data = _serializer("wom-widget-token").loads(token)
        assert data["platform_uid"]  # the launch bound it
        data.pop("platform_uid")
        stale = _serializer("wom-widget-token").dumps(data)
        assert read_widget_token(stale).platform_uid == ""
    assert me(tool, stale).status_code == 401
