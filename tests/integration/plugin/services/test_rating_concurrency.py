"""Ratings arriving at the same moment, each in its own transaction, keep the tallies exact."""

from __future__ import annotations

import threading

from flask import Flask
from sqlalchemy import func, select

from plugin.models import Rating
from plugin.services import ratings
from plugin.services.actors import Actor
from tests.support.factories import actor, make_item, make_learner, make_platform


def _run_together(app: Flask, work: list[tuple[Actor, int]]) -> list[BaseException]:
    """Each (actor, stars) rates in its own session and thread, released at once; errors are returned."""
    sessions = app.extensions["wordofmouth.sessions"]
    start = threading.Barrier(len(work))
    errors: list[BaseException] = []

    def rate(who: Actor, stars: int) -> None:
        session = sessions()
        try:
            start.wait(timeout=60)
            ratings.rate(session, who, stars)
            session.commit()
        except BaseException as exc:  # collected and asserted on by the test
            session.rollback()
            errors.append(exc)
        finally:
            session.close()

    threads = [threading.Thread(target=rate, args=pair) for pair in work]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return errors


def _world(app: Flask, learners: int) -> list[Actor]:
    session = app.extensions["wordofmouth.sessions"]()
    try:
        platform = make_platform(session)
        item = make_item(session, platform, "course-1")
        people = [actor(make_learner(session, platform, f"p{n}"), item) for n in range(learners)]
        session.commit()
        return people
    finally:
        session.close()


def test_concurrent_ratings_of_one_item_are_all_counted(app: Flask) -> None:
    people = _world(app, 8)
    errors = _run_together(app, [(who, 1 + n % 5) for n, who in enumerate(people)])
    assert errors == []
    session = app.extensions["wordofmouth.sessions"]()
    try:
        summary = ratings.summary(session, people[0])
        assert summary.count == 8
        assert summary.distribution == {1: 2, 2: 2, 3: 2, 4: 1, 5: 1}
    finally:
        session.close()


def test_one_learners_two_first_ratings_at_once_make_one_rating(app: Flask) -> None:
    (ada,) = _world(app, 1)
    errors = _run_together(app, [(ada, 2), (ada, 5)])
    assert errors == []
    session = app.extensions["wordofmouth.sessions"]()
    try:
        assert session.scalar(select(func.count()).select_from(Rating)) == 1
        summary = ratings.summary(session, ada)
        assert summary.count == 1
        assert summary.distribution[summary.mine.stars] == 1  # whichever came last, counted once
    finally:
        session.close()


def test_changes_in_opposite_directions_at_once_neither_deadlock_nor_drift(app: Flask) -> None:
    people = _world(app, 12)
    first = [(who, 3 if n % 2 else 5) for n, who in enumerate(people)]
    assert _run_together(app, first) == []
    # Half move 3 -> 5 while the other half move 5 -> 3: the tally rows are locked in one order.
    errors = _run_together(app, [(who, 5 if stars == 3 else 3) for who, stars in first])
    assert errors == []
    session = app.extensions["wordofmouth.sessions"]()
    try:
        assert ratings.summary(session, people[0]).distribution == {1: 0, 2: 0, 3: 6, 4: 0, 5: 6}
    finally:
        session.close()
