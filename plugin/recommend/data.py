"""What the engine eats: one platform's interactions as indexed numpy arrays.

``Interactions`` holds one row per (learner, item) pair. Two builders exist: ``from_records`` for python
iterables (the CSV reader, the synthetic generator, tests) and ``from_arrays`` for data the database side has
already indexed. Both deduplicate pairs the same way: the latest row wins (by timestamp, then by input order;
an unknown timestamp counts as older than any known one), except that a later "took" row without a rating
keeps the latest rating given earlier, because taking a course again does not withdraw an opinion.
"""

from __future__ import annotations

import itertools
from array import array
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from operator import itemgetter

import numpy as np
from scipy import sparse

Record = tuple[str, str, float | None, float | None, str | None]


@dataclass
class Interactions:
    learners: list[str]
    items: list[str]
    groups: list[str]
    learner_group: np.ndarray  # int32 (n_learners,), -1 = no group
    learner_idx: np.ndarray  # int32, one per deduplicated (learner, item) pair
    item_idx: np.ndarray  # int32
    rating: np.ndarray  # float32, NaN = took without rating
    timestamp: np.ndarray  # float64 unix seconds, NaN = unknown

    @property
    def n_learners(self) -> int:
        return len(self.learners)

    @property
    def n_items(self) -> int:
        return len(self.items)

    def __len__(self) -> int:
        return int(self.learner_idx.shape[0])

    @classmethod
    def from_records(
        cls,
        records: Iterable[Record],
        *,
        learners: Sequence[str] = (),
        items: Sequence[str] = (),
    ) -> Interactions:
        """Build from ``(learner, item, rating|None, timestamp|None, group|None)`` tuples.

        ``learners``/``items`` may pre-declare labels (e.g. a catalogue item nobody took yet); labels met in the
        records are appended in first-seen order. A learner's group is the last non-empty one seen.
        """
        # labels -> indices through defaultdicts whose factory counts, so the per-row work runs in C (map),
        # one chunk of rows at a time to keep memory proportional to the arrays
        learner_ids: defaultdict[str, int] = defaultdict(itertools.count(len(learners)).__next__)
        learner_ids.update((label, n) for n, label in enumerate(learners))
        item_ids: defaultdict[str, int] = defaultdict(itertools.count(len(items)).__next__)
        item_ids.update((label, n) for n, label in enumerate(items))
        group_of: dict[int, str] = {}
        rows_l, rows_i, ratings, stamps = array("i"), array("i"), array("f"), array("d")
        records = iter(records)
        while chunk := list(itertools.islice(records, 65536)):
            col_l, col_i, col_r, col_s, col_g = (list(map(itemgetter(n), chunk)) for n in range(5))
            idx_l = array("i", map(learner_ids.__getitem__, col_l))
            rows_l.extend(idx_l)
            rows_i.extend(array("i", map(item_ids.__getitem__, col_i)))
            ratings.frombytes(np.array(col_r, dtype=np.float32).tobytes())  # None -> NaN
            stamps.frombytes(np.array(col_s, dtype=np.float64).tobytes())
            group_of.update(itertools.compress(zip(idx_l, col_g, strict=True), col_g))
        group_ids: dict[str, int] = {}
        for group in group_of.values():
            group_ids.setdefault(group, len(group_ids))
        groups_of = np.full(len(learner_ids), -1, dtype=np.int32)
        if group_of:
            keys = np.fromiter(group_of.keys(), dtype=np.int64, count=len(group_of))
            values = (group_ids[g] for g in group_of.values())
            groups_of[keys] = np.fromiter(values, dtype=np.int32, count=len(group_of))
        return cls.from_arrays(
            learners=list(learner_ids),
            items=list(item_ids),
            groups=list(group_ids),
            learner_group=groups_of,
            learner_idx=np.frombuffer(rows_l, dtype=np.int32).copy(),
            item_idx=np.frombuffer(rows_i, dtype=np.int32).copy(),
            rating=np.frombuffer(ratings, dtype=np.float32).copy(),
            timestamp=np.frombuffer(stamps, dtype=np.float64).copy(),
        )

    @classmethod
    def from_arrays(
        cls,
        learners: Sequence[str],
        items: Sequence[str],
        groups: Sequence[str],
        learner_group: np.ndarray,
        learner_idx: np.ndarray,
        item_idx: np.ndarray,
        rating: np.ndarray | None = None,
        timestamp: np.ndarray | None = None,
    ) -> Interactions:
        """Build from already indexed arrays (possibly with duplicate pairs); validates shapes and ranges."""
        learner_idx = np.asarray(learner_idx, dtype=np.int32)
        item_idx = np.asarray(item_idx, dtype=np.int32)
        n = learner_idx.shape[0]
        rating = np.full(n, np.nan, np.float32) if rating is None else np.asarray(rating, dtype=np.float32)
        timestamp = np.full(n, np.nan, np.float64) if timestamp is None else np.asarray(timestamp, dtype=np.float64)
        learner_group = np.asarray(learner_group, dtype=np.int32)
        if not (item_idx.shape == rating.shape == timestamp.shape == (n,)):
            raise ValueError("learner_idx, item_idx, rating and timestamp must have the same length")
        if learner_group.shape != (len(learners),):
            raise ValueError("learner_group needs one entry per learner")
        if n and (learner_idx.min() < 0 or learner_idx.max() >= len(learners)):
            raise ValueError("learner_idx out of range")
        if n and (item_idx.min() < 0 or item_idx.max() >= len(items)):
            raise ValueError("item_idx out of range")
        if learner_group.size and (learner_group.min() < -1 or learner_group.max() >= len(groups)):
            raise ValueError("learner_group out of range")
        learner_idx, item_idx, rating, timestamp = _deduplicate(learner_idx, item_idx, rating, timestamp)
        return cls(
            learners=list(learners),
            items=list(items),
            groups=list(groups),
            learner_group=learner_group,
            learner_idx=learner_idx,
            item_idx=item_idx,
            rating=rating,
            timestamp=timestamp,
        )

    def subset(self, keep: np.ndarray) -> Interactions:
        """The same labels and groups with only the rows where ``keep`` is true (for train/test splits)."""
        return Interactions(
            learners=self.learners,
            items=self.items,
            groups=self.groups,
            learner_group=self.learner_group,
            learner_idx=self.learner_idx[keep],
            item_idx=self.item_idx[keep],
            rating=self.rating[keep],
            timestamp=self.timestamp[keep],
        )

    def matrix(self, values: np.ndarray | None = None) -> sparse.csr_matrix:
        """Learners x items CSR with ``values`` (default 1.0) at each pair; indices sorted within rows."""
        data = np.ones(len(self), np.float32) if values is None else np.asarray(values, dtype=np.float32)
        return sparse.csr_matrix(
            (data, (self.learner_idx, self.item_idx)), shape=(self.n_learners, self.n_items), dtype=np.float32
        )


@dataclass
class TrustEdges:
    """Explicit trust from the database: follows (1.0) and helpful votes (a fraction each, capped)."""

    source: np.ndarray  # int32 learner index (who trusts)
    target: np.ndarray  # int32 learner index (who is trusted)
    weight: np.ndarray  # float32 > 0

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[int, int, float]]) -> TrustEdges:
        rows = list(pairs)
        return cls(
            source=np.asarray([r[0] for r in rows], dtype=np.int32),
            target=np.asarray([r[1] for r in rows], dtype=np.int32),
            weight=np.asarray([r[2] for r in rows], dtype=np.float32),
        )

    def matrix(self, n_learners: int) -> sparse.csr_matrix:
        """Learner x learner CSR; repeated edges add up, self-trust and non-positive weights are dropped."""
        keep = (self.source != self.target) & (self.weight > 0)
        return sparse.csr_matrix(
            (self.weight[keep].astype(np.float32), (self.source[keep], self.target[keep])),
            shape=(n_learners, n_learners),
            dtype=np.float32,
        )


def _deduplicate(
    learner_idx: np.ndarray, item_idx: np.ndarray, rating: np.ndarray, timestamp: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    n = learner_idx.shape[0]
    if n == 0:
        return learner_idx, item_idx, rating, timestamp
    stamp_key = np.where(np.isnan(timestamp), -np.inf, timestamp)
    pair = learner_idx.astype(np.int64) * (int(item_idx.max()) + 1) + item_idx
    order = np.argsort(stamp_key, kind="stable")  # stable sorts: input order breaks the remaining ties
    order = order[np.argsort(pair[order], kind="stable")]
    li, ii, r, ts = learner_idx[order], item_idx[order], rating[order], timestamp[order]
    last = np.ones(n, dtype=bool)
    last[:-1] = (li[1:] != li[:-1]) | (ii[1:] != ii[:-1])
    if np.isnan(r).any():
        # carry the latest known rating forward within each pair, so a later "took" keeps it
        pos = np.where(~np.isnan(r), np.arange(n), -1)
        start = np.ones(n, dtype=bool)
        start[1:] = last[:-1]
        group_start = np.maximum.accumulate(np.where(start, np.arange(n), 0))
        pos = np.maximum.accumulate(pos)
        carried = np.where(pos >= group_start, r[np.maximum(pos, 0)], np.nan).astype(np.float32)
        r = carried
    return li[last], ii[last], r[last], ts[last]
