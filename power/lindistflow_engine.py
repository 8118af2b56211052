"""The multi-period LinDistFlow block as sparse matrices (``declare_lindistflow``).

The same model as :func:`power.lindistflow.add_lindistflow` with reactive flows fixed by the
loads (no reactive devices, |P| limits as bounds), see that module for the maths. Sets (flat,
C order, step ``t`` fastest):

* columns ``p[line, t]`` (kW, downstream flow), ``w[bus, t]`` (pu^2, slack fixed to
  ``v_slack_pu^2``), ``p_import[t]`` (kW, at the slack), ``p_gen[gen, t]`` (kW);
* rows ``p_bal[bus, t]``: inflow - outflow + generation (- extra load) = load - renewables
  (kW); ``v_drop[line, t]``: ``w_child - w_parent + 2 r P = -2 x Q`` (pu^2);
* cost ``dt (price_t p_import_t + sum_g cost_g p_gen_g,t)`` (currency).

Every matrix is a Kronecker product of a small topology matrix (buses x lines) with the
identity over steps: no per-element Python.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from engine.problem import Problem, index
from power.feeder import Feeder
from power.limits import Limits, LinearGrid, effective_limits, fixed_q_flows


def declare_lindistflow(
    prob: Problem,
    feeder: Feeder,
    *,
    limits: Limits | None = None,
    enforce_limits: bool = True,
    allow_export: bool = True,
    losses: LinearGrid | None = None,
) -> None:
    """Add the LinDistFlow sets of ``feeder`` to ``prob``: :func:`declare_limits` (the flow,
    voltage, import and generator columns with their bounds and costs),
    :func:`declare_p_balance` and :func:`declare_v_drop`.

    limits : the effective limits (default :func:`power.limits.effective_limits` with the
        fixed reactive flows, i.e. exact S-ratings); robust margins and AC corrections enter
        through it.
    enforce_limits : False leaves flows and voltages unbounded (a pure power flow).
    allow_export : False forces ``p_import >= 0``.
    losses : linearised line losses (:mod:`power.correction`): line l's loss
        ``a_l + b_l P_l`` is load at its downstream bus, so that bus's balance reads
        ``(1 - b_l) P_l - outflow = load + a_l`` (as :func:`power.lindistflow.set_losses`).
    """
    declare_limits(
        prob, feeder, limits=limits, enforce_limits=enforce_limits, allow_export=allow_export
    )
    declare_p_balance(prob, feeder, losses=losses)
    declare_v_drop(prob, feeder)


def declare_limits(
    prob: Problem,
    feeder: Feeder,
    *,
    limits: Limits | None = None,
    enforce_limits: bool = True,
    allow_export: bool = True,
) -> None:
    """Columns ``p[line, t]`` (kW) and ``w[bus, t]`` (pu^2) bounded by the effective limits
    (the slack's ``w`` fixed to ``v_slack_pu^2``), ``p_import[t]`` (kW) at the slack price and
    ``p_gen[gen, t]`` (kW) within its range at its cost (currency per step: price x dt)."""
    tree, T, dt = feeder.tree, feeder.steps, feeder.dt_h
    nb, nl = len(feeder.bus_ids), len(feeder.line_ids)
    lim = limits if limits is not None else effective_limits(feeder, fixed_q_flows(feeder))
    steps = np.arange(T)
    inf = np.full((nl, T), np.inf)
    prob.add_vars(
        "p",
        index(line=feeder.line_ids, t=steps),
        -lim.flow_down_kw if enforce_limits else -inf,
        lim.flow_up_kw if enforce_limits else inf,
    )
    w_lo = lim.w_min.copy() if enforce_limits else np.full((nb, T), -np.inf)
    w_hi = lim.w_max.copy() if enforce_limits else np.full((nb, T), np.inf)
    w_lo[tree.slack] = w_hi[tree.slack] = feeder.v_slack_pu**2
    prob.add_vars("w", index(bus=feeder.bus_ids, t=steps), w_lo, w_hi)
    prob.add_vars(
        "p_import",
        index(t=steps),
        -np.inf if allow_export else 0.0,
        np.inf,
        dt * feeder.price_per_kwh,
    )
    declare_generators(prob, feeder)


def declare_generators(prob: Problem, feeder: Feeder) -> None:
    """Columns ``p_gen[gen, t]`` (kW) within each generator's range at its cost (currency per
    step: cost_per_kwh x dt); LinDistFlow's and DistFlow's alike."""
    gens, T = feeder.generators, feeder.steps
    prob.add_vars(
        "p_gen",
        index(gen=gens["gen"].to_numpy(str), t=np.arange(T)),
        np.repeat(gens["p_min_kw"].to_numpy(float), T),
        np.repeat(gens["p_max_kw"].to_numpy(float), T),
        feeder.dt_h * np.repeat(gens["cost_per_kwh"].to_numpy(float), T),
    )


def declare_p_balance(prob: Problem, feeder: Feeder, *, losses: LinearGrid | None = None) -> None:
    """Rows ``p_bal[bus, t]``: inflow - outflow + import (slack) + generation = load -
    renewables (kW), with line l's linearised loss ``a_l + b_l P_l`` as load at its downstream
    bus when ``losses`` has them. Needs the columns of :func:`declare_limits`."""
    tree, T = feeder.tree, feeder.steps
    buses = feeder.bus_ids
    nb, nl = len(buses), len(feeder.line_ids)
    gens = feeder.generators
    ng = len(gens)
    eye = sp.identity(T, format="csr")
    steps = np.arange(T)
    # topology: +1 at a line's downstream bus (inflow), -1 at its upstream bus (outflow)
    ll = np.arange(nl)
    inc = sp.csr_matrix(
        (np.r_[np.ones(nl), -np.ones(nl)], (np.r_[tree.child_bus, tree.parent_bus], np.r_[ll, ll])),
        shape=(nb, nl),
    )
    slack = sp.csr_matrix(([1.0], ([tree.slack], [0])), shape=(nb, 1))
    gbus = gens["bus"].map(feeder.bus_pos).to_numpy(np.int64)
    g_inc = sp.csr_matrix((np.ones(ng), (gbus, np.arange(ng))), shape=(nb, ng))
    net = feeder.load_p_kw - feeder.renewable_p_kw()
    a_p = sp.kron(inc, eye, format="csr")
    if losses is not None and losses.has_losses:
        # inflow coefficient 1 - b[l, t] at (child(l), t), column (l, t)
        rows = (tree.child_bus[:, None] * T + steps[None, :]).reshape(-1)
        cols = (ll[:, None] * T + steps[None, :]).reshape(-1)
        a_p = a_p - sp.csr_matrix((losses.loss_b.reshape(-1), (rows, cols)), shape=a_p.shape)
        net = net.copy()
        np.add.at(net, tree.child_bus, losses.loss_a_kw)
    prob.add_rows(
        "p_bal",
        index(bus=buses, t=steps),
        {"p": a_p, "p_import": sp.kron(slack, eye), "p_gen": sp.kron(g_inc, eye)},
        net,
        net,
    )


def declare_v_drop(prob: Problem, feeder: Feeder) -> None:
    """Rows ``v_drop[line, t]``: ``w_child - w_parent + 2 r P = -2 x Q`` (pu^2) with the
    reactive flows ``Q`` fixed by the loads. Needs the columns of :func:`declare_limits`."""
    tree, T = feeder.tree, feeder.steps
    nb, nl = len(feeder.bus_ids), len(feeder.line_ids)
    eye = sp.identity(T, format="csr")
    ll = np.arange(nl)
    drop = sp.csr_matrix(
        (np.r_[np.ones(nl), -np.ones(nl)], (np.r_[ll, ll], np.r_[tree.child_bus, tree.parent_bus])),
        shape=(nl, nb),
    )
    rhs = -2.0 * tree.x_pu_kw[:, None] * fixed_q_flows(feeder)
    prob.add_rows(
        "v_drop",
        index(line=feeder.line_ids, t=np.arange(T)),
        {"w": sp.kron(drop, eye), "p": sp.kron(sp.diags(2.0 * tree.r_pu_kw), eye)},
        rhs,
        rhs,
    )
