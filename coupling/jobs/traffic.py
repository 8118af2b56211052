"""Traffic-only job (``evtp traffic``): EV routing and charging against the case's energy
prices, no grid: minimise w * vehicle-steps + arrival penalty + sum price * charging energy."""

from __future__ import annotations

import time
from typing import Any

from cases.case import Case
from common.progress import phase
from coupling.output.runfolder import Run
from coupling.problems.case_dta import case_dta, case_paths
from engine.assemble import assemble
from engine.highs import solve_highs
from engine.problem import Problem
from engine.router import values
from engine.split import solve_split
from traffic.dta_engine import declare_dta, declare_dta_costs
from traffic.results import tables_from_values, unserved_by_od_values


def run_traffic(case: Case, *, command: str = "traffic") -> Run:
    """Solve the traffic-only problem of ``case`` and return its run (tables and summary).

    Built and solved in the matrix engine (:mod:`engine`): the DTA matrices go to HiGHS in
    one call and the values come back as arrays, without a Pyomo model."""
    t0 = time.perf_counter()
    paths = case_paths(case)
    with phase("building the traffic model"):
        st = case_dta(case, paths)
        prob = Problem()
        declare_dta(prob, st)
        price = case.feeder.price_per_kwh
        declare_dta_costs(prob, st, price)
        asm = assemble(prob)
    t1 = time.perf_counter()
    # interior point without crossover: several times faster than dual simplex on this
    # degenerate LP (benchmarks/bench_traffic.py); no duals are needed here. ODs that share
    # no row (no capacity or plug limit between them) are LPs of their own (engine/split.py)
    with phase(f"solving LP, {asm.shape[1]:,} columns (HiGHS ipm, by independent parts)"):
        res = solve_split(asm, lambda a: solve_highs(a, method="ipm", run_crossover="off"))
    t2 = time.perf_counter()
    lo, hi = values(res, "veh_min"), values(res, "veh_max")
    r = tables_from_values(st.index, lo, hi)
    st_tab = r.stations  # station_p_kw per (station, t), as the objective prices it
    charging_cost = float(
        (price[st_tab["t"].to_numpy()] * case.time.dt_h * st_tab["p_kw"].to_numpy()).sum()
    )
    summary: dict[str, Any] = {
        "case": case.name,
        "command": command,
        "parameters": dict(case.parameters),
        "objective": res.objective,
        "status": res.status,
        "solver_method": res.method,
        "vehicles_departed": r.vehicles_departed,
        "vehicles_arrived": r.vehicles_arrived,
        "arrival_shortfall": r.arrival_shortfall,
        "arrival_penalty": r.arrival_penalty,
        "unserved_vehicles_by_od": unserved_by_od_values(st.index, lo, hi),
        "travel_cost": r.travel_cost,
        "charging_cost": charging_cost,
        "paths": len(paths.paths),
        "steps": case.time.steps,
        "dt_h": case.time.dt_h,
        "build_s": t1 - t0,
        "handover_s": res.handover_s,
        "solve_s": res.solve_s,
        "reporting_s": time.perf_counter() - t2,
    }
    return Run(
        summary=summary, tables={"paths": r.paths, "segments": r.segments, "stations": r.stations}
    )
