"""Multi-period LinDistFlow model block of a radial feeder (Pyomo).

Variables (per line l, bus b, step t; flows in the downstream direction, away from the slack):

* ``p[l, t]`` kW, ``q[l, t]`` kvar — flow into the downstream end of line l; ``q`` and
  ``q_import`` are variables only when reactive power is controllable (``extra_q_kvar``
  given) or the S polygon is used — otherwise the radial feeder fixes them to the downstream
  sums of the reactive loads and they are parameters (no ``q_bal`` rows);
* ``w[b, t]`` squared voltage (pu^2), fixed to ``v_slack_pu**2`` at the slack bus;
* ``p_import[t]`` kW, ``q_import[t]`` kvar — supply from the upstream grid at the slack bus;
* ``p_gen[g, t]`` kW — dispatchable generators.

Constraints (names route duals, see :mod:`power.dlmp`):

* ``p_bal[b, t]``: inflow - outflow + generation - extra load == load - renewables;
* ``q_bal[b, t]``: the same for reactive power (when Q is variable);
* ``v_drop[l, t]``: w_child - w_parent + 2 (r p + x q) == 0 (r, x in pu per kW / kvar);
* line limits ``|p| <= p_max_kw`` (and, with fixed Q, ``|p| <= sqrt(s_max_kva^2 - q^2)``, the
  exact apparent-power limit) and voltage limits ``v_min**2 <= w <= v_max**2`` are
  *variable bounds*, not rows, tightened by optional robust margins;
* ``s_poly[l, k, t]`` (only with ``thermal="polygon"``): inscribed regular N-gon of
  P^2 + Q^2 <= S^2, conservative by at most a factor cos(pi/N) in radius.

Expression ``cost`` = sum_t dt (price_t p_import_t + sum_g cost_g p_gen_g,t) (currency).

References
----------
Baran & Wu (1989); seed 003 (robust dynamic tariff), eq. of the linearised power balance.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pyomo.environ as pyo
from pyomo.core.expr.numeric_expr import LinearExpression

from common.gc import paused_gc
from power.feeder import Feeder, FeederTree
from power.limits import (
    Limits,
    LinearGrid,
    Tightening,
    effective_limits,
    fixed_q_flows,
    polygon_directions,
)


@dataclass(frozen=True)
class GridOptions:
    """Configuration of the LinDistFlow block.

    thermal : ``"p"`` for |P| <= p_max_kw (seed 003) or ``"polygon"`` for P^2+Q^2 <= S^2.
    polygon_sides : sides N of the inscribed polygon (8..32).
    limits : False drops line and voltage limits (a pure power flow / price-only dispatch).
    allow_export : False forces p_import >= 0 (no reverse flow into the upstream grid).
    """

    thermal: Literal["p", "polygon"] = "p"
    polygon_sides: int = 12
    limits: bool = True
    allow_export: bool = True


# robust bound tightening (all >= 0), e.g. :class:`robust.sets.RobustMargins`: see
# :class:`power.limits.Tightening`
Margins = Tightening


Extra = Mapping[tuple[str, int], Any]


def add_generators(
    blk: pyo.Block, feeder: Feeder
) -> tuple[list[list[str]], list[str | None], dict[str, list[str]]]:
    """Declare the generators ``blk.G`` and their output ``blk.p_gen[g, t]`` (kW, within
    [p_min, p_max]) on a block with steps ``blk.T``; return the lookups by bus position that
    the balance rows of LinDistFlow and DistFlow share: the lines leaving each bus, the line
    feeding it (None at the slack) and the generators at each bus id."""
    gens, tree, lines = feeder.generators, feeder.tree, feeder.line_ids
    blk.G = pyo.Set(initialize=gens["gen"].tolist(), ordered=True)
    gmin = dict(zip(gens["gen"], gens["p_min_kw"].astype(float)))
    gmax = dict(zip(gens["gen"], gens["p_max_kw"].astype(float)))
    blk.p_gen = pyo.Var(blk.G, blk.T, bounds=lambda _, g, t: (gmin[g], gmax[g]))
    children: list[list[str]] = [[] for _ in feeder.bus_ids]
    for li, c in enumerate(tree.parent_bus):
        children[c].append(lines[li])
    parent_line = [lines[i] if i >= 0 else None for i in tree.parent_line]
    gens_at: dict[str, list[str]] = {}
    for g, b in zip(gens["gen"], gens["bus"]):
        gens_at.setdefault(b, []).append(g)
    return children, parent_line, gens_at


@paused_gc
def add_lindistflow(
    blk: pyo.Block,
    feeder: Feeder,
    opts: GridOptions = GridOptions(),
    *,
    extra_p_kw: Extra | None = None,
    extra_q_kvar: Extra | None = None,
    margins: Margins | None = None,
) -> None:
    """Add the LinDistFlow variables, constraints and the cost expression to ``blk``.

    Parameters
    ----------
    blk : an empty Pyomo block (or model).
    feeder : the feeder with loads, renewables, prices and generators.
    opts : model options.
    extra_p_kw, extra_q_kvar : additional load per (bus, t) as Pyomo expressions (kW, kvar),
        e.g. EV charging from a fleet or traffic block; consumption positive.
    margins : robust bound tightening; None is the deterministic model.
    """
    tree = feeder.tree
    buses, lines = feeder.bus_ids, feeder.line_ids
    steps = range(feeder.steps)
    extra_p = extra_p_kw or {}
    extra_q = extra_q_kvar or {}

    blk.T = pyo.Set(initialize=steps, ordered=True)
    blk.B = pyo.Set(initialize=buses, ordered=True)
    blk.L = pyo.Set(initialize=lines, ordered=True)

    # Q flows are variables only where something couples to them (reactive devices or the
    # S polygon); otherwise they are fixed by the loads of a radial feeder
    q_free = extra_q_kvar is not None or (opts.thermal == "polygon" and opts.limits)
    q_fixed = None if q_free else fixed_q_flows(feeder)
    # the one limits path (power/limits.py); with fixed Q an apparent-power rating is the
    # exact P bound sqrt(S^2 - Q^2) (no polygon rows needed)
    lim = effective_limits(feeder, q_fixed, margins)
    blk.q_fixed_kvar = q_fixed
    blk.margins = margins
    blk.limits_on = opts.limits
    blk.linear_grid = LinearGrid(feeder)
    lpos = {line: i for i, line in enumerate(lines)}
    bpos = feeder.bus_pos
    up, down, vmin2, vmax2 = lim.flow_up_kw, lim.flow_down_kw, lim.w_min, lim.w_max

    def p_bounds(_, line, t):
        if not opts.limits:
            return (None, None)
        i = lpos[line]
        return (-down[i, t], up[i, t])

    def w_bounds(_, bus, t):
        if not opts.limits:
            return (None, None)
        i = bpos[bus]
        return (vmin2[i, t], vmax2[i, t])

    blk.p = pyo.Var(blk.L, blk.T, bounds=p_bounds, initialize=0.0)
    blk.w = pyo.Var(blk.B, blk.T, bounds=w_bounds, initialize=1.0)
    blk.p_import = pyo.Var(blk.T, bounds=(None if opts.allow_export else 0.0, None))
    for t in steps:
        blk.w[feeder.slack_bus, t].fix(feeder.v_slack_pu**2)

    children, parent_line, gens_at = add_generators(blk, feeder)

    load_p = feeder.load_p_kw - feeder.renewable_p_kw()
    load_q = feeder.load_q_kvar

    def balance(flow, imp, gen_var, extra, rhs, loss=None):
        """inflow - outflow (+ generation) - extra load (- linearised loss a + b inflow of
        the line feeding the bus) == load - renewables."""

        def rule(_, bus, t):
            i = bpos[bus]
            pl = parent_line[i]
            vs = [imp[t] if pl is None else flow[pl, t]]
            vs += [flow[c, t] for c in children[i]]
            coefs = [1.0] + [-1.0] * len(children[i])
            const = float(rhs[i, t])
            if loss is not None and pl is not None:
                li = lpos[pl]
                coefs[0] = 1.0 - float(loss.loss_b[li, t])
                const += float(loss.loss_a_kw[li, t])
            if gen_var is not None:
                g_at = gens_at.get(bus, ())
                vs += [gen_var[g, t] for g in g_at]
                coefs += [1.0] * len(g_at)
            e = LinearExpression(constant=0.0, linear_coefs=coefs, linear_vars=vs)
            if (bus, t) in extra:
                e = e - extra[bus, t]
            return e == const

        return rule

    blk.p_bal = pyo.Constraint(
        blk.B, blk.T, rule=balance(blk.p, blk.p_import, blk.p_gen, extra_p, load_p)
    )
    # rebuilds p_bal with linearised losses (set_losses)
    blk.p_bal_rule = lambda loss: balance(blk.p, blk.p_import, blk.p_gen, extra_p, load_p, loss)
    r, x = tree.r_pu_kw, tree.x_pu_kw
    child = [buses[c] for c in tree.child_bus]
    parent = [buses[c] for c in tree.parent_bus]

    if not q_free:
        # Q flows are parameters and the reactive balance needs no rows
        q_down = q_fixed
        blk.q = pyo.Param(blk.L, blk.T, initialize=lambda _, ln, t: q_down[lpos[ln], t])
        q_imp = q_down[children_pos(tree, tree.slack)].sum(axis=0) + load_q[tree.slack]
        blk.q_import = pyo.Param(blk.T, initialize=lambda _, t: float(q_imp[t]))

        def v_drop(_, line, t):
            i = lpos[line]
            e = LinearExpression(
                constant=2 * x[i] * q_down[i, t],
                linear_coefs=[1.0, -1.0, 2 * r[i]],
                linear_vars=[blk.w[child[i], t], blk.w[parent[i], t], blk.p[line, t]],
            )
            return e == 0

    else:
        blk.q = pyo.Var(blk.L, blk.T, initialize=0.0)
        blk.q_import = pyo.Var(blk.T)
        blk.q_bal = pyo.Constraint(
            blk.B, blk.T, rule=balance(blk.q, blk.q_import, None, extra_q, load_q)
        )

        def v_drop(_, line, t):
            i = lpos[line]
            e = LinearExpression(
                constant=0.0,
                linear_coefs=[1.0, -1.0, 2 * r[i], 2 * x[i]],
                linear_vars=[
                    blk.w[child[i], t],
                    blk.w[parent[i], t],
                    blk.p[line, t],
                    blk.q[line, t],
                ],
            )
            return e == 0

    blk.v_drop = pyo.Constraint(blk.L, blk.T, rule=v_drop)

    if opts.thermal == "polygon" and opts.limits:
        s_max = feeder.line_s_max_kva
        if s_max is None:
            s_max = feeder.lines["p_max_kw"].to_numpy(float)
        n = opts.polygon_sides
        cos, sin, apothem = polygon_directions(n)
        blk.K = pyo.Set(initialize=range(n), ordered=True)

        def poly(_, line, k, t):
            i = lpos[line]
            return cos[k] * blk.p[line, t] + sin[k] * blk.q[line, t] <= s_max[i] * apothem

        blk.s_poly = pyo.Constraint(blk.L, blk.K, blk.T, rule=poly)

    price = feeder.price_per_kwh
    gens = feeder.generators
    gcost = dict(zip(gens["gen"], gens["cost_per_kwh"].astype(float)))
    dt = feeder.dt_h
    blk.cost = pyo.Expression(
        expr=sum(dt * price[t] * blk.p_import[t] for t in steps)
        + sum(dt * gcost[g] * blk.p_gen[g, t] for g in blk.G for t in steps)
    )


def children_pos(tree: FeederTree, bus: int) -> np.ndarray:
    """Positions of the lines leaving bus position ``bus`` downstream."""
    return np.flatnonzero(tree.parent_bus == bus)


def block_limits(blk: pyo.Block, feeder: Feeder, *tightenings: Tightening | None) -> Limits:
    """The limits of a LinDistFlow block (its robust margins included), further tightened."""
    return effective_limits(feeder, blk.q_fixed_kvar, blk.margins, *tightenings)


def set_bounds(blk: pyo.Block, feeder: Feeder, lim: Limits) -> None:
    """Set the flow and voltage bounds of a LinDistFlow block built with limits to ``lim``."""
    if not blk.limits_on:
        return
    lpos = {line: i for i, line in enumerate(feeder.line_ids)}
    bpos = feeder.bus_pos
    up, down = lim.flow_up_kw, lim.flow_down_kw
    for (line, t), var in blk.p.items():
        i = lpos[line]
        var.setlb(float(-down[i, t]))
        var.setub(float(up[i, t]))
    for (bus, t), var in blk.w.items():
        if not var.fixed:
            i = bpos[bus]
            var.setlb(float(lim.w_min[i, t]))
            var.setub(float(lim.w_max[i, t]))


@paused_gc
def set_losses(blk: pyo.Block, grid: LinearGrid) -> None:
    """Rebuild the active balance rows of a LinDistFlow block with ``grid``'s linearised line
    losses (each line's loss ``a + b P`` as load at its downstream bus)."""
    blk.del_component(blk.p_bal)
    loss = grid if grid.has_losses else None
    blk.add_component("p_bal", pyo.Constraint(blk.B, blk.T, rule=blk.p_bal_rule(loss)))
    blk.linear_grid = grid
