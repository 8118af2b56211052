"""The linear DTA (:mod:`traffic.dta`) in the matrix engine, as ``declare_*`` builders.

:func:`traffic.dta.dta_layout` does the index bookkeeping and builds the coefficient matrices
(:class:`traffic.dta.DtaStructure`, no solver objects); the builders here emit them through
the :class:`engine.problem.Problem` API, each its own sets, names prefixed with ``prefix``:

* :func:`declare_dta_columns`: columns ``veh_min[i]``, ``veh_max[i]`` (vehicles at the SOC
  floor / at ``soc_max`` of each vehicle quantity ``i`` of :class:`traffic.dta.DtaIndex`);
* :func:`declare_dta_balances`: rows ``balance_veh[r]`` (vehicles) and ``balance_soc[r]``
  (battery equivalents);
* :func:`declare_dta_capacity`: rows ``exit_capacity[k]`` (vehicles per step) and
  ``plugs[k]`` (vehicles), only where they can bind;
* :func:`declare_dta_station_load`: the station load ``station_p_kw[station, t]`` (kW) as a
  linear map over the columns (:class:`StationLoad`; the Problem has no named expressions);
* :func:`declare_dta_costs`: travel cost, arrival penalty and, with a price, charging energy
  on the columns (currency).

:func:`declare_dta` is the composition columns + balances + capacity (the constraints of the
Pyomo block :func:`traffic.dta.add_linear_dta`, which reads the same structure).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from engine.problem import Index, Problem, ProblemError, index
from traffic.dta import DtaStructure


def _columns(prob: Problem, st: DtaStructure, prefix: str, what: str) -> tuple[str, str]:
    """The names of the DTA columns, checked to be declared with ``st``'s size."""
    names = f"{prefix}veh_min", f"{prefix}veh_max"
    for name in names:
        if name not in prob.vars:
            raise ProblemError(f"{what}: variable set {name!r} not declared (declare_dta_columns)")
        if prob.vars[name].idx.size != st.n:
            raise ProblemError(
                f"{what}: variable set {name!r} has {prob.vars[name].idx.size} columns, "
                f"the DTA {st.n}"
            )
    return names


def declare_dta(prob: Problem, st: DtaStructure, prefix: str = "") -> StationLoad:
    """Add the DTA sets of ``st`` to ``prob`` (names prefixed with ``prefix``):
    :func:`declare_dta_columns`, :func:`declare_dta_balances` and :func:`declare_dta_capacity`.
    Returns the station load map (:func:`declare_dta_station_load`); no cost is set
    (:func:`declare_dta_costs`)."""
    declare_dta_columns(prob, st, prefix)
    declare_dta_balances(prob, st, prefix)
    declare_dta_capacity(prob, st, prefix)
    return declare_dta_station_load(prob, st, prefix)


def declare_dta_columns(prob: Problem, st: DtaStructure, prefix: str = "") -> None:
    """Columns ``veh_min[i]``, ``veh_max[i]`` over the ``N`` vehicle quantities ``i`` of
    ``st.index.variables`` (vehicles; the quantity's vehicles are ``veh_min + veh_max``, its
    SOC ``floor_i veh_min + soc_max veh_max`` battery equivalents), bounds ``0 <= . <= inf``
    except the quantities fixed to 0 by the time windows (``0 <= . <= 0``); cost 0."""
    ub = st.upper_bounds()
    idx = index(i=np.arange(st.n))
    prob.add_vars(f"{prefix}veh_min", idx, 0.0, ub)
    prob.add_vars(f"{prefix}veh_max", idx, 0.0, ub)


def declare_dta_balances(prob: Problem, st: DtaStructure, prefix: str = "") -> None:
    """Rows ``balance_veh[r]``: ``a_veh (veh_min + veh_max) = rhs_veh`` (vehicles; departures,
    segment queues, station splits, waiting and charging states) and their SOC twins
    ``balance_soc[r]``: ``(a_veh diag(floor) + a_soc_extra) veh_min + (soc_max a_veh +
    a_soc_extra) veh_max = rhs_soc`` (battery equivalents; ``a_soc_extra`` holds the energy
    use ``c_a`` of segments and the charging gain ``-k_l``, ``k_l = eta p_l dt / E``).
    ``r`` indexes ``st.index.rows``. Needs :func:`declare_dta_columns`."""
    vmin, vmax = _columns(prob, st, prefix, "declare_dta_balances")
    a = st.a_veh
    s_lo, s_hi = st.soc_terms()
    rows = index(r=np.arange(a.shape[0]))
    prob.add_rows(f"{prefix}balance_veh", rows, {vmin: a, vmax: a}, st.rhs_veh, st.rhs_veh)
    prob.add_rows(f"{prefix}balance_soc", rows, {vmin: s_lo, vmax: s_hi}, st.rhs_soc, st.rhs_soc)


def declare_dta_capacity(prob: Problem, st: DtaStructure, prefix: str = "") -> None:
    """Rows ``exit_capacity[k]``: the vehicles leaving segment ``st.exit_keys[k] = (segment,
    t)`` at ``t`` over all paths ``<= capacity_veh_per_step`` (vehicles per step), and
    ``plugs[k]``: the vehicles charging at ``st.plug_keys[k] = (station, t)`` ``<= plugs``
    (vehicles). Only the rows that can bind (the demand that can use the segment or station
    exceeds its capacity); a set with no such row is not declared. Needs
    :func:`declare_dta_columns`."""
    vmin, vmax = _columns(prob, st, prefix, "declare_dta_capacity")
    for name, _, m, cap in st.capacity_sets():
        if m.shape[0]:
            prob.add_rows(
                f"{prefix}{name}", index(k=np.arange(m.shape[0])), {vmin: m, vmax: m}, -np.inf, cap
            )


@dataclass(frozen=True)
class StationLoad:
    """The station load ``station_p_kw[station, t] = sum_v terms[v] @ x_v`` (kW, consumption
    positive, discharge negative) as a linear map over the DTA columns.

    idx : (station, t), stations in ``st.index.stations`` order, flat row
        ``st.station_pos[station] * T + t``.
    terms : ``{veh_min: L, veh_max: L}`` (names prefixed) with ``L = st.station_load``
        ((stations * T) x N, the charger power ``p_l`` in kW at each charging quantity):
        ready to be the terms of a defining row, or added to a bus balance.
    """

    idx: Index
    terms: dict[str, sp.csr_matrix]

    def evaluate(self, values: dict[str, np.ndarray]) -> np.ndarray:
        """The load (stations x T, kW) at column values ``{name: array}`` (names as in
        ``terms``, e.g. from :func:`engine.router.values`)."""
        out = np.zeros(self.idx.size)
        for name, m in self.terms.items():
            out += m @ np.asarray(values[name], dtype=float).reshape(-1)
        return out.reshape(self.idx.shape)


def declare_dta_station_load(prob: Problem, st: DtaStructure, prefix: str = "") -> StationLoad:
    """The station load ``station_p_kw[station, t] = sum_{j,l} p_l (veh_min + veh_max)`` of
    the charging quantities (kW), as a :class:`StationLoad` map over the columns of
    :func:`declare_dta_columns`. The Problem has no named expressions, so nothing is added to
    ``prob``: a caller that couples the load to a grid or prices it uses the map's terms
    (e.g. ``charge_def`` of :mod:`coupling.problems.market`)."""
    vmin, vmax = _columns(prob, st, prefix, "declare_dta_station_load")
    stations = np.asarray(st.index.stations, dtype=str)
    idx = index(station=stations, t=np.arange(st.index.steps))
    return StationLoad(idx, {vmin: st.station_load, vmax: st.station_load})


def declare_dta_costs(
    prob: Problem,
    st: DtaStructure,
    price_per_kwh: np.ndarray | list[float] | float | None = None,
    prefix: str = "",
) -> None:
    """Add the traffic cost to the linear cost of ``veh_min`` and ``veh_max`` (currency):
    ``w vehicle_steps + penalty (demand - arrivals)`` (the constant ``penalty * demand`` to
    ``objective_offset``) and, when ``price_per_kwh`` is given (scalar or one value per step,
    currency/kWh), the charging energy ``sum_{y,t} price_t dt station_p_kw[y, t]``: the
    traffic-only objective of :func:`traffic.dta.traffic_cost_expr`. Without a price, the
    aggregator's cost of :mod:`coupling.problems.market`, where the energy is priced on the
    lifted station loads instead. Needs :func:`declare_dta_columns`."""
    names = _columns(prob, st, prefix, "declare_dta_costs")
    c, offset = st.cost_coefficients(price_per_kwh)
    for name in names:
        prob.vars[name].cost = prob.vars[name].cost + c
    prob.objective_offset += offset
