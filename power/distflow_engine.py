"""Multi-period DistFlow with losses (SOC relaxation) as matrix-engine sets (``declare_distflow``).

The same model as :func:`power.distflow.add_distflow`; the maths, units and references are in
that module's docstring. Sets (flat, C order, step ``t`` fastest):

* columns ``p[line, t]`` kW, ``q[line, t]`` kvar (upstream-end flows, downstream direction),
  ``l[line, t]`` (squared current, pu on ``s_base_kva``, >= 0), ``w[bus, t]`` (pu^2, slack
  fixed to ``v_slack_pu^2``), ``p_import[t]`` kW and ``q_import[t]`` kvar at the slack,
  ``p_gen[gen, t]`` kW;
* rows ``p_bal[bus, t]`` (kW) and ``q_bal[bus, t]`` (kvar): inflow at the downstream end less
  the loss ``r S_b^2 l`` (``x S_b^2 l``), minus outflow, plus import and generation, equal to
  load minus renewables — an EV load enters with ``prob.add_to_rows("p_bal", var, -M)`` as in
  :func:`power.fleet_engine.connect_fleet`; ``v_drop[line, t]`` (pu^2):
  ``w_j - w_i + 2 (r p + x q) - (r^2 + x^2) S_b^2 l = 0``; with limits ``p_recv_lo[line, t]``:
  ``p - r S_b^2 l >= -down`` (kW);
* cones ``branch[line, t]``: ``||(2 p / S_b, 2 q / S_b, w_i - l)|| <= w_i + l`` (the relaxed
  ``p^2 + q^2 <= w_i l S_b^2``); with limits and an ``s_max_kva`` rating ``s_send[line, t]``:
  ``||(p, q)|| / S_b <= S_eff`` and ``s_recv[line, t]``: ``||(p - r S_b^2 l, q - x S_b^2 l)||
  / S_b <= S_eff`` (``S_eff`` the rating less the larger robust flow margin, pu of ``S_b``);
* cost ``dt (price_t p_import_t + sum_g cost_g p_gen_g,t)`` (currency).

Every matrix is a Kronecker product of a small topology matrix (buses x lines, lines x buses)
with the identity over steps: no per-element Python.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from engine.highs import Solved
from engine.problem import Problem, index
from engine.router import values
from power.distflow import DistFlowState, gap_of, power_base_kva, state_of
from power.feeder import Feeder
from power.limits import Limits, Tightening, effective_limits, flow_rating_kw
from power.lindistflow_engine import declare_generators
from power.results import GridState


@dataclass(frozen=True)
class DistFlowSets:
    """What :func:`declare_distflow` declared: the power base ``s_base_kva`` (kVA) of the
    squared current, the effective ``limits`` (with the robust margins; bounds and rows only
    when ``enforced``) and ``s_eff``, the S-cones' radius (lines x steps, pu of the base; None
    without S-ratings or limits)."""

    s_base_kva: float
    limits: Limits
    enforced: bool
    s_eff: np.ndarray | None


def declare_distflow(
    prob: Problem,
    feeder: Feeder,
    *,
    limits: Limits | None = None,
    margins: Tightening | None = None,
    enforce_limits: bool = True,
    allow_export: bool = True,
) -> DistFlowSets:
    """Add the DistFlow sets of ``feeder`` (module docstring) to ``prob``.

    limits : the effective limits; default :func:`power.limits.effective_limits` with free
        reactive flows (None) tightened by the robust ``margins``, as
        :func:`power.distflow.add_distflow`.
    enforce_limits : False drops the line and voltage limits (``w >= 0`` only).
    allow_export : False forces ``p_import >= 0``.
    """
    lim = limits if limits is not None else effective_limits(feeder, None, margins)
    sb = power_base_kva(feeder)
    _declare_columns(prob, feeder, lim if enforce_limits else None, allow_export)
    topo = _Topology(feeder)
    r, x = feeder.tree.r_pu_kw, feeder.tree.x_pu_kw
    _declare_balance(prob, feeder, topo, "p", r * sb**2, feeder.load_p_kw - feeder.renewable_p_kw())
    _declare_balance(prob, feeder, topo, "q", x * sb**2, feeder.load_q_kvar)
    bt, lt = topo.kron, index(line=feeder.line_ids, t=topo.steps)
    prob.add_rows(
        "v_drop",
        lt,
        {
            "w": bt(topo.drop),
            "p": bt(sp.diags(2.0 * r)),
            "q": bt(sp.diags(2.0 * x)),
            "l": bt(sp.diags(-(r**2 + x**2) * sb**2)),
        },
        0.0,
        0.0,
    )
    one, loss_p = bt(sp.identity(topo.nl)), bt(sp.diags(-r * sb**2))
    if enforce_limits:
        prob.add_rows("p_recv_lo", lt, {"p": one, "l": loss_p}, -lim.flow_down_kw, np.inf)
    # ||(2 p / S_b, 2 q / S_b, w_i - l)|| <= w_i + l
    w_up = bt(topo.up)
    prob.add_cones(
        "branch",
        lt,
        [
            {"w": w_up, "l": one},
            {"p": 2.0 / sb * one},
            {"q": 2.0 / sb * one},
            {"w": w_up, "l": -one},
        ],
    )
    s_eff = None
    s_max = feeder.line_s_max_kva
    if enforce_limits and s_max is not None:
        nominal = flow_rating_kw(feeder, None)
        margin = np.maximum(nominal - lim.flow_up_kw, nominal - lim.flow_down_kw)
        s_eff = np.maximum(s_max[:, None] - margin, 0.0) / sb
        zero = np.zeros_like(s_eff)
        prob.add_cones("s_send", lt, [{}, {"p": one / sb}, {"q": one / sb}], [s_eff, zero, zero])
        prob.add_cones(
            "s_recv",
            lt,
            [
                {},
                {"p": one / sb, "l": loss_p / sb},
                {"q": one / sb, "l": bt(sp.diags(-x * sb**2)) / sb},
            ],
            [s_eff, zero, zero],
        )
    return DistFlowSets(sb, lim, enforce_limits, s_eff)


class _Topology:
    """Small topology matrices of the feeder and their Kronecker product with the steps."""

    def __init__(self, feeder: Feeder) -> None:
        tree = feeder.tree
        self.nb, self.nl, self.T = len(feeder.bus_ids), len(feeder.line_ids), feeder.steps
        self.steps = np.arange(self.T)
        self.eye = sp.identity(self.T, format="csr")
        ll = np.arange(self.nl)
        ones = np.ones(self.nl)
        # buses x lines: +1 at the downstream bus (inflow), -1 at the upstream bus (outflow)
        self.inc = sp.csr_matrix(
            (np.r_[ones, -ones], (np.r_[tree.child_bus, tree.parent_bus], np.r_[ll, ll])),
            shape=(self.nb, self.nl),
        )
        self.into = sp.csr_matrix((ones, (tree.child_bus, ll)), shape=(self.nb, self.nl))
        # lines x buses: w_child - w_parent; the upstream bus alone
        self.drop = sp.csr_matrix(
            (np.r_[ones, -ones], (np.r_[ll, ll], np.r_[tree.child_bus, tree.parent_bus])),
            shape=(self.nl, self.nb),
        )
        self.up = sp.csr_matrix((ones, (ll, tree.parent_bus)), shape=(self.nl, self.nb))
        self.slack = sp.csr_matrix(([1.0], ([tree.slack], [0])), shape=(self.nb, 1))

    def kron(self, a: sp.spmatrix) -> sp.csr_matrix:
        """``a`` (over buses or lines) repeated for every step: ``kron(a, I_T)``."""
        return sp.kron(a, self.eye, format="csr")


def _declare_columns(prob: Problem, feeder: Feeder, lim: Limits | None, allow_export: bool) -> None:
    """Columns p, q, l, w, p_import, q_import, p_gen with bounds (``lim`` None: no limits)
    and the cost of import and generation (currency: price x dt)."""
    tree, T, dt = feeder.tree, feeder.steps, feeder.dt_h
    nb = len(feeder.bus_ids)
    steps = np.arange(T)
    lt, bt = index(line=feeder.line_ids, t=steps), index(bus=feeder.bus_ids, t=steps)
    prob.add_vars("p", lt, -np.inf, lim.flow_up_kw if lim is not None else np.inf)
    prob.add_vars("q", lt)
    prob.add_vars("l", lt, 0.0, np.inf)
    w_lo = lim.w_min.copy() if lim is not None else np.zeros((nb, T))
    w_hi = lim.w_max.copy() if lim is not None else np.full((nb, T), np.inf)
    w_lo[tree.slack] = w_hi[tree.slack] = feeder.v_slack_pu**2
    prob.add_vars("w", bt, w_lo, w_hi)
    lo_import = -np.inf if allow_export else 0.0
    prob.add_vars("p_import", index(t=steps), lo_import, np.inf, dt * feeder.price_per_kwh)
    prob.add_vars("q_import", index(t=steps))
    declare_generators(prob, feeder)


def _declare_balance(
    prob: Problem, feeder: Feeder, topo: _Topology, kind: str, loss: np.ndarray, rhs: np.ndarray
) -> None:
    """Rows ``{kind}_bal[bus, t]`` (kind "p": kW with generators, "q": kvar):
    ``flow_in - loss l_in - flow_out + import (+ gen) = rhs`` with ``loss`` per unit of l."""
    terms = {
        kind: topo.kron(topo.inc),
        "l": topo.kron(topo.into @ sp.diags(-loss)),
        f"{kind}_import": topo.kron(topo.slack),
    }
    if kind == "p":
        gens = feeder.generators
        ng = len(gens)
        gbus = gens["bus"].map(feeder.bus_pos).to_numpy(np.int64)
        g_inc = sp.csr_matrix((np.ones(ng), (gbus, np.arange(ng))), shape=(topo.nb, ng))
        terms["p_gen"] = topo.kron(g_inc)
    prob.add_rows(f"{kind}_bal", index(bus=feeder.bus_ids, t=topo.steps), terms, rhs, rhs)


# ---------------------------------------------------------------------- read-back
def distflow_values(sol: Solved, feeder: Feeder, sets: DistFlowSets) -> DistFlowState:
    """The solved flows, squared currents, squared voltages and losses
    (:class:`power.distflow.DistFlowState`; kW, kvar, pu)."""
    lv = values(sol, "l")
    loss = feeder.tree.r_pu_kw[:, None] * sets.s_base_kva**2 * lv
    return DistFlowState(
        values(sol, "p"), values(sol, "q"), lv, values(sol, "w"), loss, sets.s_base_kva
    )


def grid_state(sol: Solved, feeder: Feeder, sets: DistFlowSets) -> GridState:
    """The solved sets as a :class:`power.results.GridState` (as
    :func:`power.distflow.distflow_state`: stored-direction flows, voltages, net loads)."""
    d = distflow_values(sol, feeder, sets)
    return state_of(d, feeder, values(sol, "p_import"), values(sol, "q_import"))


def relaxation_gap(sol: Solved, feeder: Feeder, sets: DistFlowSets) -> np.ndarray:
    """Relaxation gap per line and step (lines x steps, :func:`power.distflow.relaxation_gap`:
    ``(w_i l S_b^2 - p^2 - q^2) / S_ref^2``, 0 where exact)."""
    return gap_of(distflow_values(sol, feeder, sets), feeder)


def dlmp_per_kwh(sol: Solved, feeder: Feeder) -> np.ndarray:
    """DLMP (buses x steps, currency/kWh): the ``p_bal`` duals over ``dt``, the marginal
    cost of one more kWh consumed at the bus and step (:mod:`power.dlmp`'s convention)."""
    from engine.router import duals

    return duals(sol, "p_bal") / feeder.dt_h
