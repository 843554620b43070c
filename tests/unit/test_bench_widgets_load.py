"""The widget load benchmark runs (tiny size: a few hundred rows, a few seconds) so it cannot rot.

It needs PostgreSQL and gunicorn: skipped when PostgreSQL does not answer, except with ``CI=true``
or an explicit ``WOM_TEST_DATABASE_URL``, where a missing PostgreSQL fails the test.
"""

import os

import pytest

from bench import widgets_load


def test_widget_load_benchmark_runs_and_reports_ratios(capsys) -> None:
    problem = widgets_load.postgres_problem()
    if problem is not None:
        if os.environ.get("CI", "").lower() == "true" or os.environ.get("WOM_TEST_DATABASE_URL"):
            pytest.fail(f"PostgreSQL is required here: {problem}")
        pytest.skip(f"the widget load benchmark needs PostgreSQL: {problem}")

    results = widgets_load.run(widgets_load.TINY, widgets_load.Server(workers=2, threads=4))

    output = capsys.readouterr().out
    assert "GET /healthz (baseline)" in output
    assert "vs /healthz" in output
    names = [r.name for r in results]
    assert names[0] == "GET /healthz (baseline)"
    for path in ("/api/v1/ratings", "/api/v1/comments", "/api/v1/fragments/ratings", "/api/v1/fragments/comments"):
        assert f"GET {path}" in names
    assert {"POST /api/v1/comments", "PUT /api/v1/ratings/mine"} <= set(names)
    # The colleague widgets' reads from the stored tables, with their 20 ms p99 goal.
    for path in (
        "/api/v1/colleagues",
        "/api/v1/recommendations",
        "/api/v1/fragments/colleagues",
        "/api/v1/fragments/recommendations",
    ):
        assert f"GET {path}" in names
        assert f"GET {path}" in output
        assert next(r for r in results if r.name == f"GET {path}").p99_goal == 0.020
    assert "recommend build:" in output
    assert "goal for reads from the stored tables (p99 < 20 ms)" in output
    for result in results:
        assert result.errors == 0, result.name
        assert all(phase.requests > 0 for phase in result.phases), result.name
        assert result.ratio > 0
        if result.read:
            assert result.alone is not None and result.alone.requests > 0 and result.alone.errors == 0, result.name
