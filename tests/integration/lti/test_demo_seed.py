"""`wordofmouth demo seed` fills the demo courses through the core services, once."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import func, select

from lti.demo.seed import COMMENTS, RATINGS
from plugin.app import create_app
from plugin.models import Comment, Enrolment, Item, Learner, Rating, Report, ReviewVote
from plugin.services import ratings
from plugin.services.actors import Actor


@pytest.fixture
def demo_app(app_config: dict[str, str]):  # type: ignore[no-untyped-def]
    app = create_app({**app_config, "WOM_DEMO": "1"})
    yield app
    app.extensions["wordofmouth.engine"].dispose()


def _count(session, model) -> int:  # type: ignore[no-untyped-def]
    return session.scalar(select(func.count()).select_from(model))


def test_seed_gives_every_course_activity_once(demo_app: Flask) -> None:
    runner = demo_app.test_cli_runner()
    first = runner.invoke(args=["demo", "seed"])
    assert first.exit_code == 0, first.output
    assert "seeded" in first.output
    session = demo_app.extensions["wordofmouth.sessions"]()
    try:
        expected_ratings = sum(len(v) for v in RATINGS.values())
        expected_comments = sum(1 + len(c[3]) for v in COMMENTS.values() for c in v)
        assert _count(session, Rating) == expected_ratings
        assert _count(session, Comment) == expected_comments
        assert _count(session, ReviewVote) > 0
        assert _count(session, Report) == 1
        # Every seeded person took the course they rated or discussed.
        raters = session.execute(select(Rating.learner_id, Rating.item_id)).all()
        enrolled = set(session.execute(select(Enrolment.learner_id, Enrolment.item_id)).all())
        assert set(raters) <= enrolled
        # The demo's people are the ones who log in: Ada's seeded rating is hers at launch.
        ada = session.scalars(select(Learner).where(Learner.sub == "ada")).one()
        python = session.scalars(select(Item).where(Item.key == "python")).one()
        summary = ratings.summary(session, Actor(ada.platform_id, ada.id, python.id))
        assert summary.mine is not None and summary.mine.stars == 5
        assert summary.count == len(RATINGS["python"])
    finally:
        session.close()

    second = runner.invoke(args=["demo", "seed"])
    assert second.exit_code == 0, second.output
    assert "nothing to do" in second.output
    session = demo_app.extensions["wordofmouth.sessions"]()
    try:
        assert _count(session, Rating) == expected_ratings
    finally:
        session.close()
