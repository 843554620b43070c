"""One-time registration tokens: issued once, usable once, until they expire; only digests stored."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.errors import DomainError
from plugin.models import RegistrationToken
from plugin.services import registration_tokens
from plugin.services.registration_tokens import TokenRefusedError
from tests.support.factories import at, make_platform


def test_a_token_works_once_and_names_the_platform_it_registered(db: Session) -> None:
    issued = registration_tokens.issue(db, timedelta(hours=24), note="Moodle prod", now=at(0))
    platform = make_platform(db)
    assert registration_tokens.check(db, issued.token, now=at(60)).id == issued.id
    registration_tokens.consume(db, issued.token, platform.id, now=at(61))
    db.commit()
    row = db.get(RegistrationToken, issued.id)
    assert (row.platform_id, row.note) == (platform.id, "Moodle prod")
    with pytest.raises(TokenRefusedError, match="already used"):
        registration_tokens.check(db, issued.token, now=at(62))
    with pytest.raises(TokenRefusedError, match="already used"):
        registration_tokens.consume(db, issued.token, platform.id, now=at(62))


def test_only_the_digest_is_stored(db: Session) -> None:
    issued = registration_tokens.issue(db, timedelta(hours=1))
    stored = db.scalars(select(RegistrationToken.token_sha256)).all()
    assert issued.token not in stored and len(stored) == 1 and len(stored[0]) == 64


def test_expired_and_unknown_tokens_are_refused_with_the_reason(db: Session) -> None:
    issued = registration_tokens.issue(db, timedelta(minutes=30), now=at(0))
    with pytest.raises(TokenRefusedError, match="expired"):
        registration_tokens.check(db, issued.token, now=at(30))
    with pytest.raises(TokenRefusedError, match="not one Word of Mouth issued"):
        registration_tokens.check(db, issued.token + "x", now=at(1))


@pytest.mark.parametrize("lifetime", [timedelta(0), timedelta(days=31)])
def test_lifetimes_are_bounded(db: Session, lifetime: timedelta) -> None:
    with pytest.raises(DomainError, match="30 days"):
        registration_tokens.issue(db, lifetime)


def test_revoked_tokens_are_gone(db: Session) -> None:
    issued = registration_tokens.issue(db, timedelta(hours=1))
    registration_tokens.revoke(db, issued.id)
    with pytest.raises(TokenRefusedError):
        registration_tokens.check(db, issued.token)
    assert registration_tokens.listing(db) == []
