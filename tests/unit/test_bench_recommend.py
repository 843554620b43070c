"""The recommendation benchmarks run at a tiny size, so they cannot rot unnoticed."""

import csv

from bench import recommend_batch, recommend_quality
from bench import synthetic as synthetic_csv


def test_synthetic_csv_follows_the_input_contract(tmp_path) -> None:
    path = tmp_path / "tiny.csv"
    assert synthetic_csv.write(path, synthetic_csv.TINY) == synthetic_csv.TINY.interactions
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        assert reader.fieldnames == ["learner", "item", "rating", "timestamp", "group"]
        rows = list(reader)
    assert len({r["learner"] for r in rows}) == synthetic_csv.TINY.learners
    assert all(r["timestamp"].isdigit() and r["group"] for r in rows)


def test_batch_bench_reports_time_memory_and_the_implicit_ratio(capsys) -> None:
    result = recommend_batch.run(tiny=True)
    assert result.rows == 10 * result.learners
    assert result.peak_bytes > 10 * 1024**2  # a python process at least
    assert result.ratio > 0
    out = capsys.readouterr().out
    assert "end to end (budget 60 s)" in out and "implicit CosineRecommender" in out


def test_quality_bench_compares_every_method(capsys) -> None:
    results = recommend_quality.run(tiny=True)
    (table,) = results.values()
    assert list(table)[:3] == ["engine", "popularity", "popularity in group"]
    assert any(name.startswith("implicit cosine") for name in table)
    assert any(name.startswith("implicit bm25") for name in table)
    out = capsys.readouterr().out
    assert "| engine |" in out and "x popularity" in out
