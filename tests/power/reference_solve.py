"""The read-back of :mod:`power.solve` as it was before it was vectorised (duals as a dict,
reduced costs as a ComponentMap, filled element by element), kept as a reference for the
tests: the same compiled model and solver calls, so results must agree exactly."""

from __future__ import annotations

import time
from typing import Any

import clarabel
import highspy
import numpy as np
import pyomo.environ as pyo
import scipy.sparse as sp
from pyomo.common.collections import ComponentMap
from pyomo.repn import generate_standard_repn
from pyomo.repn.plugins.standard_form import LinearStandardFormCompiler

from power.solve import SolveError, SolveResult


def reference_solve_direct(model: pyo.ConcreteModel, duals: bool, options: dict) -> SolveResult:
    t0 = time.perf_counter()
    info = LinearStandardFormCompiler().write(model, mixed_form=True)
    cols = info.columns
    n, m = len(cols), len(info.rows)
    lb = np.array([-np.inf if v.lb is None else v.lb for v in cols], dtype=float)
    ub = np.array([np.inf if v.ub is None else v.ub for v in cols], dtype=float)
    rhs = np.asarray(info.rhs, dtype=float)
    kind = np.array([r.bound_type for r in info.rows], dtype=int)
    row_lo = np.where(kind <= 0, rhs, -np.inf)
    row_hi = np.where(kind >= 0, rhs, np.inf)
    a = info.A.tocsc()
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = n, m
    lp.col_cost_ = np.asarray(info.c.toarray()).ravel() if n else np.zeros(0)
    lp.col_lower_, lp.col_upper_ = lb, ub
    lp.row_lower_, lp.row_upper_ = row_lo, row_hi
    lp.offset_ = float(info.c_offset[0]) if len(info.c_offset) else 0.0
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = a.indptr
    lp.a_matrix_.index_ = a.indices
    lp.a_matrix_.value_ = a.data
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    for k, v in options.items():
        h.setOptionValue(k, v)
    h.passModel(lp)
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


def _reference_compile(model: pyo.ConcreteModel, obj: pyo.Objective, qvars: list) -> Any:
    """Standard form of the constraints with every objective variable as a column."""
    obj.deactivate()
    tmp = pyo.Objective(expr=sum(qvars) if qvars else 0.0)
    model.add_component("_evtp_tmp_obj", tmp)
    try:
        return LinearStandardFormCompiler().write(model, mixed_form=True)
    finally:
        model.del_component(tmp)
        obj.activate()


def reference_solve_qp(model: pyo.ConcreteModel, duals: bool, reuse: bool = False) -> SolveResult:
    """Convex QP: min 1/2 x'Px + c'x s.t. rows and bounds, by Clarabel (interior point)."""
    t0 = time.perf_counter()
    (obj,) = list(model.component_data_objects(pyo.Objective, active=True))
    sign = 1.0 if obj.sense == pyo.minimize else -1.0
    repn = generate_standard_repn(obj.expr, quadratic=True, compute_values=True)
    qvars = list(
        {
            id(v): v for v in list(repn.linear_vars) + [v for p in repn.quadratic_vars for v in p]
        }.values()
    )
    cached = getattr(model, "_evtp_compiled", None) if reuse else None
    info = cached if cached is not None else _reference_compile(model, obj, qvars)
    if reuse:
        model._evtp_compiled = info
    cols = info.columns
    pos = {id(v): i for i, v in enumerate(cols)}
    n = len(cols)
    c = np.zeros(n)
    for v, k in zip(repn.linear_vars, repn.linear_coefs):
        c[pos[id(v)]] += sign * k
    qi, qj, qv = [], [], []
    for (a, b), k in zip(repn.quadratic_vars, repn.quadratic_coefs):
        i, j = sorted((pos[id(a)], pos[id(b)]))
        qi.append(i)
        qj.append(j)
        qv.append(sign * k * (2.0 if i == j else 1.0))
    hess = sp.csc_matrix((qv, (qi, qj)), shape=(n, n))  # upper triangle of P
    a = info.A.tocsr()
    rhs = np.asarray(info.rhs, dtype=float)
    kind = np.array([r.bound_type for r in info.rows], dtype=int)
    eq, le, ge = kind == 0, kind == 1, kind == -1
    lb = np.array([-np.inf if v.lb is None else v.lb for v in cols], dtype=float)
    ub = np.array([np.inf if v.ub is None else v.ub for v in cols], dtype=float)
    hu, hl = np.flatnonzero(np.isfinite(ub)), np.flatnonzero(np.isfinite(lb))
    eye = sp.identity(n, format="csr")
    blocks = [a[eq], a[le], -a[ge], eye[hu], -eye[hl]]
    b = np.concatenate([rhs[eq], rhs[le], -rhs[ge], ub[hu], -lb[hl]])
    big = sp.vstack(blocks, format="csc") if n else sp.csc_matrix((0, 0))
    n_eq = int(eq.sum())
    cones = [clarabel.ZeroConeT(n_eq)] if n_eq else []
    if len(b) - n_eq:
        cones.append(clarabel.NonnegativeConeT(len(b) - n_eq))
    settings = clarabel.DefaultSettings()
    settings.verbose = False
    settings.tol_gap_abs = settings.tol_gap_rel = 1e-10
    settings.tol_feas = 1e-10
    t1 = time.perf_counter()
    sol = clarabel.DefaultSolver(hess, c, big, b, cones, settings).solve()
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
        z = np.asarray(sol.z)
        k_eq, k_le, k_ge = n_eq, n_eq + int(le.sum()), n_eq + int(le.sum()) + int(ge.sum())
        y_eq, y_le, y_ge = -z[:k_eq], -z[k_eq:k_le], z[k_le:k_ge]
        z_u, z_l = z[k_ge : k_ge + len(hu)], z[k_ge + len(hu) :]
        row_dual = np.zeros(len(kind))
        row_dual[eq], row_dual[le], row_dual[ge] = y_eq, y_le, y_ge
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
