"""The main job (``evtp tariff``): robust DLMP-based dynamic tariffs and the DSO-EVA loop."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
import pandas as pd

from cases.case import Case, CaseError
from common.progress import phase
from coupling.cluster import dask_client
from coupling.jobs.grid import grid_summary, grid_tables
from coupling.output.runfolder import Run
from coupling.problems.ac_correction import LoopAC
from coupling.problems.ac_engine import solve_ac_feasible_engine
from coupling.problems.case_dta import case_dta, case_paths
from coupling.problems.diagnose import worst_excess
from coupling.problems.dso import (
    MarketParams,
    aggregators,
    station_bus,
    station_ids,
)
from coupling.problems.grid import out_of_sample, schedule_state, solve_distflow_engine
from coupling.problems.loop import (
    LimitPrices,
    LoopOptions,
    loop_progress,
    run_loop,
    solve_independently,
)
from coupling.problems.market import (
    connect_stations,
    declare_dso,
    declare_eva,
    declare_market,
    dso_duals,
    dta_cost,
    set_tariff,
    solve_market,
)
from coupling.problems.remote import DaskAggregators
from coupling.problems.robust_grid import grid_margins
from engine.assemble import assemble
from engine.certify import certify
from engine.highs import Solved
from engine.router import reduced_costs, values
from engine.split import PartCache
from power.ac_check import ac_check
from power.correction import ACTightening
from power.dlmp import dlmp_parts, tariff_table
from power.limits import Limits, LinearGrid, effective_limits, fixed_q_flows, net_load
from power.sensitivity import sensitivities
from robust.sets import SetKind
from traffic.results import tables_from_values, unserved_by_od_values

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
    # aggregators on Dask (coupling/problems/remote.py): a local cluster of this many
    # worker processes, or the running scheduler at this address; 0 and None: in process
    workers: int = 0
    scheduler: str | None = None
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
    timings : ``build_s``, ``dso_solve_s``, ``loop_s`` (s), and ``place_s``, the part of
    ``loop_s`` spent starting a Dask cluster and sending it the aggregators' problems.
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
    solver: str = ""  # solver and method of the DSO's and the aggregators' problems
    parts_cached: int = 0  # LP parts taken from the cache instead of solved again
    loop_ac: dict[str, Any] = field(default_factory=dict)  # LoopAC.summary() (AC correction on)


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


@dataclass
class DsoStage:
    """The DSO stage's outcome, whichever grid model it ran on: the optimal cost, status and
    solver, the centralised station loads (stations x steps, kW) and travel cost (currency),
    the limit prices the dlmp mechanism starts from, the DLMP parts (buses x steps,
    currency/kWh), the linear model and limits the loop goes on with, the AC correction's
    tightening and history, and the fixed reactive flows of the LoopAC."""

    objective: float
    status: str
    method: str
    central_loads: np.ndarray
    central_travel: float
    prices: LimitPrices
    dlmp: dict[str, np.ndarray]
    grid: LinearGrid
    limits: Limits
    tightening: ACTightening | None
    history: list[dict]
    q_fixed_kvar: np.ndarray | None
    summary: dict[str, Any] = field(default_factory=dict)
    solved: Solved | None = None  # the engine's solution (None on the Pyomo DistFlow path)

    @property
    def resolves(self) -> int:
        return len(self.history) - 1


def _engine_dso(
    case: Case,
    structs: dict[str, Any],
    margins: Any,
    mp: MarketParams,
    opts: TariffOptions,
    cache: PartCache,
) -> DsoStage:
    """The DSO stage on LinDistFlow in the matrix engine (:mod:`coupling.problems.market`),
    AC-corrected (:mod:`coupling.problems.ac_engine`); the traffic-only parts of the problem
    are solved once and kept in ``cache`` for the re-solves and the aggregators."""
    f = case.feeder
    stations = station_ids(case)
    bus_idx = station_bus_index(case)
    q_fixed = fixed_q_flows(f)

    def build(lim: Limits, losses: LinearGrid | None) -> Any:
        return assemble(
            declare_dso(structs, f, station_bus(case), lim, mp.beta, mp.eps, losses=losses)
        )

    def ev_bus(sol: Any) -> np.ndarray:
        out = np.zeros((len(f.bus_ids), f.steps))
        np.add.at(out, bus_idx, values(sol, "charge_kw"))
        return out

    acr = solve_ac_feasible_engine(
        f,
        build,
        lambda asm: solve_market(asm, cache),
        ev_bus,
        q_fixed_kvar=q_fixed,
        margins=margins,
        correct=opts.ac_correction,
    )
    sol = acr.result
    g = dso_duals(sol, f)
    grid = acr.grid or LinearGrid(f)
    return DsoStage(
        objective=sol.objective,
        status=sol.status,
        method=sol.method,
        central_loads=np.asarray(values(sol, "charge_kw")).reshape(len(stations), f.steps),
        central_travel=sum(dta_cost(sol, st, f"{a}:") for a, st in structs.items()),
        prices=g,
        dlmp=dlmp_parts(g, f, grid),
        grid=grid,
        limits=acr.limits,
        tightening=acr.tightening,
        history=acr.history,
        q_fixed_kvar=q_fixed,
        solved=sol,
    )


def _engine_distflow_dso(
    case: Case, structs: dict[str, Any], margins: Any, mp: MarketParams
) -> DsoStage:
    """The DSO stage on DistFlow with losses (SOCP, :mod:`power.distflow_engine`) in the
    matrix engine: the market of :func:`coupling.problems.market.declare_market` with the
    stations as loads of the DistFlow block (robust margins on its limits), solved by Clarabel
    in one call (its cones are not split into parts). No AC correction: the relaxation is exact
    where it is tight, and its gap is reported. The loop that follows stays linear, with
    DistFlow's losses linearised at its schedule (the chords of :mod:`power.correction`), so
    the aggregators' tariffs have a loss part too, against the nominal (robust) limits."""
    from power.correction import linearised_losses, peak_flow_kw
    from power.distflow_engine import declare_distflow

    f = case.feeder
    prob = declare_market(structs, f.steps, f.dt_h, station_ids(case), mp.beta, mp.eps)
    sets = declare_distflow(prob, f, margins=margins)
    connect_stations(prob, f, station_bus(case))
    solved = solve_distflow_engine(prob, sets, f)
    sol = solved.result.solved
    arr = dict(solved.dlmp_parts)
    arr.pop("residual")
    rc_w = reduced_costs(sol, "w").copy()
    rc_w[f.tree.slack] = 0.0  # fixed variable: its reduced cost is not a bound dual
    return DsoStage(
        objective=sol.objective,
        status=sol.status,
        method=f"{sol.method} (DistFlow SOCP, one call)",
        central_loads=np.asarray(values(sol, "charge_kw")).reshape(len(station_ids(case)), -1),
        central_travel=sum(dta_cost(sol, st, f"{a}:") for a, st in structs.items()),
        prices=LimitPrices.from_reduced_costs(arr.pop("flow_rc"), rc_w, f.dt_h),
        dlmp=arr,
        grid=linearised_losses(f, solved.ac, peak_flow_kw(f, solved.ac, None)),
        limits=effective_limits(f, fixed_q_flows(f), margins),
        tightening=None,
        history=solved.history,
        q_fixed_kvar=fixed_q_flows(f),
        summary=solved.summary(),
        solved=sol,
    )


def solve_tariff(
    case: Case,
    opts: TariffOptions = TariffOptions(),
    *,
    progress: Callable[[str], None] | None = None,
) -> TariffSolution:
    """Optimisation stage: DSO problem -> DLMP tariffs -> EVA responses -> loop.

    Built and solved in the matrix engine, part by part (:func:`coupling.problems.market.
    solve_market`): the ODs that cannot reach a station are LPs of their own, solved once for
    the DSO and every aggregator response; the rest (stations, grid) by Clarabel.

    With ``opts.scheduler`` the client connects first, so an unreachable scheduler fails
    before the DSO stage; a local cluster (``opts.workers``) starts after it."""
    opts = resolved(case, opts)
    if not opts.scheduler:
        return _solve_tariff(case, opts, None, progress)
    with dask_client(scheduler=opts.scheduler) as client:
        return _solve_tariff(case, opts, client, progress)


def _solve_tariff(
    case: Case,
    opts: TariffOptions,
    client: Any,
    progress: Callable[[str], None] | None,
) -> TariffSolution:
    """:func:`solve_tariff` with the resolved options and the Dask ``client`` of a running
    scheduler (None: a local cluster of ``opts.workers``, or none)."""
    say = progress or (lambda _: None)
    f = case.feeder
    steps, dt = case.time.steps, case.time.dt_h
    gamma = case.gamma if opts.gamma is None else opts.gamma
    mp = MarketParams.from_case(case)
    stations = station_ids(case)
    aggs = aggregators(case)
    price = f.price_per_kwh
    bus_idx = station_bus_index(case)

    t0 = time.perf_counter()
    sens = sensitivities(f)
    margins = grid_margins(f, sens, case.uncertainty, gamma, opts.uncertainty_set)
    with phase("building the aggregators' traffic models"):
        paths = case_paths(case)
        structs = {a: case_dta(case, paths, aggregators=[a]) for a in aggs}
        evas = {
            a: assemble(declare_eva(structs[a], a, stations, price, dt, mp.beta, mp.eps))
            for a in aggs
        }
    cache = PartCache()
    t1 = time.perf_counter()
    with phase(f"solving the DSO problem ({opts.grid_model})"):
        if opts.grid_model == "distflow":
            dso = _engine_distflow_dso(case, structs, margins, mp)
        else:
            dso = _engine_dso(case, structs, margins, mp, opts, cache)
    t2 = time.perf_counter()
    say(
        f"DSO problem solved: objective {dso.objective:.2f} ({t2 - t1:.2f} s"
        + (f", {dso.resolves} AC re-solves)" if dso.resolves else ")")
    )
    central = ev_cost(dso.central_travel, 0.0, dso.central_loads, price, mp, dt)
    if opts.mechanism == "dlmp":
        prices = dso.prices
    else:
        prices = LimitPrices.zeros(len(f.line_ids), len(f.bus_ids), steps)

    methods: set[str] = set()
    last: dict[str, Solved] = {}  # each aggregator's last response

    def respond(bus_tariff: np.ndarray) -> tuple[np.ndarray, dict]:
        tariff = bus_tariff[bus_idx]  # stations x steps

        def one(a: str, asm: Any) -> Any:
            set_tariff(asm, price, tariff, dt)  # the same matrices, new prices
            # a known solution that meets this problem's optimality conditions needs no
            # solve: the DSO's schedule at its own DLMP (one aggregator), or the last
            # response when the tariff did not move (engine/certify.py)
            known = last.get(a, dso.solved)
            sol = certify(asm, known) if known is not None else None
            last[a] = sol or solve_market(asm, cache)
            return last[a]

        if remote is not None:
            results = remote(dict.fromkeys(aggs, tariff))
        else:
            results = solve_independently(evas, one, opts.parallel)
        ev_bus = np.zeros((len(f.bus_ids), steps))
        out = {}
        for a, sol in results.items():
            loads = np.asarray(values(sol, "charge_kw")).reshape(len(stations), steps)
            np.add.at(ev_bus, bus_idx, loads)
            out[a] = (sol, loads)
            methods.add(sol.method)
        return ev_bus, out

    accept = (
        LoopAC(f, dso.q_fixed_kvar, margins, dso.grid, dso.tightening)
        if opts.ac_correction
        else None
    )
    with ExitStack() as stack:
        remote, where, t_place = None, "", time.perf_counter()
        if client is None and opts.workers:
            client = stack.enter_context(dask_client(opts.workers))
        if client is not None:
            with phase("sending the aggregators' problems to the Dask workers"):
                remote = DaskAggregators(client, evas, cache, price, dt, dso.solved)
            say(f"aggregators on Dask: {remote.placement}")
            where = f" (on {len(set(remote.placement.values()))} Dask workers)"
        t_place = time.perf_counter() - t_place
        loop = run_loop(
            f, dso.grid, dso.limits, prices, respond, opts.loop, loop_progress(say), accept
        )
    t3 = time.perf_counter()

    # final schedule: the aggregators' last responses
    loads = sum(loop.responses[a][1] for a in aggs)
    dres, unserved = {}, {}
    for a in aggs:
        sol = loop.responses[a][0]
        lo, hi = values(sol, f"{a}:veh_min"), values(sol, f"{a}:veh_max")
        dres[a] = tables_from_values(structs[a].index, lo, hi)
        unserved |= unserved_by_od_values(structs[a].index, lo, hi)
    d_travel = sum(r.travel_cost + r.arrival_penalty for r in dres.values())
    return TariffSolution(
        gamma=gamma,
        limits=loop.limits,
        grid=loop.grid,
        tightening=accept.tightening if accept is not None else None,
        ac_history=dso.history,
        loads=loads,
        central_loads=dso.central_loads,
        dlmp={k: dso.dlmp[k] for k in ("dlmp", "energy", "loss", "congestion", "voltage")},
        bus_tariff=loop.bus_tariff,
        central=central,
        dso_objective=dso.objective,
        decentral=ev_cost(d_travel, 0.0, loads, price, mp, dt),
        history=loop.history,
        converged=loop.converged,
        status=dso.status,
        stations=(
            pd.concat([r.stations for r in dres.values()])
            .groupby(["station", "t"], as_index=False, sort=False)[["queued", "charging", "p_kw"]]
            .sum()
        ),
        paths=pd.concat([r.paths for r in dres.values()], ignore_index=True),
        arrival_shortfall=sum(r.arrival_shortfall for r in dres.values()),
        unserved=unserved,
        timings={"build_s": t1 - t0, "dso_solve_s": t2 - t1, "loop_s": t3 - t2, "place_s": t_place},
        grid_summary={"grid_model": opts.grid_model} | dso.summary,
        solver=f"DSO: {dso.method}; aggregators{where}: {' | '.join(sorted(methods))}",
        parts_cached=cache.hits if remote is None else remote.parts_cached,
        loop_ac=accept.summary() if accept is not None else {},
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
            "solver_method": sol.solver,
            "lp_parts_reused": sol.parts_cached,
        }
        | sol.loop_ac
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

        if opts.workers or opts.scheduler:
            raise CaseError(
                f"case {case.name!r} runs the fleet capacity market, whose fleet operators "
                "are solved in this process: drop --workers / --scheduler"
            )
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
