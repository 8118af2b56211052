"""The LinDistFlow OPF built directly as sparse matrices for highspy (benchmark reference).

Same model as :func:`power.lindistflow.add_lindistflow` with fixed reactive flows (no Q
control, |P| limits as bounds): columns P[l, t], W[b, t], import[t], gen[g, t]; rows
p_bal[b, t] and v_drop[l, t]. Used to measure what the Pyomo path costs on top of the solver.
"""

from __future__ import annotations

import time

import highspy
import numpy as np
import scipy.sparse as sp

from power.feeder import Feeder
from power.lindistflow import _downstream_sums


def build_and_solve(feeder: Feeder) -> dict[str, float]:
    """Build the LP with numpy/scipy, pass it to HiGHS, solve; return timings and objective."""
    t0 = time.perf_counter()
    tree, T = feeder.tree, feeder.steps
    nb, nl, ng = len(feeder.bus_ids), len(feeder.line_ids), len(feeder.generators)
    n_p, n_w = nl * T, nb * T
    col_p = lambda li, t: li * T + t  # noqa: E731
    col_w = lambda bi, t: n_p + bi * T + t  # noqa: E731
    col_imp = n_p + n_w
    col_g = col_imp + T
    n = col_g + ng * T
    tt = np.arange(T)
    rows, cols, vals = [], [], []
    # p_bal[b, t]: inflow - outflow + gen = load - ren   (row index b*T + t)
    child, parent = tree.child_bus, tree.parent_bus
    for li in range(nl):
        rows += [child[li] * T + tt, parent[li] * T + tt]
        cols += [col_p(li, tt), col_p(li, tt)]
        vals += [np.ones(T), -np.ones(T)]
    rows.append(tree.slack * T + tt)
    cols.append(col_imp + tt)
    vals.append(np.ones(T))
    gpos = feeder.generators["bus"].map(feeder.bus_pos).to_numpy()
    for gi in range(ng):
        rows.append(gpos[gi] * T + tt)
        cols.append(col_g + gi * T + tt)
        vals.append(np.ones(T))
    rhs_bal = (feeder.load_p_kw - feeder.renewable_p_kw()).reshape(-1)
    # v_drop[l, t]: w_child - w_parent + 2 r P = -2 x Q   (row index nb*T + l*T + t)
    q = _downstream_sums(tree, feeder.load_q_kvar)
    r2, x2 = 2 * tree.r_pu_kw, 2 * tree.x_pu_kw
    base = nb * T
    for li in range(nl):
        rr = base + li * T + tt
        rows += [rr, rr, rr]
        cols += [col_w(child[li], tt), col_w(parent[li], tt), col_p(li, tt)]
        vals += [np.ones(T), -np.ones(T), np.full(T, r2[li])]
    rhs_v = (-x2[:, None] * q).reshape(-1)
    ijv = (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols)))
    a = sp.csc_matrix(ijv, shape=(base + nl * T, n))
    rhs = np.concatenate([rhs_bal, rhs_v])
    fmax = feeder.line_p_max_kw.reshape(-1)
    vmin2 = np.repeat(feeder.buses["v_min_pu"].to_numpy(float) ** 2, T)
    vmax2 = np.repeat(feeder.buses["v_max_pu"].to_numpy(float) ** 2, T)
    s0 = tree.slack * T + tt
    vmin2[s0] = vmax2[s0] = feeder.v_slack_pu**2
    glo = np.repeat(feeder.generators["p_min_kw"].to_numpy(float), T)
    ghi = np.repeat(feeder.generators["p_max_kw"].to_numpy(float), T)
    lower = np.concatenate([-fmax, vmin2, np.full(T, -np.inf), glo])
    upper = np.concatenate([fmax, vmax2, np.full(T, np.inf), ghi])
    cost = np.zeros(n)
    cost[col_imp : col_imp + T] = feeder.dt_h * feeder.price_per_kwh
    gc = np.repeat(feeder.generators["cost_per_kwh"].to_numpy(float), T) * feeder.dt_h
    cost[col_g:] = gc
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = n, a.shape[0]
    lp.col_cost_, lp.col_lower_, lp.col_upper_ = cost, lower, upper
    lp.row_lower_ = lp.row_upper_ = rhs
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_, lp.a_matrix_.index_, lp.a_matrix_.value_ = a.indptr, a.indices, a.data
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.passModel(lp)
    t1 = time.perf_counter()
    h.run()
    t2 = time.perf_counter()
    return {
        "build_s": t1 - t0,
        "solve_s": t2 - t1,
        "objective": h.getInfo().objective_function_value,
        "rows": a.shape[0],
        "cols": n,
    }
