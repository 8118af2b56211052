"""Multi-period DistFlow with losses (branch-flow model) and its second-order-cone relaxation.

Variables (per line l from its upstream bus i to its downstream bus j, step t; flows in the
downstream direction, away from the slack):

* ``p[l, t]`` kW, ``q[l, t]`` kvar — flow at the *upstream* (sending) end of line l;
* ``l[l, t]`` — squared current ``|I|^2`` in pu on the base ``blk.s_base_kva`` (kVA), so that
  the line's active loss is ``r_l S_b^2 l`` kW with ``r_l`` in pu per kW (1 kVA base,
  :class:`power.feeder.FeederTree`);
* ``w[b, t]`` squared voltage ``|V|^2`` (pu^2), fixed to ``v_slack_pu**2`` at the slack bus;
* ``p_import[t]``, ``q_import[t]`` — supply at the slack bus; ``p_gen[g, t]`` generators.

Constraints (Farivar & Low 2013, branch flow model on a radial feeder):

* ``p_bal[j, t]``: p_l - r_l S_b^2 l_l - sum_{k in ch(j)} p_k + gen_j - extra_j == load_j - ren_j;
* ``q_bal[j, t]``: the same with q, x and the reactive loads;
* ``v_drop[l, t]``: w_j - w_i + 2 (r_l p_l + x_l q_l) - (r_l^2 + x_l^2) S_b^2 l_l == 0;
* the relaxed current definition ``p_l^2 + q_l^2 <= w_i l_l S_b^2``, the rotated cone
  ``||(2 p/S_b, 2 q/S_b, w_i - l)|| <= w_i + l`` (family ``"branch"`` of :attr:`blk.socs`);
  exact AC power flow when it is tight (:func:`relaxation_gap`);
* limits from :func:`power.limits.effective_limits` (nominal ``p_max``, robust margins): the
  upstream-end flow ``p <= up`` (variable bound) and the downstream-end flow
  ``p - r S_b^2 l >= -down`` (row ``p_recv_lo``: the sending end of a reverse flow), so the
  limit holds at the more loaded end in both directions; an ``s_max_kva`` rating as two
  cones ``||(p, q)|| <= S`` (upstream end, ``"s_send"``) and ``||(p - r S_b^2 l, q - x S_b^2 l)||
  <= S`` (downstream end, ``"s_recv"``), S less the larger robust flow margin; the voltage
  band ``v_min^2 <= w <= v_max^2`` as variable bounds.

The model is a Pyomo block whose linear part is compiled like every other evtp model; the cones
are kept beside it as affine rows (``blk.socs``) and :func:`solve_socp` hands both to Clarabel
as one sparse conic problem (Pyomo has no cone interface to Clarabel).

References
----------
Baran & Wu (1989); Farivar, M., Low, S. H. (2013), "Branch flow model: relaxations and
convexification", IEEE Trans. Power Systems 28(3).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyomo.environ as pyo
import scipy.sparse as sp
from pyomo.core.expr.numeric_expr import LinearExpression

from common.gc import paused_gc
from power.component_values import ComponentValues
from power.feeder import Feeder
from power.limits import Tightening, effective_limits, flow_rating_kw
from power.lindistflow import add_generators
from power.results import GridState
from power.solve import (
    ConicForm,
    SolveError,
    SolveResult,
    _compile_constraints,
    _load_primal,
    _row_duals,
    objective_of,
)

Extra = Mapping[tuple[str, int], Any]
# one affine row of a cone: (constant, variables, coefficients)
AffineRow = tuple[float, list, list]
TIGHT_GAP = 1e-6  # relative relaxation gap (of the rating squared) above which it is not tight


@dataclass(frozen=True)
class DistFlowOptions:
    """Configuration of the DistFlow block.

    limits : False drops line and voltage limits. allow_export : False forces p_import >= 0.
    """

    limits: bool = True
    allow_export: bool = True


def power_base_kva(feeder: Feeder) -> float:
    """Power base of the squared current (kVA): the feeder's peak total apparent load plus
    its generators' capacity (so that flows are O(1) in pu whatever the line ratings)."""
    p = np.abs(feeder.load_p_kw - feeder.renewable_p_kw()).sum(axis=0)
    q = np.abs(feeder.load_q_kvar).sum(axis=0)
    s = float(np.hypot(p, q).max(initial=0.0)) + float(feeder.generators["p_max_kw"].sum())
    return max(s, 1.0)


def line_rating_kva(feeder: Feeder) -> np.ndarray:
    """Per line the flow scale used to normalise the relaxation gap (kVA): its rating
    (``s_max_kva`` when given, else the largest ``p_max_kw``), at most the power base."""
    s = feeder.line_s_max_kva
    s = s if s is not None else feeder.line_p_max_kw.max(axis=1)
    return np.minimum(s, power_base_kva(feeder))


@paused_gc
def add_distflow(
    blk: pyo.Block,
    feeder: Feeder,
    opts: DistFlowOptions = DistFlowOptions(),
    *,
    extra_p_kw: Extra | None = None,
    extra_q_kvar: Extra | None = None,
    margins: Tightening | None = None,
) -> None:
    """Add the DistFlow variables, linear constraints, cones (``blk.socs``) and the cost
    expression to ``blk`` (arguments as :func:`power.lindistflow.add_lindistflow`)."""
    tree = feeder.tree
    buses, lines = feeder.bus_ids, feeder.line_ids
    steps = range(feeder.steps)
    extra_p, extra_q = extra_p_kw or {}, extra_q_kvar or {}
    sb = power_base_kva(feeder)  # base (kVA) of the squared current
    blk.s_base_kva = sb
    blk.margins = margins
    blk.limits_on = opts.limits
    blk.grid_model = "distflow"

    blk.T = pyo.Set(initialize=steps, ordered=True)
    blk.B = pyo.Set(initialize=buses, ordered=True)
    blk.L = pyo.Set(initialize=lines, ordered=True)
    lpos = {line: i for i, line in enumerate(lines)}
    bpos = feeder.bus_pos
    lim = effective_limits(feeder, None, margins)
    up, down = lim.flow_up_kw, lim.flow_down_kw

    def p_bounds(_, line, t):
        return (None, float(up[lpos[line], t])) if opts.limits else (None, None)

    def w_bounds(_, bus, t):
        if not opts.limits:
            return (0.0, None)
        i = bpos[bus]
        return (float(lim.w_min[i, t]), float(lim.w_max[i, t]))

    blk.p = pyo.Var(blk.L, blk.T, bounds=p_bounds, initialize=0.0)
    blk.q = pyo.Var(blk.L, blk.T, initialize=0.0)
    blk.l = pyo.Var(blk.L, blk.T, bounds=(0.0, None), initialize=0.0)
    blk.w = pyo.Var(blk.B, blk.T, bounds=w_bounds, initialize=1.0)
    blk.p_import = pyo.Var(blk.T, bounds=(None if opts.allow_export else 0.0, None))
    blk.q_import = pyo.Var(blk.T)
    for t in steps:
        blk.w[feeder.slack_bus, t].fix(feeder.v_slack_pu**2)

    children, parent_line, gens_at = add_generators(blk, feeder)
    r, x = tree.r_pu_kw, tree.x_pu_kw
    loss_p, loss_q = r * sb**2, x * sb**2  # kW, kvar per unit of l
    z2 = (r**2 + x**2) * sb**2  # pu^2 of voltage per unit of l

    def balance(flow, imp, gen_var, extra, rhs, loss):
        def rule(_, bus, t):
            i = bpos[bus]
            pl = parent_line[i]
            if pl is None:
                vs, coefs = [imp[t]], [1.0]
            else:
                vs, coefs = [flow[pl, t], blk.l[pl, t]], [1.0, -float(loss[lpos[pl]])]
            vs += [flow[c, t] for c in children[i]]
            coefs += [-1.0] * len(children[i])
            if gen_var is not None:
                g_at = gens_at.get(bus, ())
                vs += [gen_var[g, t] for g in g_at]
                coefs += [1.0] * len(g_at)
            e = LinearExpression(constant=0.0, linear_coefs=coefs, linear_vars=vs)
            if (bus, t) in extra:
                e = e - extra[bus, t]
            return e == float(rhs[i, t])

        return rule

    load_p = feeder.load_p_kw - feeder.renewable_p_kw()
    blk.p_bal = pyo.Constraint(
        blk.B, blk.T, rule=balance(blk.p, blk.p_import, blk.p_gen, extra_p, load_p, loss_p)
    )
    blk.q_bal = pyo.Constraint(
        blk.B, blk.T, rule=balance(blk.q, blk.q_import, None, extra_q, feeder.load_q_kvar, loss_q)
    )
    child = [buses[c] for c in tree.child_bus]
    parent = [buses[c] for c in tree.parent_bus]

    def v_drop(_, line, t):
        i = lpos[line]
        e = LinearExpression(
            constant=0.0,
            linear_coefs=[1.0, -1.0, 2 * r[i], 2 * x[i], -z2[i]],
            linear_vars=[
                blk.w[child[i], t],
                blk.w[parent[i], t],
                blk.p[line, t],
                blk.q[line, t],
                blk.l[line, t],
            ],
        )
        return e == 0

    blk.v_drop = pyo.Constraint(blk.L, blk.T, rule=v_drop)
    if opts.limits:

        def recv_lo(_, line, t):
            i = lpos[line]
            e = LinearExpression(
                constant=0.0,
                linear_coefs=[1.0, -float(loss_p[i])],
                linear_vars=[blk.p[line, t], blk.l[line, t]],
            )
            return e >= -float(down[i, t])

        blk.p_recv_lo = pyo.Constraint(blk.L, blk.T, rule=recv_lo)

    socs: list[tuple[str, tuple[str, int], list[AffineRow]]] = []
    for line in lines:
        i = lpos[line]
        for t in steps:
            p, q, lv, w = blk.p[line, t], blk.q[line, t], blk.l[line, t], blk.w[parent[i], t]
            socs.append(
                (
                    "branch",
                    (line, t),
                    [
                        (0.0, [w, lv], [1.0, 1.0]),
                        (0.0, [p], [2.0 / sb]),
                        (0.0, [q], [2.0 / sb]),
                        (0.0, [w, lv], [1.0, -1.0]),
                    ],
                )
            )
    s_max = feeder.line_s_max_kva
    if opts.limits and s_max is not None:
        # robust margins: the apparent-power limit loses the larger of the two flow margins
        nominal = flow_rating_kw(feeder, None)
        margin = np.maximum(nominal - up, nominal - down)
        s_eff = np.maximum(s_max[:, None] - margin, 0.0) / sb
        for line in lines:
            i = lpos[line]
            for t in steps:
                p, q, lv = blk.p[line, t], blk.q[line, t], blk.l[line, t]
                s = float(s_eff[i, t])
                socs.append(
                    ("s_send", (line, t), [(s, [], []), (0.0, [p], [1 / sb]), (0.0, [q], [1 / sb])])
                )
                socs.append(
                    (
                        "s_recv",
                        (line, t),
                        [
                            (s, [], []),
                            (0.0, [p, lv], [1 / sb, -loss_p[i] / sb]),
                            (0.0, [q, lv], [1 / sb, -loss_q[i] / sb]),
                        ],
                    )
                )
    blk.socs = socs

    price = feeder.price_per_kwh
    gens = feeder.generators
    gcost = dict(zip(gens["gen"], gens["cost_per_kwh"].astype(float)))
    dt = feeder.dt_h
    blk.cost = pyo.Expression(
        expr=sum(dt * price[t] * blk.p_import[t] for t in steps)
        + sum(dt * gcost[g] * blk.p_gen[g, t] for g in blk.G for t in steps)
    )


# ---------------------------------------------------------------------- conic solve
@dataclass
class ConicResult(SolveResult):
    """A :class:`power.solve.SolveResult` with the raw conic data for dual post-processing.

    Clarabel's form: ``min 1/2 x'Hx + c'x`` s.t. ``A x + s = b``, ``s`` in the cones
    (zero, nonnegative, then one second-order cone per entry of ``socs``); ``z`` its duals
    (``H x + c + A'z = 0``). ``columns``: Pyomo variables of ``x``; ``rows``: for each
    zero/nonnegative row the Pyomo constraint or ``("ub"|"lb", column)``; ``soc_start``:
    first row of each cone.
    """

    x: np.ndarray = field(repr=False, default=None)
    z: np.ndarray = field(repr=False, default=None)
    s: np.ndarray = field(repr=False, default=None)
    a: sp.csr_matrix = field(repr=False, default=None)
    grad: np.ndarray = field(repr=False, default=None)
    columns: list = field(repr=False, default=None)
    rows: list = field(repr=False, default=None)
    soc_start: np.ndarray = field(repr=False, default=None)
    socs: list = field(repr=False, default=None)


def _cone_matrix(
    socs: list, pos: dict[int, int], n: int
) -> tuple[sp.csr_matrix, np.ndarray, list[int]]:
    """Rows ``-G`` and ``b`` of ``s = b - (-G) x`` for every cone row ``const + G x``; cone
    dimensions. Fixed variables are constants."""
    ri, ci, vals, b, dims = [], [], [], [], []
    k = 0
    for _, _, rows in socs:
        dims.append(len(rows))
        for const, vs, cs in rows:
            c0 = const
            for v, c in zip(vs, cs):
                if v.fixed:
                    c0 += c * v.value
                    continue
                j = pos.get(id(v))
                if j is None:
                    raise SolveError(f"cone variable {v.name} is in no constraint")
                ri.append(k)
                ci.append(j)
                vals.append(-c)
            b.append(c0)
            k += 1
    g = sp.csr_matrix((vals, (ri, ci)), shape=(k, n))
    return g, np.asarray(b, float), dims


def solve_socp(model: pyo.ConcreteModel, socs: list, *, duals: bool = True) -> ConicResult:
    """Solve a convex model (linear rows, bounds, convex quadratic objective) with the
    second-order cones ``socs`` (``blk.socs`` of a DistFlow block) by Clarabel.

    Dual convention of :mod:`power.solve`: ``duals[c]`` = d(objective)/d(rhs of c).

    Raises
    ------
    SolveError
        When Clarabel does not report a solution.
    """
    t0 = time.perf_counter()
    obj, sign, repn, qvars = objective_of(model)
    info = _compile_constraints(model, obj, qvars)
    cols = info.columns
    pos = {id(v): i for i, v in enumerate(cols)}
    extra = _cone_matrix(socs, pos, len(cols))
    form = ConicForm.build(info, sign, repn, extra=extra)
    t1 = time.perf_counter()
    sol = form.solve_stable()
    status = str(sol.status)
    t2 = time.perf_counter()
    if "Solved" not in status:
        raise SolveError(f"Clarabel found no optimal solution (status: {status})")
    xs = np.asarray(sol.x)
    _load_primal(info, xs)
    z = np.asarray(sol.z)
    out = ConicResult(status, float(pyo.value(obj.expr)), 0.0, t1 - t0)
    row_ids = np.flatnonzero(form.eq).tolist() + np.flatnonzero(form.le).tolist()
    row_ids += np.flatnonzero(form.ge).tolist()
    out.rows = [info.rows[i].constraint for i in row_ids]
    out.rows += [("ub", int(j)) for j in form.hu] + [("lb", int(j)) for j in form.hl]
    if duals:
        row_dual, rc = form.duals(z)
        out.duals = _row_duals(info.rows, row_dual)
        out.reduced_costs = ComponentValues(cols, rc)
    hess, c, dims = form.hess, form.c, extra[2]
    hsym = hess + hess.T - sp.diags(hess.diagonal())
    out.x, out.z, out.s, out.a = xs, z, np.asarray(sol.s), form.a.tocsr()
    out.grad = c + hsym @ xs
    out.columns = cols
    out.soc_start = form.n_eq + form.n_nn + np.concatenate([[0], np.cumsum(dims)[:-1]]).astype(int)
    out.socs = socs
    t3 = time.perf_counter()
    out.solve_s, out.readback_s = t3 - t0, t3 - t2
    return out


# ---------------------------------------------------------------------- results
def _values(var: pyo.Var, rows: list, steps: int) -> np.ndarray:
    vals = var.extract_values()
    return np.array([[vals[r, t] or 0.0 for t in range(steps)] for r in rows], dtype=float)


@dataclass(frozen=True)
class DistFlowState:
    """Solved DistFlow arrays: ``p_kw``, ``q_kvar`` (lines x steps, downstream, upstream end),
    ``l`` (lines x steps, pu on ``s_base_kva``), ``w`` (buses x steps, pu^2), ``loss_kw``
    (lines x steps, ``r S_b^2 l``)."""

    p_kw: np.ndarray
    q_kvar: np.ndarray
    l: np.ndarray  # noqa: E741
    w: np.ndarray
    loss_kw: np.ndarray
    s_base_kva: float


def distflow_values(blk: pyo.Block, feeder: Feeder) -> DistFlowState:
    """Read the solved block's flows, squared currents, squared voltages and losses."""
    steps = feeder.steps
    p = _values(blk.p, feeder.line_ids, steps)
    q = _values(blk.q, feeder.line_ids, steps)
    lv = _values(blk.l, feeder.line_ids, steps)
    w = _values(blk.w, feeder.bus_ids, steps)
    loss = feeder.tree.r_pu_kw[:, None] * blk.s_base_kva**2 * lv
    return DistFlowState(p, q, lv, w, loss, blk.s_base_kva)


def distflow_state(blk: pyo.Block, feeder: Feeder) -> GridState:
    """The solved block as a :class:`power.results.GridState`: stored-direction flows at the
    upstream end, voltages, and each bus's net load (inflow at the downstream end of its
    line minus outflow; the slack's own load at the slack)."""
    steps = feeder.steps
    imp_p = np.array([pyo.value(blk.p_import[t]) for t in range(steps)])
    imp_q = np.array([pyo.value(blk.q_import[t]) for t in range(steps)])
    return state_of(distflow_values(blk, feeder), feeder, imp_p, imp_q)


def state_of(
    d: DistFlowState, feeder: Feeder, imp_p_kw: np.ndarray, imp_q_kvar: np.ndarray
) -> GridState:
    """The :class:`power.results.GridState` of solved DistFlow arrays ``d`` and the slack's
    import (kW, kvar per step): see :func:`distflow_state`."""
    tree, steps = feeder.tree, feeder.steps
    sb2 = d.s_base_kva**2

    def net(down, loss, imported):
        out = np.zeros((len(feeder.bus_ids), steps))
        np.add.at(out, tree.child_bus, down - loss)
        np.subtract.at(out, tree.parent_bus, down)
        out[tree.slack] += imported
        return out

    return GridState(
        p_kw=tree.sign[:, None] * d.p_kw,
        q_kvar=tree.sign[:, None] * d.q_kvar,
        v_pu=np.sqrt(np.maximum(d.w, 0.0)),
        p_net_kw=net(d.p_kw, d.loss_kw, imp_p_kw),
        q_net_kvar=net(d.q_kvar, tree.x_pu_kw[:, None] * sb2 * d.l, imp_q_kvar),
    )


def relaxation_gap(blk: pyo.Block, feeder: Feeder) -> np.ndarray:
    """Gap of the relaxed current definition per line and step (lines x steps),
    ``(w_i l S_b^2 - p^2 - q^2) / S_ref^2`` (>= 0; 0 where the relaxation is exact), with
    ``S_ref`` the line's rating capped at the feeder's power base (:func:`line_rating_kva`)."""
    return gap_of(distflow_values(blk, feeder), feeder)


def gap_of(d: DistFlowState, feeder: Feeder) -> np.ndarray:
    """The relaxation gap (lines x steps, :func:`relaxation_gap`) of solved arrays ``d``."""
    w_up = d.w[feeder.tree.parent_bus]
    gap = w_up * d.l * d.s_base_kva**2 - d.p_kw**2 - d.q_kvar**2
    return gap / line_rating_kva(feeder)[:, None] ** 2


def gap_summary(gap: np.ndarray, line_ids: list[str], tol: float = TIGHT_GAP) -> dict[str, Any]:
    """Summary entries of a relaxation gap: the largest, where, and whether it is tight."""
    k = int(np.argmax(gap)) if gap.size else 0
    worst = float(gap.reshape(-1)[k]) if gap.size else 0.0
    line, t = np.unravel_index(k, gap.shape) if gap.size else (0, 0)
    return {
        "relaxation_gap_max": worst,
        "relaxation_gap_at": {"line": line_ids[int(line)], "t": int(t)},
        "relaxation_tight": worst <= tol,
        "relaxation_tol": tol,
    }
