"""The synthetic generator: sizes, determinism, and department-correlated tastes."""

from collections import Counter

from plugin.recommend import synthetic


def test_rows_have_the_contract_shape_and_requested_sizes() -> None:
    rows = list(synthetic.generate(300, 6, 60, 3_000, 0.2, seed=5))
    assert len(rows) == 3_000
    assert len({r[0] for r in rows}) == 300  # every learner has a row
    assert len({r[1] for r in rows}) <= 60
    assert {r[4] for r in rows} <= set(synthetic.department_names(6))
    rated = [r[2] for r in rows if r[2] is not None]
    assert 0.15 < len(rated) / len(rows) < 0.25
    assert set(rated) <= {1.0, 2.0, 3.0, 4.0, 5.0}
    assert all(synthetic.START <= r[3] < synthetic.START + 731 * 86400 for r in rows)
    groups = {}
    for learner, _, _, _, group in rows:
        assert groups.setdefault(learner, group) == group  # one department per learner


def test_same_seed_same_rows_other_seed_other_rows() -> None:
    assert list(synthetic.generate(50, 2, 20, 400, 0.2, seed=1)) == list(
        synthetic.generate(50, 2, 20, 400, 0.2, seed=1)
    )
    assert list(synthetic.generate(50, 2, 20, 400, 0.2, seed=1)) != list(
        synthetic.generate(50, 2, 20, 400, 0.2, seed=2)
    )


def test_departments_have_their_own_favourites() -> None:
    rows = list(synthetic.generate(2_000, 4, 2_000, 40_000, 0.2, seed=0))
    per_dept: dict[str, Counter] = {}
    for _, item, _, _, group in rows:
        per_dept.setdefault(group, Counter())[item] += 1
    tops = [{item for item, _ in counter.most_common(10)} for counter in per_dept.values()]
    overlap = [len(a & b) for n, a in enumerate(tops) for b in tops[n + 1 :]]
    assert max(overlap) < 7  # top-10 lists differ between departments


def test_department_names_are_human_and_unique() -> None:
    names = synthetic.department_names(45)
    assert names[0] == "Finance" and names[20] == "Finance 2" and len(set(names)) == 45
    assert synthetic.department_names(2, human=False) == ["d0", "d1"]
