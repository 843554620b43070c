"""The xAPI delivery benchmark runs (200 statements, one round) so it cannot rot.

It needs the test LRS (tests/support/lrs.py): skipped when it is not installed, except with
``CI=true``, where a missing LRS fails the test (as the ``lrs`` fixture does).
"""

import os

import pytest

from bench import xapi_delivery


def test_xapi_delivery_benchmark_delivers_every_statement_once_and_reports_ratios(capsys) -> None:
    problem = xapi_delivery.lrs_problem()
    if problem is not None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"the test LRS is required in CI (`make test` installs it): {problem}", pytrace=False)
        pytest.skip(problem)

    result = xapi_delivery.run(200, 50, "sqlite", repetitions=1, tincan_sample=20)

    output = capsys.readouterr().out
    assert "statements/s" in output and "vs ceiling" in output
    assert "goal worker >= 0.8x ceiling: " in output
    assert list(result.phases) == ["ceiling", "worker", "tincan"]
    for phase in result.phases.values():
        assert len(phase.rounds) == 1 and len(phase.ratios) == 1
        assert phase.rate > 0 and phase.ratio > 0
    assert result.phases["ceiling"].ratio == pytest.approx(1.0)
    assert result.goal_met == (result.phases["worker"].ratio >= 0.8)

    # Each phase left exactly its statements in an LRS that was empty before it, each id once.
    ceiling, worker, tincan = (result.phases[name].rounds[0] for name in ("ceiling", "worker", "tincan"))
    assert (ceiling.statements, ceiling.held, ceiling.distinct) == (200, 200, 200)
    assert (tincan.statements, tincan.held, tincan.distinct) == (20, 20, 20)
    # The worker: every statement delivered exactly once, in 4 POSTs of 50, none retried or failed.
    assert (worker.statements, worker.held, worker.distinct) == (200, 200, 200)
    assert worker.detail["delivered"] == 200
    assert worker.detail["batches"] == 4
    assert worker.detail["failed"] == worker.detail["deferred"] == 0
    assert worker.detail["outbox"] == {"delivered": 200, "retried": 0}
