"""The platform origin registry on the real databases: idempotent, race-tolerant, per platform."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from plugin.errors import DomainError
from plugin.models import Platform
from plugin.models.platform import OriginSource, PlatformOrigin
from plugin.services import platform_origins
from plugin.services.platform_origins import KnownOrigin


def make_platform(db: Session, issuer: str = "https://canvas.instructure.com", client_id: str = "1") -> Platform:
    platform = Platform(
        issuer=issuer,
        client_id=client_id,
        name="LMS",
        auth_login_url=issuer + "/auth",
        auth_token_url=issuer + "/token",
        key_set_url=issuer + "/jwks",
    )
    db.add(platform)
    db.flush()
    return platform


def rows(db: Session) -> int:
    return db.scalar(select(func.count()).select_from(PlatformOrigin)) or 0


def test_learning_is_idempotent_and_keeps_the_first_source(db: Session) -> None:
    canvas = make_platform(db)
    url = "https://School.Instructure.com/courses/7/external_content/success/external_tool_redirect"
    assert platform_origins.learn_origin(db, canvas.id, url) == ("https://school.instructure.com", True)
    assert platform_origins.learn_origin(db, canvas.id, url) == ("https://school.instructure.com", False)
    assert platform_origins.add_origin(db, canvas.id, "https://school.instructure.com") == (
        "https://school.instructure.com",
        False,
    )
    db.commit()
    assert rows(db) == 1
    assert platform_origins.origins_of(db, canvas.id) == [
        KnownOrigin("https://canvas.instructure.com", OriginSource.ISSUER),
        KnownOrigin("https://school.instructure.com", OriginSource.LAUNCH),
    ]


def test_the_issuer_origin_counts_without_a_row_and_cannot_be_removed(db: Session) -> None:
    moodle = make_platform(db, "https://moodle.example.org", "m")
    assert platform_origins.learn_origin(db, moodle.id, "https://moodle.example.org/course/view.php?id=2") == (
        "https://moodle.example.org",
        False,
    )
    assert rows(db) == 0
    assert [o.origin for o in platform_origins.origins_of(db, moodle.id)] == ["https://moodle.example.org"]
    with pytest.raises(DomainError, match="issuer's origin"):
        platform_origins.remove_origin(db, moodle.id, "https://moodle.example.org")


def test_a_lost_insert_race_reads_the_winners_row(db: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    canvas = make_platform(db)
    platform_origins.add_origin(db, canvas.id, "https://school.example.edu")
    db.commit()
    real = platform_origins._get_or_create

    def racing(session, find, make):  # type: ignore[no-untyped-def]
        calls = {"n": 0}

        def miss_first():  # type: ignore[no-untyped-def]
            calls["n"] += 1
            return None if calls["n"] == 1 else find()  # the other launch inserted in between

        return real(session, miss_first, make)

    monkeypatch.setattr(platform_origins, "_get_or_create", racing)
    assert platform_origins.learn_origin(db, canvas.id, "https://school.example.edu/x") == (
        "https://school.example.edu",
        False,
    )
    db.commit()
    assert rows(db) == 1


def test_origins_are_per_platform(db: Session) -> None:
    school = make_platform(db, client_id="school")
    college = make_platform(db, client_id="college")
    moodle = make_platform(db, "https://moodle.example.org", "m")
    platform_origins.add_origin(db, school.id, "https://school.example.edu")
    platform_origins.learn_origin(db, college.id, "https://college.example.edu/courses/1")
    platform_origins.learn_origin(db, college.id, "https://school.example.edu/courses/1")
    db.commit()
    assert [o.origin for o in platform_origins.origins_of(db, school.id)] == [
        "https://canvas.instructure.com",
        "https://school.example.edu",
    ]
    assert [o.source for o in platform_origins.origins_of(db, school.id)] == [OriginSource.ISSUER, OriginSource.ADMIN]
    assert [o.origin for o in platform_origins.origins_of(db, college.id)] == [
        "https://canvas.instructure.com",
        "https://college.example.edu",
        "https://school.example.edu",
    ]
    assert [o.origin for o in platform_origins.origins_of(db, moodle.id)] == ["https://moodle.example.org"]
    assert platform_origins.remove_origin(db, school.id, "HTTPS://School.Example.edu/") == "https://school.example.edu"
    db.commit()
    with pytest.raises(DomainError, match="not an origin of this platform"):
        platform_origins.remove_origin(db, school.id, "https://school.example.edu")
    college_origins = [o.origin for o in platform_origins.origins_of(db, college.id)]
    assert "https://school.example.edu" in college_origins  # still the college's
    assert moodle.id and rows(db) == 2


def test_refusals_name_the_problem(db: Session) -> None:
    canvas = make_platform(db)
    with pytest.raises(DomainError, match="http or https"):
        platform_origins.add_origin(db, canvas.id, "ftp://files.example.org")
    with pytest.raises(DomainError, match="no path"):
        platform_origins.add_origin(db, canvas.id, "https://school.example.edu/courses")
    with pytest.raises(DomainError, match="no platform"):
        platform_origins.learn_origin(db, canvas.id + 1000, "https://school.example.edu/")
    assert rows(db) == 0


def test_a_hand_edited_bad_row_stays_out_of_the_list(db: Session) -> None:
    canvas = make_platform(db)
    db.add(PlatformOrigin(platform_id=canvas.id, origin="https://x.example; script-src *", source=OriginSource.ADMIN))
    db.commit()
    assert [o.origin for o in platform_origins.origins_of(db, canvas.id)] == ["https://canvas.instructure.com"]
