"""Dask sweep scaling: the same Γ sweep of ``evtp tariff`` on 1 and on 2 local workers.

    python -m benchmarks.bench_sweep [CASE] [--param gamma=0:1:0.25] [--repeat 5]

Runs the sweep on 1 and on N workers alternately (so that slow phases of a shared machine hit
both alike), ``--repeat`` times, and prints the median wall time (``sweep_wall_s``: the runs
themselves, after the workers have imported the model stack; cluster start-up excluded) and the
median, min and max of the per-pair speed-up. As a reference for what the machine itself gives,
the same is done for a pure-Python CPU loop in 1 vs N processes.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path


def sweep_wall(case: str, param: str, workers: int, samples: int) -> float:
    """Wall time (s) of one sweep on a fresh local cluster of ``workers`` processes."""
    from coupling.studies.sweep import run_sweep

    with tempfile.TemporaryDirectory() as tmp:
        table = run_sweep(case, param, Path(tmp) / "sweep", workers=workers, samples=samples)
    return float(table.attrs["sweep_wall_s"])


def _burn(n: int) -> int:
    s = 0
    for i in range(n):
        s += i * i
    return s


def burn_wall(workers: int, jobs: int = 4, n: int = 10_000_000) -> float:
    """Wall time (s) of ``jobs`` equal CPU-bound Python loops on ``workers`` processes."""
    with ProcessPoolExecutor(workers) as pool:
        list(pool.map(_burn, [1000] * workers))  # start the processes before the clock
        t0 = time.perf_counter()
        list(pool.map(_burn, [n] * jobs))
        return time.perf_counter() - t0


def _pairs(run, counts: tuple[int, int], repeat: int) -> tuple[list[float], list[float]]:
    one, many = [], []
    for _ in range(repeat):
        one.append(run(counts[0]))
        many.append(run(counts[1]))
    return one, many


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("case", nargs="?", default="tn20-dn17")
    ap.add_argument("--param", default="gamma=0:1:0.25")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--workers", type=int, default=2, help="worker count compared with 1")
    ap.add_argument("--samples", type=int, default=200, help="out-of-sample draws per point")
    a = ap.parse_args()
    counts = (1, a.workers)
    rows = {
        f"sweep {a.case} {a.param}": _pairs(
            lambda w: sweep_wall(a.case, a.param, w, a.samples), counts, a.repeat
        ),
        "CPU loop (machine reference)": _pairs(burn_wall, counts, a.repeat),
    }
    print(f"median of {a.repeat} alternating runs; speed-up = wall(1) / wall({a.workers})")
    head = f"{'benchmark':<40}{'wall 1':>9}{f'wall {a.workers}':>9}"
    print(head + f"{'speed-up':>10}{'min':>7}{'max':>7}")
    for name, (one, many) in rows.items():
        ratios = [x / y for x, y in zip(one, many)]
        print(
            f"{name:<40}{statistics.median(one):>9.2f}{statistics.median(many):>9.2f}"
            f"{statistics.median(ratios):>10.2f}{min(ratios):>7.2f}{max(ratios):>7.2f}"
        )


if __name__ == "__main__":
    main()
