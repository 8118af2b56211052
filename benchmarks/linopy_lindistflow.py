"""The LinDistFlow OPF of :mod:`power.lindistflow_engine` in linopy (benchmark reference only;
linopy is not an evtp dependency: ``pip install linopy``)."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import xarray as xr

from power.feeder import Feeder
from power.limits import effective_limits, fixed_q_flows


def build_and_solve(feeder: Feeder) -> dict[str, float]:
    """Build the LP in linopy, solve with HiGHS (direct API); times in s and the objective."""
    import linopy

    t0 = time.perf_counter()
    tree, T = feeder.tree, feeder.steps
    buses, lines = np.asarray(feeder.bus_ids), np.asarray(feeder.line_ids)
    steps = np.arange(T)
    q = fixed_q_flows(feeder)
    lim = effective_limits(feeder, q)
    m = linopy.Model()
    lc = {"line": lines, "t": steps}
    bc = {"bus": buses, "t": steps}
    p = m.add_variables(
        lower=xr.DataArray(-lim.flow_down_kw, coords=lc),
        upper=xr.DataArray(lim.flow_up_kw, coords=lc),
        name="p",
    )
    wlo, whi = lim.w_min.copy(), lim.w_max.copy()
    wlo[tree.slack] = whi[tree.slack] = feeder.v_slack_pu**2
    w = m.add_variables(
        lower=xr.DataArray(wlo, coords=bc), upper=xr.DataArray(whi, coords=bc), name="w"
    )
    imp = m.add_variables(coords=[pd.RangeIndex(T, name="t")], name="p_import")
    net = xr.DataArray(feeder.load_p_kw - feeder.renewable_p_kw(), coords=bc)
    child = xr.DataArray(buses[tree.child_bus], dims="line", coords={"line": lines})
    parent = xr.DataArray(buses[tree.parent_bus], dims="line", coords={"line": lines})
    # inflow at each non-slack bus: its parent line's flow; outflow: the sum over child lines
    inflow = (1.0 * p).assign_coords(line=buses[tree.child_bus]).rename(line="bus")
    outflow = (1.0 * p).groupby(parent.rename("bus")).sum()
    slack = buses[tree.slack]
    non_slack = buses[np.arange(len(buses)) != tree.slack]
    has_children = np.isin(non_slack, outflow.coords["bus"].values)
    lhs_ns = inflow.sel(bus=non_slack)
    parts = non_slack[has_children]
    m.add_constraints(
        lhs_ns.sel(bus=parts) - outflow.sel(bus=parts) == net.sel(bus=parts), name="p_bal"
    )
    leaves = non_slack[~has_children]
    if len(leaves):
        m.add_constraints(lhs_ns.sel(bus=leaves) == net.sel(bus=leaves), name="p_bal_leaf")
    m.add_constraints(imp - outflow.sel(bus=slack) == net.sel(bus=slack), name="p_bal_slack")
    r2 = xr.DataArray(2 * tree.r_pu_kw, coords={"line": lines})
    rhs = xr.DataArray(-2 * tree.x_pu_kw[:, None] * q, coords=lc)
    m.add_constraints(
        (1.0 * w.sel(bus=child)).drop_vars("bus")
        - (1.0 * w.sel(bus=parent)).drop_vars("bus")
        + r2 * p
        == rhs,
        name="v_drop",
    )
    price = xr.DataArray(feeder.dt_h * feeder.price_per_kwh, coords={"t": steps})
    m.add_objective((price * imp).sum())
    t1 = time.perf_counter()
    m.solve(solver_name="highs", io_api="direct", output_flag=False)
    t2 = time.perf_counter()
    return {"build_s": t1 - t0, "solve_s": t2 - t1, "objective": float(m.objective.value)}
