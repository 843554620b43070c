"""The stored recommendation build: what it writes, the reasons it keeps, what it skips."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.models import ItemAlsoTook, Learner, LearnerRecommendation
from plugin.services import colleagues, ratings, recommendations
from plugin.services.launches import record_enrolment
from tests.support.factories import actor, at, make_item, make_learner, make_world

INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"


def _learner(db: Session, platform, sub: str, group: str | None) -> Learner:  # type: ignore[no-untyped-def]
    learner = make_learner(db, platform, sub, sub.title())
    learner.org_group = group
    return learner


def _take(db: Session, learner: Learner, item, stars: int | None = None, minute: float = 0) -> None:  # type: ignore[no-untyped-def]
    record_enrolment(db, learner, item, [], at(minute))
    if stars is not None:
        ratings.rate(db, actor(learner, item), stars, None, now=at(minute))


def test_a_build_stores_ranked_recommendations_with_their_reasons(db: Session) -> None:
    world = make_world(db)
    a = world.platform_a
    basics, advanced = world.course, world.other_course
    safety = make_item(db, a, "course-3", "Safety at work")
    ada = db.get(Learner, world.ada.learner_id)
    ada.org_group = "Sales"
    sales = [_learner(db, a, f"sales-{n}", "Sales") for n in range(4)]
    legal = [_learner(db, a, f"legal-{n}", "Legal") for n in range(3)]
    newcomer = _learner(db, a, "newcomer", "Sales")
    teacher = db.get(Learner, world.teacher.learner_id)
    for n, person in enumerate(sales):
        _take(db, person, basics, 5, minute=n)
        _take(db, person, advanced, 4, minute=n + 10)
    for n, person in enumerate(legal):
        _take(db, person, safety, 5, minute=n)
    _take(db, ada, basics, 5, minute=30)
    record_enrolment(db, teacher, safety, [INSTRUCTOR], at(40), staff=True)

    result = recommendations.build(db, a.id, now=at(60))
    assert result.built and result.items == 3

    shown = recommendations.for_learner(db, world.ada)
    assert shown[0].title == "Advanced negotiation"
    reason = shown[0].reason
    assert (reason.kind, reason.because_title, reason.count, reason.org_group) == (
        "neighbours",
        "Negotiation basics",
        4,
        "Sales",
    )
    assert "Negotiation basics" not in [r.title for r in shown]  # taken already

    # Someone the build has no history for gets what is popular in their department.
    fresh = recommendations.for_learner(db, actor(newcomer, basics))
    assert fresh[0].title == "Advanced negotiation"
    assert fresh[0].reason.kind == "group_popular"

    # "Colleagues who took this also took", with the mean rating once 3 of them rated it.
    also = colleagues.also_took(db, world.ada)
    assert [(x.title, x.takers, x.mean_rating) for x in also] == [("Advanced negotiation", 4, 4.0)]

    # After a build, counts come from it; the reader is not one of their own colleagues.
    takers = colleagues.takers(db, world.ada)
    assert (takers.total, takers.in_group, takers.you_took) == (4, 4, True)
    late = _learner(db, a, "late", "Sales")
    _take(db, late, basics, minute=70)
    assert colleagues.takers(db, world.ada).total == 4  # until the next build
    assert colleagues.takers(db, actor(late, basics)).total == 5  # the build did not count "late"
    recommendations.build(db, a.id, now=at(80))
    assert colleagues.takers(db, world.ada).total == 5

    # Instructors are not takers: Safety's three takers are the Legal learners.
    stored = db.scalars(select(ItemAlsoTook).where(ItemAlsoTook.item_id == safety.id)).all()
    assert stored == []


def test_an_unchanged_platform_is_skipped_and_a_change_rebuilds_it(db: Session) -> None:
    world = make_world(db)
    a = world.platform_a
    people = [_learner(db, a, f"p-{n}", "Ops") for n in range(3)]
    for person in people:
        _take(db, person, world.course)
        _take(db, person, world.other_course)
    assert recommendations.build(db, a.id).built
    assert not recommendations.build(db, a.id).built
    assert recommendations.build(db, a.id, force=True).built

    _take(db, db.get(Learner, world.ada.learner_id), world.course, 4, minute=5)
    assert recommendations.build(db, a.id).built
    rows = db.scalars(
        select(LearnerRecommendation).where(LearnerRecommendation.learner_id == world.ada.learner_id)
    ).all()
    assert [r.item_id for r in rows][:1] == [world.other_course.id]


def test_builds_stay_inside_their_platform(db: Session) -> None:
    world = make_world(db)
    for n in range(3):
        person = _learner(db, world.platform_a, f"a-{n}", None)
        _take(db, person, world.course)
        _take(db, person, world.other_course)
    recommendations.build(db, world.platform_a.id)
    recommendations.build(db, world.platform_b.id)

    assert recommendations.for_learner(db, world.foreign_learner) == []
    platform_ids = set(db.scalars(select(LearnerRecommendation.platform_id)))
    assert platform_ids == {world.platform_a.id}
