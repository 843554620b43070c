"""The CSV contract: parsing and skipping, the batch command's output, the evaluation split and metrics."""

import csv
import io
import json
import math

import numpy as np
import pytest
from click.testing import CliRunner

from plugin.recommend import offline
from plugin.recommend.cli import recommend
from plugin.recommend.data import Interactions

GOOD = """learner,item,rating,timestamp,group
ann,c1,5,1700000000,Sales
ann,c2,,2024-01-02T03:04:05Z,Sales
bob,c1,4,2024-01-02T03:04:05+01:00,
bob,c3,,,
cy,c2,1,1700000100.5,Finance
"""


def test_rows_parse_with_empty_fields_and_both_timestamp_forms() -> None:
    skipped = __import__("collections").Counter()
    rows = list(offline.iter_records(io.StringIO(GOOD), skipped))
    assert not skipped
    assert rows[0] == ("ann", "c1", 5.0, 1700000000.0, "Sales")
    assert rows[1] == ("ann", "c2", None, 1704164645.0, "Sales")
    assert rows[2] == ("bob", "c1", 4.0, 1704161045.0, None)
    assert rows[3] == ("bob", "c3", None, None, None)
    assert rows[4][3] == 1700000100.5


def test_malformed_rows_are_skipped_and_counted_per_reason() -> None:
    text = GOOD + "\n".join(
        [
            "dan,c1,5,1700000000",  # four columns
            "dan,c1,5,1700000000,Sales,extra",
            ",c1,5,,",
            "dan,,5,,",
            "dan,c1,6,,",
            "dan,c1,0,,",
            "dan,c1,five,,",
            "dan,c1,nan,,",
            "dan,c1,,yesterday,",
            "dan,c1,,inf,",
            "",
            "eve,c4,3,,Sales",
        ]
    )
    data, skipped = offline.read_interactions(io.StringIO(text))
    assert skipped == {
        "wrong column count": 2,
        "empty learner": 1,
        "empty item": 1,
        "rating not 1-5": 4,
        "bad timestamp": 2,
    }
    assert "dan" not in data.learners  # a learner seen only in malformed rows is unknown
    assert "eve" in data.learners


def test_columns_are_found_by_name_and_a_missing_header_is_an_error() -> None:
    data, _ = offline.read_interactions(io.StringIO("item,learner\nc1,ann\n"))
    assert data.learners == ["ann"] and data.items == ["c1"]
    with pytest.raises(offline.HeaderError):
        offline.read_interactions(io.StringIO("ann,c1,5,,\n"))


def _batch(tmp_path, text: str, k: int) -> tuple[list[dict[str, str]], str]:
    source = tmp_path / "in.csv"
    source.write_text(text, encoding="utf-8")
    out = tmp_path / "out.csv"
    result = CliRunner().invoke(recommend, ["batch", "--interactions", str(source), "--k", str(k), "--out", str(out)])
    assert result.exit_code == 0, result.output
    with open(out, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        assert reader.fieldnames == ["learner", "item", "rank", "score"]
        return list(reader), result.output


def test_batch_writes_k_unseen_items_per_learner_ranked_by_score(tmp_path) -> None:
    text = GOOD + '"o\'neil, jr",c4,,,Sales\nbad,,,,\n'
    rows, output = _batch(tmp_path, text, 2)
    by_learner: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        by_learner.setdefault(row["learner"], []).append(row)
    assert set(by_learner) == {"ann", "bob", "cy", "o'neil, jr"}
    taken = {("ann", "c1"), ("ann", "c2"), ("bob", "c1"), ("bob", "c3"), ("cy", "c2"), ("o'neil, jr", "c4")}
    for learner, mine in by_learner.items():
        assert [int(r["rank"]) for r in mine] == [1, 2]
        assert not any((learner, r["item"]) in taken for r in mine)
        scores = [float(r["score"]) for r in mine]
        assert scores == sorted(scores, reverse=True)
    assert "skipped 1 rows (empty item: 1)" in output


def test_batch_with_k_larger_than_the_catalogue_writes_what_exists(tmp_path) -> None:
    rows, _ = _batch(tmp_path, GOOD, 10)
    counts = {}
    for row in rows:
        counts[row["learner"]] = counts.get(row["learner"], 0) + 1
    assert counts == {"ann": 1, "bob": 1, "cy": 2}  # three items in all


def test_batch_breaks_ties_by_item_label(tmp_path) -> None:
    text = "learner,item,rating,timestamp,group\n" + "".join(f"l{n},{item},,,\n" for n, item in enumerate("dbca"))
    text += "new,e,,,\n"
    rows, _ = _batch(tmp_path, text, 4)
    assert [r["item"] for r in rows if r["learner"] == "new"] == ["a", "b", "c", "d"]


def test_a_bad_header_fails_cleanly(tmp_path) -> None:
    source = tmp_path / "in.csv"
    source.write_text("who,what\nann,c1\n", encoding="utf-8")
    result = CliRunner().invoke(recommend, ["batch", "--interactions", str(source), "--out", str(tmp_path / "o.csv")])
    assert result.exit_code == 1
    assert "expected a header learner,item,rating,timestamp,group" in result.output


def test_split_holds_out_the_latest_row_or_a_random_fifth() -> None:
    rows = [("timed", f"c{n}", None, float(n), None) for n in range(5)]
    rows += [("untimed", f"c{n}", None, None, None) for n in range(10)]
    rows += [("single", "c0", None, 1.0, None), ("hater", "c0", None, 1.0, None), ("hater", "c1", 1.0, 2.0, None)]
    data = Interactions.from_records(rows)
    split = offline.split(data, seed=3)
    held = {(data.learners[who], data.items[i]) for who, i in zip(split.learner, split.item, strict=True)}
    assert ("timed", "c4") in held
    assert sum(1 for who, _ in held if who == "untimed") == 2
    assert not any(who in ("single", "hater") for who, _ in held)  # one row, or the latest is a dislike
    assert len(split.train) == len(data) - 1 - 2 - 1  # the dislike is held out but not relevant
    again = offline.split(data, seed=3)
    assert np.array_equal(again.item, split.item)


def test_metrics_count_hits_at_k() -> None:
    data = Interactions.from_records(
        [("a", f"c{n}", None, None, None) for n in range(4)] + [("b", "c0", None, None, None)]
    )
    truth = offline.Split(train=data, learner=np.array([0, 0, 1]), item=np.array([1, 3, 2]))
    recommended = np.array([[1, 2], [0, -1]])
    m = offline.score_lists(recommended, np.array([0, 1]), truth, 2)
    assert m.precision == pytest.approx((1 / 2 + 0) / 2)
    assert m.recall == pytest.approx((1 / 2 + 0) / 2)
    assert m.hit_rate == pytest.approx(0.5)
    assert m.ndcg == pytest.approx((1.0 / (1 + 1 / math.log2(3))) / 2)


def test_evaluate_prints_json_for_engine_and_baselines(tmp_path) -> None:
    from plugin.recommend import synthetic

    source = tmp_path / "in.csv"
    with open(source, "w", newline="", encoding="utf-8") as out:
        offline.write_interactions(out, synthetic.generate(150, 3, 40, 2_000, 0.2, 1))
    result = CliRunner().invoke(recommend, ["evaluate", "--interactions", str(source), "--k", "5", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["k"] == 5
    assert set(report["methods"]) == {"engine", "popularity", "popularity in group"}
    for metrics in report["methods"].values():
        assert 0 <= metrics["ndcg"] <= 1 and metrics["learners"] > 100
    table = CliRunner().invoke(recommend, ["evaluate", "--interactions", str(source), "--k", "5"])
    assert table.output.startswith("| method | NDCG@5 |")


def test_shards_cover_every_learner_once_and_agree_with_one_machine(tmp_path) -> None:
    from plugin.recommend import synthetic

    source = tmp_path / "in.csv"
    with open(source, "w", newline="", encoding="utf-8") as out:
        offline.write_interactions(out, synthetic.generate(120, 5, 30, 1_500, 0.2, 2))
    whole = set()
    for part in range(3):
        target = tmp_path / f"out{part}.csv"
        args = ["batch", "--interactions", str(source), "--k", "3", "--out", str(target), "--shard", f"{part}/3"]
        assert CliRunner().invoke(recommend, args).exit_code == 0
        with open(target, newline="", encoding="utf-8") as handle:
            whole |= {tuple(row.values()) for row in csv.DictReader(handle)}
    one = tmp_path / "one.csv"
    assert (
        CliRunner().invoke(recommend, ["batch", "--interactions", str(source), "--k", "3", "--out", str(one)]).exit_code
        == 0
    )
    with open(one, newline="", encoding="utf-8") as handle:
        assert whole == {tuple(row.values()) for row in csv.DictReader(handle)}
    assert len(whole) == 3 * 120
    bad = CliRunner().invoke(recommend, ["batch", "--interactions", str(source), "--out", str(one), "--shard", "3/3"])
    assert bad.exit_code == 2 and "expected I/N" in bad.output
