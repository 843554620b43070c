"""The database keeps data whole: uniqueness, tenant-consistent references, UTC timestamps."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from plugin.models import Enrolment, Item, Learner, Platform
from plugin.models.learning import EnrolmentSource, ItemSource


def make_platform(db: Session, client_id: str = "client-1") -> Platform:
    platform = Platform(
        issuer="https://lms.example",
        client_id=client_id,
        name="Example LMS",
        auth_login_url="https://lms.example/auth",
        auth_token_url="https://lms.example/token",
        key_set_url="https://lms.example/jwks",
    )
    db.add(platform)
    db.flush()
    return platform


def test_one_learner_per_platform_and_sub(db: Session) -> None:
    platform = make_platform(db)
    db.add(Learner(platform_id=platform.id, sub="u1", name="Ada"))
    db.flush()
    db.add(Learner(platform_id=platform.id, sub="u1", name="Ada again"))
    with pytest.raises(IntegrityError):
        db.flush()


def test_same_sub_on_two_platforms_is_two_learners(db: Session) -> None:
    first, second = make_platform(db, "a"), make_platform(db, "b")
    db.add_all([Learner(platform_id=first.id, sub="u1"), Learner(platform_id=second.id, sub="u1")])
    db.flush()
    assert len(db.scalars(select(Learner)).all()) == 2


def test_enrolment_cannot_tie_a_learner_to_another_tenants_item(db: Session) -> None:
    mine, theirs = make_platform(db, "mine"), make_platform(db, "theirs")
    learner = Learner(platform_id=mine.id, sub="u1")
    foreign_item = Item(platform_id=theirs.id, source=ItemSource.CONTEXT, key="course-1")
    db.add_all([learner, foreign_item])
    db.flush()
    db.add(
        Enrolment(platform_id=mine.id, learner_id=learner.id, item_id=foreign_item.id, source=EnrolmentSource.LAUNCH)
    )
    with pytest.raises(IntegrityError):
        db.flush()


def test_timestamps_come_back_as_utc(db: Session) -> None:
    platform = make_platform(db)
    learner = Learner(platform_id=platform.id, sub="u1")
    item = Item(platform_id=platform.id, source=ItemSource.CONTEXT, key="c1")
    db.add_all([learner, item])
    db.flush()
    seen = datetime(2026, 5, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    db.add(
        Enrolment(
            platform_id=platform.id,
            learner_id=learner.id,
            item_id=item.id,
            source=EnrolmentSource.LAUNCH,
            first_seen=seen,
            last_seen=seen,
        )
    )
    db.commit()
    db.expunge_all()
    enrolment = db.scalars(select(Enrolment)).one()
    assert enrolment.first_seen == datetime(2026, 5, 1, 10, 0, tzinfo=UTC)
    assert enrolment.first_seen.tzinfo is not None
    assert enrolment.learner.sub == "u1"
    assert enrolment.item.key == "c1"


def test_naive_datetimes_are_refused(db: Session) -> None:
    platform = make_platform(db)
    db.add(Learner(platform_id=platform.id, sub="u1", created_at=datetime(2026, 1, 1)))
    with pytest.raises(Exception, match="naive datetime"):
        db.flush()


def test_removing_a_platform_removes_its_data(db: Session) -> None:
    platform = make_platform(db)
    learner = Learner(platform_id=platform.id, sub="u1")
    item = Item(platform_id=platform.id, source=ItemSource.CONTEXT, key="c1")
    db.add_all([learner, item])
    db.flush()
    db.add(Enrolment(platform_id=platform.id, learner_id=learner.id, item_id=item.id, source=EnrolmentSource.LAUNCH))
    db.commit()
    db.delete(platform)
    db.commit()
    assert db.scalars(select(Enrolment)).all() == []
    assert db.scalars(select(Learner)).all() == []
