"""Each social action queues its statement in the action's own transaction, with the documented shape."""

from __future__ import annotations

import hashlib
import uuid

import pytest
from sqlalchemy import func, select

from plugin.models import ActorIdentity, Learner, LrsSettings, OutboxStatement, OutboxStatus
from plugin.services import colleagues, comments, launches, privacy, ratings
from plugin.services.launches import LaunchRecord
from tests.conftest import TEST_SECRET
from tests.support.factories import at, bearer, make_world
from xapi import vocabulary as v
from xapi.outbox import pseudonym_key
from xapi.statements import pseudonym
from xapi.validation import validate

BASE = "http://localhost"


def rows(db, **where) -> list[OutboxStatement]:
    query = select(OutboxStatement).order_by(OutboxStatement.id)
    for key, value in where.items():
        query = query.where(getattr(OutboxStatement, key) == value)
    return list(db.scalars(query))


def only(db, verb: v.Verb) -> dict:
    found = [r.statement for r in rows(db) if r.verb == verb.iri]
    assert len(found) == 1, [r.verb for r in rows(db)]
    return found[0]


def voided_ids(db) -> list[str]:
    return [r.statement["object"]["id"] for r in rows(db) if r.verb == v.VOIDED.iri]


def test_a_rating_queues_a_rated_statement_with_score_review_and_context(app, db) -> None:
    world = make_world(db)
    db.commit()
    response = app.test_client().put(
        "/api/v1/ratings/mine",
        json={"stars": 4, "review": "Clear and practical."},
        headers=bearer(app, world.ada, placement_id=world.placement.id, locale="de-DE"),
    )
    assert response.status_code == 200, response.get_json()
    db.expire_all()
    statement = only(db, v.RATED)
    validate(statement)
    assert statement["actor"] == {
        "objectType": "Agent",
        "account": {"homePage": "https://a.lms.example", "name": "ada"},
    }
    assert statement["verb"]["id"] == "http://id.tincanapi.com/verb/rated"
    assert statement["object"]["id"] == f"{BASE}/xapi/activities/course/{world.course.id}"
    assert statement["object"]["definition"]["type"] == "http://adlnet.gov/expapi/activities/course"
    assert statement["result"] == {
        "score": {"raw": 4.0, "min": 1.0, "max": 5.0, "scaled": 0.8},
        "response": "Clear and practical.",
    }
    ctx = statement["context"]
    assert ctx["platform"] == "Word of Mouth"
    assert ctx["contextActivities"]["grouping"][0]["id"] == "https://a.lms.example"
    assert ctx["extensions"] == {
        f"{BASE}/xapi/extensions/lti-deployment-id": "deployment-a",
        f"{BASE}/xapi/extensions/lti-context-id": "course-1",
        f"{BASE}/xapi/extensions/lti-resource-link-id": "link-1",
    }
    row = rows(db)[0]
    assert row.status is OutboxStatus.PENDING and row.statement_id == statement["id"]
    assert uuid.UUID(statement["id"]).version == 4


def test_nothing_is_queued_when_the_action_rolls_back(db) -> None:
    world = make_world(db)
    db.commit()
    ratings.rate(db, world.ada, 5, now=at(1))
    assert len(rows(db)) == 1  # queued inside the action's transaction...
    db.rollback()
    assert db.scalar(select(func.count()).select_from(OutboxStatement)) == 0  # ...and gone with it


def test_changing_a_rating_voids_the_superseded_statement_and_a_repeat_queues_nothing(db) -> None:
    world = make_world(db)
    ratings.rate(db, world.ada, 3, now=at(1))
    first = only(db, v.RATED)["id"]
    ratings.rate(db, world.ada, 3, now=at(2))  # same stars, same (no) review: nothing happened
    assert len(rows(db)) == 1
    ratings.rate(db, world.ada, 5, "Better on a second look", now=at(3))
    rated = rows(db, verb=v.RATED.iri)
    assert [r.current for r in rated] == [False, True]
    assert voided_ids(db) == [first]
    ratings.remove_rating(db, world.ada)
    assert voided_ids(db) == [first, rated[1].statement_id]
    assert not any(r.current for r in rows(db))


def test_a_helpful_vote_points_at_the_reviews_statement_and_taking_it_back_voids_it(db) -> None:
    world = make_world(db)
    review = ratings.rate(db, world.ada, 5, "Worth it", now=at(1))
    rated_id = only(db, v.RATED)["id"]
    ratings.set_helpful(db, world.bob, review.id, True)
    ratings.set_helpful(db, world.bob, review.id, True)  # a repeat is not a second vote
    vote = only(db, v.VOTED_UP)
    validate(vote)
    assert vote["object"] == {"objectType": "StatementRef", "id": rated_id}
    assert vote["actor"]["account"]["name"] == "bob"
    assert vote["context"]["contextActivities"]["parent"][0]["id"].endswith(f"/course/{world.course.id}")
    assert "platform" not in vote["context"]  # only allowed when the object is an Activity
    ratings.set_helpful(db, world.bob, review.id, False)
    assert voided_ids(db) == [vote["id"]]


def test_comments_replies_edits_and_deletions(db) -> None:
    world = make_world(db)
    top = comments.post_comment(db, world.ada, world.thread(), "Does this count for the audit?", now=at(1))
    commented = only(db, v.COMMENTED)
    assert commented["result"] == {"response": "Does this count for the audit?"}
    reply = comments.post_comment(db, world.bob, world.thread(), "Yes, it does.", parent_id=top.id, now=at(2))
    replied = only(db, v.REPLIED)
    validate(replied)
    assert replied["object"] == {"objectType": "StatementRef", "id": commented["id"]}
    assert replied["result"] == {"response": "Yes, it does."}

    comments.edit_comment(db, world.bob, reply.id, "Yes, it does (since 2025).", now=at(3))
    edits = rows(db, verb=v.REPLIED.iri)
    assert [r.current for r in edits] == [False, True]
    assert edits[1].statement["result"]["response"] == "Yes, it does (since 2025)."
    assert edits[1].statement["object"]["id"] == commented["id"]
    assert voided_ids(db) == [replied["id"]]

    comments.delete_comment(db, world.ada, top.id, now=at(4))
    assert voided_ids(db) == [replied["id"], commented["id"]]
    voiding = rows(db, verb=v.VOIDED.iri)[-1].statement
    validate(voiding)
    assert voiding["actor"]["account"]["name"] == "ada"
    assert set(voiding) == {"id", "actor", "verb", "object", "timestamp", "version"}


def test_following_and_recommending_name_the_colleague_as_the_learner_is_named(db) -> None:
    world = make_world(db)
    colleagues.set_privacy_choice(db, world.bob, True)
    colleagues.follow(db, world.ada, world.bob.learner_id)
    colleagues.follow(db, world.ada, world.bob.learner_id)  # already following: nothing new
    followed = only(db, v.FOLLOWED)
    validate(followed)
    assert followed["object"] == {
        "objectType": "Agent",
        "account": {"homePage": "https://a.lms.example", "name": "bob"},
    }
    colleagues.recommend_to_colleague(db, world.ada, world.bob.learner_id, "You asked about this one")
    colleagues.recommend_to_colleague(db, world.ada, world.bob.learner_id)  # sent before: nothing new
    shared = only(db, v.SHARED)
    validate(shared)
    assert shared["object"]["id"].endswith(f"/course/{world.course.id}")
    assert shared["result"] == {"response": "You asked about this one"}
    recipient = shared["context"]["extensions"][f"{BASE}/xapi/extensions/recipient"]
    assert recipient["account"] == {"homePage": "https://a.lms.example", "name": "bob"}
    colleagues.unfollow(db, world.ada, world.bob.learner_id)
    assert voided_ids(db) == [followed["id"]]


def _launch(db, world, sub: str = "ada") -> None:
    launches.record_launch(
        db,
        LaunchRecord(
            platform_id=world.platform_a.id,
            sub=sub,
            name="Ada",
            email=None,
            locale="fr_CA",
            org_group=None,
            roles=(),
            context_id="course-1",
            context_title="Négociation",
            context_label="NEG",
            resource_link_id="link-1",
            resource_link_title="Widgets",
            deployment_id="deployment-a",
        ),
        at(5),
    )


def test_launches_are_recorded_only_where_the_platform_asks_for_them(db) -> None:
    world = make_world(db)
    _launch(db, world)
    assert rows(db) == []  # off by default: the LMS usually reports launches itself
    db.add(LrsSettings(platform_id=world.platform_a.id, send_launched=True))
    db.flush()
    _launch(db, world)
    launched = only(db, v.LAUNCHED)
    validate(launched)
    assert launched["context"]["language"] == "fr-CA"
    assert launched["object"]["definition"]["name"] == {"fr-CA": "Négociation"}


@pytest.mark.parametrize("identity", list(ActorIdentity))
def test_actor_identity_and_activity_iri_follow_the_platforms_settings(db, identity) -> None:
    world = make_world(db)
    ada = db.get(Learner, world.ada.learner_id)
    ada.email = "ada@example.org"
    db.add(
        LrsSettings(
            platform_id=world.platform_a.id,
            actor_identity=identity,
            activity_iri_template="{issuer}/course/view.php?id={context_id}",
        )
    )
    db.flush()
    ratings.rate(db, world.ada, 2, now=at(1))
    statement = only(db, v.RATED)
    validate(statement)
    assert statement["object"]["id"] == "https://a.lms.example/course/view.php?id=course-1"
    expected = {
        ActorIdentity.ACCOUNT: {"account": {"homePage": "https://a.lms.example", "name": "ada"}},
        ActorIdentity.MBOX: {"mbox": "mailto:ada@example.org"},
        ActorIdentity.MBOX_SHA1SUM: {"mbox_sha1sum": hashlib.sha1(b"mailto:ada@example.org").hexdigest()},
        ActorIdentity.PSEUDONYMOUS: {
            "account": {
                "homePage": BASE,
                "name": pseudonym(pseudonym_key(TEST_SECRET), "https://a.lms.example", "ada"),
            }
        },
    }[identity]
    assert statement["actor"] == {"objectType": "Agent", **expected}
    if identity is ActorIdentity.PSEUDONYMOUS:
        assert "ada" not in str(statement["actor"])


def test_mbox_identities_fall_back_to_the_account_without_an_email(db) -> None:
    world = make_world(db)
    db.add(LrsSettings(platform_id=world.platform_a.id, actor_identity=ActorIdentity.MBOX))
    db.flush()
    ratings.rate(db, world.ada, 2, now=at(1))
    assert only(db, v.RATED)["actor"]["account"] == {"homePage": "https://a.lms.example", "name": "ada"}


def test_erasure_drops_unsent_statements_and_voids_sent_ones_as_the_tool(db) -> None:
    world = make_world(db)
    ratings.rate(db, world.ada, 4, "Sent already", now=at(1))
    sent = rows(db)[0]
    sent.status = OutboxStatus.DELIVERED
    comments.post_comment(db, world.ada, world.thread(), "Not sent yet", now=at(2))
    ratings.rate(db, world.bob, 5, now=at(3))  # someone else's statement stays
    db.flush()
    learner = privacy.find_learner(db, "https://a.lms.example", "ada")
    privacy.erase(db, learner, now=at(10))
    left = rows(db)
    assert [r.verb for r in left] == [v.RATED.iri, v.VOIDED.iri]
    assert left[0].statement["actor"]["account"]["name"] == "bob"
    voiding = left[1].statement
    validate(voiding)
    assert voiding["object"]["id"] == sent.statement_id
    assert voiding["actor"]["account"] == {"homePage": BASE, "name": "wordofmouth"}
    assert all("ada" not in str(r.statement) and "Not sent yet" not in str(r.statement) for r in left)
