"""Benchmark: linear DTA on Sioux Falls (issue 4, Performance).

Sioux Falls with 1 % of the trips as EVs, k = 3 paths per OD, 96 steps of 15 min, four
fast-charging stations at the nodes with the most trip ends, energy price only (no grid).
Prints build and solve times (s) and the model size as a table.

Defaults: mean departure SOC 0.3, stops only on paths of ODs that may need charging
(``--stops all`` lets every path stop at every station on it: ~1.7x the rows, ~2x the solve
time), flows at most 4 steps (1 h) later than free flow, HiGHS interior point without
crossover (dual simplex is several times slower on this degenerate LP). "solve s" includes
Pyomo's hand-over of the model to HiGHS (about a quarter of it).

The same LP is then built and solved in the matrix engine (:mod:`engine`), with the same
objective checked, and both paths' totals (build, hand-over, solve, result tables) printed.

Run: ``python -m benchmarks.bench_traffic [--max-delay STEPS]``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyomo.environ as pyo
from pyomo.contrib.solver.common.factory import SolverFactory

from traffic.dta import DtaOptions, add_linear_dta, dta_layout, traffic_cost_expr
from traffic.network import Stations
from traffic.paths import k_shortest_paths
from traffic.tntp import tntp_to_traffic

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "transportation-networks"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--max-delay", type=int, default=4, help="steps late vs free flow (-1: none)")
    ap.add_argument("--soc", type=float, default=0.3, help="mean SOC at departure")
    ap.add_argument("--solver", default="ipm", help="HiGHS method: ipm (no crossover) or simplex")
    ap.add_argument("--share", type=float, default=0.01)
    ap.add_argument("--stops", default="needed", choices=["all", "needed"])
    ap.add_argument(
        "--penalty", type=float, default=1000.0, help="currency per vehicle not arrived"
    )
    ap.add_argument("--tee", action="store_true", help="show the HiGHS log")
    args = ap.parse_args()
    sf = DATA / "SiouxFalls"
    steps, dt_h = 96, 0.25
    t0 = time.perf_counter()
    net, dem = tntp_to_traffic(
        sf / "SiouxFalls_net.tntp",
        sf / "SiouxFalls_trips.tntp",
        sf / "SiouxFalls_node.tntp",
        steps=steps,
        dt_h=dt_h,
        ev_share=args.share,
        soc_departure=args.soc,
    )
    ends = dem.table.groupby("destination")["vehicles"].sum().nlargest(4).index
    stations = Stations(
        pd.DataFrame(
            {
                "station": [f"F{n}" for n in ends],
                "node": list(ends),
                "bus": [str(i + 1) for i in range(len(ends))],
                "plugs": 20,
                "charger_kw": "50;150",
                "efficiency": 0.95,
            }
        )
    )
    paths = k_shortest_paths(net, dem, 3, stations, stops=args.stops)
    t_data = time.perf_counter() - t0

    t0 = time.perf_counter()
    m = pyo.ConcreteModel()
    opts = DtaOptions(
        cost_per_vehicle_step=2.0,
        penalty_per_vehicle=args.penalty,
        max_delay_steps=None if args.max_delay < 0 else args.max_delay,
    )
    add_linear_dta(m, dta_layout(net, stations, dem, paths, steps, dt_h, 60.0, opts))
    price = 0.2 + 0.1 * np.sin(np.arange(steps) / steps * 2 * np.pi)
    m.obj = pyo.Objective(expr=traffic_cost_expr(m, price))
    t_build = time.perf_counter() - t0

    t0 = time.perf_counter()
    solver_options = {"solver": args.solver}
    if args.solver == "ipm":
        solver_options["run_crossover"] = "off"
    res = SolverFactory("highs").solve(m, solver_options=solver_options, tee=args.tee)
    t_solve = time.perf_counter() - t0

    # the same LP in the matrix engine: build (structure + sets + assembly), hand-over, solve,
    # result tables
    from engine.assemble import assemble
    from engine.highs import solve_highs
    from engine.problem import Problem
    from engine.router import values
    from traffic.dta_engine import declare_dta, declare_dta_costs
    from traffic.results import dta_results, tables_from_values

    t0 = time.perf_counter()
    dta_results(m)
    t_pyomo_tables = time.perf_counter() - t0
    t0 = time.perf_counter()
    st = dta_layout(net, stations, dem, paths, steps, dt_h, 60.0, opts)
    prob = Problem()
    declare_dta(prob, st)
    declare_dta_costs(prob, st, price)
    asm = assemble(prob)
    t_e_build = time.perf_counter() - t0
    opts_e = {"run_crossover": "off"} if args.solver == "ipm" else {}
    sol = solve_highs(asm, method=args.solver, **opts_e)
    t0 = time.perf_counter()
    tables_from_values(st.index, values(sol, "veh_min"), values(sol, "veh_max"))
    t_e_tables = time.perf_counter() - t0
    assert abs(sol.objective - pyo.value(m.obj)) <= 1e-6 * abs(sol.objective), sol.objective
    # by independent parts (engine/split.py), as evtp traffic solves it
    from engine.split import parts, solve_split

    n_parts = parts(asm).n
    t0 = time.perf_counter()
    by_parts = solve_split(asm, lambda a: solve_highs(a, method=args.solver, **opts_e))
    t_split = time.perf_counter() - t0
    assert abs(by_parts.objective - sol.objective) <= 1e-6 * abs(sol.objective)
    e_total = t_e_build + sol.handover_s + sol.solve_s + t_e_tables
    p_total = t_build + t_solve + t_pyomo_tables

    rows = len(m.balance_veh) * 2 + len(m.exit_capacity) + len(m.plugs)
    table = [
        ("paths", len(paths.paths)),
        ("paths with stops", sum(1 for p in paths.paths if p.stops)),
        ("variables", 2 * len(m.veh_min)),
        ("rows", rows),
        ("EVs", float(dem.table["vehicles"].sum())),
        ("arrived", round(pyo.value(m.vehicles_arrived), 3)),
        ("objective", round(pyo.value(m.obj), 2)),
        ("status", str(res.termination_condition).split(".")[-1]),
        ("data + paths s", round(t_data, 2)),
        ("build s", round(t_build, 2)),
        ("solve s", round(t_solve, 2)),
        ("build + solve s", round(t_build + t_solve, 2)),
        ("result tables s", round(t_pyomo_tables, 2)),
        ("Pyomo path total s", round(p_total, 2)),
        ("engine build s", round(t_e_build, 2)),
        ("engine hand-over s", round(sol.handover_s, 2)),
        ("engine solve s", round(sol.solve_s, 2)),
        ("engine result tables s", round(t_e_tables, 2)),
        ("engine total s", round(e_total, 2)),
        ("engine / Pyomo", round(e_total / p_total, 2)),
        ("independent parts", n_parts),
        ("engine by parts: hand-over + solve s", round(t_split, 2)),
    ]
    w = max(len(k) for k, _ in table)
    print(
        f"Sioux Falls, {args.share:.0%} EVs, k=3, {steps} x {dt_h * 60:g} min, "
        f"max_delay={args.max_delay}, soc={args.soc}, stops={args.stops}, HiGHS {args.solver}"
    )
    for k, v in table:
        print(f"  {k:<{w}}  {v}")


if __name__ == "__main__":
    main()
