"""The launch load benchmark runs (tiny size: a few seconds) so it cannot rot.

It needs PostgreSQL and gunicorn: skipped when PostgreSQL does not answer, except with ``CI=true``
or an explicit ``WOM_TEST_DATABASE_URL``, where a missing PostgreSQL fails the test.
"""

import os

import pytest

from bench import launch_load
from bench.widgets_load import Server


def test_launch_load_benchmark_runs_and_reports_a_ratio(capsys) -> None:
    problem = launch_load.postgres_problem()
    if problem is not None:
        if os.environ.get("CI", "").lower() == "true" or os.environ.get("WOM_TEST_DATABASE_URL"):
            pytest.fail(f"PostgreSQL is required here: {problem}")
        pytest.skip(f"the launch load benchmark needs PostgreSQL: {problem}")

    results = launch_load.run(launch_load.TINY, Server(workers=2, threads=2))

    output = capsys.readouterr().out
    assert "GET /healthz (baseline)" in output and "launches/s" in output and "x /healthz" in output
    baseline, launches = results
    assert baseline.name == "GET /healthz (baseline)"
    assert launches.name.startswith("full launch")
    for result in results:
        assert result.errors == 0, result.name
        assert all(phase.done > 0 for phase in result.phases), result.name
    assert 0 < launches.ratio < 1  # a launch is heavier than a health check
