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
from power.fleet import Fleet, fleet_index
from power.limits import effective_limits, fixed_q_flows


def build_and_solve(
    feeder: Feeder, fleet: Fleet | None = None, unserved_cost: float = 10.0
) -> dict[str, float]:
    """Build the LP with numpy/scipy, pass it to HiGHS, solve; return timings and objective.

    With ``fleet``: the ``grid`` strategy of :mod:`coupling.jobs.strategy` (charging only,
    objective = import cost + unserved energy), i.e. the same LP as the Pyomo path.
    """
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
    q = fixed_q_flows(feeder)
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
    lim = effective_limits(feeder, q)  # the Pyomo block's limits (exact S with fixed Q)
    fmax = lim.flow_up_kw.reshape(-1)
    vmin2, vmax2 = lim.w_min.reshape(-1), lim.w_max.reshape(-1)
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
    if fleet is not None:
        a, rhs, lower, upper, cost, row_lo, row_hi = _add_fleet(
            feeder, fleet, a, rhs, lower, upper, cost, unserved_cost
        )
    else:
        row_lo, row_hi = rhs, rhs
    n = a.shape[1]
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = n, a.shape[0]
    lp.col_cost_, lp.col_lower_, lp.col_upper_ = cost, lower, upper
    lp.row_lower_, lp.row_upper_ = row_lo, row_hi
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


def _add_fleet(feeder, fleet, a, rhs, lower, upper, cost, unserved_cost):
    """Append fleet columns (p_ch, soc per plugged step; unserved per EV) and rows (SOC
    balances, targets); EV charging enters the bus balances as load."""
    T = feeder.steps
    ix = fleet_index(fleet)
    evs = fleet.evs
    n0, m0, k, nv = a.shape[1], a.shape[0], len(ix.t), fleet.n
    c_p, c_s, c_u = n0 + np.arange(k), n0 + k + np.arange(k), n0 + 2 * k + np.arange(nv)
    e = evs.battery_kwh.to_numpy(float)
    eta = evs.efficiency.to_numpy(float)[ix.ev_pos]
    kch = eta * feeder.dt_h / e[ix.ev_pos]
    bus = evs.bus.map(feeder.bus_pos).to_numpy()[ix.ev_pos]
    # bus balance rows b*T + t: - p_ch
    rows, cols, vals = [bus * T + ix.t], [c_p], [-np.ones(k)]
    # SOC rows m0 + j: soc_j - soc_{j-1} - kch p_j = 0 (first: = soc_init)
    r_soc = m0 + np.arange(k)
    first = np.zeros(k, bool)
    first[ix.first[ix.first < ix.last]] = True
    rows += [r_soc, r_soc, r_soc[~first]]
    cols += [c_s, c_p, c_s[np.flatnonzero(~first) - 1]]
    vals += [np.ones(k), -kch, -np.ones(int((~first).sum()))]
    rhs_soc = np.where(first, evs.soc_init.to_numpy(float)[ix.ev_pos], 0.0)
    # target rows m0 + k + i: soc_last + u_i / E_i >= target_i
    r_t = m0 + k + np.arange(nv)
    rows += [r_t, r_t]
    cols += [c_s[ix.last - 1], c_u]
    vals += [np.ones(nv), 1.0 / e]
    extra = sp.csc_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=(m0 + k + nv, n0 + 2 * k + nv),
    )
    a = sp.vstack(
        [sp.hstack([a, sp.csc_matrix((m0, 2 * k + nv))]), sp.csc_matrix((k + nv, n0 + 2 * k + nv))]
    )
    a = (a + extra).tocsc()
    target = evs.soc_target.to_numpy(float)
    row_lo = np.concatenate([rhs, rhs_soc, target])
    row_hi = np.concatenate([rhs, rhs_soc, np.full(nv, np.inf)])
    pmax = evs.p_max_kw.to_numpy(float)[ix.ev_pos]
    lower = np.concatenate([lower, np.zeros(k), np.zeros(k), np.zeros(nv)])
    upper = np.concatenate([upper, pmax, np.ones(k), np.full(nv, np.inf)])
    cost = np.concatenate([cost, np.zeros(2 * k), np.full(nv, unserved_cost)])
    return a, row_lo, lower, upper, cost, row_lo, row_hi
