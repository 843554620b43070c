"""The per-learner write limit of the widget API (``WOM_RATE_LIMIT_WRITES``).

Writes are counted per learner, whichever launch (token) they come through; reads and other
learners are not slowed down by one learner's writes.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from plugin.app import create_app
from tests.support.factories import World, bearer, make_world


@pytest.fixture
def limited_app(app_config: dict[str, str]) -> Iterator[Flask]:
    app = create_app({**app_config, "WOM_RATE_LIMIT_WRITES": "3 per minute"})
    app.testing = True
    yield app
    app.extensions["wordofmouth.engine"].dispose()


@pytest.fixture
def world(limited_app: Flask) -> World:
    session = limited_app.extensions["wordofmouth.sessions"]()
    try:
        made = make_world(session)
        session.commit()
        return made
    finally:
        session.close()


def test_the_fourth_write_of_a_learner_in_a_minute_is_429(limited_app: Flask, world: World) -> None:
    client: FlaskClient = limited_app.test_client()
    ada = bearer(limited_app, world.ada)
    writes = [
        client.put("/api/v1/ratings/mine", json={"stars": 4}, headers=ada),
        client.post("/api/v1/comments", json={"body": "First"}, headers=ada),
        client.put("/api/v1/ratings/mine", json={"stars": 5, "review": "Changed my mind"}, headers=ada),
    ]
    assert [r.status_code for r in writes] == [200, 201, 200], [r.get_json() for r in writes]

    refused = client.post("/api/v1/comments", json={"body": "Fourth"}, headers=ada)
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "60"
    assert refused.mimetype == "application/problem+json"
    body = refused.get_json()
    assert (body["status"], body["instance"]) == (429, "/api/v1/comments")
    assert "Wait a minute" in body["detail"]
    # A refused request still has a request id, in its answer and header, to match the log line.
    assert body["request_id"] and refused.headers["X-Request-Id"] == body["request_id"]

    # The same learner through another launch (another token) is still limited ...
    again = client.delete("/api/v1/ratings/mine", headers=bearer(limited_app, world.ada, locale="de"))
    assert again.status_code == 429
    # ... and nothing of the refused writes was saved.
    page = client.get("/api/v1/comments", headers=ada).get_json()
    assert [c["body"] for c in page["comments"]] == ["First"]
    assert client.get("/api/v1/ratings", headers=ada).get_json()["mine"]["stars"] == 5

    # Another learner writes as usual.
    bob = bearer(limited_app, world.bob)
    assert client.put("/api/v1/ratings/mine", json={"stars": 2}, headers=bob).status_code == 200
    assert client.post("/api/v1/comments", json={"body": "Bob here"}, headers=bob).status_code == 201

    # The limited learner still reads: the limit counts writes only.
    for path in (
        "/api/v1/me",
        "/api/v1/ratings",
        "/api/v1/reviews",
        "/api/v1/comments",
        "/api/v1/fragments/ratings",
        "/api/v1/fragments/comments",
    ):
        for _ in range(3):
            response = client.get(path, headers=ada)
            assert response.status_code == 200, (path, response.get_json())


def test_the_write_limit_is_per_platform_learner(limited_app: Flask, world: World) -> None:
    """Learner ids are per platform: platform B's learner does not share A's budget."""
    client = limited_app.test_client()
    ada = bearer(limited_app, world.ada)
    for stars in (1, 2, 3):
        assert client.put("/api/v1/ratings/mine", json={"stars": stars}, headers=ada).status_code == 200
    assert client.put("/api/v1/ratings/mine", json={"stars": 4}, headers=ada).status_code == 429
    foreign = bearer(limited_app, world.foreign_learner)
    assert client.put("/api/v1/ratings/mine", json={"stars": 4}, headers=foreign).status_code == 200
    # A refused token, read or write, is the view's 401, not the learner's budget.
    assert (
        client.put("/api/v1/ratings/mine", json={"stars": 4}, headers={"Authorization": "Bearer x"}).status_code == 401
    )


def test_writes_can_be_unlimited(app_config: dict[str, str]) -> None:
    app = create_app({**app_config, "WOM_RATE_LIMIT_WRITES": "off"})
    try:
        session = app.extensions["wordofmouth.sessions"]()
        world = make_world(session)
        session.commit()
        session.close()
        client = app.test_client()
        ada = bearer(app, world.ada)
        statuses = {client.put("/api/v1/ratings/mine", json={"stars": 3}, headers=ada).status_code for _ in range(6)}
        assert statuses == {200}
    finally:
        app.extensions["wordofmouth.engine"].dispose()
