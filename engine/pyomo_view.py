"""A Pyomo model over the same matrices, for users who add their own constraints.

``to_pyomo(asm)`` makes one Pyomo ``Var`` per var set (indexed by flat position, bounds from the
assembled problem), one ``Constraint`` per row set (``LinearExpression`` over the CSR row) and
the objective ``c x + 1/2 sum q x^2 + offset``. Find an element with :func:`position`, e.g.
``m.p_import[position(asm.problem, "p_import", t=18)]``; solve with :func:`power.solve.solve`.
The view costs Pyomo's per-element construction (seconds per 10^5 rows); the engine's own path
(:func:`engine.highs.solve_highs`) does not build it.
"""

from __future__ import annotations

import numpy as np
import pyomo.environ as pyo
from pyomo.common.gc_manager import PauseGC
from pyomo.core.expr.numeric_expr import LinearExpression

from engine.assemble import Assembled
from engine.problem import Problem


def position(problem: Problem, name: str, **labels: object) -> int:
    """Flat position of the element ``labels`` (one per dim) of var or row set ``name``."""
    s = problem.vars.get(name) or problem.rows[name]
    where = []
    for dim, coord in zip(s.idx.dims, s.idx.coords, strict=True):
        hit = np.flatnonzero(coord == np.asarray(labels[dim], dtype=coord.dtype))
        if len(hit) != 1:
            raise KeyError(f"{name}: {dim}={labels[dim]!r} not found")
        where.append(int(hit[0]))
    return int(np.ravel_multi_index(tuple(where), s.idx.shape))


def _bound(v: float) -> float | None:
    return None if not np.isfinite(v) else float(v)


def to_pyomo(asm: Assembled) -> pyo.ConcreteModel:
    """A Pyomo ``ConcreteModel`` equal to ``asm`` (same columns, rows and objective).

    Raises
    ------
    ValueError
        When ``asm`` has second-order cones (Pyomo has no cone interface to Clarabel).
    """
    if asm.has_cones:
        raise ValueError(
            f"to_pyomo: the problem has second-order cones ({', '.join(asm.problem.cones)})"
        )
    prob = asm.problem
    m = pyo.ConcreteModel()
    cols: list = []
    with PauseGC():
        for vs in prob.vars.values():
            lo, hi = asm.lb[vs.offset :], asm.ub[vs.offset :]
            var = pyo.Var(
                range(vs.idx.size),
                bounds=lambda _, i, lo=lo, hi=hi: (_bound(lo[i]), _bound(hi[i])),
            )
            m.add_component(vs.name, var)
            cols.extend(var[i] for i in range(vs.idx.size))
        a = asm.a.tocsr()
        for rs in prob.rows.values():

            def rule(_, i, rs=rs):
                k = rs.offset + i
                s, e = a.indptr[k], a.indptr[k + 1]
                expr = LinearExpression(
                    constant=0.0,
                    linear_coefs=a.data[s:e].tolist(),
                    linear_vars=[cols[j] for j in a.indices[s:e]],
                )
                lo, hi = _bound(asm.row_lo[k]), _bound(asm.row_hi[k])
                if lo is not None and lo == hi:
                    return expr == lo
                return pyo.inequality(lo, expr, hi)

            m.add_component(rs.name, pyo.Constraint(range(rs.idx.size), rule=rule))
        nz = np.flatnonzero(asm.c)
        obj = LinearExpression(
            constant=float(asm.offset),
            linear_coefs=asm.c[nz].tolist(),
            linear_vars=[cols[j] for j in nz],
        )
        if asm.q is not None:
            qn = np.flatnonzero(asm.q)
            obj = obj + sum(0.5 * float(asm.q[j]) * cols[j] ** 2 for j in qn)
        m.objective = pyo.Objective(expr=obj, sense=pyo.minimize)
    return m
