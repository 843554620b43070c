"""The OpenAPI document, and property-based requests from it: whatever a client sends, no 5xx.

schemathesis generates valid and invalid requests for every operation of ``/api/openapi.json``
(through the WSGI app, no server). The learner is authenticated and the item already has
ratings, reviews, votes, comments and replies, so some generated ids exist. Bounded and
derandomized: the same cases every run.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from sqlalchemy import select

from lti.tokens import WidgetGrant, issue_widget_token
from plugin.app import create_app
from plugin.models import Comment, Rating
from plugin.services import comments, moderation, ratings
from tests.support.factories import World, make_world


@pytest.fixture
def fuzz_app(app_config: dict[str, str]) -> Iterator[Flask]:
    """The app without rate limits: the fuzzer writes hundreds of times a minute on purpose."""
    app = create_app({**app_config, "WOM_RATE_LIMIT_API": "off", "WOM_RATE_LIMIT_WRITES": "off"})
    app.testing = True
    yield app
    app.extensions["wordofmouth.engine"].dispose()


def _seed(app: Flask) -> World:
    session = app.extensions["wordofmouth.sessions"]()
    try:
        world = make_world(session)
        thread = world.thread()
        for number, who in enumerate((world.bob, world.cy, world.ada), start=1):
            ratings.rate(session, who, number + 2, f"Review {number}")
        bob_review = ratings.own_rating(session, world.bob)
        assert bob_review is not None
        ratings.set_helpful(session, world.ada, bob_review.id, True)
        top = comments.post_comment(session, world.bob, thread, "Top comment")
        comments.post_comment(session, world.ada, thread, "A reply", top.id)
        comments.post_comment(session, world.cy, thread, "Held", premoderate=True)
        moderation.report_comment(session, world.ada, top.id, "spam?")
        session.commit()
        return world
    finally:
        session.close()


def _token(app: Flask, world: World, *, staff: bool = False) -> str:
    who = world.teacher if staff else world.ada
    with app.app_context():
        return issue_widget_token(
            WidgetGrant(
                platform_id=who.platform_id,
                deployment_id="deployment-a",
                learner_id=who.learner_id,
                item_id=who.item_id,
                placement_id=world.placement.id,
                roles=(),
                staff=staff,
                locale="en",
            )
        )


@pytest.fixture
def tokens(fuzz_app: Flask) -> dict[str, str]:
    world = _seed(fuzz_app)
    return {"learner": _token(fuzz_app, world), "instructor": _token(fuzz_app, world, staff=True)}


def _ids(app: Flask) -> dict[str, int]:
    """The ids of existing rows, for the cases that use them as path parameters."""
    session = app.extensions["wordofmouth.sessions"]()
    try:
        return {
            "review_id": session.scalars(select(Rating.id).where(Rating.review.is_not(None))).first() or 1,
            "comment_id": session.scalars(select(Comment.id)).first() or 1,
        }
    finally:
        session.close()


def test_no_operation_answers_5xx(fuzz_app: Flask, tokens: dict[str, str]) -> None:
    """Valid and invalid requests for every operation, as a learner and as an instructor.

    (Driven per operation with ``as_strategy``: schemathesis' own pytest fixture loader does not
    run under pytest 9, whose nodes no longer have ``_nodeid``.)
    """
    api = schemathesis.openapi.from_wsgi("/api/openapi.json", fuzz_app)
    existing = _ids(fuzz_app)
    operations = [result.ok() for result in api.get_all_operations()]
    assert len(operations) >= 22
    failures: list[str] = []
    for operation in operations:
        known = {name: value for name, value in existing.items() if "{" + name + "}" in operation.path}
        strategies = [operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE)]
        if known:
            strategies.append(operation.as_strategy(GenerationMode.POSITIVE, path_parameters=known))

        # Instructors-only operations as the instructor (a learner only gets 403), reads as both.
        if (operation.definition.raw.get("summary") or "").startswith("Instructors:"):
            callers = [tokens["instructor"]]
        elif operation.method.upper() == "GET":
            callers = [tokens["learner"], tokens["instructor"]]
        else:
            callers = [tokens["learner"]]

        @given(case=st.one_of(strategies))
        @settings(
            max_examples=20,
            deadline=None,
            derandomize=True,
            database=None,
            phases=[Phase.generate, Phase.shrink],
            suppress_health_check=list(HealthCheck),
        )
        def run(case: schemathesis.Case) -> None:
            for token in callers:  # run() is called within this iteration
                case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=[not_a_server_error])

        try:
            run()
        except Exception as exc:
            failures.append(f"{operation.label}: {exc}")
    assert failures == [], "\n\n".join(failures)


def test_the_document_describes_every_operation_with_the_bearer_scheme(fuzz_app: Flask) -> None:
    response = fuzz_app.test_client().get("/api/openapi.json")
    assert response.status_code == 200
    document = response.get_json()
    assert document["openapi"].startswith("3.")
    assert document["info"]["title"] == "Word of Mouth widget API"
    assert document["components"]["securitySchemes"]["bearer"] == {"type": "http", "scheme": "bearer"}
    assert document["security"] == [{"bearer": []}]
    assert document["paths"], "no operations in the document"
    operations = 0
    for path, methods in document["paths"].items():
        assert path.startswith("/api/v1/"), path
        for method, operation in methods.items():
            if method == "parameters":
                continue
            operations += 1
            assert operation.get("summary"), f"{method} {path} has no summary"
            assert any(code.startswith("2") for code in operation["responses"]), f"{method} {path}"
    assert operations >= 22
    assert "/api/v1/me" in document["paths"]


def _cursor(created: str, comment_id: object) -> str:
    raw = json.dumps([created, comment_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize(
    "query",
    [
        {"cursor": _cursor("2026-03-02T09:00:00+00:00", 2**40)},
        {"cursor": _cursor("2026-03-02T09:00:00+00:00", -(2**40))},
        {"cursor": _cursor("9999-12-31T23:59:59", 1)},
        {"cursor": _cursor("2026-03-02", "1")},
        {"cursor": _cursor("not a date", 1)},
        {"cursor": "%%%"},
        {"cursor": _cursor("2026-03-02T09:00:00+00:00", 1), "order": "oldest"},
    ],
)
def test_hand_made_cursors_never_answer_5xx(fuzz_app: Flask, tokens: dict[str, str], query: dict[str, str]) -> None:
    """A cursor is opaque to clients but comes back from them: whatever it holds, no 5xx."""
    client = fuzz_app.test_client()
    for path in ("/api/v1/comments", "/api/v1/fragments/comments"):
        response = client.get(path, query_string=query, headers={"Authorization": f"Bearer {tokens['learner']}"})
        assert response.status_code in (200, 422), (path, response.get_data(as_text=True))
