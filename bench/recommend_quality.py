"""Recommendation quality on held-out rows: the engine against implicit's item-item models and popularity.

Data sets:

* MovieLens 100k (GroupLens, 943 users, 1,682 films, 100,000 ratings with timestamps; each user's occupation
  is the "group"). No internet here except package registries, so it is taken from the copy that the PyPI
  wheel ``recbole==1.2.1`` ships (``recbole/dataset_example/ml-100k``): ``pip download --no-deps`` into
  ``.benchmarks/data`` (git-ignored) at bench time, read straight from the wheel, never committed.
  MovieLens' licence allows research use but not redistribution, which is why it is fetched, not stored.
* The synthetic corporate set of ``plugin.recommend.synthetic`` (at a reduced size by default).

Split: per learner the latest interaction is held out (``plugin.recommend.offline.split``); ratings <= 2
held out are not counted as hits. implicit's models get the binary "took" matrix of the same training rows,
each with its best neighbourhood size K out of 20/50/100, scored on the same learners.

``python -m bench.recommend_quality`` prints Markdown tables; ``--tiny`` runs the synthetic set only, small.
"""

from __future__ import annotations

import subprocess
import sys
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path

import click
import numpy as np

from plugin.recommend import engine, offline, synthetic
from plugin.recommend.data import Interactions

DATA = Path(__file__).resolve().parent.parent / ".benchmarks" / "data"
RECBOLE = "recbole==1.2.1"
ML100K = "recbole/dataset_example/ml-100k/ml-100k"


def movielens_100k(folder: Path = DATA) -> Interactions | None:
    """MovieLens 100k from the recbole wheel (downloaded once with pip), or None when it cannot be had."""
    wheels = sorted(folder.glob("recbole-1.2.1-*.whl"))
    if not wheels:
        folder.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", RECBOLE, "-d", str(folder)],
            capture_output=True,
            text=True,
            check=False,
        )
        wheels = sorted(folder.glob("recbole-1.2.1-*.whl"))
        if done.returncode != 0 or not wheels:
            print(f"MovieLens 100k unavailable: pip download {RECBOLE} failed: {done.stderr.strip()[:300]}")
            return None
    with zipfile.ZipFile(wheels[0]) as wheel:
        users = wheel.read(ML100K + ".user").decode().splitlines()[1:]
        inter = wheel.read(ML100K + ".inter").decode().splitlines()[1:]
    occupation = {}
    for line in users:
        user_id, _age, _gender, job, _zip = line.split("\t")
        occupation[user_id] = job
    records = []
    for line in inter:
        user_id, item_id, rating, stamp = line.split("\t")
        records.append((user_id, item_id, float(rating), float(stamp), occupation.get(user_id)))
    return Interactions.from_records(records)


def synthetic_set(learners: int, departments: int, items: int, interactions: int, seed: int = 0) -> Interactions:
    return Interactions.from_records(synthetic.generate(learners, departments, items, interactions, 0.2, seed))


def implicit_recommender(kind: str, neighbours: int) -> offline.Recommender:
    """implicit's ItemItem models on the binary matrix, as an ``offline.Recommender``."""

    def run(train: Interactions, learners: np.ndarray, k: int) -> np.ndarray:
        from implicit.nearest_neighbours import BM25Recommender, CosineRecommender

        model_type = {"cosine": CosineRecommender, "bm25": BM25Recommender}[kind]
        model = model_type(K=neighbours)
        user_items = train.matrix().tocsr()
        with warnings.catch_warnings():  # implicit warns about a matrix it converts itself
            warnings.simplefilter("ignore")
            model.fit(user_items, show_progress=False)
        ids, _ = model.recommend(learners, user_items[learners], N=k, filter_already_liked_items=True)
        return np.asarray(ids, dtype=np.int32)

    return run


def best_implicit(kind: str) -> dict[str, offline.Recommender]:
    return {f"implicit {kind} K={n}": implicit_recommender(kind, n) for n in (20, 50, 100)}


def compare(data: Interactions, k: int = 10, params: engine.Params = engine.Params()) -> dict[str, offline.Metrics]:  # noqa: B008
    """Evaluate every method on one split; keeps only the best K of each implicit model."""
    others: dict[str, offline.Recommender] = {**best_implicit("cosine"), **best_implicit("bm25")}
    results = offline.evaluate(data, k=k, params=params, others=others)
    for kind in ("cosine", "bm25"):
        names = [name for name in results if name.startswith(f"implicit {kind} ")]
        best = max(names, key=lambda name: results[name].ndcg)
        for name in names:
            if name != best:
                del results[name]
    return results


def verdict(results: dict[str, offline.Metrics]) -> str:
    ours = results["engine"].ndcg
    implicit_best = max(m.ndcg for name, m in results.items() if name.startswith("implicit"))
    pop = results["popularity"].ndcg
    return (
        f"engine NDCG {ours:.4f}: {ours / implicit_best:.2f}x best implicit item-item ({implicit_best:.4f}), "
        f"{ours / pop:.2f}x popularity ({pop:.4f})"
    )


def run(
    tiny: bool = False, k: int = 10, echo: Callable[[str], object] = print
) -> dict[str, dict[str, offline.Metrics]]:
    sets: dict[str, Callable[[], Interactions | None]] = {}
    if tiny:
        sets["synthetic (400 learners, 8 departments, 120 items, 6,000 rows)"] = lambda: synthetic_set(
            400, 8, 120, 6_000
        )
    else:
        sets["MovieLens 100k (group = occupation)"] = movielens_100k
        sets["synthetic (20,000 learners, 40 departments, 2,000 items, 400,000 rows)"] = lambda: synthetic_set(
            20_000, 40, 2_000, 400_000
        )
    out = {}
    for title, load in sets.items():
        data = load()
        if data is None:
            continue
        results = compare(data, k)
        out[title] = results
        echo(f"\n{title}\n")
        echo(offline.metrics_table(results, k))
        echo("\n" + verdict(results))
    return out


@click.command()
@click.option("--tiny", is_flag=True, help="Small synthetic set only (seconds).")
@click.option("--k", default=10, show_default=True)
def main(tiny: bool, k: int) -> None:
    run(tiny=tiny, k=k, echo=click.echo)


if __name__ == "__main__":
    main()
