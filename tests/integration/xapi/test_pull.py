"""``pull``: the LMS's completed/launched statements in a real LRS become enrolments, on both databases.

The statements are posted by another client, as Moodle's logstore_xapi writes them: the course is
``{issuer}/course/view.php?id={context_id}``, the actor an account ``{homePage: issuer, name: sub}``.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from plugin.app import create_app
from plugin.models import Enrolment, Item, Learner, LrsCursor, LrsSettings, Platform, RosterMember
from plugin.models.learning import EnrolmentSource
from plugin.services.launches import record_enrolment
from plugin.services.platforms import PlatformSpec, add_or_update_platform
from plugin.worker import registered_jobs, run_once
from tests.support.factories import at, make_item, make_learner, make_platform
from tests.support.lrs import RunningLrs
from xapi import ingest
from xapi import vocabulary as v
from xapi.ingest import parse_time, pull

MOODLE = "{issuer}/course/view.php?id={context_id}"
EXPERIENCED = "http://adlnet.gov/expapi/verbs/experienced"
LEARNER_ROLE = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
INSTRUCTOR_ROLE = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"


@pytest.fixture
def app_config(app_config: dict[str, str], lrs: RunningLrs) -> dict[str, str]:
    """Every test app sends to (and reads from) the test LRS by default."""
    return {
        **app_config,
        "WOM_LRS_ENDPOINT": lrs.endpoint,
        "WOM_LRS_USERNAME": lrs.username,
        "WOM_LRS_PASSWORD": lrs.password,
    }


@dataclass(frozen=True)
class Lms:
    a: Platform
    b: Platform  # another organisation, with the same context ids and subs as A
    course: Item  # A's course 101
    other_course: Item  # A's course 102
    foreign_course: Item  # B's course 101
    ada: Learner  # sub 7 on A
    bob: Learner  # sub 8 on A


@pytest.fixture
def lms(db: Session) -> Lms:
    a, b = make_platform(db, "a"), make_platform(db, "b")
    for platform in (a, b):
        db.add(LrsSettings(platform_id=platform.id, activity_iri_template=MOODLE))
    world = Lms(
        a=a,
        b=b,
        course=make_item(db, a, "101"),
        other_course=make_item(db, a, "102"),
        foreign_course=make_item(db, b, "101"),
        ada=make_learner(db, a, "7", "Ada"),
        bob=make_learner(db, a, "8", "Bob"),
    )
    make_learner(db, b, "7", "Ada at B")
    db.commit()
    return world


def lms_statement(
    issuer: str,
    sub: str,
    context_id: str,
    *,
    verb: str = v.COMPLETED.iri,
    when: str = "2026-03-02T09:00:00.000Z",
    **parts: Any,
) -> dict[str, Any]:
    """A statement as Moodle's logstore_xapi writes it about a course."""
    statement: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "actor": {"objectType": "Agent", "name": f"User {sub}", "account": {"homePage": issuer, "name": sub}},
        "verb": {"id": verb, "display": {"en": verb.rsplit("/", 1)[-1]}},
        "object": {
            "objectType": "Activity",
            "id": MOODLE.format(issuer=issuer, context_id=context_id),
            "definition": {"type": v.COURSE, "name": {"en": f"Course {context_id}"}},
        },
        "timestamp": when,
        "context": {"platform": "Moodle", "language": "en"},
    }
    statement.update(parts)
    return {key: value for key, value in statement.items() if value is not None}


def post(lrs: RunningLrs, statements: list[dict[str, Any]]) -> None:
    """POST as the LMS would, then wait until the LRS's clock is past what it stored."""
    response = lrs.post_statements(statements)
    assert response.status_code == 200, response.text
    settle(lrs)


def settle(lrs: RunningLrs, timeout: float = 30.0) -> None:
    """Wait until the LRS's X-Experience-API-Consistent-Through is later than its newest ``stored``,
    so a pull that starts now sees every statement as settled (none shares the header's millisecond)."""

    def newest() -> tuple[datetime | None, datetime]:
        answer = requests.get(lrs.statements_url, params={"limit": 1}, headers=lrs.headers, auth=lrs.auth, timeout=30)
        answer.raise_for_status()
        through = parse_time(answer.headers["X-Experience-API-Consistent-Through"])
        assert through is not None
        found = answer.json()["statements"]
        return (parse_time(found[0]["stored"]) if found else None), through

    stored, through = newest()
    deadline = time.monotonic() + timeout
    while stored is not None and through <= stored:
        assert time.monotonic() < deadline, f"the LRS clock stayed at {through} for {timeout} s"
        time.sleep(0.002)
        _, through = newest()


def run(app: Flask, db: Session, **options: int) -> dict[str, int]:
    db.rollback()  # the test's session holds no transaction (nor SQLite lock) while the pull writes
    counts = pull(app, **options)
    db.expire_all()
    return counts


def taken(db: Session) -> set[tuple[str, str, str, EnrolmentSource]]:
    """Every enrolment as (platform client id, learner sub, item key, source)."""
    rows = db.execute(
        select(Platform.client_id, Learner.sub, Item.key, Enrolment.source)
        .join(Learner, Learner.id == Enrolment.learner_id)
        .join(Item, Item.id == Enrolment.item_id)
        .join(Platform, Platform.id == Enrolment.platform_id)
    )
    return {tuple(row) for row in rows}  # type: ignore[misc]


def enrolment(db: Session, learner: Learner, item: Item) -> Enrolment:
    return db.scalars(select(Enrolment).where(Enrolment.learner_id == learner.id, Enrolment.item_id == item.id)).one()


def cursor(db: Session, lrs: RunningLrs) -> LrsCursor:
    return db.scalars(select(LrsCursor).where(LrsCursor.endpoint == lrs.endpoint)).one()


def learner_count(db: Session) -> int:
    return db.scalar(select(func.count()).select_from(Learner)) or 0


# --- statements become enrolments -----------------------------------------------------------------------------


def test_the_lmss_completions_and_launches_become_enrolments_of_the_right_learner_and_course(
    app: Flask, db: Session, lrs: RunningLrs, lms: Lms
) -> None:
    issuer = lms.a.issuer
    post(
        lrs,
        [
            lms_statement(issuer, "7", "101", when="2026-03-02T09:00:00.000Z"),
            lms_statement(issuer, "8", "102", verb=v.LAUNCHED.iri, when="2026-03-03T10:30:00.000+01:00"),
            lms_statement(lms.b.issuer, "7", "101"),  # the other organisation's sub 7 and course 101
        ],
    )

    counts = run(app, db)

    assert counts == {"read": 3, "matched": 3, "enrolments_added": 3, "learners_added": 0, "errors": 0}
    assert taken(db) == {
        ("client-a", "7", "101", EnrolmentSource.LRS),
        ("client-a", "8", "102", EnrolmentSource.LRS),
        ("client-b", "7", "101", EnrolmentSource.LRS),
    }
    ada = enrolment(db, lms.ada, lms.course)
    assert ada.first_seen == ada.last_seen == datetime(2026, 3, 2, 9, tzinfo=UTC)
    assert (ada.roles, ada.staff) == ([], False)
    assert enrolment(db, lms.bob, lms.other_course).last_seen == datetime(2026, 3, 3, 9, 30, tzinfo=UTC)
    row = cursor(db, lrs)
    assert row.since is not None and row.statements == 3 and row.last_error is None
    assert row.pulled_at is not None


def test_pulling_twice_adds_nothing_and_reading_the_same_statements_again_changes_nothing(
    app: Flask, db: Session, lrs: RunningLrs, lms: Lms
) -> None:
    post(lrs, [lms_statement(lms.a.issuer, "7", "101"), lms_statement(lms.a.issuer, "8", "101")])
    assert run(app, db)["enrolments_added"] == 2
    before = {
        (e.id, e.learner_id, e.item_id, e.source, e.first_seen, e.last_seen) for e in db.scalars(select(Enrolment))
    }

    assert run(app, db) == {"read": 0, "matched": 0, "enrolments_added": 0, "learners_added": 0, "errors": 0}

    # Forget the cursor: everything is read again, and nothing changes.
    db.delete(cursor(db, lrs))
    db.commit()
    assert run(app, db) == {"read": 2, "matched": 2, "enrolments_added": 0, "learners_added": 0, "errors": 0}
    after = {
        (e.id, e.learner_id, e.item_id, e.source, e.first_seen, e.last_seen) for e in db.scalars(select(Enrolment))
    }
    assert after == before


def test_an_enrolment_from_a_launch_keeps_its_source_and_roles_and_only_moves_last_seen_forward(
    app: Flask, db: Session, lrs: RunningLrs, lms: Lms
) -> None:
    record_enrolment(db, lms.ada, lms.course, [LEARNER_ROLE], at(0))
    db.commit()
    post(lrs, [lms_statement(lms.a.issuer, "7", "101", when="2026-03-05T12:00:00.000Z")])
    assert run(app, db)["enrolments_added"] == 0
    row = enrolment(db, lms.ada, lms.course)
    assert (row.source, row.roles, row.first_seen) == (EnrolmentSource.LAUNCH, [LEARNER_ROLE], at(0))
    assert row.last_seen == datetime(2026, 3, 5, 12, tzinfo=UTC)

    post(lrs, [lms_statement(lms.a.issuer, "7", "101", verb=v.LAUNCHED.iri, when="2026-03-01T08:00:00.000Z")])
    assert run(app, db) == {"read": 1, "matched": 1, "enrolments_added": 0, "learners_added": 0, "errors": 0}
    assert enrolment(db, lms.ada, lms.course).last_seen == datetime(2026, 3, 5, 12, tzinfo=UTC)


def test_a_teacher_in_the_roster_is_enrolled_as_staff(app: Flask, db: Session, lrs: RunningLrs, lms: Lms) -> None:
    teacher = make_learner(db, lms.a, "900", "Teacher")
    db.add(
        RosterMember(
            platform_id=lms.a.id, item_id=lms.course.id, learner_id=teacher.id, roles=[INSTRUCTOR_ROLE], staff=True
        )
    )
    db.commit()
    post(lrs, [lms_statement(lms.a.issuer, "900", "101", verb=v.LAUNCHED.iri)])
    assert run(app, db)["enrolments_added"] == 1
    row = enrolment(db, teacher, lms.course)
    assert (row.staff, row.roles, row.source) == (True, [INSTRUCTOR_ROLE], EnrolmentSource.LRS)


# --- learners the LMS names first -----------------------------------------------------------------------------


def test_a_learner_first_named_by_the_lms_is_created_on_the_platform_of_that_issuer(
    app: Flask, db: Session, lrs: RunningLrs, lms: Lms
) -> None:
    grace = lms_statement(lms.a.issuer, "42", "101")
    grace["actor"] = {"name": "Grace Hopper", "account": {"homePage": lms.a.issuer + "/", "name": "42"}}
    post(lrs, [grace])

    assert run(app, db) == {"read": 1, "matched": 1, "enrolments_added": 1, "learners_added": 1, "errors": 0}
    learner = db.scalars(select(Learner).where(Learner.sub == "42")).one()
    assert (learner.platform_id, learner.name, learner.email) == (lms.a.id, "Grace Hopper", None)
    assert taken(db) == {("client-a", "42", "101", EnrolmentSource.LRS)}


def test_an_issuer_shared_by_two_registrations_enrols_only_where_the_learner_is_known(
    app: Flask, db: Session, lrs: RunningLrs, lms: Lms
) -> None:
    twin, _ = add_or_update_platform(
        db,
        PlatformSpec(
            issuer=lms.a.issuer,
            client_id="client-a2",
            auth_login_url=f"{lms.a.issuer}/auth",
            auth_token_url=f"{lms.a.issuer}/token",
            key_set_url=f"{lms.a.issuer}/jwks",
            deployment_ids=("deployment-a2",),
        ),
    )
    db.add(LrsSettings(platform_id=twin.id, activity_iri_template=MOODLE))
    make_item(db, twin, "101")
    db.commit()
    learners = learner_count(db)

    post(lrs, [lms_statement(lms.a.issuer, "7", "101"), lms_statement(lms.a.issuer, "43", "101")])
    counts = run(app, db)

    # Ada (sub 7) is known on A only; sub 43 could be either registration's learner: not guessed.
    assert counts == {"read": 2, "matched": 1, "enrolments_added": 1, "learners_added": 0, "errors": 0}
    assert taken(db) == {("client-a", "7", "101", EnrolmentSource.LRS)}
    assert learner_count(db) == learners


# --- what is ignored ------------------------------------------------------------------------------------------


def test_statements_about_unknown_courses_or_people_other_verbs_and_our_own_are_ignored(
    app: Flask, db: Session, lrs: RunningLrs, lms: Lms
) -> None:
    issuer = lms.a.issuer
    voided = lms_statement(issuer, "8", "101")
    ignored = [
        lms_statement(issuer, "7", "999"),  # a course we do not know
        lms_statement("https://elsewhere.example", "7", "101"),  # an issuer that is no platform of ours
        lms_statement(issuer, "7", "101", verb=EXPERIENCED),  # another verb
        lms_statement(issuer, "7", "101", context={"platform": v.PLATFORM_NAME}),  # Word of Mouth's own
        lms_statement(issuer, "7", "101", actor={"objectType": "Agent", "mbox": "mailto:ada@example.org"}),
        lms_statement(issuer, "7", "101", actor={"objectType": "Group", "account": {"homePage": issuer, "name": "7"}}),
        lms_statement(
            issuer, "7", "101", object={"objectType": "Activity", "id": f"{issuer}/mod/page/view.php?id=101"}
        ),
        # Not about an Activity (context.platform is allowed with Activities only).
        lms_statement(
            issuer,
            "7",
            "101",
            object={"objectType": "Agent", "account": {"homePage": issuer, "name": "8"}},
            context=None,
        ),
        lms_statement(issuer, "7", "101", object={"objectType": "StatementRef", "id": str(uuid.uuid4())}, context=None),
        voided,
    ]
    post(lrs, ignored)
    voider = lms_statement(
        issuer, "8", "101", verb=v.VOIDED.iri, object={"objectType": "StatementRef", "id": voided["id"]}, context=None
    )
    post(lrs, [voider])
    learners = learner_count(db)

    counts = run(app, db)

    # Read: the 8 completed statements still valid, and the voiding statement, which the LRS returns for
    # verb=completed because it targets a completed one (part 3, 2.1.3, filter conditions for StatementRefs).
    # The "experienced" one and the voided one never come back.
    assert counts["read"] == 9
    assert (counts["matched"], counts["enrolments_added"], counts["learners_added"], counts["errors"]) == (0, 0, 0, 0)
    assert taken(db) == set()
    assert learner_count(db) == learners
    assert cursor(db, lrs).last_error is None


# --- pages, more links and the cursor -------------------------------------------------------------------------


def test_more_links_are_followed_until_the_result_is_read_completely(
    app: Flask, db: Session, lrs: RunningLrs, lms: Lms, monkeypatch: pytest.MonkeyPatch
) -> None:
    items = [make_item(db, lms.a, str(200 + n)) for n in range(7)]
    db.commit()
    urls: list[str] = []
    page = ingest.LrsReader.page

    def spy(reader: ingest.LrsReader, url: str) -> ingest.Page:
        urls.append(url)
        return page(reader, url)

    monkeypatch.setattr(ingest.LrsReader, "page", spy)
    post(lrs, [lms_statement(lms.a.issuer, "7", item.key) for item in items])

    counts = run(app, db, page_size=2)

    assert counts == {"read": 7, "matched": 7, "enrolments_added": 7, "learners_added": 0, "errors": 0}
    assert {key for _, sub, key, _ in taken(db)} == {item.key for item in items}
    completed = [u for u in urls if "cursor=" in u or "completed" in u]
    assert len(completed) == 4  # 2 + 2 + 2 + 1
    assert all(u.startswith(f"http://127.0.0.1:{lrs.port}/xAPI/statements?") and "cursor=" in u for u in completed[1:])


def test_a_run_reads_a_bounded_number_of_pages_and_the_next_run_goes_on(
    app: Flask, db: Session, lrs: RunningLrs, lms: Lms
) -> None:
    items = [make_item(db, lms.a, str(300 + n)) for n in range(5)]
    db.commit()
    for item in items:  # one POST each: five different stored times
        post(lrs, [lms_statement(lms.a.issuer, "7", item.key)])

    reads = [run(app, db, page_size=2, max_pages=1)["read"] for _ in range(4)]

    assert reads == [2, 2, 1, 0]
    assert {key for _, _, key, _ in taken(db)} == {item.key for item in items}


def test_statements_stored_in_one_instant_are_never_split_between_runs(
    app: Flask, db: Session, lrs: RunningLrs, lms: Lms
) -> None:
    items = [make_item(db, lms.a, str(400 + n)) for n in range(5)]
    db.commit()
    post(lrs, [lms_statement(lms.a.issuer, "7", item.key) for item in items])  # one POST: one stored time
    assert len({s["stored"] for s in lrs.get_statements()}) == 1

    assert run(app, db, page_size=2, max_pages=1)["read"] == 5
    assert run(app, db, page_size=2, max_pages=1)["read"] == 0
    assert len(taken(db)) == 5


def test_the_cursor_advances_and_a_later_pull_reads_only_new_statements(
    app: Flask, db: Session, lrs: RunningLrs, lms: Lms
) -> None:
    post(lrs, [lms_statement(lms.a.issuer, "7", "101"), lms_statement(lms.a.issuer, "8", "101")])
    assert run(app, db)["read"] == 2
    first = parse_time(cursor(db, lrs).since)
    stored = [parse_time(s["stored"]) for s in lrs.get_statements()]
    assert first is not None and all(at <= first for at in stored)  # type: ignore[operator]

    post(lrs, [lms_statement(lms.a.issuer, "7", "102", verb=v.LAUNCHED.iri)])
    assert run(app, db) == {"read": 1, "matched": 1, "enrolments_added": 1, "learners_added": 0, "errors": 0}
    second = cursor(db, lrs)
    assert parse_time(second.since) > first  # type: ignore[operator]
    assert second.statements == 3
    assert run(app, db)["read"] == 0


# --- errors ---------------------------------------------------------------------------------------------------


def test_an_unreachable_lrs_is_recorded_on_its_cursor_and_nothing_raises(
    app: Flask, db: Session, lrs: RunningLrs, lms: Lms
) -> None:
    with lrs.down():
        counts = run(app, db)
        assert counts == {"read": 0, "matched": 0, "enrolments_added": 0, "learners_added": 0, "errors": 1}
        row = cursor(db, lrs)
        assert row.since is None
        assert row.last_error is not None and row.last_error.startswith(f"cannot connect to {lrs.endpoint}")
        assert lrs.password not in row.last_error

    # Back (empty): the next run reads it and clears the error.
    post(lrs, [lms_statement(lms.a.issuer, "7", "101")])
    assert run(app, db)["enrolments_added"] == 1
    assert cursor(db, lrs).last_error is None


def test_an_endpoint_that_is_no_lrs_fails_alone(app: Flask, db: Session, lrs: RunningLrs, lms: Lms) -> None:
    wrong = f"http://127.0.0.1:{lrs.port}/not-xapi/"
    settings = db.get(LrsSettings, lms.b.id)
    assert settings is not None
    settings.endpoint = wrong
    db.commit()
    post(lrs, [lms_statement(lms.a.issuer, "7", "101"), lms_statement(lms.b.issuer, "7", "101")])

    counts = run(app, db)

    assert (counts["errors"], counts["enrolments_added"]) == (1, 1)
    assert taken(db) == {("client-a", "7", "101", EnrolmentSource.LRS)}
    failed = db.scalars(select(LrsCursor).where(LrsCursor.endpoint == wrong)).one()
    assert failed.last_error is not None and failed.last_error.startswith(f"GET statements from {wrong} answered 404")
    assert failed.since is None
    assert cursor(db, lrs).last_error is None


# --- the worker job -------------------------------------------------------------------------------------------


@pytest.fixture
def every_five_minutes(app_config: dict[str, str]) -> Iterator[Flask]:
    application = create_app({**app_config, "WOM_XAPI_PULL_MINUTES": "5"})
    yield application
    application.extensions["wordofmouth.engine"].dispose()


def test_the_worker_pulls_every_wom_xapi_pull_minutes(
    every_five_minutes: Flask, db: Session, lrs: RunningLrs, lms: Lms
) -> None:
    job = registered_jobs(every_five_minutes)["xapi-pull"]
    assert job.every == timedelta(minutes=5)
    post(lrs, [lms_statement(lms.a.issuer, "7", "101")])
    db.rollback()
    results = run_once(every_five_minutes, ["xapi-pull"])
    assert results["xapi-pull"] == {"read": 1, "matched": 1, "enrolments_added": 1, "learners_added": 0, "errors": 0}


def test_the_pull_command_reports_what_it_read_and_fails_loudly_when_an_lrs_is_unreadable(
    app: Flask, lms: Lms, lrs: RunningLrs
) -> None:
    post(lrs, [lms_statement(lms.a.issuer, "7", "101")])
    runner = app.test_cli_runner()
    first = runner.invoke(args=["xapi", "pull"])
    assert first.exit_code == 0, first.output
    assert "read=1 matched=1 enrolments_added=1" in first.output
    again = runner.invoke(args=["xapi", "pull"])
    assert "read=0 matched=0 enrolments_added=0" in again.output
    lrs.stop()
    down = runner.invoke(args=["xapi", "pull"])
    assert down.exit_code == 1
    assert "errors=1" in down.output and "could not be read completely" in down.output
    assert lrs.password not in down.output
