"""Interactions: indexing, deduplication (latest wins, ratings survive a later 'took'), validation."""

import math

import numpy as np
import pytest

from plugin.recommend.data import Interactions, TrustEdges


def test_records_are_indexed_in_first_seen_order_with_last_group() -> None:
    data = Interactions.from_records(
        [
            ("ann", "c1", None, None, "Sales"),
            ("bob", "c2", 4.0, 100.0, None),
            ("ann", "c2", 2.0, 50.0, "Finance"),
        ]
    )
    assert data.learners == ["ann", "bob"]
    assert data.items == ["c1", "c2"]
    assert data.groups == ["Finance"]  # only groups someone is in
    assert data.learner_group.tolist() == [0, -1]
    assert data.learner_idx.dtype == np.int32 and data.rating.dtype == np.float32
    assert len(data) == 3


def test_latest_row_wins_but_a_later_took_keeps_the_rating() -> None:
    data = Interactions.from_records(
        [
            ("ann", "c1", 5.0, 200.0, None),
            ("ann", "c1", 2.0, 100.0, None),  # older: loses
            ("ann", "c1", None, 300.0, None),  # newest, no rating: keeps 5
            ("bob", "c1", 3.0, None, None),
            ("bob", "c1", 4.0, None, None),  # same (unknown) time: the later row wins
        ]
    )
    pairs = {
        (data.learners[who], data.items[i]): (r, t)
        for who, i, r, t in zip(data.learner_idx, data.item_idx, data.rating, data.timestamp, strict=True)
    }
    assert pairs[("ann", "c1")] == (5.0, 300.0)
    rating, stamp = pairs[("bob", "c1")]
    assert rating == 4.0 and math.isnan(stamp)
    assert len(data) == 2


def test_from_arrays_rejects_out_of_range_indices() -> None:
    with pytest.raises(ValueError, match="item_idx"):
        Interactions.from_arrays(["a"], ["x"], [], np.array([-1]), np.array([0]), np.array([1]))
    with pytest.raises(ValueError, match="learner_group"):
        Interactions.from_arrays(["a"], ["x"], [], np.array([0]), np.array([0]), np.array([0]))


def test_trust_matrix_adds_repeats_and_drops_self_trust() -> None:
    edges = TrustEdges.from_pairs([(0, 1, 1.0), (0, 1, 0.25), (1, 1, 1.0), (1, 0, 0.0)])
    matrix = edges.matrix(2).toarray()
    assert matrix.tolist() == [[0.0, 1.25], [0.0, 0.0]]
