"""The extension IRIs describe themselves; the demo lists the outbox as it will be sent."""

from __future__ import annotations

import pytest
from flask import Flask

from plugin.app import create_app
from plugin.services import ratings
from tests.support.factories import at, make_world


def test_each_extension_iri_answers_with_its_meaning(client) -> None:
    response = client.get("/xapi/extensions/lti-context-id")
    assert response.status_code == 200
    assert response.get_json()["iri"] == "http://localhost/xapi/extensions/lti-context-id"
    assert "context" in response.get_json()["description"]
    missing = client.get("/xapi/extensions/favourite-colour")
    assert missing.status_code == 404
    assert "no xAPI extension named &#39;favourite-colour&#39;" in missing.get_data(as_text=True)


@pytest.fixture
def demo_app(app_config: dict[str, str]) -> Flask:
    application = create_app({**app_config, "WOM_DEMO": "1"})
    yield application
    application.extensions["wordofmouth.engine"].dispose()


def test_the_demo_lists_the_latest_statements_exactly_as_queued(demo_app: Flask) -> None:
    session = demo_app.extensions["wordofmouth.sessions"]()
    world = make_world(session)
    ratings.rate(session, world.ada, 4, "<b>Bold</b> claim", now=at(1))
    ratings.rate(session, world.bob, 2, now=at(2))
    session.commit()
    session.close()
    client = demo_app.test_client()
    listed = client.get("/demo/statements?format=json").get_json()
    assert listed["counts"] == {"pending": 2}
    assert [s["result"]["score"]["raw"] for s in listed["statements"]] == [2.0, 4.0]  # newest first
    page = client.get("/demo/statements")
    assert page.status_code == 200
    assert b"&lt;b&gt;Bold&lt;/b&gt; claim" in page.data and b"<b>Bold</b>" not in page.data
    assert b"No LRS is configured" in page.data
    assert b"/demo/statements" in client.get("/demo/").data


def test_without_the_demo_there_is_no_outbox_page(client) -> None:
    assert client.get("/demo/statements").status_code == 404
