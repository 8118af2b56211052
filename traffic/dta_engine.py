"""The linear DTA (:mod:`traffic.dta`) in the matrix engine (``declare_dta``).

Columns ``veh_min[i]``, ``veh_max[i]`` (vehicles at the SOC floor / at ``soc_max`` of each
vehicle quantity ``i`` of :class:`traffic.dta.DtaIndex`, >= 0); rows ``balance_veh``,
``balance_soc`` (the vehicle and SOC balances), ``exit_capacity``, ``plugs``. The matrices come
from :func:`traffic.dta.dta_layout`, the same structure the Pyomo block is emitted from.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from engine.problem import Problem, index
from traffic.dta import DtaStructure


def declare_dta(prob: Problem, st: DtaStructure, prefix: str = "") -> None:
    """Add the DTA sets of ``st`` to ``prob`` (names prefixed with ``prefix``)."""
    n = len(st.floor)
    ub = np.full(n, np.inf)
    ub[st.fixed] = 0.0
    vmin, vmax = f"{prefix}veh_min", f"{prefix}veh_max"
    prob.add_vars(vmin, index(i=np.arange(n)), 0.0, ub)
    prob.add_vars(vmax, index(i=np.arange(n)), 0.0, ub)
    a, x = st.a_veh, st.a_soc_extra
    rows = index(r=np.arange(a.shape[0]))
    prob.add_rows(f"{prefix}balance_veh", rows, {vmin: a, vmax: a}, st.rhs_veh, st.rhs_veh)
    prob.add_rows(
        f"{prefix}balance_soc",
        rows,
        {vmin: a @ sp.diags(st.floor) + x, vmax: a * st.soc_max + x},
        st.rhs_soc,
        st.rhs_soc,
    )
    for name, m, cap in (
        ("exit_capacity", st.exit_rows, st.exit_cap),
        ("plugs", st.plug_rows, st.plug_cap),
    ):
        if m.shape[0]:
            prob.add_rows(
                f"{prefix}{name}", index(k=np.arange(m.shape[0])), {vmin: m, vmax: m}, -np.inf, cap
            )


def traffic_cost(
    prob: Problem, st: DtaStructure, price_per_kwh: np.ndarray, prefix: str = ""
) -> None:
    """Set the traffic-only objective on the DTA columns: ``w * vehicle_steps + penalty *
    (demand - arrivals) + sum_{y,t} price_t dt station_p_kw[y, t]`` (currency), as
    :func:`traffic.dta.traffic_cost_expr`."""
    idx, opts = st.index, st.index.options
    price = np.broadcast_to(np.asarray(price_per_kwh, dtype=float), (idx.steps,))
    per_row = np.tile(price * idx.dt_h, len(idx.stations))  # row y*T + t
    c = (
        opts.cost_per_vehicle_step * st.vehicle_steps
        - opts.penalty_per_vehicle * st.arrival
        + st.station_load.T @ per_row
    )
    for name in (f"{prefix}veh_min", f"{prefix}veh_max"):
        prob.vars[name].cost = prob.vars[name].cost + c
    prob.objective_offset += opts.penalty_per_vehicle * idx.demand_total
