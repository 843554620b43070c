"""Course rosters over NRPS 2.0: recorded by a launch, fetched by ``wordofmouth worker --once``.

The test LMS serves a real token endpoint (it verifies the tool's client assertion against the
tool's ``/lti/jwks``) and a paged memberships endpoint, over HTTP on loopback.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from click.testing import Result
from sqlalchemy import func, select, update

from lti.nrps import parse_member
from plugin.cli import main
from plugin.db import utcnow
from plugin.models import Enrolment, Learner, RosterMember, RosterSource
from plugin.services import tool_keys
from tests.integration.lti.conftest import Tool, register
from tests.support.lti_platform import INSTRUCTOR, LEARNER, LTI, LmsPlatform, roster_member, running_platform

ROSTER = [
    roster_member("user-1", name="A. L.", email="other@example.org"),  # launched already as Ada Lovelace
    roster_member("teacher-1", [INSTRUCTOR], name="Grace Hopper", email="grace@example.org"),
    {"user_id": 42, "roles": [LEARNER]},  # malformed: user_id is not a string
    roster_member("learner-2", given_name="Alan", family_name="Turing"),
    roster_member("learner-3", status="Inactive", name="Left Early"),
]


@pytest.fixture
def lms(tool: Tool) -> Iterator[LmsPlatform]:
    """The test LMS with its token and memberships endpoints registered with the tool."""
    with running_platform(services=True) as platform:
        platform.tool_jwks_url = tool.url + "/lti/jwks"
        platform.rosters["course-1"] = list(ROSTER)
        register(tool, platform)
        yield platform


def launch_with_roster(tool: Tool, lms: LmsPlatform, browser, context_id: str = "course-1") -> None:  # type: ignore[no-untyped-def]
    claims: dict[str, Any] = lms.nrps_claim(context_id)
    if context_id != "course-1":
        claims[LTI + "context"] = {"id": context_id, "title": context_id.title(), "label": context_id}
    response = lms.launch(browser, tool.url, claims=claims)
    assert response.status_code == 200, response.text


def run_worker(tool: Tool) -> Result:
    result = tool.app.test_cli_runner().invoke(main, ["worker", "--once", "--only", "roster-sync"])
    assert result.exit_code == 0, result.output
    return result


def members_by_sub(session) -> dict[str, RosterMember]:  # type: ignore[no-untyped-def]
    rows = session.execute(select(Learner.sub, RosterMember).join(Learner, Learner.id == RosterMember.learner_id))
    return {sub: member for sub, member in rows}


def make_due(tool: Tool) -> None:
    session = tool.session()
    session.execute(update(RosterSource).values(next_sync_at=utcnow() - timedelta(seconds=1)))
    session.commit()
    session.close()


def test_a_launch_records_the_roster_source_and_calls_nothing(tool: Tool, lms: LmsPlatform, browser) -> None:
    before = utcnow()
    launch_with_roster(tool, lms, browser)
    assert lms.service_requests == 0  # never inside the launch request

    session = tool.session()
    source = session.scalars(select(RosterSource)).one()
    assert source.context_id == "course-1"
    assert source.memberships_url == lms.memberships_url("course-1")
    assert source.next_sync_at <= utcnow() and source.synced_at is None
    assert source.next_sync_at >= before - timedelta(seconds=5)
    assert session.scalar(select(func.count()).select_from(RosterMember)) == 0
    session.close()


def test_worker_fetches_every_page_and_applies_the_roster(tool: Tool, lms: LmsPlatform, browser) -> None:
    launch_with_roster(tool, lms, browser)
    result = run_worker(tool)
    assert "roster-sync: synced=1 failed=0 members=4 skipped=1 pages=3" in result.output

    assert [page for context, page in lms.nrps_requests] == [1, 2, 3]
    session = tool.session()
    members = members_by_sub(session)
    assert set(members) == {"user-1", "teacher-1", "learner-2", "learner-3"}
    assert members["teacher-1"].staff and members["teacher-1"].roles == [INSTRUCTOR]
    assert not members["user-1"].staff and members["user-1"].active
    assert members["learner-3"].active is False
    assert members["learner-2"].active is True

    learners = {lr.sub: lr for lr in session.scalars(select(Learner))}
    assert (learners["user-1"].name, learners["user-1"].email) == ("Ada Lovelace", "ada@example.org")  # launch wins
    assert (learners["teacher-1"].name, learners["teacher-1"].email) == ("Grace Hopper", "grace@example.org")
    assert learners["learner-2"].name == "Alan Turing"
    # Enrolled is not "took": the roster adds no enrolment (the one row is Ada's launch).
    assert [e.learner_id for e in session.scalars(select(Enrolment))] == [learners["user-1"].id]

    source = session.scalars(select(RosterSource)).one()
    assert (source.members, source.failures, source.last_error, source.claimed_until) == (4, 0, None, None)
    assert source.synced_at is not None
    assert source.next_sync_at - source.synced_at == timedelta(hours=6)

    # The tool authenticated with a client assertion signed by its active key (Security Framework §4.1).
    [grant] = lms.token_requests
    assert grant["header"]["kid"] == tool_keys.signing_key(session).kid
    assert grant["claims"]["iss"] == grant["claims"]["sub"] == lms.client_id
    assert grant["claims"]["aud"] == lms.token_url
    assert grant["scope"] == "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
    session.close()

    # Before the interval has passed, nothing is fetched again.
    again = run_worker(tool)
    assert "roster-sync: synced=0 failed=0" in again.output
    assert len(lms.nrps_requests) == 3 and len(lms.token_requests) == 1


def test_a_member_dropped_from_the_roster_becomes_inactive(tool: Tool, lms: LmsPlatform, browser) -> None:
    launch_with_roster(tool, lms, browser)
    run_worker(tool)
    lms.rosters["course-1"] = [m for m in ROSTER if m["user_id"] != "learner-2"]
    make_due(tool)
    run_worker(tool)

    session = tool.session()
    members = members_by_sub(session)
    assert members["learner-2"].active is False
    assert members["teacher-1"].active and members["user-1"].active
    assert session.scalars(select(RosterSource)).one().members == 3
    session.close()
    assert len(lms.token_requests) == 1  # the access token was cached between runs


def test_a_failing_course_backs_off_and_the_others_still_sync(tool: Tool, lms: LmsPlatform, browser) -> None:
    lms.rosters["course-2"] = [roster_member("someone")]
    lms.nrps_status["course-2"] = 500
    launch_with_roster(tool, lms, browser, "course-2")
    launch_with_roster(tool, lms, browser, "course-1")
    before = utcnow()
    result = run_worker(tool)
    assert "synced=1 failed=1" in result.output

    session = tool.session()
    sources = {s.context_id: s for s in session.scalars(select(RosterSource))}
    assert sources["course-1"].failures == 0 and sources["course-1"].members == 4
    broken = sources["course-2"]
    assert broken.failures == 1
    assert broken.last_error == "memberships endpoint answered HTTP 500"
    assert broken.claimed_until is None and broken.synced_at is None
    assert before + timedelta(minutes=4) < broken.next_sync_at < utcnow() + timedelta(minutes=6)
    session.close()

    served = len(lms.nrps_requests)
    assert "synced=0 failed=0" in run_worker(tool).output  # backing off: not asked again at once
    assert len(lms.nrps_requests) == served

    make_due(tool)
    run_worker(tool)
    session = tool.session()
    broken = session.scalars(select(RosterSource).where(RosterSource.context_id == "course-2")).one()
    assert broken.failures == 2
    assert broken.next_sync_at - utcnow() > timedelta(minutes=9)  # the pause doubles
    session.close()


def test_a_refused_client_assertion_is_a_recorded_failure_without_secrets(
    tool: Tool, lms: LmsPlatform, browser
) -> None:
    launch_with_roster(tool, lms, browser)
    lms.tool_public_jwks = {"keys": []}  # the platform does not know the tool's key
    result = run_worker(tool)
    assert "synced=0 failed=1" in result.output
    assert lms.token_refusals == ["invalid_client: unknown kid"]
    assert lms.nrps_requests == []

    session = tool.session()
    source = session.scalars(select(RosterSource)).one()
    assert source.last_error == "token endpoint answered HTTP 400 (invalid_client)"
    assert source.failures == 1
    session.close()


def test_a_platform_answering_garbage_never_stops_the_worker(tool: Tool, lms: LmsPlatform, browser) -> None:
    lms.rosters["course-1"] = [None, "x", {"user_id": "ok", "roles": "Learner"}]  # every member malformed
    launch_with_roster(tool, lms, browser)
    result = run_worker(tool)
    assert "synced=1 failed=0 members=0 skipped=3" in result.output
    session = tool.session()
    assert session.scalar(select(func.count()).select_from(RosterMember)) == 0
    session.close()


@pytest.mark.parametrize(
    "raw",
    [
        None,
        [],
        {"roles": [LEARNER]},
        {"user_id": "", "roles": [LEARNER]},
        {"user_id": "u" * 256, "roles": [LEARNER]},
        {"user_id": 7, "roles": [LEARNER]},
        {"user_id": "u"},
        {"user_id": "u", "roles": LEARNER},
        {"user_id": "u", "roles": [LEARNER, 3]},
        {"user_id": "u", "roles": [LEARNER], "status": "Gone"},
        {"user_id": "u", "roles": [LEARNER], "name": ["Ada"]},
        {"user_id": "u", "roles": [LEARNER], "email": 5},
    ],
)
def test_malformed_members_are_refused(raw: object) -> None:
    assert parse_member(raw) is None


def test_a_well_formed_member_is_read() -> None:
    member = parse_member(
        {"user_id": "u-1", "roles": [INSTRUCTOR], "status": "Deleted", "given_name": "Ada", "family_name": "King"}
    )
    assert member is not None
    assert (member.user_id, member.roles, member.status, member.display_name) == (
        "u-1",
        (INSTRUCTOR,),
        "Deleted",
        "Ada King",
    )
    assert parse_member({"user_id": "u-2", "roles": []}).status == "Active"  # type: ignore[union-attr]


def test_service_tokens_are_cached_until_shortly_before_they_expire(tool: Tool, lms: LmsPlatform) -> None:
    from lti.services_auth import ServiceAuthError, ServicePlatform, ServiceTokens, ToolSigningKey

    session = tool.session()
    signing = tool_keys.signing_key(session)
    session.commit()
    session.close()
    key = ToolSigningKey(signing.kid, signing.private_key_pem)
    platform = ServicePlatform(1, lms.client_id, lms.token_url)
    scope = ["https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"]
    now = [1000.0]
    lms.token_expires_in = 600
    tokens = ServiceTokens(clock=lambda: now[0])

    first = tokens.token(platform, key, scope)
    assert first in lms.issued_tokens
    now[0] += 500  # within expires_in minus the one-minute margin
    assert tokens.token(platform, key, scope) == first
    now[0] += 60
    second = tokens.token(platform, key, scope)
    assert second != first and len(lms.token_requests) == 2

    lms.token_status = 503
    tokens.forget(platform)
    with pytest.raises(ServiceAuthError) as refused:
        tokens.token(platform, key, scope)
    assert refused.value.reason == "token endpoint answered HTTP 503 (server_error)"
    assert signing.private_key_pem not in str(refused.value)
