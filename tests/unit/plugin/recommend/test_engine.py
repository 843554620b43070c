"""The engine on hand-made data: trust and dislikes move rankings, fallbacks fill, history is never repeated."""

from dataclasses import replace

import numpy as np

from plugin.recommend import engine
from plugin.recommend.data import Interactions, TrustEdges
from plugin.recommend.engine import Kind, Params

# no department signals, so only neighbours, trust and popularity move the rankings below
PLAIN = Params(department_weight=0.0, group_popularity_weight=0.0, history_half_life=0.0)


def _all(model: engine.Model, k: int, **kwargs) -> engine.Recommendations:
    batches = list(engine.recommend(model, k, **kwargs))
    order = np.argsort(np.concatenate([b.learner for b in batches]))
    return engine.Recommendations(
        *(
            np.concatenate([getattr(b, f) for b in batches])[order]
            for f in ("learner", "item", "score", "because", "kind")
        )
    )


def _ranked(model: engine.Model, learner: str, k: int = 5) -> list[str]:
    who = model.data.learners.index(learner)
    batch = next(engine.recommend(model, k, learners=np.array([who])))
    return [model.data.items[i] for i in batch.item[0] if i >= 0]


def _crowd(extra: list[tuple]) -> Interactions:
    """x is taken with p by three learners and with q by three others; 'me' took only x."""
    rows = [(f"p{n}", "x", None, None, None) for n in range(3)] + [(f"p{n}", "p", None, None, None) for n in range(3)]
    rows += [(f"q{n}", "x", None, None, None) for n in range(3)] + [(f"q{n}", "q", None, None, None) for n in range(3)]
    rows += [("p0", "pp", None, None, None)]  # p a bit more popular overall via p's takers only
    rows += [("me", "x", None, None, None)]
    return Interactions.from_records(rows + extra)


def test_following_someone_changes_the_ranking() -> None:
    data = _crowd([("friend", "q", 5.0, None, None), ("friend", "zz", None, None, None)])
    params = replace(PLAIN, trust_weight=1.0, agreement_weight=0.0)
    without = _ranked(engine.fit(data, params), "me")
    me, friend = data.learners.index("me"), data.learners.index("friend")
    follow = TrustEdges.from_pairs([(me, friend, 1.0)])
    with_trust = _ranked(engine.fit(data, params, trust=follow), "me")
    assert without.index("p") < without.index("q")
    assert with_trust.index("q") < with_trust.index("p")


def test_rating_agreement_makes_a_like_minded_learner_count() -> None:
    def crowd(twin_ratings: tuple[float, float]) -> Interactions:
        mine = [("me", "a", 5.0, None, None), ("me", "b", 1.0, None, None)]
        twin = [("twin", "a", twin_ratings[0], None, None), ("twin", "b", twin_ratings[1], None, None)]
        # a and b are mostly taken with p, so without trust they point to p
        p_crowd = [(f"p{n}", item, None, None, None) for n in range(3) for item in ("a", "b")]
        return _crowd([*mine, *twin, *p_crowd, ("twin", "q", 5.0, None, None)])

    params = replace(PLAIN, trust_weight=1.0, agreement_min_corated=2)
    agreeing = _ranked(engine.fit(crowd((5.0, 1.0)), params), "me")
    disagreeing = _ranked(engine.fit(crowd((1.0, 5.0)), params), "me")
    assert agreeing.index("q") < agreeing.index("p")
    assert disagreeing.index("p") < disagreeing.index("q")


def test_a_dislike_pushes_its_neighbours_down() -> None:
    def crowd(rating_of_y: float) -> Interactions:
        rows = []
        for n in range(4):
            rows += [(f"a{n}", "x", None, None, None), (f"a{n}", "near-x", None, None, None)]
            rows += [(f"b{n}", "y", None, None, None), (f"b{n}", "near-y", None, None, None)]
        rows += [("b0", "extra", None, None, None)]  # near-y's takers are also more active
        return Interactions.from_records([*rows, ("me", "x", None, None, None), ("me", "y", rating_of_y, None, None)])

    liked = engine.fit(crowd(5.0), PLAIN)
    disliked = engine.fit(crowd(1.0), PLAIN)
    assert _ranked(liked, "me").index("near-y") < _ranked(liked, "me").index("near-x")
    ranking = _ranked(disliked, "me")
    assert ranking.index("near-x") < ranking.index("near-y")
    me = liked.data.learners.index("me")
    near_y = liked.data.items.index("near-y")
    score = {}
    for name, model in (("liked", liked), ("disliked", disliked)):
        batch = next(engine.recommend(model, 5, learners=np.array([me])))
        score[name] = batch.score[0][list(batch.item[0]).index(near_y)]
    assert score["disliked"] < 0 < score["liked"]


def _office() -> Interactions:
    rows = []
    for n in range(6):
        rows += [(f"s{n}", "crm", 4.0, 1000.0 + n, "Sales"), (f"s{n}", "pitch", None, 900.0, "Sales")]
    for n in range(4):
        rows += [(f"f{n}", "ledger", None, 800.0, "Finance"), (f"f{n}", "excel", 5.0, 700.0, "Finance")]
    rows += [("f0", "crm", None, 600.0, "Finance"), ("s0", "excel", 2.0, 500.0, "Sales")]
    rows += [("newbie", "nothing-yet", None, None, "Sales")]
    return Interactions.from_records(rows, items=["zz-unused"])


def test_every_learner_gets_k_unseen_items_in_non_increasing_order() -> None:
    data = _office()
    model = engine.fit(data)
    recs = _all(model, 3)
    assert recs.learner.tolist() == list(range(data.n_learners))
    seen = {(int(who), int(i)) for who, i in zip(data.learner_idx, data.item_idx, strict=True)}
    for row in range(data.n_learners):
        items = recs.item[row]
        assert (items >= 0).all()  # 6 items, at most 3 seen: 3 always fit
        assert len(set(items.tolist())) == 3
        assert not any((row, int(i)) in seen for i in items)
        assert (np.diff(recs.score[row]) <= 0).all()
    assert recs.item.dtype == np.int32 and recs.kind.dtype == np.uint8 and recs.score.dtype == np.float32


def test_a_newcomer_gets_department_favourites_then_global_ones() -> None:
    data = _office()
    model = engine.fit(data)
    newbie = data.learners.index("newbie")
    batch = next(engine.recommend(model, 6, learners=np.array([newbie])))
    names = [data.items[i] for i in batch.item[0]]
    assert names[:2] == ["crm", "pitch"]  # taken by most of Sales
    assert batch.kind[0][:2].tolist() == [Kind.GROUP_POPULAR, Kind.GROUP_POPULAR]
    assert names[2:5] == ["excel", "ledger", "zz-unused"]  # then by global popularity
    assert batch.kind[0][2:5].tolist() == [Kind.POPULAR, Kind.POPULAR, Kind.NONE]  # nobody took zz-unused
    assert batch.item[0][5] == -1  # five items are not in the newbie's history
    assert (batch.because[0] == -1).all()


def test_k_larger_than_the_catalogue_pads_with_minus_one() -> None:
    data = _office()
    model = engine.fit(data)
    recs = _all(model, 20)
    for row in range(data.n_learners):
        taken = int((data.learner_idx == row).sum())
        assert (recs.item[row] >= 0).sum() == data.n_items - taken
        padded = recs.item[row] < 0
        assert np.isneginf(recs.score[row][padded]).all()
        assert (recs.kind[row][padded] == Kind.NONE).all() and (recs.because[row][padded] == -1).all()


def test_ties_are_broken_by_item_label() -> None:
    rows = [(f"l{n}", item, None, None, None) for n, item in enumerate(["delta", "alpha", "charlie", "bravo"])]
    data = Interactions.from_records([*rows, ("cold", "echo", None, None, None)])
    ranked = _ranked(engine.fit(data, PLAIN), "cold", 4)
    assert ranked == ["alpha", "bravo", "charlie", "delta"]


def test_because_names_the_history_item_behind_a_neighbour() -> None:
    data = _crowd([])
    model = engine.fit(data, PLAIN)
    me = data.learners.index("me")
    batch = next(engine.recommend(model, 2, learners=np.array([me])))
    assert batch.kind[0].tolist() == [Kind.NEIGHBOURS, Kind.NEIGHBOURS]
    assert [data.items[i] for i in batch.because[0]] == ["x", "x"]


def test_fit_and_recommend_are_deterministic_and_batching_does_not_matter() -> None:
    data = _office()
    first = _all(engine.fit(data), 3, batch_size=2)
    second = _all(engine.fit(data), 3, batch_size=1000)
    threaded = _all(engine.fit(data), 3, batch_size=3, workers=2)
    for field in ("item", "score", "because", "kind"):
        np.testing.assert_array_equal(getattr(first, field), getattr(second, field))
        np.testing.assert_array_equal(getattr(first, field), getattr(threaded, field))


def test_explain_counts_colleagues_and_everyone_who_liked_because_and_took_item() -> None:
    data = _office()
    model = engine.fit(data)
    item = data.items.index
    who = data.learners.index
    # s1 asks: who rated crm >= 4 and took pitch? s0, s2..s5 (Sales); s1 itself excluded
    in_group, overall = engine.explain(
        model,
        np.array([who("s1"), who("f1"), who("f1"), who("s1")]),
        np.array([item("pitch"), item("crm"), item("ledger"), item("pitch")]),
        np.array([item("crm"), item("excel"), item("excel"), -1]),
    )
    assert in_group.tolist() == [5, 1, 3, 0]  # f0 liked excel and took crm; f0, f2, f3 took ledger
    assert overall.tolist() == [5, 1, 3, 0]
    in_group, overall = engine.explain(
        model, np.array([who("f1")]), np.array([item("crm")]), np.array([item("excel")]), min_rating=2.0
    )
    assert overall.tolist() == [2] and in_group.tolist() == [1]  # s0 rated excel 2 and took crm: not a colleague


def test_also_took_counts_co_takers_and_their_mean_rating() -> None:
    data = _office()
    result = engine.also_took(engine.fit(data), 2)
    pairs = {
        (data.items[i], data.items[o]): (int(t), float(m))
        for i, o, t, m in zip(result.item, result.other, result.takers, result.mean_rating, strict=True)
    }
    assert pairs[("pitch", "crm")] == (6, 4.0)
    assert pairs[("ledger", "excel")] == (4, 5.0)
    crm_first = [data.items[o] for i, o in zip(result.item, result.other, strict=True) if data.items[i] == "crm"]
    assert crm_first == ["pitch", "excel"]  # 6 co-takers, then 2 (s0 and f0)
    excel = pairs[("crm", "excel")]
    assert excel == (2, 3.5)  # s0 rated it 2, f0 rated it 5
    ledger_rating = pairs[("excel", "ledger")][1]
    assert np.isnan(ledger_rating)  # nobody rated ledger


def test_empty_data_and_learners_without_rows_do_not_break() -> None:
    empty = engine.fit(Interactions.from_records([]))
    assert list(engine.recommend(empty, 3)) == []
    assert engine.also_took(empty, 2).item.size == 0
    data = Interactions.from_arrays(
        ["a", "b"], ["z", "x", "y"], ["g"], np.array([0, -1]), np.array([], np.int32), np.array([], np.int32)
    )
    recs = _all(engine.fit(data), 2)
    assert [[data.items[i] for i in row] for row in recs.item] == [["x", "y"], ["x", "y"]]
    assert (recs.kind == Kind.NONE).all()
