"""The read-back of :mod:`power.solve` as it was before it was vectorised (duals as a dict,
reduced costs as a ComponentMap, filled element by element), kept as a reference for the
tests: the same compiled model and solver calls, so results must agree exactly."""

from __future__ import annotations

import time

import highspy
import numpy as np
import pyomo.environ as pyo
from pyomo.common.collections import ComponentMap
from pyomo.repn.plugins.standard_form import LinearStandardFormCompiler

from power.solve import (
    ConicForm,
    SolveError,
    SolveResult,
    _compile_constraints,
    highs_model,
    objective_of,
)


def reference_solve_direct(model: pyo.ConcreteModel, duals: bool, options: dict) -> SolveResult:
    t0 = time.perf_counter()
    info = LinearStandardFormCompiler().write(model, mixed_form=True)
    cols = info.columns
    h = highs_model(info, options)  # the hand-over is shared; the read-back is the reference
    t1 = time.perf_counter()
    h.run()
    t2 = time.perf_counter()
    status = h.modelStatusToString(h.getModelStatus())
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        raise SolveError(f"HiGHS found no optimal solution (termination: {status})")
    sol = h.getSolution()
    x = np.asarray(sol.col_value)
    for v, val in zip(cols, x):
        v.set_value(float(val), skip_validation=True)
    for v, expr in info.eliminated_vars:
        v.set_value(pyo.value(expr), skip_validation=True)
    out = SolveResult(status, float(h.getInfo().objective_function_value), 0.0, t1 - t0)
    if duals:
        row_dual = np.asarray(sol.row_dual)
        d: dict = {}
        for r, y in zip(info.rows, row_dual):
            d[r.constraint] = d.get(r.constraint, 0.0) + float(y)
        rc = ComponentMap((v, float(z)) for v, z in zip(cols, np.asarray(sol.col_dual)))
        out.duals, out.reduced_costs = d, rc
    t3 = time.perf_counter()
    out.solve_s, out.readback_s = t3 - t0, t3 - t2
    return out


def reference_solve_qp(model: pyo.ConcreteModel, duals: bool) -> SolveResult:
    """Convex QP: min 1/2 x'Px + c'x s.t. rows and bounds, by Clarabel (interior point)."""
    t0 = time.perf_counter()
    obj, sign, repn, qvars = objective_of(model)
    info = _compile_constraints(model, obj, qvars)
    form = ConicForm.build(info, sign, repn)
    cols, n = info.columns, len(info.columns)
    t1 = time.perf_counter()
    sol = form.solve()
    t2 = time.perf_counter()
    status = str(sol.status)
    if "Solved" not in status:
        raise SolveError(f"Clarabel found no optimal solution (status: {status})")
    x = np.asarray(sol.x)
    for v, val in zip(cols, x):
        v.set_value(float(val), skip_validation=True)
    for v, expr in info.eliminated_vars:
        v.set_value(pyo.value(expr), skip_validation=True)
    out = SolveResult(status, float(pyo.value(obj.expr)), 0.0, t1 - t0)
    if duals:
        z = np.asarray(sol.z)  # the element-by-element read-back of the time
        k_eq, k_le = form.n_eq, form.n_eq + int(form.le.sum())
        k_ge = k_le + int(form.ge.sum())
        y_eq, y_le, y_ge = -z[:k_eq], -z[k_eq:k_le], z[k_le:k_ge]
        hu, hl = form.hu, form.hl
        z_u, z_l = z[k_ge : k_ge + len(hu)], z[k_ge + len(hu) :]
        row_dual = np.zeros(len(form.eq))
        row_dual[form.eq], row_dual[form.le], row_dual[form.ge] = y_eq, y_le, y_ge
        d: dict = {}
        for r, y in zip(info.rows, sign * row_dual):
            d[r.constraint] = d.get(r.constraint, 0.0) + float(y)
        rc = np.zeros(n)
        np.add.at(rc, hu, -z_u)
        np.add.at(rc, hl, z_l)
        out.duals = d
        out.reduced_costs = ComponentMap((v, float(sign * r)) for v, r in zip(cols, rc))
    t3 = time.perf_counter()
    out.solve_s, out.readback_s = t3 - t0, t3 - t2
    return out
