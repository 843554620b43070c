"""``wordofmouth recommend batch`` end to end on the synthetic corporate set, with implicit as a yardstick.

1. The CLI runs as a subprocess of a small wrapper process, which reports the wall time and the peak resident
   memory of its only child (``resource.getrusage(RUSAGE_CHILDREN)``): read the CSV, fit, top-10 for every
   learner, write the CSV. Budget at full size (100,000 learners, 10,000 items, 2,000,000 rows): 60 s, 4 GB.
2. In this process, on the same interactions: the engine's fit + recommend-for-all against implicit's
   ``CosineRecommender`` (item-item, K=50, binary matrix, all cores) fit + recommend-for-all, interleaved, so
   the ratio says how the engine's cost compares on this machine at this moment.

``python -m bench.recommend_batch`` (full size; generates ``.benchmarks/synthetic-full.csv`` once, which takes
a few seconds) or ``--tiny`` (seconds, used by the tests). Not part of ``python -m bench``: the full run takes
minutes.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import click
import numpy as np

from bench import synthetic as synthetic_csv
from plugin.recommend import engine, offline

CACHE = Path(__file__).resolve().parent.parent / ".benchmarks"
TIME_BUDGET = 60.0
MEMORY_BUDGET = 4 * 1024**3

WRAPPER = """
import json, resource, subprocess, sys, time
start = time.perf_counter()
done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
print(json.dumps({"seconds": seconds, "peak": peak, "code": done.returncode, "stderr": done.stderr[-2000:]}))
"""


@dataclass
class Result:
    rows: int
    learners: int
    seconds: float
    peak_bytes: int
    engine_seconds: float
    implicit_seconds: float

    @property
    def ratio(self) -> float:
        return self.engine_seconds / self.implicit_seconds


def run_cli(source: Path, out: Path, k: int = 10) -> dict[str, float]:
    """The CLI under the wrapper; returns seconds and peak bytes of the CLI process."""
    cli = [sys.executable, "-c", "from plugin.cli import main; main()", "recommend", "batch"]
    cli += ["--interactions", str(source), "--k", str(k), "--out", str(out)]
    done = subprocess.run([sys.executable, "-c", WRAPPER, *cli], capture_output=True, text=True, check=True)
    report = json.loads(done.stdout)
    if report["code"] != 0:
        raise RuntimeError(f"recommend batch failed: {report['stderr']}")
    return report


def _engine(data: offline.Interactions, k: int) -> float:
    start = time.perf_counter()
    model = engine.fit(data)
    for _ in engine.recommend(model, k):
        pass
    return time.perf_counter() - start


def _implicit(data: offline.Interactions, k: int) -> float:
    from implicit.nearest_neighbours import CosineRecommender

    start = time.perf_counter()
    user_items = data.matrix().tocsr()
    model = CosineRecommender(K=50)
    with warnings.catch_warnings():  # implicit warns about a matrix it converts itself
        warnings.simplefilter("ignore")
        model.fit(user_items, show_progress=False)
    learners = np.arange(data.n_learners)
    for begin in range(0, learners.size, 10_000):
        chunk = learners[begin : begin + 10_000]
        model.recommend(chunk, user_items[chunk], N=k, filter_already_liked_items=True)
    return time.perf_counter() - start


def run(tiny: bool = False, k: int = 10, rounds: int = 1) -> Result:
    with tempfile.TemporaryDirectory() as folder:
        if tiny:
            source = Path(folder) / "synthetic-tiny.csv"
            synthetic_csv.write(source, synthetic_csv.TINY)
        else:
            source = CACHE / "synthetic-full.csv"
            if not source.exists():
                synthetic_csv.write(source, synthetic_csv.FULL)
        out = Path(folder) / "recommendations.csv"
        load_before = os.getloadavg()[0]
        report = run_cli(source, out, k)
        with open(out, encoding="utf-8") as written:
            rows = sum(1 for _ in written) - 1
        with open(source, newline="", encoding="utf-8") as handle:
            data, _ = offline.read_interactions(handle)
    ours, theirs = [], []
    for _ in range(rounds):
        ours.append(_engine(data, k))
        theirs.append(_implicit(data, k))
    result = Result(
        rows=rows,
        learners=data.n_learners,
        seconds=report["seconds"],
        peak_bytes=int(report["peak"]),
        engine_seconds=statistics.median(ours),
        implicit_seconds=statistics.median(theirs),
    )
    size = "tiny" if tiny else "full"
    load = f"load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after, on {os.cpu_count()} CPUs"
    print(
        f"recommend batch ({size}: {data.n_learners} learners, {data.n_items} items, {len(data)} pairs): "
        f"{result.seconds:.1f} s end to end (budget {TIME_BUDGET:.0f} s), peak {result.peak_bytes / 1024**2:.0f} MiB "
        f"(budget {MEMORY_BUDGET / 1024**3:.0f} GiB), {rows} rows written; {load}"
    )
    print(
        f"fit + top-{k} for all: engine {result.engine_seconds:.1f} s, implicit CosineRecommender K=50 "
        f"{result.implicit_seconds:.1f} s, ratio {result.ratio:.2f}x"
    )
    return result


@click.command()
@click.option("--tiny", is_flag=True, help="A few thousand rows (seconds).")
@click.option("--rounds", default=1, show_default=True, help="Engine/implicit timings, interleaved; median kept.")
def main(tiny: bool, rounds: int) -> None:
    run(tiny=tiny, rounds=rounds)


if __name__ == "__main__":
    main()
