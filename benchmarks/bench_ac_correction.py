"""Wall time of the AC correction: ``evtp strategy CASE --strategy S`` with and without it.

Usage: ``python -m benchmarks.bench_ac_correction [CASE] [STRATEGY]`` (default feeder1000-ev
grid). The case is built once; each run is the job itself (model build, solves, AC checks,
tables), uncorrected first, then corrected, in this one process. Prints one row per run and
the ratio corrected / uncorrected (target: <= 2).

``python -m benchmarks.bench_ac_correction --targets [CASE ...]`` (default: every built-in
case) runs every command that enforces grid limits (:func:`target_runs`) and prints the final
AC loading and voltages of each, and whether they keep the limits within 1e-3.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

import numpy as np

from cases.builtin import BUILTIN, load_case
from cases.case import Case
from coupling.jobs.strategy import run_strategy
from coupling.output.runfolder import Run


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


TARGET_STRATEGIES = ("grid", "smart", "v2g", "smart-q", "v2g-q")


def target_runs(case_name: str) -> list[tuple[str, Callable[[Case], Run]]]:
    """Every command that enforces grid limits on ``case_name``, as (label, job): opf; the
    strategies with limits (cases with a stationary fleet); the tariff by both mechanisms
    (one for the fleet capacity market, which is always subgradient)."""
    from coupling.jobs.grid import run_opf
    from coupling.jobs.tariff import TariffOptions, is_fleet_market, run_tariff

    case = load_case(case_name)
    runs: list[tuple[str, Callable[[Case], Run]]] = [("opf", run_opf)]
    if case.fleet is not None:
        runs += [(f"strategy {s}", lambda c, s=s: run_strategy(c, s)) for s in TARGET_STRATEGIES]
    if case.traffic is not None or case.fleet is not None:
        mechs = ("subgradient",) if is_fleet_market(case) else ("dlmp", "subgradient")
        runs += [
            (f"tariff {m}", lambda c, m=m: run_tariff(c, TariffOptions(mechanism=m))) for m in mechs
        ]
    return runs


def ac_figures(case: Case, run: Run) -> dict:
    """Final AC figures of a run and its excess over the nominal limits: loading above 1
    (fraction) and voltage outside [v_min, v_max] (pu), the worst bus."""
    s = run.summary
    f = case.feeder
    v = run.tables["buses"] if "buses" in run.tables else None
    if v is not None and "v_pu_ac" in v:
        lo = f.buses.set_index("bus")["v_min_pu"].reindex(v["bus"]).to_numpy()
        hi = f.buses.set_index("bus")["v_max_pu"].reindex(v["bus"]).to_numpy()
        slack = (v["bus"] == f.slack_bus).to_numpy()
        vx = np.maximum(lo - v["v_pu_ac"].to_numpy(), v["v_pu_ac"].to_numpy() - hi)
        v_excess = float(vx[~slack].max(initial=0.0))
    else:
        v_lo = float(f.buses["v_min_pu"].min())
        v_hi = float(f.buses["v_max_pu"].max())
        v_excess = max(v_lo - s["min_voltage_ac_pu"], s["max_voltage_ac_pu"] - v_hi)
    return {
        "loading_ac": s["max_line_loading_ac"],
        "min_v_ac": s["min_voltage_ac_pu"],
        "max_v_ac": s["max_voltage_ac_pu"],
        "loading_excess": max(s["max_line_loading_ac"] - 1.0, 0.0),
        "voltage_excess_pu": max(v_excess, 0.0),
        "ac_resolves": s.get("ac_resolves"),
    }


def targets(case_names: list[str]) -> list[dict]:
    """Run every limit-enforcing command on each case; print one table row per run."""
    print("| case | command | wall (s) | re-solves | loading AC | min V AC | max V AC | ok |")
    print("|---|---|---|---|---|---|---|---|")
    rows = []
    for name in case_names:
        case = load_case(name)
        for label, job in target_runs(name):
            t0 = time.perf_counter()
            run = job(case)
            r = {"case": name, "command": label, "wall_s": time.perf_counter() - t0}
            r |= ac_figures(case, run)
            r["ok"] = r["loading_excess"] <= 1e-3 and r["voltage_excess_pu"] <= 1e-3
            rows.append(r)
            print(
                f"| {name} | {label} | {r['wall_s']:.1f} | {r['ac_resolves']} | "
                f"{r['loading_ac']:.4f} | {r['min_v_ac']:.4f} | {r['max_v_ac']:.4f} | "
                f"{'yes' if r['ok'] else 'NO'} |",
                flush=True,
            )
    return rows


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--targets":
        targets(sys.argv[2:] or list(BUILTIN))
    else:
        main(*sys.argv[1:3])
