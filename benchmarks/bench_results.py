"""Benchmark: where a solved model's results go (issue 11, the hot spots around the engine).

    python -m benchmarks.bench_results                 # both cases, current code
    python -m benchmarks.bench_results --old           # and the replaced implementations
    python -m benchmarks.bench_results feeder1000-ev   # one case

Cases:

* ``sioux-falls``: linear DTA on Sioux Falls, 1 % of the trips as EVs, k = 3 paths, 96 steps
  of 15 min, four stations (as ``benchmarks/bench_traffic.py``), HiGHS interior point
  without crossover as ``evtp traffic``; extraction = :func:`traffic.results.dta_results`.
* ``feeder1000-ev``: the grid-constrained charging strategy (889 buses, 1093 EVs, 96 steps)
  with duals; extraction = grid state + fleet schedule + DLMP table; then the AC check.

Columns (s): ``build`` Pyomo model, ``handover`` compile + pass to the solver, ``solve`` the
solver itself, ``readback`` writing primal values into the model and collecting duals /
reduced costs, ``extract`` result tables, ``ac`` the AC check, ``peak_mb`` max RSS of the
process (each row runs in its own process).

``--old`` adds rows with the implementations this benchmark's changes replaced, kept as test
references (``tests/traffic/reference_results.py``, ``tests/power/reference_solve.py``,
``tests/power/reference_pandapower.py``): per-element ``.loc`` DTA tables, dict /
ComponentMap duals filled element by element, the pandapower network created element by
element and solved without reusing its admittance matrix.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "transportation-networks"


def _sioux_falls(old: bool) -> dict:
    import numpy as np
    import pandas as pd
    import pyomo.environ as pyo

    from power.solve import solve
    from traffic.dta import DtaOptions, add_linear_dta, dta_layout, traffic_cost_expr
    from traffic.network import Stations
    from traffic.paths import k_shortest_paths
    from traffic.results import dta_results
    from traffic.tntp import tntp_to_traffic

    sf = DATA / "SiouxFalls"
    steps, dt_h = 96, 0.25
    net, dem = tntp_to_traffic(
        sf / "SiouxFalls_net.tntp",
        sf / "SiouxFalls_trips.tntp",
        sf / "SiouxFalls_node.tntp",
        steps=steps,
        dt_h=dt_h,
        ev_share=0.01,
        soc_departure=0.3,
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
    paths = k_shortest_paths(net, dem, 3, stations, stops="needed")
    t0 = time.perf_counter()
    m = pyo.ConcreteModel()
    opts = DtaOptions(cost_per_vehicle_step=2.0, penalty_per_vehicle=1000.0, max_delay_steps=4)
    add_linear_dta(m, dta_layout(net, stations, dem, paths, steps, dt_h, 60.0, opts))
    price = 0.2 + 0.1 * np.sin(np.arange(steps) / steps * 2 * np.pi)
    m.obj = pyo.Objective(expr=traffic_cost_expr(m, price))
    build = time.perf_counter() - t0
    res = solve(m, duals=False, solver="ipm", run_crossover="off")
    if old:
        from tests.traffic.reference_results import reference_dta_results as extract
    else:
        extract = dta_results
    t0 = time.perf_counter()
    extract(m)
    return {
        "variables": 2 * len(m.veh_min),
        "build": build,
        "handover": res.handover_s,
        "solve": res.solve_s - res.handover_s - res.readback_s,
        "readback": res.readback_s,
        "extract": time.perf_counter() - t0,
        "ac": None,
    }


def _feeder1000(old: bool) -> dict:
    import numpy as np

    import power.ac_check as ac_module
    import power.duals as dlmp_module  # the router reads the duals (power.duals.dual_matrix)
    from cases.builtin import load_case
    from coupling.jobs.strategy import STRATEGIES, build_strategy_model
    from power.ac_check import ac_check
    from power.dlmp import dlmp_table
    from power.fleet import fleet_results
    from power.results import grid_state
    from power.sensitivity import sensitivities
    from power.solve import solve

    case = load_case("feeder1000-ev")
    f = case.feeder
    t0 = time.perf_counter()
    m = build_strategy_model(case, case.fleet, STRATEGIES["grid"])
    build = time.perf_counter() - t0
    if old:
        from tests.power.reference_pandapower import reference_to_pandapower
        from tests.power.reference_solve import reference_solve_direct

        def old_dual_matrix(comp, rows, steps, duals):
            return np.array([[duals.get(comp[r, t], 0.0) for t in range(steps)] for r in rows])

        res = reference_solve_direct(m, True, {})
        dlmp_module.dual_matrix = old_dual_matrix
        ac_module.to_pandapower = reference_to_pandapower
        ac_module._ONLY_LOADS_CHANGE = None
    else:
        res = solve(m, duals=True)
    sens = sensitivities(f)
    t0 = time.perf_counter()
    state = grid_state(m.grid, f)
    fleet_results(m.fleet, case.fleet)
    dlmp_table(m.grid, f, sens, res.duals, res.reduced_costs)
    extract = time.perf_counter() - t0
    t0 = time.perf_counter()
    ac_check(f, state.p_net_kw, state.q_net_kvar)
    return {
        "variables": m.nvariables(),
        "build": build,
        "handover": res.handover_s,
        "solve": res.solve_s - res.handover_s - res.readback_s,
        "readback": res.readback_s,
        "extract": extract,
        "ac": time.perf_counter() - t0,
    }


BENCHMARKS = {"sioux-falls": _sioux_falls, "feeder1000-ev": _feeder1000}


def _child(name: str, old: bool) -> None:
    out = BENCHMARKS[name](old)
    out["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(json.dumps(out))


def main(args: list[str]) -> None:
    old = "--old" in args
    names = [a for a in args if a != "--old"] or list(BENCHMARKS)
    cols = ["variables", "build", "handover", "solve", "readback", "extract", "ac", "peak_mb"]
    print(f"{'benchmark':<22}{'code':>6}" + "".join(f"{c:>11}" for c in cols), flush=True)
    for name in names:
        for variant in ("new", "old") if old else ("new",):
            cmd = [sys.executable, "-m", "benchmarks.bench_results", "--child", name, variant]
            r = subprocess.run(cmd, capture_output=True, text=True)
            if r.returncode != 0:
                print(f"{name} ({variant}): failed\n{r.stderr[-2000:]}", file=sys.stderr)
                continue
            row = json.loads(r.stdout.strip().splitlines()[-1])
            cells = "".join(
                f"{'-':>11}"
                if row[c] is None
                else f"{row[c]:>11}"
                if isinstance(row[c], int)
                else f"{row[c]:>11.2f}"
                for c in cols
            )
            print(f"{name:<22}{variant:>6}{cells}", flush=True)


if __name__ == "__main__":
    if len(sys.argv) > 3 and sys.argv[1] == "--child":
        _child(sys.argv[2], sys.argv[3] == "old")
    else:
        main(sys.argv[1:])
