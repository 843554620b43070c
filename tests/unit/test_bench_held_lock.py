"""The held-lock benchmark runs (one worker, a short hold) so it cannot rot.

It needs PostgreSQL and gunicorn: skipped when PostgreSQL does not answer, except with ``CI=true``
or an explicit ``WOM_TEST_DATABASE_URL``, where a missing PostgreSQL fails the test.
"""

import os

import pytest

from bench import held_lock


def test_held_lock_benchmark_runs_and_reports_answer_times(capsys) -> None:
    problem = held_lock.postgres_problem()
    if problem is not None:
        if os.environ.get("CI", "").lower() == "true" or os.environ.get("WOM_TEST_DATABASE_URL"):
            pytest.fail(f"PostgreSQL is required here: {problem}")
        pytest.skip(f"the held-lock benchmark needs PostgreSQL: {problem}")

    outcomes = held_lock.run(
        hold=20, logins=2, workers=1, settings={"short lock timeout": {"WOM_DB_LOCK_TIMEOUT_MS": "500"}}
    )

    assert "| short lock timeout |" in capsys.readouterr().out
    (outcome,) = outcomes
    assert outcome.statuses == {503: 2}  # answered by the lock timeout, long before the 20 s hold ends
    assert max(seconds for _, seconds in outcome.logins) < 10
    assert outcome.healthz[0] == 200
    assert outcome.worker_timeouts == 0
