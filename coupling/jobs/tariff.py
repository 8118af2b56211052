"""The main job (``evtp tariff``): robust DLMP-based dynamic tariffs and the DSO-EVA loop."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyomo.environ as pyo

from cases.case import Case, CaseError
from coupling.jobs.grid import grid_summary, grid_tables
from coupling.output.runfolder import Run
from coupling.problems.ac_correction import LoopAC, solve_ac_feasible
from coupling.problems.case_dta import case_paths
from coupling.problems.diagnose import unserved_by_od, worst_excess
from coupling.problems.dso import (
    MarketParams,
    aggregators,
    build_dso,
    build_eva,
    station_bus,
    station_ids,
    station_loads,
)
from coupling.problems.grid import out_of_sample, schedule_state
from coupling.problems.loop import (
    LimitPrices,
    LoopOptions,
    loop_progress,
    run_loop,
    solve_independently,
)
from coupling.problems.robust_grid import grid_margins
from power.ac_check import ac_check
from power.correction import ACTightening
from power.dlmp import distflow_dlmp_arrays, dlmp_arrays, tariff_table
from power.duals import dual_matrix, grid_duals
from power.limits import Limits, LinearGrid, effective_limits, fixed_q_flows, net_load
from power.sensitivity import sensitivities
from power.solve import CompiledQP, solve
from robust.sets import SetKind
from traffic.results import dta_results

# the default loop options of TariffOptions: stand for the case's own (:func:`loop_options`,
# its [parameters] step_kw, step_rule, max_iter), resolved when a run starts
CASE_LOOP = LoopOptions()


@dataclass(frozen=True)
class TariffOptions:
    """Options of the tariff job: robust budget, set, mechanism and loop settings."""

    gamma: float | None = None
    uncertainty_set: SetKind = "node"
    # auto: fleet-market for a case with a stationary fleet and no roads, else dlmp
    mechanism: Literal["auto", "dlmp", "subgradient", "fleet-market"] = "auto"
    samples: int = 0
    seed: int = 0
    loop: LoopOptions = field(default_factory=lambda: CASE_LOOP)  # CASE_LOOP: the case's
    parallel: bool = True  # aggregators in parallel threads
    ac_correction: bool = True  # AC-corrected DSO stage and loop acceptance
    grid_model: Literal["lindistflow", "distflow"] = "lindistflow"  # of the DSO stage


def loop_options(case: Case, **overrides: Any) -> LoopOptions:
    """Loop options of ``case``: its ``[parameters]`` ``step_kw`` (currency/kWh per kW of
    excess, else 0.001), ``step_w`` (per pu^2 of squared-voltage excess, else 50),
    ``step_rule`` (else constant) and ``max_iter`` (else 30), and
    ``overrides`` (keyword arguments of :class:`LoopOptions`; None = the case's value). The CLI
    and every sweep point take their options from here, so they run the same loop."""
    kw: dict[str, Any] = {k: case.parameter(k) for k in ("step_kw", "step_w", "step_rule")}
    kw["max_iter"] = int(case.parameter("max_iter"))
    kw.update({k: v for k, v in overrides.items() if v is not None})
    return LoopOptions(**kw)


def ev_cost(
    travel: float, penalty: float, loads: np.ndarray, price: np.ndarray, mp: MarketParams, dt: float
) -> tuple[float, float]:
    """(travel cost incl. arrival penalty, charging cost) of a schedule, currency.

    charging = sum_t (c_t + beta P_t) P_t dt + eps dt sum_{y,t} p_{y,t}^2 with ``loads``
    (stations x steps, kW) and ``P_t`` their sum (seed 003's C_C&D plus the uniqueness term).
    """
    charging = float((price * loads.sum(axis=0)).sum() * dt + mp.quadratic_cost(loads, dt))
    return travel + penalty, charging


@dataclass
class TariffSolution:
    """What the optimisation stage of the tariff job hands to the reporting stage: plain
    arrays and tables (no Pyomo objects), so that a sweep can run the two stages as separate
    Dask tasks on different workers.

    gamma : the robust budget used. limits : the (robust, AC-corrected) limits the loop
    evaluated against, on the linear model ``grid`` (with losses when AC-corrected);
    tightening : the AC tightening in them (None uncorrected). ac_history : the DSO stage's
    AC-correction rows.
    loads, central_loads : (stations x steps) aggregators' final and the DSO's loads (kW).
    dlmp : bus x step arrays ``dlmp``, ``energy``, ``loss``, ``congestion``, ``voltage``
    (currency/kWh).
    bus_tariff : (buses x steps) final tariff (currency/kWh). central, decentral : (travel,
    charging) costs. dso_objective : the DSO problem's optimal cost (currency). history,
    converged : the loop's rows and outcome. stations, paths : the aggregators' summed station
    and path tables. arrival_shortfall, unserved : vehicles.
    timings : ``build_s``, ``dso_solve_s``, ``loop_s`` (s).
    """

    gamma: float
    limits: Limits
    grid: LinearGrid
    tightening: ACTightening | None
    ac_history: list[dict]
    loads: np.ndarray
    central_loads: np.ndarray
    dlmp: dict[str, np.ndarray]
    bus_tariff: np.ndarray
    central: tuple[float, float]
    decentral: tuple[float, float]
    dso_objective: float
    history: list[dict]
    converged: bool
    status: str
    stations: pd.DataFrame
    paths: pd.DataFrame
    arrival_shortfall: float
    unserved: dict[str, float]
    timings: dict[str, float]
    grid_summary: dict[str, Any] = field(default_factory=dict)  # DSO stage's grid model keys


def mechanism_of(case: Case, requested: str = "auto") -> str:
    """The mechanism a tariff run of ``case`` uses: ``requested``, or for ``auto``
    ``fleet-market`` (seed 000's subgradient capacity market of fleet operators) when the case
    has a stationary fleet and no roads, else ``dlmp``. A mechanism the case cannot run is a
    CaseError naming the one it can."""
    fleet = is_fleet_market(case)
    if requested == "auto":
        return "fleet-market" if fleet else "dlmp"
    if fleet and requested == "dlmp":
        raise CaseError(
            f"case {case.name!r} has a stationary fleet and no roads: the DSO knows no model of "
            "its fleet operators, so it has no DLMP start; use --mechanism fleet-market "
            "(the default for this case)"
        )
    if fleet and requested == "subgradient":
        return "fleet-market"  # seed 000's market is a subgradient market
    if requested == "fleet-market" and not fleet:
        what = "roads" if case.traffic is not None else "no stationary fleet"
        raise CaseError(
            f"case {case.name!r} has {what}: --mechanism fleet-market needs a stationary fleet "
            "and no roads; use dlmp or subgradient"
        )
    return requested


def resolved(case: Case, opts: TariffOptions) -> TariffOptions:
    """``opts`` with the mechanism and loop options the run of ``case`` uses (auto and None
    resolved from the case)."""
    loop = loop_options(case) if opts.loop is CASE_LOOP else opts.loop
    return replace(opts, mechanism=mechanism_of(case, opts.mechanism), loop=loop)


def solve_tariff(
    case: Case,
    opts: TariffOptions = TariffOptions(),
    *,
    progress: Callable[[str], None] | None = None,
) -> TariffSolution:
    """Optimisation stage: DSO problem -> DLMP tariffs -> EVA responses -> loop."""
    opts = resolved(case, opts)
    say = progress or (lambda _: None)
    f = case.feeder
    steps, dt = case.time.steps, case.time.dt_h
    gamma = case.gamma if opts.gamma is None else opts.gamma
    mp = MarketParams.from_case(case)
    stations = station_ids(case)
    aggs = aggregators(case)
    price = f.price_per_kwh

    t0 = time.perf_counter()
    sens = sensitivities(f)
    margins = grid_margins(f, sens, case.uncertainty, gamma, opts.uncertainty_set)
    paths = case_paths(case)
    dso = build_dso(case, paths, margins, mp)
    evas = {a: build_eva(case, paths, a, mp) for a in aggs}
    grid_keys: dict[str, Any] = {"grid_model": opts.grid_model}
    t1 = time.perf_counter()
    if opts.grid_model == "distflow":
        acr = _distflow_dso(dso, case, margins)
        res = acr.result
        d = acr.dlmp
        grid_keys |= acr.summary()
    else:
        acr = solve_ac_feasible(
            dso,
            dso.grid,
            f,
            correct=opts.ac_correction,
            margins=margins,
            uncertainty=case.uncertainty,
        )
        res = acr.result
        d = dlmp_arrays(dso.grid, f, None, res.duals, res.reduced_costs)
    t2 = time.perf_counter()
    say(
        f"DSO problem solved: objective {res.objective:.2f} ({t2 - t1:.2f} s"
        + (f", {acr.resolves} AC re-solves)" if acr.resolves else ")")
    )
    central_loads = station_loads(dso.station_p_kw, stations, steps)
    c_travel = sum(
        pyo.value(dso.eva[a].travel_cost) + pyo.value(dso.eva[a].arrival_penalty) for a in aggs
    )
    central = ev_cost(c_travel, 0.0, central_loads, price, mp, dt)

    if opts.mechanism == "dlmp" and opts.grid_model == "distflow":
        rc_p, rc_w = dso.grid_rc
        rc_w[f.tree.slack] = 0.0
        prices = LimitPrices.from_reduced_costs(rc_p, rc_w, dt)
    elif opts.mechanism == "dlmp":
        prices = grid_duals(dso.grid, f, res.duals, res.reduced_costs)
    else:
        prices = LimitPrices.zeros(len(f.line_ids), len(f.bus_ids), steps)
    bus_idx = station_bus_index(case)

    compiled = {a: CompiledQP() for a in evas}  # only the tariffs change between iterations

    def respond(bus_tariff: np.ndarray) -> tuple[np.ndarray, dict]:
        for m in evas.values():
            for i, y in enumerate(stations):
                for t in range(steps):
                    m.tariff[y, t] = float(bus_tariff[bus_idx[i], t])
        results = solve_independently(
            evas, lambda a, m: solve(m, duals=False, compiled=compiled[a]), opts.parallel
        )
        ev_bus = np.zeros((len(f.bus_ids), steps))
        out = {}
        for a, m in evas.items():
            loads = station_loads(m.dta.station_p_kw, stations, steps)
            np.add.at(ev_bus, bus_idx, loads)
            out[a] = (results[a], loads)
        return ev_bus, out

    accept = (
        LoopAC(f, dso.grid.q_fixed_kvar, margins, acr.grid, acr.tightening)
        if opts.ac_correction
        else None
    )
    loop = run_loop(f, acr.grid, acr.limits, prices, respond, opts.loop, loop_progress(say), accept)
    t3 = time.perf_counter()

    # final schedule: the aggregators' last responses
    loads = sum(loop.responses[a][1] for a in aggs)
    dres = {a: dta_results(evas[a].dta) for a in aggs}
    d_travel = sum(r.travel_cost + r.arrival_penalty for r in dres.values())
    return TariffSolution(
        gamma=gamma,
        limits=loop.limits,
        grid=loop.grid,
        tightening=accept.tightening if accept is not None else None,
        ac_history=acr.history,
        loads=loads,
        central_loads=central_loads,
        dlmp={k: d[k] for k in ("dlmp", "energy", "loss", "congestion", "voltage")},
        bus_tariff=loop.bus_tariff,
        central=central,
        dso_objective=res.objective,
        decentral=ev_cost(d_travel, 0.0, loads, price, mp, dt),
        history=loop.history,
        converged=loop.converged,
        status=res.status,
        stations=(
            pd.concat([r.stations for r in dres.values()])
            .groupby(["station", "t"], as_index=False, sort=False)[["queued", "charging", "p_kw"]]
            .sum()
        ),
        paths=pd.concat([r.paths for r in dres.values()], ignore_index=True),
        arrival_shortfall=sum(r.arrival_shortfall for r in dres.values()),
        unserved={od: v for a in aggs for od, v in unserved_by_od(evas[a].dta).items()},
        timings={"build_s": t1 - t0, "dso_solve_s": t2 - t1, "loop_s": t3 - t2},
        grid_summary=grid_keys,
    )


@dataclass
class _DistFlowDSO:
    """The DSO stage on DistFlow, with the attributes the loop reads from an AC correction."""

    result: Any
    dlmp: dict[str, np.ndarray]
    grid: LinearGrid
    limits: Any
    history: list[dict]
    solved: Any
    tightening: Any = None
    resolves: int = 0

    def summary(self) -> dict[str, Any]:
        return self.solved.summary()


def _distflow_dso(dso: pyo.ConcreteModel, case: Case, margins: Any) -> _DistFlowDSO:
    """Replace the DSO's LinDistFlow block by DistFlow with losses (same station loads,
    robust margins and cost) and solve it (SOCP); the loop that follows stays linear (with
    DistFlow's losses linearised at its schedule), against the nominal (robust) limits."""
    from coupling.problems.grid import solve_distflow
    from power.distflow import add_distflow

    f = case.feeder
    old = dso.grid
    for c in ("p_bal", "q_bal", "v_drop", "s_poly"):
        if hasattr(old, c):
            getattr(old, c).deactivate()
    extra: dict[tuple[str, int], Any] = {}
    bus_of = station_bus(case)
    for y, t in dso.station_p_kw:
        key = (bus_of[y], t)
        extra[key] = extra.get(key, 0.0) + dso.station_p_kw[y, t]
    dso.grid_df = pyo.Block()
    add_distflow(dso.grid_df, f, extra_p_kw=extra, margins=margins)
    old.cost.set_value(dso.grid_df.cost.expr)  # the objective now pays DistFlow's import
    solved = solve_distflow(dso, dso.grid_df, f)
    arr = distflow_dlmp_arrays(dso.grid_df, f, solved.result)
    arr.pop("residual")
    rc = solved.result.reduced_costs
    dso.grid_rc = (arr.pop("flow_rc"), dual_matrix(dso.grid_df.w, f.bus_ids, f.steps, rc))
    from power.correction import linearised_losses, peak_flow_kw

    return _DistFlowDSO(
        result=solved.result,
        dlmp=arr,
        # the loop's linear model carries DistFlow's losses, linearised at its schedule (the
        # chords of power/correction.py), so the aggregators' tariffs have a loss part too
        grid=linearised_losses(f, solved.ac, peak_flow_kw(f, solved.ac, None)),
        limits=effective_limits(f, fixed_q_flows(f), margins),
        history=solved.history,
        solved=solved,
    )


def station_bus_index(case: Case) -> np.ndarray:
    """Position of each station's bus among the feeder's buses, in station order."""
    bus_of = station_bus(case)
    return np.array([case.feeder.bus_pos[bus_of[y]] for y in station_ids(case)], dtype=int)


def finish_tariff(
    case: Case, opts: TariffOptions, sol: TariffSolution, *, command: str = "tariff"
) -> Run:
    """Reporting stage: the final schedule on the linear grid, AC check, out-of-sample
    evaluation, the tables and the summary of DESIGN §5."""
    opts = resolved(case, opts)
    f = case.feeder
    steps = case.time.steps
    mp = MarketParams.from_case(case)
    stations = station_ids(case)
    bus_idx = station_bus_index(case)
    sens = sensitivities(f)
    ev_bus = np.zeros((len(f.bus_ids), steps))
    np.add.at(ev_bus, bus_idx, sol.loads)
    state = schedule_state(f, sol.grid, *net_load(f, ev_bus))
    ev = sol.grid.evaluate(*net_load(f, ev_bus), sol.limits)  # against the loop's limits
    ac = ac_check(f, state.p_net_kw, state.q_net_kvar)
    oos = (
        # violated = beyond the loop's tolerance, the one by which it accepted the schedule
        out_of_sample(
            case,
            state,
            sol,
            sens,
            sol.gamma,
            opts.uncertainty_set,
            opts.samples,
            opts.seed,
            tol_kw=opts.loop.tol_kw,
        )
        if opts.samples
        else {}
    )
    tariffs = tariff_table(
        f.bus_ids, sol.dlmp, sol.bus_tariff, stations=stations, station_bus=bus_idx
    )
    tables = grid_tables(f, state, ac) | {
        "tariffs": tariffs,
        "stations": sol.stations,
        "paths": sol.paths,
        "loop": pd.DataFrame(sol.history),
        "ac_correction": pd.DataFrame(sol.ac_history),
    }
    tm = sol.timings
    summary: dict[str, Any] = (
        {
            "case": case.name,
            "command": command,
            "parameters": {
                "gamma": sol.gamma,
                "uncertainty_set": opts.uncertainty_set,
                "mechanism": opts.mechanism,
                "beta": mp.beta,
                "eps": mp.eps,
                "step_kw": opts.loop.step_kw,
                "step_w": opts.loop.step_w,
                "step_rule": opts.loop.step_rule,
                "samples": opts.samples,
                "seed": opts.seed,
                "ac_correction": opts.ac_correction,
                "grid_model": opts.grid_model,
            },
            "objective": sum(sol.decentral),
            "travel_cost": sol.decentral[0],
            "charging_cost": sol.decentral[1],
            "centralised_objective": sum(sol.central),
            "dso_objective": sol.dso_objective,
            "decentralised_objective": sum(sol.decentral),
            "iterations": len(sol.history),
            "converged": sol.converged,
            "limit_excess": worst_excess(f, ev, opts.loop.tol_kw, opts.loop.tol_w),
            "status": sol.status,
            "aggregators": len(aggregators(case)),
            "build_s": tm["build_s"],
            "solve_s": tm["dso_solve_s"] + sum(r["eva_s"] for r in sol.history),
            "dso_solve_s": tm["dso_solve_s"],
            "loop_s": tm["loop_s"],
            "max_station_load_gap_kw": float(
                np.abs(sol.loads - sol.central_loads).max(initial=0.0)
            ),
            "arrival_shortfall": sol.arrival_shortfall,
            "unserved_vehicles_by_od": sol.unserved,
            "ac_correction": opts.ac_correction,
            "ac_resolves": len(sol.ac_history) - 1,
            "ac_loop_corrections": sum(bool(r.get("ac_corrected")) for r in sol.history),
            "ac_correction_iterations": sol.ac_history,
        }
        | grid_summary(f, state, ac)
        | oos
        | {k: v for k, v in sol.grid_summary.items() if k != "grid_model"}
    )
    return Run(summary=summary, tables=tables)


def is_fleet_market(case: Case) -> bool:
    """A case without roads but with a stationary fleet: seed 000's capacity market."""
    return case.traffic is None and case.fleet is not None


def run_tariff(
    case: Case,
    opts: TariffOptions = TariffOptions(),
    *,
    command: str = "tariff",
    progress: Callable[[str], None] | None = None,
) -> Run:
    """DSO problem -> tariffs -> EVA responses -> loop; tables and summary of DESIGN §5
    (:func:`solve_tariff` then :func:`finish_tariff`).

    The mechanism is :func:`mechanism_of` ``opts.mechanism``: ``fleet-market`` runs seed 000's
    capacity market (:func:`coupling.jobs.fleet_market.run_fleet_market`), by subgradient, as
    the DSO knows no model of the fleet operators.
    """
    opts = resolved(case, opts)
    if opts.mechanism == "fleet-market":
        from coupling.jobs.fleet_market import run_fleet_market

        if opts.grid_model != "lindistflow":
            raise CaseError(
                f"case {case.name!r} runs the fleet capacity market, which has no DSO stage on "
                "DistFlow: drop --grid-model distflow"
            )

        return run_fleet_market(
            case,
            opts.loop,
            ac_correction=opts.ac_correction,
            command=command,
            progress=progress,
        )
    sol = solve_tariff(case, opts, progress=progress)
    return finish_tariff(case, opts, sol, command=command)
