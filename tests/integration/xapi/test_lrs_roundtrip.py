"""Each social action arrives in a real LRS with the documented shape; deletions are voided there."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest
from flask import Flask
from sqlalchemy import select

from plugin.app import create_app
from plugin.models import LrsSettings, OutboxStatement, OutboxStatus
from plugin.services import colleagues, comments, ratings
from tests.support.factories import at, make_world
from xapi import vocabulary as v
from xapi.delivery import deliver_once

COMPARED = ("actor", "verb", "object", "result", "context")


@pytest.fixture
def lrs_app(app_config: dict[str, str], lrs) -> Iterator[Flask]:
    application = create_app(
        {
            **app_config,
            "WOM_LRS_ENDPOINT": lrs.endpoint,
            "WOM_LRS_USERNAME": lrs.username,
            "WOM_LRS_PASSWORD": lrs.password,
        }
    )
    yield application
    application.extensions["wordofmouth.engine"].dispose()


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_every_action_arrives_as_queued_and_deletions_are_voided_in_the_lrs(lrs_app: Flask, lrs) -> None:
    session = lrs_app.extensions["wordofmouth.sessions"]()
    world = make_world(session)
    session.add(LrsSettings(platform_id=world.platform_a.id, activity_iri_template="{issuer}/course/{context_id}"))
    colleagues.set_privacy_choice(session, world.bob, True)
    review = ratings.rate(session, world.ada, 4, "Practical and short", now=at(1))
    ratings.set_helpful(session, world.bob, review.id, True)
    top = comments.post_comment(session, world.bob, world.thread(), "Is the quiz graded?", now=at(2))
    reply = comments.post_comment(session, world.ada, world.thread(), "No, practice only.", top.id, now=at(3))
    comments.edit_comment(session, world.ada, reply.id, "No: it is practice only.", now=at(4))
    colleagues.follow(session, world.ada, world.bob.learner_id)
    colleagues.recommend_to_colleague(session, world.ada, world.bob.learner_id, "Short and useful")
    session.commit()

    counts = deliver_once(lrs_app)
    assert counts.get("delivered") == 8, counts

    # Deleting the top comment afterwards voids its statement in the LRS.
    comments.delete_comment(session, world.bob, top.id, now=at(5))
    session.commit()
    deliver_once(lrs_app)

    rows = list(session.scalars(select(OutboxStatement).order_by(OutboxStatement.id)))
    assert {row.status for row in rows} == {OutboxStatus.DELIVERED}
    assert len(rows) == 9
    verbs = [row.verb for row in rows]
    assert verbs.count(v.VOIDED.iri) == 2  # the superseded reply, then the deleted comment

    voided_targets = {row.statement["object"]["id"] for row in rows if row.verb == v.VOIDED.iri}
    for row in rows:
        queued = row.statement
        if row.statement_id in voided_targets:
            assert lrs.get_statement(row.statement_id) is None  # left out of ordinary queries
            stored = lrs.get_statement(row.statement_id, voided=True)
        else:
            stored = lrs.get_statement(row.statement_id)
        assert stored is not None, queued["verb"]["id"]
        for key in COMPARED:
            assert stored.get(key) == queued.get(key), (queued["verb"]["id"], key)
        assert _instant(stored["timestamp"]) == _instant(queued["timestamp"])

    listed = lrs.get_statements()
    assert sorted(s["id"] for s in listed) == sorted(
        row.statement_id for row in rows if row.statement_id not in voided_targets
    )
    rated = next(s for s in listed if s["verb"]["id"] == v.RATED.iri)
    assert rated["object"]["id"] == "https://a.lms.example/course/course-1"
    assert rated["result"]["score"]["raw"] == 4
    session.close()
