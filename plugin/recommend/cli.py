"""``wordofmouth recommend …``: the engine without a database (plain click, no Flask app needed)."""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from plugin.recommend.data import Interactions

# numpy and scipy are imported by the commands, not here: every `wordofmouth` command loads this module

recommend = click.Group(
    "recommend",
    help="Course recommendations: run the engine on a CSV of interactions, or evaluate it on held-out rows.",
)


def _read(path: str) -> Interactions:
    from plugin.recommend import offline

    try:
        with open(path, newline="", encoding="utf-8") as source:
            data, skipped = offline.read_interactions(source)
    except offline.HeaderError as error:
        raise click.ClickException(str(error)) from error
    _report_skipped(skipped)
    return data


def _report_skipped(skipped: Counter[str]) -> None:
    if skipped:
        total = sum(skipped.values())
        reasons = ", ".join(f"{reason}: {count}" for reason, count in sorted(skipped.items()))
        click.echo(f"skipped {total} rows ({reasons})", err=True)


@recommend.command()
@click.option(
    "--interactions",
    "source",
    required=True,
    type=click.Path(exists=True, dir_okay=False),
    help="CSV with header learner,item,rating,timestamp,group.",
)
@click.option("--k", default=10, show_default=True, type=click.IntRange(min=1), help="Items per learner.")
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, writable=True),
    help="CSV to write: learner,item,rank,score.",
)
@click.option("--batch-size", default=1024, show_default=True, type=click.IntRange(min=1), hidden=True)
@click.option(
    "--shard",
    default="0/1",
    show_default=True,
    help="I/N: only the learners of every N-th department (those without one by learner), for N machines.",
)
@click.option("--workers", default=1, show_default=True, type=click.IntRange(min=1), help="Scoring threads.")
def batch(source: str, k: int, out: str, batch_size: int, shard: str, workers: int) -> None:
    """Top K items for every learner in INTERACTIONS, written to OUT."""
    from plugin.recommend import engine, offline

    started = time.perf_counter()
    try:
        part, parts = (int(n) for n in shard.split("/"))
        if not 0 <= part < parts:
            raise ValueError(shard)
    except ValueError as error:
        raise click.BadParameter("expected I/N with 0 <= I < N", param_hint="--shard") from error
    data = _read(source)
    model = engine.fit(data)
    learners = offline.shard(data, part, parts)
    with open(out, "w", newline="", encoding="utf-8") as target:
        batches = engine.recommend(model, k, learners=learners, batch_size=batch_size, workers=workers)
        rows = offline.write_recommendations(target, model, batches)
    click.echo(
        f"{data.n_learners} learners, {data.n_items} items, {len(data)} interactions: "
        f"wrote {rows} rows in {time.perf_counter() - started:.1f} s",
        err=True,
    )


@recommend.command()
@click.option(
    "--interactions",
    "source",
    required=True,
    type=click.Path(exists=True, dir_okay=False),
    help="CSV with header learner,item,rating,timestamp,group.",
)
@click.option(
    "--k", default=10, show_default=True, type=click.IntRange(min=1), help="Recommendations per learner scored (at K)."
)
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the random 20% split.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def evaluate(source: str, k: int, seed: int, as_json: bool) -> None:
    """Hold out rows per learner; print precision, recall, NDCG and hit rate at K against baselines."""
    from plugin.recommend import offline

    data = _read(source)
    results = offline.evaluate(data, k=k, seed=seed)
    if as_json:
        json.dump({"k": k, "methods": offline.metrics_json(results)}, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        click.echo(offline.metrics_table(results, k))
