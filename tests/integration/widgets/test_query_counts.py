"""SQL statements per widget request do not grow with the number of reviews and comments.

Each read is measured with 3 and with 30 reviews and top-level comments (each with replies,
helpful votes and reports): the counts must be equal, and at most a small constant, so a lazy
load per row (N+1) fails here.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from flask import Flask
from sqlalchemy import event

from plugin.app import create_app
from plugin.services import comments, moderation, ratings
from plugin.services.actors import Actor
from tests.support.databases import empty_all_tables
from tests.support.factories import World, at, bearer, make_learner, make_world

# Every request first checks that the token's platform still exists under the uid it names
# (lti/tokens.py: ids are reused on SQLite, uids never): one statement.
TENANT_CHECK = 1
# (path, as instructor): the exact statements of one request besides that. Every request with a
# placement loads it once (1); then:
READS = {
    ("/api/v1/ratings", False): 3,  # placement, distribution, own rating
    ("/api/v1/reviews", False): 4,  # total, page with authors, own votes, own open reports
    ("/api/v1/reviews", True): 5,  # ... and open report counts
    ("/api/v1/comments", False): 6,  # placement, pinned, page, replies with authors, own open reports, count
    ("/api/v1/comments", True): 6,
    ("/api/v1/moderation/queue", True): 4,  # report counts, reasons, reported reviews, held/reported comments
    ("/api/v1/fragments/ratings", False): 7,  # summary (2), reviews (4), placement
    ("/api/v1/fragments/ratings", True): 8,  # ... and open report counts
    ("/api/v1/fragments/comments", False): 6,
    ("/api/v1/fragments/comments", True): 6,
    ("/api/v1/fragments/moderation", True): 7,  # queue (4), ratings by month, comments by week, top reviews
}


@pytest.fixture
def counted_app(app_config: dict[str, str]) -> Iterator[Flask]:
    app = create_app({**app_config, "WOM_RATE_LIMIT_API": "off"})
    app.testing = True
    yield app
    app.extensions["wordofmouth.engine"].dispose()


def _fill(app: Flask, rows: int) -> World:
    """``rows`` reviews and top-level comments, each comment with two replies; votes and reports."""
    session = app.extensions["wordofmouth.sessions"]()
    try:
        world = make_world(session)
        thread = world.thread()
        learners = [
            Actor(world.course.platform_id, make_learner(session, world.platform_a, f"l{n}").id, world.course.id)
            for n in range(rows)
        ]
        for n, learner in enumerate(learners):
            ratings.rate(session, learner, 1 + n % 5, f"Review {n}", now=at(n))
            top = comments.post_comment(session, learner, thread, f"Comment {n}", now=at(n))
            comments.post_comment(session, world.bob, thread, f"Reply A to {n}", top.id, now=at(n + 0.1))
            comments.post_comment(session, world.cy, thread, f"Reply B to {n}", top.id, now=at(n + 0.2))
            rating = ratings.own_rating(session, learner)
            assert rating is not None
            for voter in (world.ada, world.bob):
                ratings.set_helpful(session, voter, rating.id, True)
            moderation.report_review(session, world.cy, rating.id, f"reason {n}")
            moderation.report_comment(session, world.ada, top.id, f"reason {n}")
            comments.post_comment(session, learner, thread, f"Held {n}", premoderate=True, now=at(n + 0.3))
            if n % 3 == 0:
                moderation.hide_review(session, world.teacher, rating.id, "hidden")
        session.commit()
        return world
    finally:
        session.close()


@contextmanager
def statements(app: Flask) -> Iterator[list[str]]:
    engine = app.extensions["wordofmouth.engine"]
    seen: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def _measure(app: Flask, rows: int) -> dict[tuple[str, bool], int]:
    world = _fill(app, rows)
    client = app.test_client()
    headers = {
        False: bearer(app, world.ada, world.placement.id),
        True: bearer(app, world.teacher, world.placement.id),
    }
    counts: dict[tuple[str, bool], int] = {}
    for path, staff in READS:
        assert client.get(path, headers=headers[staff]).status_code == 200  # warm: connections, dialect checks
        with statements(app) as seen:
            response = client.get(path, headers=headers[staff])
        assert response.status_code == 200, response.get_data(as_text=True)
        counts[(path, staff)] = len(seen)
    return counts


def test_statements_per_read_do_not_grow_with_rows(counted_app: Flask) -> None:
    few = _measure(counted_app, 3)
    empty_all_tables(counted_app.extensions["wordofmouth.engine"])
    many = _measure(counted_app, 30)
    assert many == few, {key: (few[key], many[key]) for key in few if few[key] != many[key]}
    assert many == {key: count + TENANT_CHECK for key, count in READS.items()}


def test_the_pages_are_full_so_a_per_row_query_would_show(counted_app: Flask) -> None:
    world = _fill(counted_app, 30)
    client = counted_app.test_client()
    learner = bearer(counted_app, world.ada, world.placement.id)
    staff = bearer(counted_app, world.teacher, world.placement.id)
    reviews = client.get("/api/v1/reviews", headers=learner).get_json()
    assert (len(reviews["reviews"]), reviews["total"]) == (10, 20)
    assert client.get("/api/v1/reviews", headers=staff).get_json()["total"] == 30
    page = client.get("/api/v1/comments", headers=staff).get_json()
    assert len(page["comments"]) == 20
    assert {len(c["replies"]) for c in page["comments"] if c["body"].startswith("Comment")} == {2}
    assert {c["held"] for c in page["comments"] if c["body"].startswith("Held")} == {True}
    queue = client.get("/api/v1/moderation/queue", headers=staff).get_json()["entries"]
    assert len(queue) == 20 + 30 + 30  # unhidden reported reviews, reported comments, held comments
