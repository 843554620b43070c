"""Write the synthetic corporate data set as an interactions CSV.

``python -m bench.synthetic --out .benchmarks/synthetic.csv`` (full size: 100,000 learners, 200 departments,
10,000 items, 2,000,000 interactions, 20% rated); ``--tiny`` for a few thousand rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import click

from plugin.recommend import offline, synthetic


@dataclass(frozen=True)
class Size:
    learners: int
    departments: int
    items: int
    interactions: int


FULL = Size(100_000, 200, 10_000, 2_000_000)
TINY = Size(400, 8, 120, 6_000)


def write(path: Path, size: Size = FULL, rated_share: float = 0.2, seed: int = 0) -> int:
    """Write the CSV; returns the number of rows."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = synthetic.generate(size.learners, size.departments, size.items, size.interactions, rated_share, seed)
    with open(path, "w", newline="", encoding="utf-8") as out:
        return offline.write_interactions(out, rows)


@click.command()
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--tiny", is_flag=True, help="A few thousand rows, for tests.")
@click.option("--learners", type=int, default=None)
@click.option("--departments", type=int, default=None)
@click.option("--items", type=int, default=None)
@click.option("--interactions", type=int, default=None)
@click.option("--rated-share", type=float, default=0.2, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
def main(
    out: Path,
    tiny: bool,
    learners: int | None,
    departments: int | None,
    items: int | None,
    interactions: int | None,
    rated_share: float,
    seed: int,
) -> None:
    base = TINY if tiny else FULL
    size = Size(
        learners or base.learners,
        departments or base.departments,
        items or base.items,
        interactions or base.interactions,
    )
    count = write(out, size, rated_share, seed)
    click.echo(f"wrote {count} rows to {out}")


if __name__ == "__main__":
    main()
