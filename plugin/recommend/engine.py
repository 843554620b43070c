"""Course recommendations per learner: item-to-item neighbours, trust and department, with popularity fallback.

Method (all sparse, deterministic, no database):

1. Preferences. Each (learner, item) pair gets a weight: ``took_weight`` for "took" without a rating, and for a
   rating ``r`` either ``like_weight * (r - dislike_threshold)`` (a like pushes) or
   ``-dislike_weight * (dislike_threshold + 1 - r)`` when ``r <= dislike_threshold`` (a dislike pulls away).
   Weights decay with age: ``0.5 ** (age / half_life)``, ``age`` counted back from ``now``.
2. Neighbours. Item x item co-occurrence ``C = Xᵀ X`` of the binary "took" matrix (learners with long
   histories damped by ``activity_damping``), turned into an asymmetric cosine with shrinkage
   ``C_ij / (|i|^(2a) |j|^(2(1-a)) + shrinkage)`` and cut to the ``neighbours`` best per item. It is built in
   blocks of items so only one dense block exists at a time.
3. Trust. A sparse learner x learner matrix: explicit edges (follows, helpful votes) plus rating agreement,
   computed from co-rated items as ``Σ c_u c_v / (n_corated + agreement_shrinkage)`` with ``c = (r - 3) / 2``,
   where at most ``max_raters_per_item`` raters per item (seeded sample) take part, so a popular item costs
   at most that many squared pairs. Each learner keeps ``trusted_per_learner`` best; rows sum to 1.
4. Department. In-department co-occurrence: overlap with up to ``department_peers`` sampled colleagues of
   the same department, spread onto what those colleagues took, plus the item's popularity in the department.
5. Score = Σ weight x term, each term scaled per learner to a maximum of 1, plus a small global popularity
   term so every learner gets ``k`` items when the catalogue allows. Items already in the learner's
   interactions are never recommended. Ties are broken by item label.

Learners are scored in batches (ordered by department), so memory stays proportional to the interaction
matrix plus one dense ``batch x items`` block.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from plugin.recommend.data import Interactions, TrustEdges

DAY = 86400.0


@dataclass(frozen=True)
class Params:
    """Engine settings; the defaults were tuned on MovieLens 100k and the synthetic set (docs/recommendations.md)."""

    neighbours: int = 50  # similar items kept per item
    shrinkage: float = 10.0  # added to the cosine denominator: rare co-occurrences count less
    asymmetry: float = 0.5  # 0.5 = cosine; higher favours popular candidates over popular history items
    activity_damping: float = 0.0  # a learner with n items adds n ** -damping to each co-occurrence
    took_weight: float = 1.0  # preference of a "took" without rating
    like_weight: float = 0.5  # per star above dislike_threshold
    dislike_weight: float = 0.5  # per star at or below dislike_threshold (negative)
    dislike_threshold: float = 2.0  # ratings at or below are dislikes
    half_life_days: float = 365.0  # recency half-life counted back from ``now``; 0 disables decay
    history_half_life: float = 4.0  # own history: the n-th latest row weighs 0.5 ** (n / this); 0 = off
    min_decay: float = 0.001  # floor, so a long-inactive learner still has a history
    neighbour_weight: float = 1.0
    trust_weight: float = 0.3
    follow_weight: float = 1.0  # scale of explicit TrustEdges
    agreement_weight: float = 0.5  # scale of rating-agreement trust
    agreement_min_corated: int = 2
    agreement_shrinkage: float = 3.0
    max_raters_per_item: int = 50
    trusted_per_learner: int = 20
    department_weight: float = 1.0  # in-department co-occurrence (colleagues' overlap)
    department_peers: int = 500  # colleagues sampled per department
    department_neighbours: int = 30  # of which the most overlapping are used per learner
    group_popularity_weight: float = 0.6
    popularity_weight: float = 0.01
    seed: int = 0

    def preference(self, rating: np.ndarray) -> np.ndarray:
        """Preference weight of each interaction (NaN rating = took)."""
        rating = np.asarray(rating, dtype=np.float32)
        like = self.like_weight * (rating - self.dislike_threshold)
        dislike = -self.dislike_weight * (self.dislike_threshold + 1.0 - rating)
        weight = np.where(rating <= self.dislike_threshold, dislike, like)
        return np.where(np.isnan(rating), self.took_weight, weight).astype(np.float32)


class Kind(enum.IntEnum):
    """Why an item was recommended: the term that contributed most to its score."""

    NONE = 0
    NEIGHBOURS = 1
    TRUSTED = 2
    GROUP_POPULAR = 3
    POPULAR = 4


@dataclass
class Model:
    data: Interactions
    params: Params
    now: float
    pref: sparse.csr_matrix  # learners x items, decayed preference weights (what others see of a learner)
    history: sparse.csr_matrix  # the same, further decayed from each learner's latest row (own scoring)
    took: sparse.csr_matrix  # learners x items, 1.0 per pair
    sim: sparse.csr_matrix  # items x items, row i = neighbours of history item i
    sim_t: sparse.csr_matrix  # transposed: row j = history items that point to candidate j
    trust: sparse.csr_matrix  # learners x learners, rows sum to 1 (or 0)
    group_pop: sparse.csr_matrix  # groups x items, scaled to max 1 per group
    pop: np.ndarray  # items, learners who took it, scaled to max 1
    peers_ptr: np.ndarray  # group g's sampled colleagues are peers_idx[peers_ptr[g]:peers_ptr[g+1]]
    peers_idx: np.ndarray
    label_rank: np.ndarray  # items, position of the item's label in sorted order (tie-break)


@dataclass
class Recommendations:
    learner: np.ndarray  # (n,) int32
    item: np.ndarray  # (n, k) int32, -1 padded
    score: np.ndarray  # (n, k) float32, not increasing along k; -inf where padded
    because: np.ndarray  # (n, k) int32, history item that contributed most, -1 if none
    kind: np.ndarray  # (n, k) uint8, Kind


@dataclass
class AlsoTook:
    item: np.ndarray  # int32
    other: np.ndarray  # int32
    takers: np.ndarray  # int32, learners who took both
    mean_rating: np.ndarray  # float32, mean rating of `other` among them, NaN when none rated it


def fit(
    data: Interactions, params: Params = Params(), trust: TrustEdges | None = None, now: float | None = None
) -> Model:
    """Precompute everything ``recommend`` needs; cost ~ Σ over learners of history length²."""
    n_learners, n_items = data.n_learners, data.n_items
    if now is None:
        known = data.timestamp[~np.isnan(data.timestamp)]
        now = float(known.max()) if known.size else 0.0
    weight = params.preference(data.rating) * _decay(data.timestamp, now, params.half_life_days, params.min_decay)
    pref = data.matrix(weight)
    history = pref
    if params.history_half_life > 0 and len(data):
        history = data.matrix(weight * _order_decay(data, params.history_half_life, params.min_decay))
    took = data.matrix()
    sim = _neighbours(took, params)
    counts = np.asarray(took.sum(axis=0)).ravel()
    pop = (counts / counts.max()).astype(np.float32) if counts.size and counts.max() > 0 else counts.astype(np.float32)
    label_rank = np.empty(n_items, dtype=np.int32)
    label_rank[np.argsort(np.asarray(data.items, dtype=object), kind="stable")] = np.arange(n_items, dtype=np.int32)
    peers_ptr, peers_idx = _sample_peers(data.learner_group, len(data.groups), params)
    return Model(
        data=data,
        params=params,
        now=now,
        pref=pref,
        history=history,
        took=took,
        sim=sim,
        sim_t=sim.T.tocsr(),
        trust=_trust(data, params, trust, n_learners),
        group_pop=_group_popularity(data, params),
        pop=pop,
        peers_ptr=peers_ptr,
        peers_idx=peers_idx,
        label_rank=label_rank,
    )


def recommend(
    model: Model, k: int, learners: np.ndarray | None = None, batch_size: int = 1024, workers: int = 1
) -> Iterator[Recommendations]:
    """Top-k items per learner, in batches ordered by department (each batch says which learners it holds).

    ``workers`` threads score batches side by side (numpy and scipy release the GIL in the heavy parts); it
    pays only on idle cores, so the default is 1. The output does not depend on it.
    """
    n_learners = model.data.n_learners
    learners = np.arange(n_learners, dtype=np.int32) if learners is None else np.asarray(learners, dtype=np.int32)
    if learners.size == 0 or k <= 0:
        return
    order = np.argsort(model.data.learner_group[learners], kind="stable")
    learners = learners[order]
    chunks = [learners[start : start + batch_size] for start in range(0, learners.size, batch_size)]
    if workers <= 1 or len(chunks) == 1:
        for chunk in chunks:
            yield _score_batch(model, chunk, k)
        return
    with ThreadPoolExecutor(max_workers=workers) as pool:
        pending: deque[Future[Recommendations]] = deque()
        for chunk in chunks:
            pending.append(pool.submit(_score_batch, model, chunk, k))
            if len(pending) > workers:  # bounded: at most workers + 1 batches in memory
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def explain(
    model: Model, learner: np.ndarray, item: np.ndarray, because: np.ndarray, min_rating: float = 4.0
) -> tuple[np.ndarray, np.ndarray]:
    """Per triple: (colleagues in the learner's group, all learners) who rated ``because`` >= min_rating and took
    ``item``, the learner excluded. ``because == -1`` gives 0; a learner without group has 0 colleagues."""
    data = model.data
    learner = np.asarray(learner, dtype=np.int32)
    item = np.asarray(item, dtype=np.int32)
    because = np.asarray(because, dtype=np.int32)
    in_group = np.zeros(learner.size, dtype=np.int64)
    overall = np.zeros(learner.size, dtype=np.int64)
    rated = ~np.isnan(data.rating) & (np.nan_to_num(data.rating, nan=0.0) >= min_rating)
    liked = data.subset(rated).matrix().T.tocsr()  # items x learners
    took = model.took.T.tocsr()
    groups = data.learner_group
    valid = np.flatnonzero((because >= 0) & (item >= 0))
    chunk = 1024  # bounds the learners x triples intersection held at once
    for start in range(0, valid.size, chunk):
        sel = valid[start : start + chunk]
        both = liked[because[sel]].multiply(took[item[sel]]).tocoo()
        rows, cols = both.row, both.col
        other = cols != learner[sel][rows]
        rows, cols = rows[other], cols[other]
        overall[sel] = np.bincount(rows, minlength=sel.size)
        gu = groups[learner[sel]][rows]
        same = (gu >= 0) & (groups[cols] == gu)
        in_group[sel] = np.bincount(rows[same], minlength=sel.size)
    return in_group, overall


def also_took(model: Model, n: int) -> AlsoTook:
    """For every item, the ``n`` other items most often taken by its takers (ties by label), with their mean
    rating among those takers."""
    data = model.data
    took = model.took
    took_t = took.T.tocsr()
    rated = ~np.isnan(data.rating)
    ratings = data.subset(rated)
    r_sum = ratings.matrix(ratings.rating)
    r_cnt = ratings.matrix()
    out_i, out_o, out_t, out_m = [], [], [], []
    n_items = data.n_items
    block = max(1, min(1024, 20_000_000 // max(n_items, 1)))
    for start in range(0, n_items, block):
        rows = np.arange(start, min(start + block, n_items))
        counts = (took_t[rows] @ took).toarray()
        counts[np.arange(rows.size), rows] = 0
        top, _ = _top_k(counts.astype(np.float32), n, model.label_rank, counts > 0)
        r, c = np.nonzero(top >= 0)
        other = top[r, c]
        sums = (took_t[rows] @ r_sum).toarray()[r, other]
        cnts = (took_t[rows] @ r_cnt).toarray()[r, other]
        out_i.append(rows[r].astype(np.int32))
        out_o.append(other.astype(np.int32))
        out_t.append(counts[r, other].astype(np.int32))
        with np.errstate(invalid="ignore", divide="ignore"):
            out_m.append(np.where(cnts > 0, sums / np.maximum(cnts, 1), np.nan).astype(np.float32))
    if not out_i:
        empty_i = np.zeros(0, np.int32)
        return AlsoTook(empty_i, empty_i, empty_i, np.zeros(0, np.float32))
    return AlsoTook(
        item=np.concatenate(out_i),
        other=np.concatenate(out_o),
        takers=np.concatenate(out_t),
        mean_rating=np.concatenate(out_m),
    )


# --- internals ---------------------------------------------------------------------------------------------


def _decay(timestamp: np.ndarray, now: float, half_life_days: float, floor: float) -> np.ndarray:
    """``0.5 ** (age / half-life)`` with a floor; an unknown timestamp counts as new."""
    if half_life_days <= 0:
        return np.ones(timestamp.shape, np.float32)
    age = np.maximum(np.nan_to_num(now - timestamp, nan=0.0), 0.0)
    decay = np.power(0.5, age / (half_life_days * DAY))
    return np.maximum(decay, floor).astype(np.float32)


def _order_decay(data: Interactions, half_life: float, floor: float) -> np.ndarray:
    """Per row, ``0.5 ** (n / half_life)`` where n counts the learner's newer rows (unknown time = newest)."""
    stamp = np.nan_to_num(data.timestamp, nan=np.inf)
    order = np.lexsort((-stamp, data.learner_idx))
    counts = np.bincount(data.learner_idx, minlength=data.n_learners)
    starts = np.concatenate(([0], np.cumsum(counts)))[data.learner_idx[order]]
    newer = np.empty(len(data), dtype=np.float64)
    newer[order] = np.arange(len(data)) - starts
    return np.maximum(np.power(0.5, newer / half_life), floor).astype(np.float32)


def _neighbours(took: sparse.csr_matrix, params: Params) -> sparse.csr_matrix:
    """Top-N asymmetric cosine neighbours per item, computed one dense block of items at a time."""
    n_items = took.shape[1]
    per_learner = np.asarray(took.sum(axis=1)).ravel()
    if params.activity_damping:
        scale = np.power(np.maximum(per_learner, 1.0), -params.activity_damping / 2).astype(np.float32)
        weighted = sparse.diags(scale) @ took
    else:
        weighted = took
    weighted = weighted.tocsr().astype(np.float32)
    weighted_t = weighted.T.tocsr()
    norm_sq = np.asarray(weighted.multiply(weighted).sum(axis=0)).ravel().astype(np.float32)
    src_norm = np.power(norm_sq, params.asymmetry)
    dst_norm = np.power(norm_sq, 1.0 - params.asymmetry)
    keep = min(params.neighbours, max(n_items - 1, 0))
    rows_out, cols_out, vals_out = [], [], []
    block = max(1, min(1024, 20_000_000 // max(n_items, 1)))
    for start in range(0, n_items if keep else 0, block):
        rows = np.arange(start, min(start + block, n_items))
        co = (weighted_t[rows] @ weighted).toarray()
        co[np.arange(rows.size), rows] = 0
        sim = co / (np.outer(src_norm[rows], dst_norm) + params.shrinkage)
        top = np.argpartition(-sim, keep - 1, axis=1)[:, :keep]
        vals = np.take_along_axis(sim, top, axis=1)
        good = vals > 0
        rows_out.append(np.repeat(rows, keep).reshape(rows.size, keep)[good])
        cols_out.append(top[good])
        vals_out.append(vals[good].astype(np.float32))
    if not rows_out:
        return sparse.csr_matrix((n_items, n_items), dtype=np.float32)
    return sparse.csr_matrix(
        (np.concatenate(vals_out), (np.concatenate(rows_out), np.concatenate(cols_out))),
        shape=(n_items, n_items),
        dtype=np.float32,
    )


def _trust(data: Interactions, params: Params, edges: TrustEdges | None, n: int) -> sparse.csr_matrix:
    total = sparse.csr_matrix((n, n), dtype=np.float32)
    if edges is not None and edges.source.size and params.follow_weight:
        total = total + params.follow_weight * edges.matrix(n)
    if params.agreement_weight:
        total = total + params.agreement_weight * _agreement(data, params)
    total = _top_per_row(total.tocsr(), params.trusted_per_learner)
    sums = np.asarray(total.sum(axis=1)).ravel()
    inv = np.divide(1.0, sums, out=np.zeros_like(sums), where=sums > 0).astype(np.float32)
    return (sparse.diags(inv) @ total).tocsr().astype(np.float32)


def _agreement(data: Interactions, params: Params) -> sparse.csr_matrix:
    """Learner x learner agreement from co-rated items, with a bounded sample of raters per item."""
    n = data.n_learners
    rated = np.flatnonzero(~np.isnan(data.rating))
    if rated.size == 0:
        return sparse.csr_matrix((n, n), dtype=np.float32)
    rng = np.random.default_rng(params.seed)
    items = data.item_idx[rated]
    shuffled = rated[np.lexsort((rng.random(rated.size), items))]
    items = data.item_idx[shuffled]
    first = np.ones(items.size, dtype=bool)
    first[1:] = items[1:] != items[:-1]
    starts = np.maximum.accumulate(np.where(first, np.arange(items.size), 0))
    kept = shuffled[(np.arange(items.size) - starts) < params.max_raters_per_item]
    centred = ((data.rating[kept] - 3.0) / 2.0).astype(np.float32)
    shape = (n, data.n_items)
    agree = sparse.csr_matrix((centred, (data.learner_idx[kept], data.item_idx[kept])), shape=shape)
    ones = np.ones(kept.size, np.float32)
    both = sparse.csr_matrix((ones, (data.learner_idx[kept], data.item_idx[kept])), shape=shape)
    agree_t, both_t = agree.T.tocsr(), both.T.tocsr()
    parts = []
    batch = 4096
    for start in range(0, n, batch):
        stop = min(start + batch, n)
        a = agree[start:stop] @ agree_t
        c = (both[start:stop] @ both_t).tocsr()
        c.data = np.where(
            c.data >= params.agreement_min_corated, 1.0 / (c.data + params.agreement_shrinkage), 0.0
        ).astype(np.float32)
        t = a.multiply(c).tocoo()
        good = (t.data > 0) & (t.row + start != t.col)
        part = sparse.csr_matrix((t.data[good], (t.row[good], t.col[good])), shape=(stop - start, n), dtype=np.float32)
        parts.append(_top_per_row(part, params.trusted_per_learner))
    return sparse.vstack(parts).tocsr()


def _top_per_row(matrix: sparse.csr_matrix, m: int) -> sparse.csr_matrix:
    """Keep the ``m`` largest entries of each row (ties by column)."""
    matrix = matrix.tocsr()
    matrix.sum_duplicates()
    counts = np.diff(matrix.indptr)
    if counts.size == 0 or counts.max(initial=0) <= m:
        return matrix
    rows = np.repeat(np.arange(matrix.shape[0]), counts)
    order = np.lexsort((matrix.indices, -matrix.data, rows))
    rank = np.arange(order.size) - matrix.indptr[rows[order]]
    keep = order[rank < m]
    return sparse.csr_matrix((matrix.data[keep], (rows[keep], matrix.indices[keep])), shape=matrix.shape)


def _group_popularity(data: Interactions, params: Params) -> sparse.csr_matrix:
    """Groups x items: how many of the group's learners took the item (dislikes excluded), max 1 per group."""
    n_groups = len(data.groups)
    group = data.learner_group[data.learner_idx]
    keep = (group >= 0) & ~(data.rating <= params.dislike_threshold)
    counts = sparse.csr_matrix(
        (np.ones(int(keep.sum()), np.float32), (group[keep], data.item_idx[keep])),
        shape=(n_groups, data.n_items),
        dtype=np.float32,
    )
    if counts.nnz == 0:
        return counts
    top = counts.max(axis=1).toarray().ravel()
    inv = np.divide(1.0, top, out=np.zeros_like(top), where=top > 0).astype(np.float32)
    return (sparse.diags(inv) @ counts).tocsr().astype(np.float32)


def _sample_peers(learner_group: np.ndarray, n_groups: int, params: Params) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(params.seed + 1)
    members = np.flatnonzero(learner_group >= 0)
    order = np.lexsort((rng.random(members.size), learner_group[members]))
    members = members[order]
    groups = learner_group[members]
    first = np.searchsorted(groups, np.arange(n_groups))
    rank = np.arange(members.size) - first[groups] if members.size else np.zeros(0, np.int64)
    kept = members[rank < params.department_peers]
    kept_groups = learner_group[kept]
    ptr = np.zeros(n_groups + 1, dtype=np.int64)
    np.cumsum(np.bincount(kept_groups, minlength=n_groups), out=ptr[1:])
    return ptr, kept.astype(np.int32)


def _scaled_rows(block: sparse.spmatrix, weight: float) -> sparse.csr_matrix:
    """Scale each row to a largest absolute value of ``weight``, so terms with different units can be mixed."""
    block = sparse.csr_matrix(block, dtype=np.float32)  # products of CSR matrices: no duplicate entries
    counts = np.diff(block.indptr)
    top = np.zeros(block.shape[0], dtype=np.float32)
    filled = counts > 0
    if filled.any():
        top[filled] = np.maximum.reduceat(np.abs(block.data), block.indptr[:-1][filled])
    factor = np.divide(weight, top, out=np.zeros_like(top), where=top > 0)
    block.data *= np.repeat(factor, counts)
    return block


def _score_batch(model: Model, learners: np.ndarray, k: int) -> Recommendations:
    p = model.params
    n_items = model.data.n_items
    pref = model.history[learners]
    groups = model.data.learner_group[learners]
    has_group = groups >= 0
    summed: dict[Kind, sparse.csr_matrix] = {}
    if p.neighbour_weight:
        summed[Kind.NEIGHBOURS] = _scaled_rows(pref @ model.sim, p.neighbour_weight)
    if p.trust_weight and model.trust.nnz:
        summed[Kind.TRUSTED] = _scaled_rows(model.trust[learners] @ model.pref, p.trust_weight)
    if p.department_weight and model.peers_idx.size:
        summed[Kind.GROUP_POPULAR] = _scaled_rows(_department(model, learners, pref, groups), p.department_weight)
    popular = (model.pop * np.float32(p.popularity_weight)).astype(np.float32)
    score = np.empty((learners.size, n_items), dtype=np.float32)
    group_rows: list[tuple[np.ndarray, np.ndarray]] = []
    if p.group_popularity_weight and has_group.any():
        score[~has_group] = popular
        for g in np.unique(groups[has_group]):
            rows = np.flatnonzero(groups == g)
            dense = model.group_pop[g].toarray().ravel() * np.float32(p.group_popularity_weight)
            score[rows] = dense + popular
            group_rows.append((rows, dense))
    else:
        score[:] = popular
    for total in summed.values():
        score.ravel()[_flat_index(total, n_items)] += total.data
    seen = model.took[learners]
    score.ravel()[_flat_index(seen, n_items)] = -np.inf
    item, top_score = _top_k(score, k, model.label_rank)
    valid = item >= 0
    safe = np.where(valid, item, 0)
    row_ix = np.repeat(np.arange(learners.size), k)
    parts_at = np.zeros((4, learners.size, k), dtype=np.float32)
    for kind, total in summed.items():
        parts_at[kind - 1] = np.asarray(total[row_ix, safe.ravel()]).reshape(learners.size, k)
    parts_at[Kind.POPULAR - 1] = popular[safe]
    for rows, dense in group_rows:
        parts_at[Kind.GROUP_POPULAR - 1][rows] += dense[safe[rows]]
    best = parts_at.argmax(axis=0)
    kind_out = np.where(parts_at.max(axis=0) > 0, best + 1, Kind.NONE).astype(np.uint8)
    kind_out[~valid] = Kind.NONE
    because = _because(model, pref, safe) if n_items else np.full(item.shape, -1, np.int32)
    because[~valid] = -1
    return Recommendations(
        learner=learners.astype(np.int32), item=item, score=top_score, because=because, kind=kind_out
    )


def _flat_index(matrix: sparse.csr_matrix, width: int) -> np.ndarray:
    """Positions of a CSR's entries in a C-ordered dense array of ``width`` columns."""
    rows = np.repeat(np.arange(matrix.shape[0], dtype=np.int64) * width, np.diff(matrix.indptr))
    return rows + matrix.indices


def _department(model: Model, learners: np.ndarray, pref: sparse.csr_matrix, groups: np.ndarray) -> sparse.csr_matrix:
    """In-department co-occurrence through sampled colleagues: Σ_v overlap(u, v) / sqrt(|v|) · took(v, j) over the
    ``department_neighbours`` colleagues v with the largest overlap."""
    parts = []
    order = []
    keep = max(1, model.params.department_neighbours)
    for g in np.unique(groups[groups >= 0]):
        rows = np.flatnonzero(groups == g)
        peers = model.peers_idx[model.peers_ptr[g] : model.peers_ptr[g + 1]]
        if peers.size == 0:
            continue
        peer_took = model.took[peers]
        size = np.asarray(peer_took.sum(axis=1)).ravel().astype(np.float32)
        overlap = (pref[rows] @ peer_took.T).toarray() / np.sqrt(np.maximum(size, 1.0))
        overlap[learners[rows][:, None] == peers[None, :]] = 0
        if peers.size > keep:
            cut = np.argpartition(-overlap, keep - 1, axis=1)[:, :keep]
            vals = np.take_along_axis(overlap, cut, axis=1)
            near = sparse.csr_matrix(
                (vals.ravel(), (np.repeat(np.arange(rows.size), keep), cut.ravel())), shape=overlap.shape
            )
        else:
            near = sparse.csr_matrix(overlap)
        near.data[near.data < 0] = 0
        near.eliminate_zeros()
        parts.append((near @ peer_took).tocsr())
        order.append(rows)
    out = sparse.csr_matrix((learners.size, model.data.n_items), dtype=np.float32)
    if parts:
        stacked = sparse.vstack(parts).tocsr()
        position = np.empty(learners.size, dtype=np.int64)
        filled = np.concatenate(order)
        position[filled] = np.arange(filled.size)
        missing = np.setdiff1d(np.arange(learners.size), filled)
        stacked = sparse.vstack([stacked, sparse.csr_matrix((missing.size, model.data.n_items), dtype=np.float32)])
        position[missing] = filled.size + np.arange(missing.size)
        out = stacked.tocsr()[position]
    return out


def _because(model: Model, pref: sparse.csr_matrix, items: np.ndarray) -> np.ndarray:
    """For each (learner row, recommended item): the history item with the largest positive contribution."""
    out = np.full(items.shape, -1, dtype=np.int32)
    for col in range(items.shape[1]):
        contrib = pref.multiply(model.sim_t[items[:, col]]).tocsr()
        rows = np.repeat(np.arange(contrib.shape[0]), np.diff(contrib.indptr))
        good = contrib.data > 0
        if not good.any():
            continue
        rows, cols, vals = rows[good], contrib.indices[good], contrib.data[good]
        order = np.lexsort((cols, -vals, rows))
        first = np.ones(order.size, dtype=bool)
        first[1:] = rows[order][1:] != rows[order][:-1]
        out[rows[order][first], col] = cols[order][first]
    return out


def _top_k(
    score: np.ndarray, k: int, label_rank: np.ndarray, allowed: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Top ``k`` finite (and allowed) columns per row, best first, ties by label; (-1, -inf) where fewer exist."""
    n_rows, n_cols = score.shape
    item = np.full((n_rows, k), -1, dtype=np.int32)
    top = np.full((n_rows, k), -np.inf, dtype=np.float32)
    if n_cols == 0 or n_rows == 0:
        return item, top
    masked = score if allowed is None else np.where(allowed, score, -np.inf)
    kk = min(k, n_cols)
    threshold = np.partition(masked, n_cols - kk, axis=1)[:, n_cols - kk]
    threshold = np.where(np.isfinite(threshold), threshold, np.finfo(np.float32).min)  # only finite scores count
    rows, cols = np.nonzero(masked >= threshold[:, None])
    vals = masked[rows, cols]
    order = np.lexsort((label_rank[cols], -vals, rows))
    rows, cols, vals = rows[order], cols[order], vals[order]
    starts = np.searchsorted(rows, np.arange(n_rows))
    rank = np.arange(rows.size) - starts[rows]
    keep = rank < k
    item[rows[keep], rank[keep]] = cols[keep]
    top[rows[keep], rank[keep]] = vals[keep]
    return item, top
