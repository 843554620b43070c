"""``wordofmouth recommend build`` and the worker's ``recommend-build`` job."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import func, select

from plugin.cli import main
from plugin.models import Learner, LearnerRecommendation, RecommendBuild
from plugin.services.launches import record_enrolment
from plugin.worker import registered_jobs, run_once
from tests.support.factories import at, make_item, make_learner, make_platform


def _seed(app: Flask) -> int:
    with app.extensions["wordofmouth.sessions"]() as db:
        platform = make_platform(db, "a")
        items = [make_item(db, platform, f"course-{n}", f"Course {n}") for n in range(4)]
        for n in range(6):
            learner: Learner = make_learner(db, platform, f"learner-{n}")
            for item in items[: 2 + n % 3]:
                record_enrolment(db, learner, item, [], at(n))
        db.commit()
        return platform.id


def _stored(app: Flask) -> int:
    with app.extensions["wordofmouth.sessions"]() as db:
        return db.scalar(select(func.count()).select_from(LearnerRecommendation)) or 0


def test_build_command_builds_changed_platforms_and_skips_unchanged_ones(app: Flask) -> None:
    platform_id = _seed(app)
    runner = app.test_cli_runner()

    first = runner.invoke(main, ["recommend", "build"])
    assert first.exit_code == 0, first.output
    assert f"platform {platform_id}: 6 learners, 4 items" in first.output
    assert _stored(app) > 0

    again = runner.invoke(main, ["recommend", "build"])
    assert f"platform {platform_id}: unchanged since the last build" in again.output
    forced = runner.invoke(main, ["recommend", "build", "--force", "--platform", "https://a.lms.example"])
    assert f"platform {platform_id}: 6 learners" in forced.output
    none = runner.invoke(main, ["recommend", "build", "--platform", "https://nowhere.example"])
    assert none.exit_code == 0 and "platform" not in none.output


def test_the_worker_job_builds_recommendations(app: Flask) -> None:
    _seed(app)
    assert "recommend-build" in registered_jobs(app)

    assert run_once(app, ["recommend-build"]) == {"recommend-build": {"built": 1, "unchanged": 0, "busy": 0}}
    assert run_once(app, ["recommend-build"]) == {"recommend-build": {"built": 0, "unchanged": 1, "busy": 0}}
    with app.extensions["wordofmouth.sessions"]() as db:
        assert db.scalars(select(RecommendBuild)).one().learners == 6
