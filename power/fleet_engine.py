"""Stationary EV fleets in the matrix engine (``declare_fleet``) and the charging strategies
of :mod:`coupling.jobs.strategy` that need no reactive power.

The same model as :func:`power.fleet.add_fleet` (see that module for the maths), over the
plugged (ev, step) pairs ``k`` of :func:`power.fleet.fleet_index`: columns ``p_ch[k]`` (kW),
``p_dis[k]`` (kW, with V2G), ``soc[k]`` (fraction), ``unserved_kwh[ev]``; rows
``soc_balance[k]`` and ``target[ev]`` (``>=``). :func:`connect_fleet` adds the fleet's charging
(minus discharging) to the LinDistFlow balance row of each EV's bus. Reactive power (the
``-q`` strategies) needs LinDistFlow with reactive flows as variables, which the engine's block
does not have yet.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from engine.problem import Problem, index
from power.feeder import Feeder
from power.fleet import Fleet, FleetIndex, fleet_index


def declare_fleet(
    prob: Problem,
    fleet: Fleet,
    dt_h: float,
    *,
    discharge: bool = False,
    soc_min: float = 0.0,
    soc_max: float = 1.0,
    unserved_cost: float = 0.0,
) -> FleetIndex:
    """Add the fleet sets; ``unserved_cost`` (currency/kWh) prices the missed targets."""
    evs = fleet.evs
    ix = fleet_index(fleet)
    n, nv = len(ix.t), fleet.n
    pos = ix.ev_pos
    e = evs.battery_kwh.to_numpy(float)
    eta = evs.efficiency.to_numpy(float)[pos]
    pmax = evs.p_max_kw.to_numpy(float)[pos]
    k_idx = index(k=np.arange(n))
    prob.add_vars("p_ch", k_idx, 0.0, pmax)
    if discharge:
        prob.add_vars("p_dis", k_idx, 0.0, pmax)
    prob.add_vars("soc", k_idx, soc_min, soc_max)
    prob.add_vars("unserved_kwh", index(ev=evs.ev.to_numpy(str)), 0.0, np.inf, unserved_cost)
    # soc_k - soc_{k-1} - eta dt / E p_ch + dt / (eta E) p_dis = soc_init (first) or 0
    first = np.zeros(n, bool)
    first[ix.first[ix.first < ix.last]] = True
    later = np.flatnonzero(~first)
    soc_a = sp.identity(n, format="csr") - sp.csr_matrix(
        (np.ones(len(later)), (later, later - 1)), shape=(n, n)
    )
    terms = {"soc": soc_a, "p_ch": sp.diags(-eta * dt_h / e[pos], format="csr")}
    if discharge:
        terms["p_dis"] = sp.diags(dt_h / (eta * e[pos]), format="csr")
    rhs = np.where(first, evs.soc_init.to_numpy(float)[pos], 0.0)
    prob.add_rows("soc_balance", k_idx, terms, rhs, rhs)
    # soc_last + unserved / E >= min(target, soc_max)
    last = ix.last - 1
    ev = np.arange(nv)
    prob.add_rows(
        "target",
        index(ev=evs.ev.to_numpy(str)),
        {
            "soc": sp.csr_matrix((np.ones(nv), (ev, last)), shape=(nv, n)),
            "unserved_kwh": sp.diags(1.0 / e, format="csr"),
        },
        np.minimum(evs.soc_target.to_numpy(float), soc_max),
        np.inf,
    )
    return ix


def bus_matrix(fleet: Fleet, ix: FleetIndex, feeder: Feeder) -> sp.csr_matrix:
    """(buses x steps) x pairs: 1 at (bus of the EV, t) for each plugged pair ``k``."""
    bus = fleet.evs.bus.map(feeder.bus_pos).to_numpy(np.int64)[ix.ev_pos]
    rows = bus * feeder.steps + ix.t
    return sp.csr_matrix(
        (np.ones(len(rows)), (rows, np.arange(len(rows)))),
        shape=(len(feeder.bus_ids) * feeder.steps, len(rows)),
    )


def connect_fleet(prob: Problem, fleet: Fleet, ix: FleetIndex, feeder: Feeder) -> None:
    """Charging (minus discharging) as load in the LinDistFlow balance row of each EV's bus."""
    m = bus_matrix(fleet, ix, feeder)
    prob.add_to_rows("p_bal", "p_ch", -m)
    if "p_dis" in prob.vars:
        prob.add_to_rows("p_bal", "p_dis", m)


def smart_cost(prob: Problem, fleet: Fleet, ix: FleetIndex, k_power: float) -> None:
    """Seed 002's smart-charging objective on the fleet's columns:
    ``sum_k (soc_k - target_ev(k))^2 + k_power sum_k (p_ch + p_dis)``."""
    target = fleet.evs.soc_target.to_numpy(float)[ix.ev_pos]
    soc = prob.vars["soc"]
    soc.qcost = np.full(len(target), 2.0)
    soc.cost = soc.cost - 2.0 * target
    prob.objective_offset += float(target @ target)
    for name in ("p_ch", "p_dis"):
        if name in prob.vars:
            prob.vars[name].cost = prob.vars[name].cost + k_power
