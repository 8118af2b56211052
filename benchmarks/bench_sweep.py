"""Dask sweep scaling: the same Γ sweep of ``evtp tariff`` on 1 and on 2 local workers.

    python -m benchmarks.bench_sweep [CASE] [--param gamma=0:1:0.25] [--repeat 2]

Prints one row per worker count: the sweep's wall time (``sweep_wall_s``: the runs
themselves, after the workers have imported the model stack; cluster start-up excluded), the
median over ``--repeat`` sweeps, and the speed-up against 1 worker.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path


def sweep_wall(case: str, param: str, workers: int) -> float:
    """Wall time (s) of one sweep on a fresh local cluster of ``workers`` processes."""
    from coupling.sweep import run_sweep

    with tempfile.TemporaryDirectory() as tmp:
        table = run_sweep(case, param, Path(tmp) / "sweep", workers=workers)
    return float(table["sweep_wall_s"].iloc[0])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("case", nargs="?", default="tn20-dn17")
    ap.add_argument("--param", default="gamma=0:1:0.25")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--workers", default="1,2")
    a = ap.parse_args()
    counts = [int(w) for w in a.workers.split(",")]
    walls = {
        w: statistics.median(sweep_wall(a.case, a.param, w) for _ in range(a.repeat))
        for w in counts
    }
    print(f"sweep of {a.case} over {a.param} (median of {a.repeat})")
    print(f"{'workers':>8}{'wall_s':>10}{'speed-up':>10}")
    for w, s in walls.items():
        print(f"{w:>8}{s:>10.2f}{walls[counts[0]] / s:>10.2f}")


if __name__ == "__main__":
    main()
