"""Stationary EV fleets: data, validation, the Pyomo fleet block and uncoordinated charging.

Per EV ``v`` plugged in at bus ``b`` during steps ``arrival_t .. departure_t - 1`` (departure
is the exclusive end step, ``<= steps``):

* charging ``p_ch >= 0`` and, with V2G, discharging ``p_dis >= 0`` (kW, grid side), reactive
  ``q`` (kvar, consumption positive) when reactive support is on;
* SOC (fraction of ``battery_kwh``) at the end of each plugged step:
  ``soc_t = soc_{t-1} + (eta p_ch - p_dis / eta) dt / E``, ``soc_{arrival-1} = soc_init``,
  bounds ``soc_min <= soc <= soc_max`` as variable bounds;
* departure target ``soc_last + unserved_kwh / E >= soc_target`` with ``unserved_kwh >= 0``
  (so the problem is always feasible; ``unserved_total_kwh`` reports the shortfall);
* charger limit: ``p_ch <= p_max_kw`` (bound) and, with reactive power, ``P^2 + Q^2 <= S^2``
  as an inscribed regular N-gon on ``P = p_ch - p_dis`` (rows only for the facets that can
  bind: those facing ``P >= 0`` for a charge-only charger, with ``|q| <= S`` as bounds). The
  polygon is conservative by at most ``1 - cos(pi / N)`` of the rating (1.9 % for N = 16).

Bus injections ``bus_p_kw[b, t]`` and ``bus_q_kvar[b, t]`` (consumption positive) are the sums
over the EVs at each bus; they are what the LinDistFlow block takes as extra load.

File ``fleet/evs.csv``: ev, bus, arrival_t, departure_t, soc_init, soc_target, battery_kwh,
p_max_kw, s_max_kva, efficiency [, aggregator].

References
----------
Seed 002 (Zecchino / Sossan et al.): SOC model with efficiency, charger capability, smart
charging / V2G / reactive support; seed 001 (BATTPOWER) uncoordinated charging.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyomo.environ as pyo
from pyomo.core.expr.numeric_expr import LinearExpression

from common.gc import paused_gc
from common.validate import Where, as_text
from power.limits import polygon_directions
from power.registry import FILES, required

FILE = FILES["evs"][0]
ID_COLUMNS, NUM_COLUMNS = required("evs")  # from the attribute registry


class FleetDataError(ValueError):
    """Invalid fleet table; one line naming file, column and EV."""


@dataclass(frozen=True)
class Fleet:
    """Stationary EVs, one row per EV (see module docstring for the columns)."""

    evs: pd.DataFrame

    def validate(self, steps: int, buses: set[str] | list[str]) -> None:
        """Check columns, ids, windows (within 0..steps), SOC values and ratings."""
        df = self.evs
        w = Where(FILE, FleetDataError, key="ev")
        w.missing_columns(df, ID_COLUMNS + NUM_COLUMNS, "missing column")
        for col in NUM_COLUMNS:
            vals = pd.to_numeric(df[col], errors="coerce")
            w.range(df, col, vals.notna(), "is not a number", show=as_text)
            w.range(
                df, col, np.isfinite(vals.to_numpy(float)), "is not a finite number", show=as_text
            )
        a, d = df.arrival_t.to_numpy(float), df.departure_t.to_numpy(float)
        checks = [
            ("ev", df.ev.duplicated().to_numpy(), "is listed twice"),
            ("bus", ~df.bus.isin(set(buses)).to_numpy(), "is at a bus not in grid/buses.csv"),
            ("arrival_t", (a < 0) | (a != np.round(a)), "must be a step index >= 0"),
            ("departure_t", (d > steps) | (d != np.round(d)), f"must be a step index <= {steps}"),
            ("departure_t", d <= a, "is not after arrival_t"),
        ]
        for col in ("soc_init", "soc_target"):
            v = df[col].to_numpy(float)
            checks.append((col, (v < 0) | (v > 1), "must lie in [0, 1]"))
        for col in ("battery_kwh", "p_max_kw", "s_max_kva"):
            checks.append((col, df[col].to_numpy(float) <= 0, "must be positive"))
        eta = df.efficiency.to_numpy(float)
        checks.append(("efficiency", (eta <= 0) | (eta > 1), "must lie in (0, 1]"))
        for col, bad, rule in checks:
            w.range(df, col, ~np.asarray(bad), rule, show=as_text)

    @property
    def n(self) -> int:
        return len(self.evs)


@dataclass(frozen=True)
class FleetOptions:
    """Switches of the fleet block: V2G discharge, reactive power, polygon sides, SOC bounds."""

    discharge: bool = False
    reactive: bool = False
    polygon_sides: int = 16
    soc_min: float = 0.0
    soc_max: float = 1.0


@dataclass(frozen=True)
class FleetIndex:
    """Flat indexing of the plugged (ev, step) pairs: ``ev_pos[k]``, ``t[k]`` per pair ``k``;
    ``first[i]``/``last[i]`` the pair range of EV ``i`` (last exclusive)."""

    ev_pos: np.ndarray
    t: np.ndarray
    first: np.ndarray
    last: np.ndarray


def fleet_index(fleet: Fleet) -> FleetIndex:
    a = fleet.evs.arrival_t.to_numpy(int)
    d = fleet.evs.departure_t.to_numpy(int)
    lengths = d - a
    last = np.cumsum(lengths)
    first = last - lengths
    ev_pos = np.repeat(np.arange(fleet.n), lengths)
    t = a[ev_pos] + (np.arange(len(ev_pos)) - first[ev_pos])
    return FleetIndex(ev_pos, t, first, last)


@paused_gc
def add_fleet(blk: pyo.Block, fleet: Fleet, steps: int, dt_h: float, opts: FleetOptions) -> None:
    """Add the fleet variables, SOC balances, targets and charger limits (module docstring)."""
    evs = fleet.evs
    ix = fleet_index(fleet)
    n = len(ix.t)
    blk.fleet_index = ix
    e_kwh = evs.battery_kwh.to_numpy(float)[ix.ev_pos]
    eta = evs.efficiency.to_numpy(float)[ix.ev_pos]
    pmax = evs.p_max_kw.to_numpy(float)[ix.ev_pos]
    smax = evs.s_max_kva.to_numpy(float)[ix.ev_pos]
    K = range(n)
    blk.p_ch = pyo.Var(K, bounds=lambda _, k: (0.0, pmax[k]), initialize=0.0)
    if opts.discharge:
        blk.p_dis = pyo.Var(K, bounds=lambda _, k: (0.0, pmax[k]), initialize=0.0)
    if opts.reactive:
        blk.q = pyo.Var(K, bounds=lambda _, k: (-smax[k], smax[k]), initialize=0.0)
    blk.soc = pyo.Var(K, bounds=(opts.soc_min, opts.soc_max), initialize=0.5)
    blk.unserved_kwh = pyo.Var(range(fleet.n), bounds=(0.0, None), initialize=0.0)

    soc0 = evs.soc_init.to_numpy(float)
    k_ch = eta * dt_h / e_kwh
    k_dis = dt_h / (eta * e_kwh)
    is_first = np.zeros(n, bool)
    is_first[ix.first[ix.first < ix.last]] = True

    def soc_rule(_, k):
        vs = [blk.soc[k], blk.p_ch[k]]
        cs = [1.0, -k_ch[k]]
        if opts.discharge:
            vs.append(blk.p_dis[k])
            cs.append(k_dis[k])
        if is_first[k]:
            return (
                LinearExpression(constant=0.0, linear_coefs=cs, linear_vars=vs)
                == soc0[ix.ev_pos[k]]
            )
        vs.append(blk.soc[k - 1])
        cs.append(-1.0)
        return LinearExpression(constant=0.0, linear_coefs=cs, linear_vars=vs) == 0.0

    blk.soc_balance = pyo.Constraint(K, rule=soc_rule)
    target = np.minimum(evs.soc_target.to_numpy(float), opts.soc_max)
    e_ev = evs.battery_kwh.to_numpy(float)

    def target_rule(_, i):
        k = ix.last[i] - 1
        e = LinearExpression(
            constant=0.0,
            linear_coefs=[1.0, 1.0 / e_ev[i]],
            linear_vars=[blk.soc[k], blk.unserved_kwh[i]],
        )
        return e >= target[i]

    blk.target = pyo.Constraint(range(fleet.n), rule=target_rule)
    blk.unserved_total_kwh = pyo.Expression(expr=sum(blk.unserved_kwh[i] for i in range(fleet.n)))

    if opts.reactive:
        nside = opts.polygon_sides
        cos, sin, apothem = polygon_directions(nside)
        keep = cos > 1e-12 if not opts.discharge else np.ones(nside, bool)
        sides = np.flatnonzero(keep)

        def poly_rule(_, k, s):
            vs = [blk.p_ch[k], blk.q[k]]
            cs = [cos[s], sin[s]]
            if opts.discharge:
                vs.append(blk.p_dis[k])
                cs.append(-cos[s])
            return (
                LinearExpression(constant=0.0, linear_coefs=cs, linear_vars=vs) <= smax[k] * apothem
            )

        blk.charger_poly = pyo.Constraint(K, sides.tolist(), rule=poly_rule)

    # bus injections
    bus = evs.bus.to_numpy()[ix.ev_pos]
    groups: dict[tuple[str, int], list[int]] = {}
    for k, key in enumerate(zip(bus, ix.t.tolist())):
        groups.setdefault(key, []).append(k)
    blk.injection_keys = list(groups)

    def p_rule(_, b, t):
        ks = groups[(b, t)]
        vs = [blk.p_ch[k] for k in ks]
        cs = [1.0] * len(ks)
        if opts.discharge:
            vs += [blk.p_dis[k] for k in ks]
            cs += [-1.0] * len(ks)
        return LinearExpression(constant=0.0, linear_coefs=cs, linear_vars=vs)

    blk.bus_p_kw = pyo.Expression(blk.injection_keys, rule=p_rule)
    if opts.reactive:
        blk.bus_q_kvar = pyo.Expression(
            blk.injection_keys,
            rule=lambda _, b, t: LinearExpression(
                constant=0.0,
                linear_coefs=[1.0] * len(groups[(b, t)]),
                linear_vars=[blk.q[k] for k in groups[(b, t)]],
            ),
        )


def fleet_results(blk: pyo.Block, fleet: Fleet) -> pd.DataFrame:
    """Long table (ev, t, p_kw, q_kvar, soc) over the plugged steps of every EV."""
    ix: FleetIndex = blk.fleet_index
    n = len(ix.t)
    p = np.array([blk.p_ch[k].value or 0.0 for k in range(n)])
    if hasattr(blk, "p_dis"):
        p = p - np.array([blk.p_dis[k].value or 0.0 for k in range(n)])
    q = np.array([blk.q[k].value or 0.0 for k in range(n)]) if hasattr(blk, "q") else np.zeros(n)
    soc = np.array([blk.soc[k].value for k in range(n)])
    return pd.DataFrame(
        {"ev": fleet.evs.ev.to_numpy()[ix.ev_pos], "t": ix.t, "p_kw": p, "q_kvar": q, "soc": soc}
    )


def uncoordinated_schedule(fleet: Fleet, dt_h: float, soc_max: float = 1.0) -> pd.DataFrame:
    """Charge at full power from arrival until the target (last step partial) or departure.

    Returns the long table (ev, t, p_kw, q_kvar, soc) over the plugged steps; vectorised.
    """
    evs = fleet.evs
    ix = fleet_index(fleet)
    e = evs.battery_kwh.to_numpy(float)[ix.ev_pos]
    eta = evs.efficiency.to_numpy(float)[ix.ev_pos]
    pmax = evs.p_max_kw.to_numpy(float)[ix.ev_pos]
    need = (
        np.minimum(evs.soc_target.to_numpy(float), soc_max) - evs.soc_init.to_numpy(float)
    ).clip(0)
    need_kwh_grid = (need * evs.battery_kwh.to_numpy(float) / evs.efficiency.to_numpy(float))[
        ix.ev_pos
    ]
    step_kwh = pmax * dt_h
    before = (ix.t - evs.arrival_t.to_numpy(int)[ix.ev_pos]) * step_kwh  # delivered before step
    p = np.clip(need_kwh_grid - before, 0.0, step_kwh) / dt_h
    gained = p * dt_h * eta / e
    soc = evs.soc_init.to_numpy(float)[ix.ev_pos] + _cumsum_by_group(gained, ix)
    return pd.DataFrame(
        {"ev": evs.ev.to_numpy()[ix.ev_pos], "t": ix.t, "p_kw": p, "q_kvar": 0.0, "soc": soc}
    )


def _cumsum_by_group(x: np.ndarray, ix: FleetIndex) -> np.ndarray:
    c = np.cumsum(x)
    start = np.concatenate([[0.0], c])[ix.first[ix.ev_pos]]
    return c - start


def bus_load(
    schedule: pd.DataFrame, fleet: Fleet, bus_ids: list[str], steps: int, col: str = "p_kw"
) -> np.ndarray:
    """(buses x steps) sum of a fleet schedule column per bus."""
    pos = {b: i for i, b in enumerate(bus_ids)}
    bus_of = dict(zip(fleet.evs.ev, fleet.evs.bus))
    rows = schedule.ev.map(bus_of).map(pos).to_numpy()
    out = np.zeros((len(bus_ids), steps))
    np.add.at(out, (rows, schedule.t.to_numpy(int)), schedule[col].to_numpy(float))
    return out
