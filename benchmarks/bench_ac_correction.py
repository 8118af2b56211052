"""Wall time of the AC correction: ``evtp strategy CASE --strategy S`` with and without it.

Usage: ``python -m benchmarks.bench_ac_correction [CASE] [STRATEGY]`` (default feeder1000-ev
grid). The case is built once; each run is the job itself (model build, solves, AC checks,
tables), uncorrected first, then corrected, in this one process. Prints one row per run and
the ratio corrected / uncorrected (target: <= 2).
"""

from __future__ import annotations

import sys
import time

from cases.builtin import load_case
from coupling.strategy_job import run_strategy


def main(case_name: str = "feeder1000-ev", strategy: str = "grid") -> list[dict]:
    t0 = time.perf_counter()
    case = load_case(case_name)
    build_s = time.perf_counter() - t0
    rows = []
    for corrected in (False, True):
        t0 = time.perf_counter()
        run = run_strategy(case, strategy, ac_correction=corrected)
        wall = time.perf_counter() - t0
        s = run.summary
        rows.append(
            {
                "run": "corrected" if corrected else "uncorrected",
                "wall_s": wall,
                "re-solves": s["ac_resolves"],
                "loading_lin": s["max_line_loading"],
                "loading_ac": s["max_line_loading_ac"],
                "min_v_lin": s["min_voltage_pu"],
                "min_v_ac": s["min_voltage_ac_pu"],
                "objective": s["objective"],
            }
        )
    print(f"{case_name} --strategy {strategy} (case build {build_s:.1f} s, not in wall_s)")
    print("| run | wall (s) | re-solves | loading lin | loading AC | min V lin | min V AC | obj |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['run']} | {r['wall_s']:.1f} | {r['re-solves']} | {r['loading_lin']:.4f} | "
            f"{r['loading_ac']:.4f} | {r['min_v_lin']:.4f} | {r['min_v_ac']:.4f} | "
            f"{r['objective']:.2f} |"
        )
    print(f"ratio corrected / uncorrected: {rows[1]['wall_s'] / rows[0]['wall_s']:.2f}")
    return rows


if __name__ == "__main__":
    main(*sys.argv[1:3])
