"""Colleagues who took an item: counts, privacy thresholds, names by opt-in, follows, recommendations."""

from __future__ import annotations

import itertools

import pytest
from sqlalchemy.orm import Session

from plugin.errors import InvalidFieldError, NotFoundError
from plugin.models import Follow, Learner, Platform
from plugin.services import colleagues, recommendations
from plugin.services.launches import record_enrolment
from tests.support.factories import actor, at, make_learner, make_world

INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"
_serial = itertools.count(1)


def _took(db: Session, learner_id: int, item, *, staff: bool = False, minute: float = 0) -> None:  # type: ignore[no-untyped-def]
    record_enrolment(db, db.get(Learner, learner_id), item, [INSTRUCTOR] if staff else [], at(minute), staff=staff)


def _people(db: Session, platform: Platform, group: str, count: int, *, show_name: bool | None = None) -> list[Learner]:
    people = []
    for n in range(count):
        serial = next(_serial)
        person = make_learner(db, platform, f"{group.lower()}-{serial}", f"{group} Person{serial}")
        person.org_group = group
        person.show_name = show_name
        people.append(person)
    db.flush()
    return people


def test_counts_under_three_are_words_and_a_department_of_two_reveals_nothing(db: Session) -> None:
    world = make_world(db)
    me = db.get(Learner, world.ada.learner_id)
    me.org_group = "Sales"
    sales = _people(db, world.platform_a, "Sales", 2)
    legal = _people(db, world.platform_a, "Legal", 1)
    for person in [*sales, *legal]:
        _took(db, person.id, world.course)

    takers = colleagues.takers(db, world.ada)
    assert takers.total == 3  # two in Sales, one in Legal
    assert takers.org_group == "Sales"
    assert takers.in_group is None  # 2 colleagues in Sales: not shown

    _took(db, _people(db, world.platform_a, "Ops", 1)[0].id, world.other_course)
    _took(db, sales[0].id, world.other_course)
    other = colleagues.takers(db, world.other_course_learner)
    assert other.total is None and other.in_group is None  # 2 takers in all: "fewer than 3"

    sales += _people(db, world.platform_a, "Sales", 1)
    _took(db, sales[-1].id, world.course)
    assert colleagues.takers(db, world.ada).in_group == 3


def test_instructors_and_the_learner_themself_are_not_counted(db: Session) -> None:
    world = make_world(db)
    people = _people(db, world.platform_a, "Ops", 3)
    for person in people:
        _took(db, person.id, world.course)
    _took(db, world.ada.learner_id, world.course)
    _took(db, world.teacher.learner_id, world.course, staff=True)

    takers = colleagues.takers(db, world.ada)
    assert takers.total == 3
    assert takers.you_took
    assert colleagues.takers(db, world.teacher).total == 4  # the instructor sees the four learners


def test_names_only_by_choice_or_the_platform_default(db: Session) -> None:
    world = make_world(db)
    shown, hidden, undecided = _people(db, world.platform_a, "Ops", 3)
    shown.show_name, hidden.show_name = True, False
    for person in (shown, hidden, undecided):
        _took(db, person.id, world.course)

    assert [c.name for c in colleagues.takers(db, world.ada).named] == [shown.name]
    world.platform_a.show_names_default = True
    db.flush()
    assert {c.name for c in colleagues.takers(db, world.ada).named} == {shown.name, undecided.name}

    choice = colleagues.set_privacy_choice(db, actor(undecided, world.course), False)
    assert choice.choice is False and not choice.shows_name
    assert [c.name for c in colleagues.takers(db, world.ada).named] == [shown.name]


def test_follow_only_colleagues_who_show_their_name_in_the_same_organisation(db: Session) -> None:
    world = make_world(db)
    shown, hidden = _people(db, world.platform_a, "Ops", 2)
    shown.show_name, hidden.show_name = True, False
    db.flush()

    colleagues.follow(db, world.ada, shown.id)
    colleagues.follow(db, world.ada, shown.id)  # twice is once
    assert [c.name for c in colleagues.following(db, world.ada)] == [shown.name]
    with pytest.raises(NotFoundError):
        colleagues.follow(db, world.ada, hidden.id)
    with pytest.raises(NotFoundError):
        colleagues.follow(db, world.ada, world.ada.learner_id)
    foreign = db.get(Learner, world.foreign_learner.learner_id)
    foreign.show_name = True
    db.flush()
    with pytest.raises(NotFoundError):
        colleagues.follow(db, world.ada, foreign.id)

    assert colleagues.unfollow(db, world.ada, shown.id)
    assert not colleagues.unfollow(db, world.ada, shown.id)
    assert db.query(Follow).count() == 0


def test_search_finds_named_colleagues_of_the_same_organisation_only(db: Session) -> None:
    world = make_world(db)
    ana = make_learner(db, world.platform_a, "ana", "Ana Ruiz")
    anne = make_learner(db, world.platform_a, "anne", "Anne Private")
    ana.show_name, anne.show_name = True, False
    foreign = make_learner(db, world.platform_b, "anabel", "Anabel Foreign")
    foreign.show_name = True
    db.flush()

    assert [c.name for c in colleagues.search(db, world.ada, "an")] == ["Ana Ruiz"]
    assert colleagues.search(db, world.ada, "100%_") == []
    with pytest.raises(InvalidFieldError):
        colleagues.search(db, world.ada, "a")


def test_a_recommendation_reaches_the_colleague_with_the_senders_name(db: Session) -> None:
    world = make_world(db)
    ana = make_learner(db, world.platform_a, "ana", "Ana Ruiz")
    ana.show_name = True
    db.get(Learner, world.ada.learner_id).name = "Ada Lovelace"
    db.flush()

    colleagues.recommend_to_colleague(db, world.ada, ana.id, "Worth your Thursday")
    colleagues.recommend_to_colleague(db, world.ada, ana.id)  # again: still one
    assert colleagues.recommended_by_actor(db, world.ada) == ["Ana Ruiz"]

    shown = recommendations.for_learner(db, actor(ana, world.other_course))
    assert [(r.title, r.reason.kind, r.reason.sender) for r in shown] == [
        ("Negotiation basics", "colleague", "Ada Lovelace")
    ]
    # Once Ana took the course, it is no longer recommended to her.
    _took(db, ana.id, world.course)
    assert recommendations.for_learner(db, actor(ana, world.other_course)) == []
    with pytest.raises(InvalidFieldError):
        colleagues.recommend_to_colleague(db, world.bob, ana.id, "x" * 301)


def test_initials() -> None:
    assert colleagues.initials("Ada Lovelace") == "AL"
    assert colleagues.initials("grace") == "G"
    assert colleagues.initials("Jean-Luc de la Mare") == "JM"
    assert colleagues.initials("") == "?"
