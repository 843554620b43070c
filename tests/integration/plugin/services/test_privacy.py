"""Export and erase everything held about one learner (``wordofmouth privacy ...``)."""

from __future__ import annotations

import json

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from plugin.cli import main
from plugin.errors import NotFoundError
from plugin.models import Comment, Enrolment, Follow, Learner, Rating, RatingTally, ReviewVote
from plugin.services import colleagues, comments, privacy, ratings
from plugin.services.launches import record_enrolment
from tests.support.factories import at, make_world


def _history(db: Session):  # type: ignore[no-untyped-def]
    world = make_world(db)
    ada = db.get(Learner, world.ada.learner_id)
    bob = db.get(Learner, world.bob.learner_id)
    bob.show_name = True
    record_enrolment(db, ada, world.course, [], at(1))
    ratings.rate(db, world.ada, 4, "Ada's review", now=at(2))
    bobs = ratings.rate(db, world.bob, 5, "Bob's review", now=at(3))
    ratings.set_helpful(db, world.ada, bobs.id, True)
    lonely = comments.post_comment(db, world.ada, world.thread(), "Ada alone", now=at(4))
    answered = comments.post_comment(db, world.ada, world.thread(), "Ada asks", now=at(5))
    comments.post_comment(db, world.bob, world.thread(), "Bob answers", parent_id=answered.id, now=at(6))
    colleagues.follow(db, world.ada, bob.id)
    colleagues.recommend_to_colleague(db, world.ada, bob.id, "Try it")
    db.flush()
    return world, ada, bob, lonely, answered, bobs


def test_export_holds_the_learners_own_data(db: Session) -> None:
    _world, _ada, bob, *_ = _history(db)
    data = privacy.export(db, privacy.find_learner(db, "https://a.lms.example", "ada"))

    assert data["learner"]["sub"] == "ada"
    assert [r["review"] for r in data["ratings"]] == ["Ada's review"]
    assert {c["body"] for c in data["comments"]} == {"Ada alone", "Ada asks"}
    assert len(data["helpful_votes"]) == 1
    assert data["following"] == [{"name": bob.name, "sub": "bob"}]
    assert data["recommendations_sent"][0]["to"] == bob.name
    assert [c["item"]["title"] for c in data["courses_taken"]] == ["Negotiation basics"]
    assert "Bob answers" not in json.dumps(data)  # others' words are theirs
    sent = [entry["statement"] for entry in data["xapi_statements"]]  # what the LRS gets about her
    assert {s["verb"]["id"].rsplit("/", 1)[1] for s in sent} == {"rated", "voted-up", "commented", "follow", "shared"}
    assert all(s["actor"]["account"]["name"] == "ada" for s in sent)
    with pytest.raises(NotFoundError):
        privacy.find_learner(db, "https://a.lms.example", "nobody")


def test_erase_removes_everything_and_keeps_replies_in_place(db: Session) -> None:
    world, ada, _bob, lonely, answered, bobs = _history(db)
    ada_id = ada.id

    counts = privacy.erase(db, ada, now=at(10))
    assert counts == {"ratings": 1, "helpful_votes": 1, "comments": 2}

    assert db.get(Learner, ada_id) is None
    for model, column in (
        (Rating, Rating.learner_id),
        (ReviewVote, ReviewVote.learner_id),
        (Enrolment, Enrolment.learner_id),
        (Follow, Follow.follower_id),
    ):
        assert db.scalar(select(func.count()).select_from(model).where(column == ada_id)) == 0
    assert db.get(Rating, bobs.id).helpful_count == 0
    tally = {t.stars: t.count for t in db.scalars(select(RatingTally).where(RatingTally.item_id == world.course.id))}
    assert tally.get(4, 0) == 0 and tally[5] == 1
    assert db.get(Comment, lonely.id) is None
    kept = db.get(Comment, answered.id)
    assert kept.body == "" and kept.deleted_at is not None
    assert db.get(Learner, kept.learner_id).sub == privacy.ERASED_SUB
    assert [c.body for c in db.scalars(select(Comment).where(Comment.parent_id == answered.id))] == ["Bob answers"]


def test_the_commands(app: Flask) -> None:
    with app.extensions["wordofmouth.sessions"]() as db:
        _history(db)
        db.commit()
    runner = app.test_cli_runner()
    exported = runner.invoke(main, ["privacy", "export", "--platform", "https://a.lms.example", "--learner", "ada"])
    assert exported.exit_code == 0, exported.output
    assert json.loads(exported.output)["ratings"][0]["stars"] == 4

    unknown = runner.invoke(
        main, ["privacy", "erase", "--platform", "https://a.lms.example", "--learner", "zed", "--yes"]
    )
    assert unknown.exit_code == 2 and "no learner 'zed'" in unknown.output
    erased = runner.invoke(
        main, ["privacy", "erase", "--platform", "https://a.lms.example", "--learner", "ada", "--yes"]
    )
    assert erased.exit_code == 0, erased.output
    assert "1 ratings" in erased.output
    again = runner.invoke(main, ["privacy", "export", "--platform", "https://a.lms.example", "--learner", "ada"])
    assert again.exit_code == 2
