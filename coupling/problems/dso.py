"""The DSO's centralised problem and the aggregators' (EVA) problems of the tariff scheme.

DSO (seed 003, DESIGN §4.5): minimise ``sum_m (C_T^m + penalty^m) + grid energy cost
+ beta dt sum_t P_t^2 + eps dt sum_{y,t} p_{y,t}^2`` over all aggregators' DTA blocks
``m.eva[a]`` and the (robust) LinDistFlow block ``m.grid``, station ``y`` drawing
``p_{y,t} = sum_a station_p_kw[y, t]`` at its bus. ``P_t = sum_y p_{y,t}`` is the total EV
charging power; the grid energy cost ``sum_t c_t import_t dt`` contains seed 003's
``c_t P_t`` (the EV share of the import) plus a constant for the base load.

EVA a: minimise ``C_T^a + penalty^a + sum_{y,t} (c_t + R_{y,t}) p^a_{y,t} dt
+ beta dt sum_t (P^a_t)^2 + eps dt sum_{y,t} (p^a_{y,t})^2`` over its own DTA block.

``eps`` (currency/kWh per kW, default 1e-4) is the small strictly convex term per station
and step that makes the response unique: seed 003's beta term prices only the *total*
power, so without it the split of a total between stations can tie (Li, Wu & Oren use such a
term per aggregator). With one EVA, exact data and ``R`` = the congestion + voltage parts of
the DSO's DLMP, the EVA's KKT conditions are the DSO's with the grid rows priced, so its
(unique) station loads equal the DSO's.

References
----------
Seed 003; Li, R., Wu, Q., Oren, S. S. (2014), "Distribution locational marginal pricing for
optimal electric vehicle charging management", IEEE Trans. Power Systems 29(1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyomo.environ as pyo

from cases.case import Case, CaseError
from coupling.problems.case_dta import add_case_dta
from coupling.problems.lifting import lifted
from power.lindistflow import GridOptions, Margins, add_lindistflow
from traffic.paths import PathSet


@dataclass(frozen=True)
class MarketParams:
    """Charging-cost parameters: ``beta`` (currency/kWh per kW of total power, seed 003) and
    ``eps`` (currency/kWh per kW per station, the uniqueness term)."""

    beta: float = 0.0
    eps: float = 1e-4

    @classmethod
    def from_case(cls, case: Case) -> MarketParams:
        return cls(beta=case.parameter("beta"), eps=case.parameter("eps"))

    def quadratic_cost(self, loads: np.ndarray, dt: float, total: np.ndarray | None = None) -> Any:
        """``beta dt sum_t P_t^2 + eps dt sum_{y,t} p_{y,t}^2`` (currency) of ``loads``
        (stations x steps, kW) with ``P_t`` = ``total`` (default: the column sums). Works on
        floats and on object arrays of Pyomo variables alike (then a Pyomo expression), so
        the DSO's and the EVAs' objectives and the reported charging cost are one formula."""
        if total is None:
            total = loads.sum(axis=0)
        quad: Any = 0.0
        if self.beta:
            quad = self.beta * dt * (total**2).sum()
        if self.eps:
            quad = quad + self.eps * dt * (loads**2).sum()
        return quad


def aggregators(case: Case) -> list[str]:
    """Aggregator ids of the case's demand, in order of first appearance."""
    if case.traffic is None:
        raise CaseError(f"case {case.name!r} has no road network and EV demand (traffic/ files)")
    return list(dict.fromkeys(case.traffic.demand.table["aggregator"]))


def station_ids(case: Case) -> list[str]:
    """Station ids (empty when the case has no stations)."""
    st = case.traffic.stations if case.traffic else None
    return [] if st is None else st.table["station"].tolist()


def station_bus(case: Case) -> dict[str, str]:
    """Station -> feeder bus."""
    st = case.traffic.stations if case.traffic else None
    return {} if st is None else dict(zip(st.table["station"], st.table["bus"]))


def _charging_terms(
    blk: pyo.Block,
    loads: pyo.Expression,
    stations: list[str],
    steps: int,
    dt: float,
    mp: MarketParams,
):
    """:meth:`MarketParams.quadratic_cost` as a Pyomo expression, squaring the lifted station
    loads ``blk.charge_kw[y, t]`` and totals ``blk.total_kw[t]`` (kW; see
    :mod:`coupling.problems.lifting`)."""
    if not (mp.beta or mp.eps):
        return 0.0
    idx = [(y, t) for y in stations for t in range(steps)]
    charge = lifted(blk, "charge_kw", {k: loads[k] for k in idx}, "station load (kW)")
    grid = np.empty((len(stations), steps), dtype=object)
    for (i, t), k in zip(np.ndindex(grid.shape), idx):
        grid[i, t] = charge[k]
    total = None
    if mp.beta:
        total_kw = lifted(
            blk,
            "total_kw",
            {t: sum(charge[y, t] for y in stations) for t in range(steps)},
            "total EV charging power (kW)",
        )
        total = np.array([total_kw[t] for t in range(steps)], dtype=object)
    return mp.quadratic_cost(grid, dt, total)


def build_dso(
    case: Case,
    paths: PathSet,
    margins: Margins | None,
    mp: MarketParams,
    grid_opts: GridOptions = GridOptions(),
) -> pyo.ConcreteModel:
    """The DSO's centralised QP (see module docstring)."""
    aggs = aggregators(case)
    stations = station_ids(case)
    bus_of = station_bus(case)
    steps, dt = case.time.steps, case.time.dt_h
    m = pyo.ConcreteModel(name=f"dso-{case.name}")
    m.A = pyo.Set(initialize=aggs, ordered=True)
    m.eva = pyo.Block(m.A)
    for a in aggs:
        add_case_dta(m.eva[a], case, paths, aggregators=[a])
    m.Y = pyo.Set(initialize=stations, ordered=True)
    m.station_p_kw = pyo.Expression(
        m.Y, range(steps), rule=lambda _, y, t: sum(m.eva[a].station_p_kw[y, t] for a in aggs)
    )
    extra: dict[tuple[str, int], object] = {}
    for y in stations:
        for t in range(steps):
            key = (bus_of[y], t)
            extra[key] = extra.get(key, 0.0) + m.station_p_kw[y, t]
    m.grid = pyo.Block()
    add_lindistflow(m.grid, case.feeder, grid_opts, extra_p_kw=extra, margins=margins)
    traffic = sum(m.eva[a].travel_cost + m.eva[a].arrival_penalty for a in aggs)
    m.obj = pyo.Objective(
        expr=traffic + m.grid.cost + _charging_terms(m, m.station_p_kw, stations, steps, dt, mp)
    )
    return m


def build_eva(case: Case, paths: PathSet, agg: str, mp: MarketParams) -> pyo.ConcreteModel:
    """Aggregator ``agg``'s problem with a mutable tariff ``m.tariff[y, t]`` (currency/kWh)."""
    stations = station_ids(case)
    steps, dt = case.time.steps, case.time.dt_h
    price = case.feeder.price_per_kwh
    m = pyo.ConcreteModel(name=f"eva-{agg}")
    m.dta = pyo.Block()
    add_case_dta(m.dta, case, paths, aggregators=[agg])
    m.Y = pyo.Set(initialize=stations, ordered=True)
    m.tariff = pyo.Param(m.Y, range(steps), initialize=0.0, mutable=True)
    energy = sum(
        (float(price[t]) + m.tariff[y, t]) * dt * m.dta.station_p_kw[y, t]
        for y in stations
        for t in range(steps)
    )
    m.obj = pyo.Objective(
        expr=m.dta.travel_cost
        + m.dta.arrival_penalty
        + energy
        + _charging_terms(m, m.dta.station_p_kw, stations, steps, dt, mp)
    )
    return m


def station_loads(blk_loads: pyo.Expression, stations: list[str], steps: int) -> np.ndarray:
    """(stations x steps) array of solved station loads (kW)."""
    return np.array([[pyo.value(blk_loads[y, t]) for t in range(steps)] for y in stations]).reshape(
        len(stations), steps
    )
