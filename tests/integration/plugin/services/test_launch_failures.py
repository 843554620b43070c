"""Launch failures kept for the console: bounded, newest first, found by the refusal page's code."""

from __future__ import annotations

from sqlalchemy.orm import Session

from plugin.services import launch_failures
from plugin.services.launch_failures import Refusal
from tests.support.factories import at


def _refusal(n: int, **extra: str) -> Refusal:
    return Refusal(request_id=f"req{n}", endpoint="lti.launch", status=403, reason=f"reason {n}", **extra)


def test_only_the_newest_are_kept(db: Session) -> None:
    for n in range(15):
        launch_failures.record(db, _refusal(n), keep=10, now=at(n))
    db.commit()
    assert launch_failures.count(db) == 10
    assert [f.request_id for f in launch_failures.recent(db, limit=3)] == ["req14", "req13", "req12"]
    assert launch_failures.by_request_id(db, "req4") == []
    assert launch_failures.by_request_id(db, "req5")[0].reason == "reason 5"


def test_long_values_sent_by_anyone_are_clipped_not_refused(db: Session) -> None:
    row = launch_failures.record(db, _refusal(1, issuer="https://x.example/" + "a" * 5000, hint="h" * 9000), keep=10)
    db.commit()
    assert len(row.issuer) == 2048 and len(row.hint) == launch_failures.REASON_MAX
