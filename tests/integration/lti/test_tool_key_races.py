"""Exactly one active and one next tool key, however many first requests race (issue 9, item 9)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from plugin.models import ToolKey
from plugin.models.platform import KeyStatus
from plugin.services import tool_keys
from tests.integration.lti.conftest import Tool

RACERS = 16


def counts(tool: Tool) -> dict[KeyStatus, int]:
    session = tool.session()
    try:
        rows = session.execute(select(ToolKey.status, func.count()).group_by(ToolKey.status)).all()
        return {status: n for status, n in rows}
    finally:
        session.close()


def test_parallel_first_requests_to_the_key_set_make_one_active_and_one_next_key(tool: Tool) -> None:
    start = threading.Barrier(RACERS)

    def first_request(_: int) -> tuple[int, list[str]]:
        start.wait(timeout=60)
        response = requests.get(tool.url + "/lti/jwks", timeout=120)
        return response.status_code, [k["kid"] for k in response.json()["keys"]] if response.ok else []

    with ThreadPoolExecutor(RACERS) as pool:
        answers = list(pool.map(first_request, range(RACERS)))
    assert [status for status, _ in answers] == [200] * RACERS
    assert counts(tool) == {KeyStatus.ACTIVE: 1, KeyStatus.NEXT: 1}
    published = {kid for _, kids in answers for kid in kids}
    assert len(published) == 2  # every answer published the same two keys


def test_parallel_signing_key_lookups_agree(tool: Tool) -> None:
    start = threading.Barrier(8)

    def signing(_: int) -> str:
        session = tool.session()
        try:
            start.wait(timeout=60)
            kid = tool_keys.signing_key(session).kid
            session.commit()
            return kid
        finally:
            session.close()

    with ThreadPoolExecutor(8) as pool:
        kids = set(pool.map(signing, range(8)))
    assert len(kids) == 1
    assert counts(tool) == {KeyStatus.ACTIVE: 1, KeyStatus.NEXT: 1}


@pytest.mark.parametrize("status", [KeyStatus.ACTIVE, KeyStatus.NEXT])
def test_the_database_refuses_a_second_key_of_a_status(tool: Tool, status: KeyStatus) -> None:
    session = tool.session()
    try:
        tool_keys.ensure_keys(session)
        session.commit()
        session.add(tool_keys._new_key(status))
        with pytest.raises(IntegrityError):
            session.flush()
        session.rollback()
        session.add(tool_keys._new_key(KeyStatus.RETIRED))  # retired keys are many
        session.add(tool_keys._new_key(KeyStatus.RETIRED))
        session.commit()
    finally:
        session.close()


def test_rotation_promotes_the_announced_next_key(tool: Tool) -> None:
    session = tool.session()
    try:
        tool_keys.ensure_keys(session)
        announced = session.scalars(select(ToolKey.kid).where(ToolKey.status == KeyStatus.NEXT)).one()
        for _ in range(3):
            active, upcoming = tool_keys.rotate(session)
            session.commit()
            assert active == announced
            announced = upcoming
        assert counts(tool) == {KeyStatus.ACTIVE: 1, KeyStatus.NEXT: 1, KeyStatus.RETIRED: 3}
    finally:
        session.close()
