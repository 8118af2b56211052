"""Seed 000's distribution grid capacity market as a configuration of the tariff loop.

Fleet operators (FOs, the ``aggregator`` column of ``fleet/evs.csv``) charge stationary EVs.
Each FO first plans its preferred schedule ``P*`` (energy cost only, plus the small loss proxy
of :mod:`coupling.jobs.strategy` that spreads charging over hours of equal price). In the
market it then minimises its cost of eq. (2) plus the grid tariff,

    sum_t dt [ (c_t + R_t) P_t + w_i (P_t - P*_t)^2 / P_nom,i ]

with ``w_i`` the FO's weight (currency/kWh, ``[parameters] weight_<fo>``) and ``P_nom,i`` its
total charger power (kW), so that ``w_i`` is the cost of moving the whole fleet's power by one
kWh. The DSO knows no FO model: the ``subgradient`` mechanism starts from zero prices and
updates the price of every grid limit (here the time-varying transformer capacity of
``grid/line_limits.csv``) by ``mu <- [mu + alpha (flow - capacity)]^+`` — seed 000's
``lambda <- [lambda + alpha (sum P - P_cap)]^+`` — until no limit is exceeded. The tariff is
the limit prices only: with the AC correction the DSO's linear model carries the losses, but
the market does not charge them (no loss part, unlike a DLMP), so the correction does not
jolt the FOs' schedules by the loss factors (``c_t (F - 1)``, up to 0.013 currency/kWh on
feeder1000-ev, where 1e-6 moves kilowatts).

References
----------
Hu, J., You, S., Lind, M., Ostergaard, J. (2014). Coordinated charging of electric vehicles
for congestion prevention in the distribution grid. IEEE Trans. Smart Grid 5(2) (seed 000).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
import pyomo.environ as pyo

from cases.case import Case, CaseError
from coupling.jobs.grid import grid_summary, grid_tables
from coupling.jobs.strategy import LOSS_PROXY, UNSERVED_COST
from coupling.output.runfolder import Run
from coupling.problems.ac_correction import LoopAC
from coupling.problems.diagnose import worst_excess
from coupling.problems.grid import schedule_state
from coupling.problems.lifting import lifted
from coupling.problems.loop import (
    LimitPrices,
    LoopOptions,
    loop_progress,
    run_loop,
    solve_independently,
)
from power.ac_check import ac_check
from power.dlmp import tariff_table
from power.fleet import Fleet, FleetOptions, add_fleet, bus_load, fleet_results
from power.limits import LinearGrid, effective_limits, fixed_q_flows, net_load
from power.solve import CompiledQP, solve

# AC corrections of the market's linear model at most: the market starts from the lossless
# model (no DSO stage has corrected it) and each correction costs market rounds, not a DSO
# re-solve; feeder1000-ev needs 4 (AC loading 1.034, 1.017, ..., 0.9999)
AC_CORRECTIONS = 6


def fleet_options(case: Case) -> FleetOptions:
    return FleetOptions(
        soc_min=case.parameter("soc_min", 0.0), soc_max=case.parameter("soc_max", 1.0)
    )


def operators(fleet: Fleet) -> list[str]:
    if "aggregator" not in fleet.evs:
        return ["fo1"]
    return list(dict.fromkeys(fleet.evs["aggregator"]))


def _sub(fleet: Fleet, fo: str) -> Fleet:
    if "aggregator" not in fleet.evs:
        return fleet
    return Fleet(fleet.evs[fleet.evs["aggregator"] == fo].reset_index(drop=True))


def build_fo(case: Case, fleet: Fleet) -> pyo.ConcreteModel:
    """One FO's model with mutable tariff per (bus, t), preferred power per t and the weight
    of deviating from it (0 at build: the first solve plans the preferred schedule)."""
    f = case.feeder
    dt, steps = f.dt_h, f.steps
    m = pyo.ConcreteModel()
    m.fleet = pyo.Block()
    add_fleet(m.fleet, fleet, steps, dt, fleet_options(case))
    fb = m.fleet
    keys = fb.injection_keys
    m.tariff = pyo.Param(keys, initialize=0.0, mutable=True)
    m.preferred = pyo.Param(range(steps), initialize=0.0, mutable=True)
    m.weight = pyo.Param(initialize=0.0, mutable=True)
    price = f.price_per_kwh
    p_nom = float(fleet.evs.p_max_kw.sum())
    total = {t: [] for t in range(steps)}
    for b, t in keys:
        total[t].append(fb.bus_p_kw[b, t])
    # squares of lifted variables keep the Hessian diagonal (coupling.problems.lifting)
    p_bus = lifted(m, "p_bus_kw", {k: fb.bus_p_kw[k] for k in keys}, "FO load per bus (kW)")
    m.P = lifted(m, "P", {t: sum(total[t]) for t in range(steps) if total[t]}, "FO load (kW)")
    energy = sum((float(price[t]) + m.tariff[b, t]) * dt * fb.bus_p_kw[b, t] for b, t in keys)
    loss = LOSS_PROXY * dt * sum(p_bus[k] ** 2 for k in keys)
    dev = sum((m.P[t] - m.preferred[t]) ** 2 for t in range(steps) if total[t]) * dt / p_nom
    m.obj = pyo.Objective(
        expr=energy + loss + m.weight * dev + UNSERVED_COST * fb.unserved_total_kwh
    )
    return m


def run_fleet_market(
    case: Case,
    loop_opts: LoopOptions = LoopOptions(),
    *,
    ac_correction: bool = True,
    command: str = "tariff",
    progress: Callable[[str], None] | None = None,
) -> Run:
    """Preferred schedules -> subgradient capacity market -> final schedules, AC-checked;
    with ``ac_correction`` the market goes on until the AC power flow accepts the schedule
    (:class:`coupling.problems.ac_correction.LoopAC`)."""
    if case.fleet is None:
        raise CaseError(f"case {case.name!r} has neither EV demand on roads nor a fleet")
    say = progress or (lambda _: None)
    f = case.feeder
    steps = f.steps
    t0 = time.perf_counter()
    fos = operators(case.fleet)
    subs = {fo: _sub(case.fleet, fo) for fo in fos}
    models = {fo: build_fo(case, subs[fo]) for fo in fos}
    t1 = time.perf_counter()
    # preferred schedules: weight 0, tariff 0
    compiled = {fo: CompiledQP() for fo in fos}  # only objective parameters change later
    for fo, m in models.items():
        solve(m, duals=False, compiled=compiled[fo])
        pref = [pyo.value(m.P[t]) if t in m.P else 0.0 for t in range(steps)]
        for t in range(steps):
            m.preferred[t] = pref[t]
        m.weight = case.parameter(f"weight_{fo}", 0.5)
    say(f"preferred schedules of {len(fos)} fleet operators planned")
    q_fixed = fixed_q_flows(f)
    grid, lim = LinearGrid(f), effective_limits(f, q_fixed)
    accept = (
        LoopAC(f, q_fixed, None, grid, max_corrections=AC_CORRECTIONS) if ac_correction else None
    )
    bus_pos = f.bus_pos

    def respond(bus_tariff: np.ndarray) -> tuple[np.ndarray, dict]:
        for m in models.values():
            for b, t in m.fleet.injection_keys:
                m.tariff[b, t] = float(bus_tariff[bus_pos[b], t])
        results = solve_independently(
            models, lambda fo, m: solve(m, duals=False, compiled=compiled[fo])
        )
        ev_bus = np.zeros((len(f.bus_ids), steps))
        out = {}
        for fo, m in models.items():
            sched = fleet_results(m.fleet, subs[fo])
            ev_bus += bus_load(sched, subs[fo], f.bus_ids, steps)
            out[fo] = (results[fo], sched)
        return ev_bus, out

    prices = LimitPrices.zeros(len(f.line_ids), len(f.bus_ids), steps)
    loop_opts = replace(loop_opts, loss_part=False)  # a capacity market: no loss part
    loop = run_loop(f, grid, lim, prices, respond, loop_opts, loop_progress(say), accept)
    t2 = time.perf_counter()
    sched = pd.concat([loop.responses[fo][1] for fo in fos], ignore_index=True)
    ev_bus = bus_load(sched, case.fleet, f.bus_ids, steps)
    state = schedule_state(f, loop.grid, *net_load(f, ev_bus))
    ev = loop.grid.evaluate(*net_load(f, ev_bus), loop.limits)  # against the loop's limits
    ac = ac_check(f, state.p_net_kw, state.q_net_kvar)
    price = f.price_per_kwh
    energy_cost = float((price * ev_bus.sum(axis=0)).sum() * f.dt_h)
    mu = loop.prices.mu_up - loop.prices.mu_down
    shadow = pd.DataFrame(
        {
            "line": np.repeat(f.line_ids, steps),
            "t": np.tile(np.arange(steps), len(f.line_ids)),
            "shadow_price": mu.reshape(-1),
            "limit_kw": loop.limits.flow_up_kw.reshape(-1),
        }
    )
    tariffs = tariff_table(f.bus_ids, tariff=loop.bus_tariff)  # no DSO problem: no DLMP
    summary: dict[str, Any] = {
        "case": case.name,
        "command": command,
        "parameters": {
            "mechanism": "subgradient",
            "step_kw": loop_opts.step_kw,
            "step_w": loop_opts.step_w,  # the voltage limits' prices (loop._next_prices)
            "step_rule": loop_opts.step_rule,
            "operators": fos,
        },
        "objective": energy_cost,
        "energy_cost": energy_cost,
        "iterations": len(loop.history),
        "converged": loop.converged,
        "limit_excess": worst_excess(f, ev, loop_opts.tol_kw, loop_opts.tol_w),
        "ac_correction": ac_correction,
        "ac_loop_corrections": accept.corrections if accept is not None else 0,
        **(accept.summary() if accept is not None else {}),
        "n_ev": case.fleet.n,
        "unserved_kwh": float(sum(pyo.value(m.fleet.unserved_total_kwh) for m in models.values())),
        "build_s": t1 - t0,
        "solve_s": t2 - t1,
    } | grid_summary(f, state, ac)
    tables = grid_tables(f, state, ac) | {
        "fleet": sched,
        "loop": pd.DataFrame(loop.history),
        "tariffs": tariffs[tariffs.tariff_per_kwh.abs() > 0].reset_index(drop=True),
        "shadow_prices": shadow,
    }
    return Run(summary=summary, tables=tables)
