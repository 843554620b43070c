"""bench/jwks.py runs (at a tiny size) and reports /lti/jwks against /healthz."""

from bench import jwks


def test_jwks_benchmark_runs_and_reports_a_throughput_ratio(capsys) -> None:
    assert jwks.run(calls=5, rounds=1) > 0
    assert "GET /lti/jwks vs GET /healthz" in capsys.readouterr().out
