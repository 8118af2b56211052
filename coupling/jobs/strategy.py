"""Charging strategies of stationary fleets (``evtp strategy``): seeds 001 and 002 as
configurations of the fleet block and the LinDistFlow block.

| strategy | objective | grid limits | V2G | Q |
|---|---|---|---|---|
| uncoordinated | none: full power from arrival (power flow only) | no | no | no |
| price | energy cost + loss proxy (see LOSS_PROXY) | no | no | no |
| grid | energy cost | yes | no | no |
| smart | sum (SOC - SOC*)^2 + k sum (P+ + P-) (seed 002 eq. 11) | yes | no | no |
| v2g | as smart | yes | yes | no |
| smart-q | as smart | yes | no | yes |
| v2g-q | as smart | yes | yes | yes |

Every strategy's schedule is checked with pandapower's AC power flow. The grid strategy prices
the import (less the base load's constant cost), so its ``tariffs`` are DLMPs in currency/kWh:
the marginal system cost of one more kWh consumed at a bus and step (energy at the slack price,
losses, congestion, voltage). The smart family's objective is not money (the SOC deviation),
so it writes no tariffs; its balance duals are ``shadow_prices`` in objective units per kWh.
A target that cannot be reached is unserved energy, priced at ``UNSERVED_COST`` per kWh and
reported.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyomo.environ as pyo

from cases.case import Case, CaseError
from coupling.jobs.grid import grid_summary, grid_tables
from coupling.output.runfolder import Run
from coupling.problems.ac_correction import solve_ac_feasible
from coupling.problems.grid import schedule_state, solve_distflow, solve_grid_model
from coupling.problems.lifting import lifted
from power.ac_check import ac_check
from power.dlmp import dlmp_arrays, tariff_table
from power.feeder import Feeder
from power.fleet import (
    Fleet,
    FleetOptions,
    add_fleet,
    bus_load,
    fleet_results,
    uncoordinated_schedule,
)
from power.limits import LinearGrid, effective_limits, fixed_q_flows, net_load
from power.lindistflow import GridOptions, add_lindistflow
from power.results import line_loading
from power.solve import solve

UNSERVED_COST = 10.0  # currency per kWh of missed departure target
SMART_K = 1e-3  # seed 002's k: small weight of sum (P+ + P-) per kW and step
# price strategy: BATTPOWER's price-only model also pays the grid losses, which grow with the
# square of the load and spread charging over hours of equal price; evtp's lossless model uses
# this small quadratic proxy on each bus's EV load (currency/kWh per kW)
LOSS_PROXY = 1e-5
# smart family on DistFlow: a small weight on the import cost (losses included) per currency,
# so that the cone relaxation has a reason to be tight (Farivar & Low 2013)
SMART_LOSS_WEIGHT = 1e-3


@dataclass(frozen=True)
class Strategy:
    """One row of the module's table."""

    name: str
    optimise: bool
    limits: bool
    smart: bool
    discharge: bool = False
    reactive: bool = False


STRATEGIES = {
    s.name: s
    for s in (
        Strategy("uncoordinated", False, False, False),
        Strategy("price", True, False, False),
        Strategy("grid", True, True, False),
        Strategy("smart", True, True, True),
        Strategy("v2g", True, True, True, discharge=True),
        Strategy("smart-q", True, True, True, reactive=True),
        Strategy("v2g-q", True, True, True, discharge=True, reactive=True),
    )
}


def fleet_share(fleet: Fleet, share: float, seed: int) -> Fleet:
    """A seeded random subset of ``share`` of the EVs (table order kept); 1.0 = all."""
    if not 0.0 < share <= 1.0:
        raise CaseError(f"--ev-share must lie in (0, 1], got {share}")
    if share == 1.0:
        return fleet
    rng = np.random.default_rng(seed)
    k = int(round(share * fleet.n))
    keep = np.sort(rng.choice(fleet.n, size=k, replace=False))
    return Fleet(fleet.evs.iloc[keep].reset_index(drop=True))


def base_energy_cost(feeder: Feeder) -> float:
    """What the base load less renewables costs at the slack price (currency): the constant
    between the import's cost and the EV charging's in a lossless grid."""
    p_net, _ = net_load(feeder)
    return float((feeder.price_per_kwh * p_net.sum(axis=0)).sum() * feeder.dt_h)


def build_strategy_model(
    case: Case, fleet: Fleet, s: Strategy, grid_model: str = "lindistflow"
) -> pyo.ConcreteModel:
    """Fleet block ``m.fleet`` (+ LinDistFlow or, with ``grid_model="distflow"``, DistFlow
    ``m.grid`` with limits) and the objective."""
    f = case.feeder
    dt = f.dt_h
    m = pyo.ConcreteModel(name=f"strategy-{s.name}")
    m.fleet = pyo.Block()
    add_fleet(m.fleet, fleet, f.steps, dt, FleetOptions(discharge=s.discharge, reactive=s.reactive))
    fb = m.fleet
    penalty = UNSERVED_COST * fb.unserved_total_kwh
    price = f.price_per_kwh
    if s.limits:
        m.grid = pyo.Block()
        extra_q = {k: fb.bus_q_kvar[k] for k in fb.injection_keys} if s.reactive else None
        extra_p = {k: fb.bus_p_kw[k] for k in fb.injection_keys}
        if grid_model == "distflow":
            from power.distflow import add_distflow

            add_distflow(m.grid, f, extra_p_kw=extra_p, extra_q_kvar=extra_q)
        else:
            add_lindistflow(m.grid, f, GridOptions(), extra_p_kw=extra_p, extra_q_kvar=extra_q)
    if not s.smart:
        energy = sum(price[t] * dt * fb.bus_p_kw[b, t] for b, t in fb.injection_keys)
        if s.limits:
            # pay the import (and any generators), losses included, less the base load's
            # constant cost: the p_bal duals are then the marginal system cost (DLMP) per kWh,
            # and a lossless model has the same optimum and objective as pricing EV power
            # (with DistFlow, an objective that ignores losses leaves the relaxation loose)
            energy = m.grid.cost - base_energy_cost(f)
        if not s.limits:
            p_bus = lifted(m, "p_bus_kw", {k: fb.bus_p_kw[k] for k in fb.injection_keys})
            energy = energy + LOSS_PROXY * dt * sum(p_bus[k] ** 2 for k in fb.injection_keys)
        m.obj = pyo.Objective(expr=energy + penalty)
        return m
    target = fleet.evs.soc_target.to_numpy(float)[fb.fleet_index.ev_pos]
    dev = sum((fb.soc[k] - target[k]) ** 2 for k in range(len(target)))
    power = sum(fb.p_ch[k] for k in range(len(target)))
    if s.discharge:
        power = power + sum(fb.p_dis[k] for k in range(len(target)))
    loss_cost = 0.0
    if s.limits and grid_model == "distflow":
        loss_cost = SMART_LOSS_WEIGHT * m.grid.cost
    m.obj = pyo.Objective(expr=dev + SMART_K * power + penalty + loss_cost)
    return m


def run_strategy(
    case: Case,
    strategy: str,
    *,
    ev_share: float = 1.0,
    seed: int = 0,
    ac_correction: bool = True,
    grid_model: str = "lindistflow",
    command: str = "strategy",
) -> Run:
    """Run one strategy on the case's fleet; AC-check the schedule; tables and summary.

    Strategies with grid limits are corrected until the schedule keeps them in the AC power
    flow (``ac_correction``, :mod:`coupling.problems.ac_correction`); the others only report. With
    ``grid_model="distflow"`` the strategies with grid limits schedule on DistFlow with
    losses (SOC relaxation, no correction; its gap is reported)."""
    if case.fleet is None:
        raise CaseError(f"case {case.name!r} has no stationary fleet (fleet/evs.csv)")
    if strategy not in STRATEGIES:
        raise CaseError(f"unknown strategy {strategy!r} ({', '.join(STRATEGIES)})")
    s = STRATEGIES[strategy]
    f = case.feeder
    fleet = fleet_share(case.fleet, ev_share, seed)
    t0 = time.perf_counter()
    tables: dict[str, Any] = {}
    res = acr = None
    if not s.optimise:
        sched = uncoordinated_schedule(fleet, f.dt_h)
        t1 = time.perf_counter()
        unserved = float(
            (
                (
                    fleet.evs.soc_target
                    - sched.groupby("ev", sort=False).soc.last().reindex(fleet.evs.ev).to_numpy()
                ).clip(lower=0)
                * fleet.evs.battery_kwh
            ).sum()
        )
    else:
        m = build_strategy_model(case, fleet, s, grid_model if s.limits else "lindistflow")
        t1 = time.perf_counter()
        if s.limits and grid_model == "distflow":
            acr = solve_distflow(m, m.grid, f)
            res = acr.result
            tables["relaxation_gap"] = acr.gap_table
        elif s.limits:
            acr = solve_ac_feasible(m, m.grid, f, correct=ac_correction, duals=True)
            res = acr.result
        else:
            res = solve_grid_model(m, f, duals=False)
        sched = fleet_results(m.fleet, fleet)
        unserved = float(pyo.value(m.fleet.unserved_total_kwh))
    ev_p = bus_load(sched, fleet, f.bus_ids, f.steps, "p_kw")
    ev_q = bus_load(sched, fleet, f.bus_ids, f.steps, "q_kvar")
    t2 = time.perf_counter()
    if acr is not None:
        state, ac = acr.state, acr.ac
        if grid_model == "distflow":
            dlmp = acr.tariffs
        else:
            dlmp = tariff_table(
                f.bus_ids, dlmp_arrays(m.grid, f, None, res.duals, res.reduced_costs)
            )
            tables["ac_correction"] = pd.DataFrame(acr.history)
        if s.smart:  # objective units, not currency: the duals only, under their own name
            shadow = dlmp[["bus", "t", "dlmp_per_kwh"]].rename(
                columns={"dlmp_per_kwh": "shadow_price"}
            )
            tables["shadow_prices"] = shadow
        else:
            tables["tariffs"] = dlmp
    else:
        state = schedule_state(f, LinearGrid(f), *net_load(f, ev_p, ev_q))
        ac = ac_check(f, state.p_net_kw, state.q_net_kvar)
    energy_cost = float((f.price_per_kwh * ev_p.sum(axis=0)).sum() * f.dt_h)
    tables = {"fleet": sched} | grid_tables(f, state, ac) | tables
    summary = {
        "case": case.name,
        "command": command,
        "parameters": {
            "strategy": strategy,
            "ev_share": ev_share,
            "seed": seed,
            "grid_model": grid_model,
        },
        "objective": res.objective if res is not None else energy_cost,
        "energy_cost": energy_cost,
        "unserved_kwh": unserved,
        "n_ev": fleet.n,
        "steps": f.steps,
        "status": res.status if res is not None else "schedule",
        "build_s": t1 - t0,
        "solve_s": (
            sum(r["solve_s"] for r in acr.history)
            if acr is not None
            else res.solve_s
            if res is not None
            else 0.0
        ),
        "handover_s": res.handover_s if res is not None else 0.0,
        "ac_check_s": acr.ac_s if acr is not None else time.perf_counter() - t2,
        "discharged_kwh": float(-sched.p_kw.clip(upper=0).sum() * f.dt_h),
        "charged_kwh": float(sched.p_kw.clip(lower=0).sum() * f.dt_h),
    } | grid_summary(f, state, ac)
    if acr is not None:
        summary |= acr.summary(ac_correction)
    return Run(summary=summary, tables=tables)


def hosting_capacity(
    case: Case, strategy: str, shares: list[float], *, seed: int = 0
) -> tuple[float, list[dict[str, float]]]:
    """Largest EV share (of ``shares``, ascending) whose schedule keeps every line loading
    <= 1 and every voltage within its limits in the linear model (seed 001's hosting
    capacity); returns it (0.0 when none) and one row per share with the figures."""
    rows = []
    best = 0.0
    for share in shares:
        s = run_strategy_state(case, strategy, share, seed)
        rows.append({"ev_share": share} | s)
        if s["max_line_loading"] <= 1.0 + 1e-6 and s["voltage_violation_pu"] <= 1e-6:
            best = share
        else:
            break
    return best, rows


def run_strategy_state(case: Case, strategy: str, share: float, seed: int) -> dict[str, float]:
    """Linear-model figures of one strategy at one EV share (no AC check, no tables)."""
    s = STRATEGIES[strategy]
    f = case.feeder
    fleet = fleet_share(case.fleet, share, seed)
    if s.optimise:
        m = build_strategy_model(case, fleet, s)
        solve(m, duals=False)
        sched = fleet_results(m.fleet, fleet)
    else:
        sched = uncoordinated_schedule(fleet, f.dt_h)
    ev_p = bus_load(sched, fleet, f.bus_ids, f.steps, "p_kw")
    ev_q = bus_load(sched, fleet, f.bus_ids, f.steps, "q_kvar")
    p_net, q_net = net_load(f, ev_p, ev_q)
    grid = LinearGrid(f)
    ev = grid.evaluate(p_net, q_net, effective_limits(f, fixed_q_flows(f)))
    state = schedule_state(f, grid, p_net, q_net)
    return {
        "max_line_loading": float(
            line_loading(state.p_kw, state.q_kvar, f.line_p_max_kw, f.line_s_max_kva).max()
        ),
        "min_voltage_pu": float(state.v_pu.min()),
        "voltage_violation_pu": ev.max_voltage_excess_pu,
    }
