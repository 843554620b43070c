"""A synthetic corporate learning data set with the shape of real ones.

Learners belong to departments; items (courses) belong to topics and have power-law (Zipf) popularity;
learner activity is log-normal. Each interaction picks, by turns, one of the learner's own topics, one of the
department's focus topics, or the whole catalogue, and then an item by popularity within that choice. So
tastes correlate within departments and items co-occur through topics, as in real enrolments. A share of
rows carry a 1-5 rating that is higher when the item matches the learner's or the department's topics, so
learners with similar tastes agree. Everything is drawn from one seeded generator: same arguments, same rows.

Used by the benchmarks at full size (``bench/synthetic.py``) and by the demo at a small one.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

DEPARTMENT_NAMES = (
    "Finance", "Sales", "Engineering", "Marketing", "Human Resources", "Legal", "Operations", "Customer Care",
    "Procurement", "Logistics", "Research", "Quality", "IT Support", "Communications", "Training", "Facilities",
    "Risk", "Compliance", "Design", "Data",
)  # fmt: skip
START = 1_704_067_200  # 2024-01-01T00:00:00Z

Row = tuple[str, str, float | None, float, str]


def department_names(n: int, human: bool = True) -> list[str]:
    """``n`` distinct department labels: "Finance", "Sales", … then "Finance 2", … (or "d0", "d1", …)."""
    if not human:
        return [f"d{g}" for g in range(n)]
    base = len(DEPARTMENT_NAMES)
    return [DEPARTMENT_NAMES[g % base] + ("" if g < base else f" {g // base + 1}") for g in range(n)]


def generate(
    learners: int = 100_000,
    departments: int = 200,
    items: int = 10_000,
    interactions: int = 2_000_000,
    rated_share: float = 0.2,
    seed: int = 0,
    *,
    human_names: bool = True,
    span_days: float = 730.0,
    chunk: int = 200_000,
) -> Iterator[Row]:
    """Yield ``interactions`` rows ``(learner, item, rating or None, unix timestamp, department)``.

    Learners are labelled ``u0…``, items ``c0…``. Every learner has at least one row (when
    ``interactions >= learners``); a pair may repeat, as re-takes do in real data.
    """
    if min(learners, departments, items) <= 0 or interactions < 0:
        raise ValueError("learners, departments and items must be positive")
    rng = np.random.default_rng(seed)
    topics = max(2, items // 50)
    item_topic = rng.integers(0, topics, items)
    popularity = 1.0 / np.power(rng.permutation(items) + 1.0, 0.9)
    by_topic = np.argsort(item_topic, kind="stable")
    cum = np.cumsum(popularity[by_topic])
    topic_bounds = np.concatenate(([0.0], cum))[np.searchsorted(item_topic[by_topic], np.arange(topics + 1))]
    global_cum = np.cumsum(popularity)

    dept_size = rng.lognormal(0.0, 0.5, departments)
    learner_dept = rng.choice(departments, learners, p=dept_size / dept_size.sum())
    focus_count = min(5, topics)
    dept_focus = np.stack([rng.choice(topics, focus_count, replace=False) for _ in range(departments)])
    own = dept_focus[learner_dept[:, None], rng.integers(0, focus_count, (learners, 2))]
    wander = rng.random((learners, 2)) < 0.3
    own = np.where(wander, rng.integers(0, topics, (learners, 2)), own)

    activity = rng.lognormal(0.0, 1.0, learners)
    base = 1 if interactions >= learners else 0
    counts = base + rng.multinomial(interactions - base * learners, activity / activity.sum())
    row_learner = np.repeat(np.arange(learners), counts)
    row_learner = row_learner[rng.permutation(row_learner.size)]

    dept_labels = department_names(departments, human_names)
    for start in range(0, row_learner.size, chunk):
        who = row_learner[start : start + chunk]
        n = who.size
        choice = rng.random(n)
        topic = np.where(
            choice < 0.5,
            own[who, rng.integers(0, 2, n)],
            dept_focus[learner_dept[who], rng.integers(0, focus_count, n)],
        )
        low, high = topic_bounds[topic], topic_bounds[topic + 1]
        in_topic = by_topic[np.minimum(np.searchsorted(cum, low + rng.random(n) * (high - low), "right"), items - 1)]
        anywhere = np.minimum(np.searchsorted(global_cum, rng.random(n) * global_cum[-1], "right"), items - 1)
        item = np.where(choice < 0.8, in_topic, anywhere)
        match = np.where(
            (item_topic[item] == own[who, 0]) | (item_topic[item] == own[who, 1]),
            1.0,
            np.where((dept_focus[learner_dept[who]] == item_topic[item][:, None]).any(axis=1), 0.4, -0.8),
        )
        stars = np.clip(np.rint(3.2 + match + rng.normal(0.0, 0.9, n)), 1, 5)
        rated = rng.random(n) < rated_share
        stamp = START + np.floor(rng.random(n) * span_days * 86400.0)
        for w, i, r, s, d in zip(
            who.tolist(),
            item.tolist(),
            np.where(rated, stars, np.nan).tolist(),
            stamp.tolist(),
            learner_dept[who].tolist(),
            strict=True,
        ):
            yield f"u{w}", f"c{i}", (None if r != r else r), s, dept_labels[d]
