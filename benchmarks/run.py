"""evtp benchmarks: one command, a table on stdout and JSON in benchmarks/results.json.

    python -m benchmarks.run            # all
    python -m benchmarks.run grid-ieee33 strategy-cigre-mv-ev   # some

Each benchmark runs in its own process so that its peak memory (max RSS) is its own. Times:
``build_s`` Pyomo model construction, ``handover_s`` compiling the model and passing it to the
solver, ``solve_s`` the solver itself (plus reading the solution back), ``direct_s`` the same
LP built with numpy/scipy and solved through highspy's matrix API, ``ratio`` = (build +
hand-over + solve) / direct. The Sioux Falls traffic benchmark is ``benchmarks/bench_traffic.py``.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from pathlib import Path


def _grid_strategy(case_name: str) -> dict:
    from benchmarks.direct_highspy import build_and_solve
    from cases.builtin import load_case
    from coupling.jobs.strategy import STRATEGIES, build_strategy_model
    from power.solve import solve

    case = load_case(case_name)
    t0 = time.perf_counter()
    m = build_strategy_model(case, case.fleet, STRATEGIES["grid"])
    t1 = time.perf_counter()
    res = solve(m, duals=True)
    direct = build_and_solve(case.feeder, case.fleet)
    f = case.feeder
    base = float((f.price_per_kwh * (f.load_p_kw - f.renewable_p_kw()).sum(0)).sum() * f.dt_h)
    total = (t1 - t0) + res.solve_s
    return {
        "buses": len(f.bus_ids),
        "evs": case.fleet.n,
        "steps": f.steps,
        "build_s": t1 - t0,
        "handover_s": res.handover_s,
        "solve_s": res.solve_s - res.handover_s,
        "direct_build_s": direct["build_s"],
        "direct_solve_s": direct["solve_s"],
        "ratio": total / (direct["build_s"] + direct["solve_s"]),
        "objective_gap": abs(res.objective - (direct["objective"] - base)),
    }


def _grid_opf(n_buses: int | str) -> dict:
    import pyomo.environ as pyo

    from benchmarks.direct_highspy import build_and_solve
    from benchmarks.synthetic import synthetic_feeder
    from cases.builtin import load_case
    from power.lindistflow import add_lindistflow
    from power.solve import solve

    f = load_case(n_buses).feeder if isinstance(n_buses, str) else synthetic_feeder(n_buses)
    t0 = time.perf_counter()
    m = pyo.ConcreteModel()
    m.grid = pyo.Block()
    add_lindistflow(m.grid, f)
    m.obj = pyo.Objective(expr=m.grid.cost)
    t1 = time.perf_counter()
    res = solve(m)
    direct = build_and_solve(f)
    return {
        "buses": len(f.bus_ids),
        "evs": 0,
        "steps": f.steps,
        "build_s": t1 - t0,
        "handover_s": res.handover_s,
        "solve_s": res.solve_s - res.handover_s,
        "direct_build_s": direct["build_s"],
        "direct_solve_s": direct["solve_s"],
        "ratio": ((t1 - t0) + res.solve_s) / (direct["build_s"] + direct["solve_s"]),
        "objective_gap": abs(res.objective - direct["objective"]),
    }


def _tariff() -> dict:
    from cases.builtin import load_case
    from coupling.jobs.tariff import TariffOptions, run_tariff

    case = load_case("tn20-dn17")
    t0 = time.perf_counter()
    s = run_tariff(case, TariffOptions(samples=200)).summary
    return {
        "buses": len(case.feeder.bus_ids),
        "evs": 10000,
        "steps": case.time.steps,
        "build_s": s["build_s"],
        "handover_s": None,
        "solve_s": s["solve_s"],
        "wall_s": time.perf_counter() - t0,
        "iterations": s["iterations"],
    }


BENCHMARKS = {
    "grid-ieee33": lambda: _grid_opf("ieee33"),
    "grid-synthetic-1000x96": lambda: _grid_opf(1000),
    "strategy-cigre-mv-ev": lambda: _grid_strategy("cigre-mv-ev"),
    "strategy-feeder1000-ev": lambda: _grid_strategy("feeder1000-ev"),
    "tariff-tn20-dn17": _tariff,
}


def _child(name: str) -> None:
    out = BENCHMARKS[name]()
    out["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(json.dumps(out))


def main(names: list[str]) -> None:
    names = names or list(BENCHMARKS)
    rows = {}
    for name in names:
        r = subprocess.run(
            [sys.executable, "-m", "benchmarks.run", "--child", name],
            capture_output=True,
            text=True,
        )
        if r.returncode != 0:
            print(f"{name}: failed\n{r.stderr[-2000:]}", file=sys.stderr)
            continue
        rows[name] = json.loads(r.stdout.strip().splitlines()[-1])
    cols = ["buses", "evs", "steps", "build_s", "handover_s", "solve_s", "direct_build_s",
            "direct_solve_s", "ratio", "peak_mb"]  # fmt: skip
    print(f"{'benchmark':<26}" + "".join(f"{c:>15}" for c in cols))
    for name, row in rows.items():
        cells = []
        for c in cols:
            v = row.get(c)
            cells.append(
                f"{'-':>15}" if v is None else f"{v:>15.3g}" if isinstance(v, float) else f"{v:>15}"
            )
        print(f"{name:<26}" + "".join(cells))
    path = Path(__file__).with_name("results.json")
    path.write_text(json.dumps(rows, indent=2) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        _child(sys.argv[2])
    else:
        main(sys.argv[1:])
