"""Traffic-only job (``evtp traffic``): EV routing and charging against the case's energy
prices, no grid: minimise w * vehicle-steps + arrival penalty + sum price * charging energy."""

from __future__ import annotations

import time
from typing import Any

import pyomo.environ as pyo

from cases.case import Case, CaseError
from coupling.diagnose import unserved_by_od
from coupling.runfolder import Run
from power.solve import solve
from traffic.dta import DtaOptions, add_linear_dta, traffic_cost_expr
from traffic.paths import PathSet, k_shortest_paths
from traffic.results import dta_results


def dta_options(case: Case) -> DtaOptions:
    """DTA parameters from ``[parameters]`` (registry defaults, ``cases/parameters.py``, when
    absent)."""
    delay = case.parameter("max_delay_steps")
    return DtaOptions(
        cost_per_vehicle_step=case.parameter("cost_per_vehicle_step"),
        soc_min=case.parameter("soc_min"),
        soc_max=case.parameter("soc_max"),
        penalty_per_vehicle=case.parameter("penalty_per_vehicle"),
        max_delay_steps=None if delay is None else int(delay),
    )


def case_paths(case: Case) -> PathSet:
    """k shortest paths per OD (``[parameters] k_paths``) plus station paths; with
    ``path_stops = "needed"`` only the paths of ODs whose trip needs a charge may stop."""
    tr = case.traffic
    if tr is None:
        raise CaseError(f"case {case.name!r} has no road network (traffic/ files)")
    k = int(case.parameter("k_paths"))
    return k_shortest_paths(
        tr.network,
        tr.demand,
        k,
        tr.stations,
        soc_min=dta_options(case).soc_min,
        stops=case.parameter("path_stops"),
    )


def add_case_dta(blk: pyo.Block, case: Case, paths: PathSet, aggregators=None) -> None:
    """The case's DTA block (optionally for some aggregators only)."""
    tr = case.traffic
    assert tr is not None
    add_linear_dta(
        blk,
        tr.network,
        tr.stations,
        tr.demand,
        paths,
        case.time.steps,
        case.time.dt_h,
        case.parameter("battery_kwh"),
        dta_options(case),
        aggregators=aggregators,
    )


def run_traffic(case: Case, *, command: str = "traffic") -> Run:
    """Solve the traffic-only problem of ``case`` and return its run (tables and summary)."""
    t0 = time.perf_counter()
    paths = case_paths(case)
    m = pyo.ConcreteModel(name=f"traffic-{case.name}")
    m.dta = pyo.Block()
    add_case_dta(m.dta, case, paths)
    price = case.feeder.price_per_kwh
    m.obj = pyo.Objective(expr=traffic_cost_expr(m.dta, price))
    t1 = time.perf_counter()
    # interior point without crossover: several times faster than dual simplex on this
    # degenerate LP (benchmarks/bench_traffic.py); no duals are needed here
    res = solve(m, duals=False, solver="ipm", run_crossover="off")
    r = dta_results(m.dta)
    st = r.stations  # station_p_kw per (station, t), as the objective prices it
    charging_cost = float(
        (price[st["t"].to_numpy()] * case.time.dt_h * st["p_kw"].to_numpy()).sum()
    )
    summary: dict[str, Any] = {
        "case": case.name,
        "command": command,
        "parameters": dict(case.parameters),
        "objective": res.objective,
        "status": res.status,
        "vehicles_departed": r.vehicles_departed,
        "vehicles_arrived": r.vehicles_arrived,
        "arrival_shortfall": r.arrival_shortfall,
        "arrival_penalty": r.arrival_penalty,
        "unserved_vehicles_by_od": unserved_by_od(m.dta),
        "travel_cost": r.travel_cost,
        "charging_cost": charging_cost,
        "paths": len(paths.paths),
        "steps": case.time.steps,
        "dt_h": case.time.dt_h,
        "build_s": t1 - t0,
        "solve_s": res.solve_s,
        "handover_s": res.handover_s,
    }
    return Run(
        summary=summary, tables={"paths": r.paths, "segments": r.segments, "stations": r.stations}
    )
