"""The benchmarks run (at a tiny size) so `make bench` cannot rot unnoticed."""

from bench import launch_validation, request_overhead


def test_benchmarks_run_and_report_ratios(capsys) -> None:
    assert request_overhead.run(calls=5, rounds=1) > 0
    assert launch_validation.run(calls=5, rounds=1) > 0
    output = capsys.readouterr().out
    assert "GET /healthz vs bare Flask" in output
    assert "launch validation vs bare RS256 verify" in output
