"""The offline contract: interactions CSV in, recommendations CSV out, and a held-out evaluation.

Input header ``learner,item,rating,timestamp,group`` (columns found by name, any order; ``rating``,
``timestamp`` and ``group`` may be missing or empty). ``rating`` is 1-5 (empty = "took"), ``timestamp`` is
Unix seconds or ISO 8601 (a naive one is UTC). Malformed rows are skipped and counted per reason, never fatal.
Output header ``learner,item,rank,score``: for every learner of the input, the top k items not in that
learner's rows, rank 1 first, scores not increasing with rank.

Evaluation splits per learner with at least two rows: the latest row is held out when all the learner's rows
have timestamps, else a seeded random 20% (at least one). Held-out rows that are dislikes are not counted as
relevant; learners left without a relevant held-out row are not scored. Metrics at k: precision, recall,
NDCG (binary gains) and hit rate, averaged over scored learners.
"""

from __future__ import annotations

import csv
import math
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import TextIO

import numpy as np

from plugin.recommend import engine
from plugin.recommend.data import Interactions, Record

HEADER = ("learner", "item", "rating", "timestamp", "group")
OUT_HEADER = ("learner", "item", "rank", "score")

Recommender = Callable[[Interactions, np.ndarray, int], np.ndarray]


class HeaderError(ValueError):
    """The input's first line does not name the learner and item columns."""


def parse_timestamp(text: str) -> float | None:
    """Unix seconds or ISO 8601 (naive = UTC); raises ValueError on anything else."""
    try:
        value = float(text)
    except ValueError:
        parsed = datetime.fromisoformat(text)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.timestamp()
    if not math.isfinite(value):
        raise ValueError("not a finite number")
    return value


def iter_records(source: TextIO, skipped: Counter[str]) -> Iterator[Record]:
    """Parse rows, counting skipped ones in ``skipped`` by reason."""
    reader = csv.reader(source)
    header = next(reader, None)
    if header is None:
        return
    names = [name.strip().lower() for name in header]
    if "learner" not in names or "item" not in names:
        raise HeaderError(f"expected a header {','.join(HEADER)}, got {','.join(header)}")
    width = len(names)
    col = {name: names.index(name) if name in names else None for name in HEADER}
    c_learner, c_item, c_rating, c_stamp, c_group = (col[name] for name in HEADER)
    cache: dict[str, float | None] = {}
    for row in reader:
        if len(row) != width:
            if not any(cell.strip() for cell in row):
                continue  # blank line
            skipped["wrong column count"] += 1
            continue
        learner = row[c_learner].strip()
        item = row[c_item].strip()
        if not learner:
            skipped["empty learner"] += 1
            continue
        if not item:
            skipped["empty item"] += 1
            continue
        rating: float | None = None
        if c_rating is not None and (text := row[c_rating].strip()):
            try:
                rating = float(text)
            except ValueError:
                rating = math.nan
            if not 1.0 <= rating <= 5.0:
                skipped["rating not 1-5"] += 1
                continue
        stamp: float | None = None
        if c_stamp is not None and (text := row[c_stamp].strip()):
            try:
                stamp = float(text)
                if not math.isfinite(stamp):
                    raise ValueError(text)
            except ValueError:
                if text in cache:
                    stamp = cache[text]
                else:
                    try:
                        stamp = parse_timestamp(text)
                    except ValueError:
                        stamp = None
                    cache[text] = stamp
                    if len(cache) > 100_000:
                        cache.clear()
                if stamp is None:
                    skipped["bad timestamp"] += 1
                    continue
        group = row[c_group].strip() if c_group is not None else ""
        yield learner, item, rating, stamp, group or None


def read_interactions(source: TextIO) -> tuple[Interactions, Counter[str]]:
    skipped: Counter[str] = Counter()
    data = Interactions.from_records(iter_records(source, skipped))
    return data, skipped


def write_interactions(out: TextIO, records: Iterable[Record]) -> int:
    """Write rows in the input format; returns how many."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    count = 0
    for learner, item, rating, stamp, group in records:
        writer.writerow(
            (
                learner,
                item,
                "" if rating is None else f"{rating:g}",
                "" if stamp is None else f"{stamp:.0f}" if float(stamp).is_integer() else repr(stamp),
                group or "",
            )
        )
        count += 1
    return count


def write_recommendations(out: TextIO, model: engine.Model, batches: Iterable[engine.Recommendations]) -> int:
    """Write ``learner,item,rank,score`` rows; returns how many."""
    learners, items = model.data.learners, model.data.items
    out.write(",".join(OUT_HEADER) + "\n")
    count = 0
    for batch in batches:
        lines = []
        rows = zip(batch.learner.tolist(), batch.item.tolist(), batch.score.tolist(), strict=True)
        for who, row_items, row_scores in rows:
            name = _csv_field(learners[who])
            for rank, (item, score) in enumerate(zip(row_items, row_scores, strict=True), start=1):
                if item < 0:
                    break
                lines.append(f"{name},{_csv_field(items[item])},{rank},{score:.6g}\n")
        out.write("".join(lines))
        count += len(lines)
    return count


def shard(data: Interactions, part: int, parts: int) -> np.ndarray:
    """Learner indices of shard ``part`` of ``parts``: whole departments (by index), the rest by learner.

    The model is deterministic, so N machines can each fit the same input and score one shard; the N outputs
    concatenated equal one machine's output (up to row order).
    """
    group = data.learner_group
    key = np.where(group >= 0, group, np.arange(data.n_learners))
    return np.flatnonzero(key % parts == part).astype(np.int32)


def _csv_field(text: str) -> str:
    if any(ch in text for ch in ',"\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


# --- evaluation ----------------------------------------------------------------------------------------------


@dataclass
class Split:
    train: Interactions
    learner: np.ndarray  # held-out relevant pairs
    item: np.ndarray


@dataclass
class Metrics:
    precision: float
    recall: float
    ndcg: float
    hit_rate: float
    learners: int


def split(data: Interactions, seed: int = 0, share: float = 0.2, dislike_threshold: float = 2.0) -> Split:
    """Per learner: latest row held out when all its rows have timestamps, else a seeded random ``share``."""
    n = len(data)
    rng = np.random.default_rng(seed)
    noise = rng.random(n)
    learner = data.learner_idx
    rows_per = np.bincount(learner, minlength=data.n_learners)
    unknown_per = np.bincount(learner, weights=np.isnan(data.timestamp), minlength=data.n_learners)
    timed = (unknown_per == 0)[learner]
    stamp = np.nan_to_num(data.timestamp, nan=0.0)
    order = np.lexsort((noise, np.where(timed, -stamp, 0.0), learner))  # per learner: latest (or random) first
    starts = np.concatenate(([0], np.cumsum(rows_per)))[learner[order]]
    rank = np.arange(n) - starts
    count = rows_per[learner[order]]
    take = np.where(timed[order], 1, np.maximum(1, np.floor(count * share))).astype(np.int64)
    held_sorted = (rank < take) & (count >= 2)
    held = np.zeros(n, dtype=bool)
    held[order[held_sorted]] = True
    relevant = held & ~(data.rating <= dislike_threshold)
    return Split(train=data.subset(~held), learner=data.learner_idx[relevant], item=data.item_idx[relevant])


def score_lists(recommended: np.ndarray, learners: np.ndarray, truth: Split, k: int) -> Metrics:
    """Metrics for ``recommended`` (rows = ``learners``, -1 padded) against the held-out pairs."""
    if learners.size == 0:
        return Metrics(0.0, 0.0, 0.0, 0.0, 0)
    n_items = max(int(truth.train.n_items), 1)
    row_of = np.full(truth.train.n_learners, -1, dtype=np.int64)
    row_of[learners] = np.arange(learners.size)
    keys = np.unique(row_of[truth.learner] * n_items + truth.item)
    rec = recommended[:, :k]
    rec_keys = np.arange(learners.size)[:, None] * n_items + np.where(rec >= 0, rec, n_items * 10**6)
    hits = np.isin(rec_keys, keys) & (rec >= 0)
    n_relevant = np.bincount(keys // n_items, minlength=learners.size)
    discount = 1.0 / np.log2(np.arange(2, k + 2))
    dcg = (hits * discount[: rec.shape[1]]).sum(axis=1)
    ideal = np.cumsum(discount)[np.minimum(n_relevant, k) - 1]
    n_hits = hits.sum(axis=1)
    return Metrics(
        precision=float((n_hits / k).mean()),
        recall=float((n_hits / n_relevant).mean()),
        ndcg=float((dcg / ideal).mean()),
        hit_rate=float((n_hits > 0).mean()),
        learners=int(learners.size),
    )


def engine_recommender(params: engine.Params = engine.Params()) -> Recommender:  # noqa: B008
    def run(train: Interactions, learners: np.ndarray, k: int) -> np.ndarray:
        model = engine.fit(train, params)
        out = np.full((learners.size, k), -1, dtype=np.int32)
        position = {int(who): n for n, who in enumerate(learners)}
        for batch in engine.recommend(model, k, learners):
            out[[position[int(w)] for w in batch.learner]] = batch.item
        return out

    return run


def popularity(train: Interactions, learners: np.ndarray, k: int) -> np.ndarray:
    """Most taken items overall."""
    counts = np.bincount(train.item_idx, minlength=train.n_items).astype(np.float32)
    return _rank_unseen(train, learners, k, lambda rows: np.broadcast_to(counts, (rows.size, counts.size)))


def group_popularity(train: Interactions, learners: np.ndarray, k: int) -> np.ndarray:
    """Most taken in the learner's group, then overall."""
    counts = np.bincount(train.item_idx, minlength=train.n_items).astype(np.float32)
    n_groups = max(len(train.groups), 1)
    group = train.learner_group[train.learner_idx]
    known = group >= 0
    per_group = np.zeros((n_groups, train.n_items), dtype=np.float32)
    np.add.at(per_group, (group[known], train.item_idx[known]), 1.0)
    scale = counts.max() + 1.0 if counts.size else 1.0

    def scores(rows: np.ndarray) -> np.ndarray:
        g = train.learner_group[rows]
        own = np.where((g >= 0)[:, None], per_group[np.maximum(g, 0)], 0.0)
        return own * scale + counts

    return _rank_unseen(train, learners, k, scores)


def _rank_unseen(
    train: Interactions, learners: np.ndarray, k: int, scores: Callable[[np.ndarray], np.ndarray]
) -> np.ndarray:
    seen = train.matrix().tocsr()
    label_rank = np.empty(train.n_items, dtype=np.int32)
    label_rank[np.argsort(np.asarray(train.items, dtype=object), kind="stable")] = np.arange(train.n_items)
    out = []
    for start in range(0, learners.size, 1024):
        rows = learners[start : start + 1024]
        block = np.array(scores(rows), dtype=np.float32)
        allowed = np.ones(block.shape, dtype=bool)
        sub = seen[rows]
        allowed[np.repeat(np.arange(rows.size), np.diff(sub.indptr)), sub.indices] = False
        out.append(engine._top_k(block, k, label_rank, allowed)[0])
    return np.concatenate(out) if out else np.zeros((0, k), dtype=np.int32)


BASELINES: dict[str, Recommender] = {"popularity": popularity, "popularity in group": group_popularity}


def evaluate(
    data: Interactions,
    k: int = 10,
    params: engine.Params = engine.Params(),  # noqa: B008
    seed: int = 0,
    others: dict[str, Recommender] | None = None,
) -> dict[str, Metrics]:
    """Metrics at k for the engine, the popularity baselines and any ``others``, on one split."""
    truth = split(data, seed=seed, dislike_threshold=params.dislike_threshold)
    learners = np.unique(truth.learner).astype(np.int32)
    methods: dict[str, Recommender] = {"engine": engine_recommender(params), **BASELINES, **(others or {})}
    return {name: score_lists(run(truth.train, learners, k), learners, truth, k) for name, run in methods.items()}


def metrics_table(results: dict[str, Metrics], k: int) -> str:
    """A Markdown table, one method per row."""
    lines = [
        f"| method | NDCG@{k} | precision@{k} | recall@{k} | hit rate@{k} | learners |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, m in results.items():
        figures = f"{m.ndcg:.4f} | {m.precision:.4f} | {m.recall:.4f} | {m.hit_rate:.4f}"
        lines.append(f"| {name} | {figures} | {m.learners} |")
    return "\n".join(lines)


def metrics_json(results: dict[str, Metrics]) -> dict[str, dict[str, float]]:
    return {name: asdict(m) for name, m in results.items()}
