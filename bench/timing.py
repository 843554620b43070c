"""Interleaved timing: baseline and candidate alternate, so machine noise hits both alike."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def compare(
    baseline: Callable[[], object], candidate: Callable[[], object], *, rounds: int = 15, calls: int = 200
) -> tuple[float, float, float]:
    """Return (baseline seconds per call, candidate seconds per call, median ratio candidate/baseline)."""
    for fn in (baseline, candidate):  # warm up
        for _ in range(calls // 10):
            fn()
    ratios, base_times, cand_times = [], [], []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(calls):
            baseline()
        base = (time.perf_counter() - start) / calls
        start = time.perf_counter()
        for _ in range(calls):
            candidate()
        cand = (time.perf_counter() - start) / calls
        base_times.append(base)
        cand_times.append(cand)
        ratios.append(cand / base)
    return statistics.median(base_times), statistics.median(cand_times), statistics.median(ratios)


def report(name: str, base: float, cand: float, ratio: float) -> None:
    print(f"{name:<40} baseline {base * 1e6:8.1f} us  ours {cand * 1e6:8.1f} us  ratio {ratio:5.2f}x")
