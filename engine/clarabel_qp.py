"""Hand an assembled convex QP (diagonal Hessian) to Clarabel in one call and solve.

Clarabel solves ``min 1/2 x'Px + c'x`` s.t. ``A x + s = b``, ``s`` in a product of cones. Rows
with ``lo == hi`` go to the zero cone, the finite sides of the other rows and of the column
bounds to the non-negative cone. Duals are returned in HiGHS's convention (d objective / d row
bound, reduced costs d objective / d column bound), so :mod:`engine.router` reads both alike.

Second-order cones (:meth:`engine.problem.Problem.add_cones`, ``u = G x + h`` with
``||u_1..|| <= u_0``) follow the non-negative rows as ``-G x + s = h``, one
``SecondOrderConeT(dim)`` per cone (Clarabel's SOC: ``s_0 >= ||s_1..||``). Their duals ``z``
(in the same, self-dual, cone) are returned as they are: the Lagrangian is
``f(x) - z'(G x + h)``, so ``d objective / d h = -z``.
"""

from __future__ import annotations

import time

import clarabel
import numpy as np
import scipy.sparse as sp

from engine.assemble import Assembled
from engine.highs import EngineSolveError, Solved


def solve_clarabel(
    asm: Assembled, tol: float = 1e-10, threads: int = 1, regularisation: float | None = None
) -> Solved:
    """Solve ``asm`` with Clarabel (interior point) to gap and feasibility tolerance ``tol``;
    with ``threads`` > 1 its faer factorisation on that many threads (QDLDL otherwise: on the
    grid city's DSO problem, 0.39 M columns, 33 s on two threads against 37 s);
    ``regularisation`` Clarabel's static regularisation constant (None: its default)."""
    t0 = time.perf_counter()
    m, n = asm.shape
    a = asm.a.tocsr()
    lo, hi = asm.row_lo, asm.row_hi
    eq = np.flatnonzero(lo == hi)
    up = np.flatnonzero(np.isfinite(hi) & (lo != hi))
    dn = np.flatnonzero(np.isfinite(lo) & (lo != hi))
    # with cones, fixed columns (lb == ub) are equality rows: two opposite non-negative rows
    # leave the interior point method no interior (ieee33's slack w: 40 times the gap error)
    fix = asm.lb == asm.ub if asm.has_cones else np.zeros(n, bool)
    fx = np.flatnonzero(fix)
    cu = np.flatnonzero(np.isfinite(asm.ub) & ~fix)
    cl = np.flatnonzero(np.isfinite(asm.lb) & ~fix)
    eye = sp.identity(n, format="csr")
    blocks = [a[eq], a[up], -a[dn], eye[cu], -eye[cl]]
    rhs = [lo[eq], hi[up], -lo[dn], asm.ub[cu], -asm.lb[cl]]
    if len(fx):
        blocks.insert(1, eye[fx])
        rhs.insert(1, asm.ub[fx])
    big = sp.vstack(blocks, format="csc")
    b = np.concatenate(rhs)
    n_lin, n_zero = len(b), len(eq) + len(fx)
    cones = [clarabel.ZeroConeT(n_zero)] if n_zero else []
    if len(b) > n_zero:
        cones.append(clarabel.NonnegativeConeT(len(b) - n_zero))
    if asm.has_cones:
        big = sp.vstack([big, -asm.cone_a], format="csc")
        b = np.concatenate([b, asm.cone_b])
        for count, dim in asm.cone_dims:
            cones += [clarabel.SecondOrderConeT(dim)] * count
    p = sp.diags(asm.q if asm.q is not None else np.zeros(n), format="csc")
    settings = clarabel.DefaultSettings()
    settings.verbose = False
    settings.tol_gap_abs = settings.tol_gap_rel = tol
    settings.tol_feas = tol
    if regularisation is not None:
        settings.static_regularization_constant = regularisation
    if threads > 1:
        settings.direct_solve_method, settings.max_threads = "faer", threads
    t1 = time.perf_counter()
    sol = clarabel.DefaultSolver(p, asm.c, big, b, cones, settings).solve()
    t2 = time.perf_counter()
    status = str(sol.status)
    if "Solved" not in status:
        raise EngineSolveError(f"Clarabel found no optimal solution (status: {status})")
    x, z = np.asarray(sol.x), np.asarray(sol.z)
    if len(fx):
        x = x.copy()
        x[fx] = asm.ub[fx]  # exactly at the fixed value (Clarabel: to its feasibility tolerance)
    k = np.cumsum([0, len(eq), len(up), len(dn), len(cu), len(cl)]) + np.r_[0, [len(fx)] * 5]
    y = np.zeros(m)
    y[eq] = -z[: len(eq)]
    np.add.at(y, up, -z[k[1] : k[2]])
    np.add.at(y, dn, z[k[2] : k[3]])
    rc = np.zeros(n)
    np.add.at(rc, cu, -z[k[3] : k[4]])
    np.add.at(rc, cl, z[k[4] : k[5]])
    rc[fx] = -z[len(eq) : n_zero]
    q = asm.q if asm.q is not None else 0.0
    obj = float(asm.c @ x + 0.5 * np.sum(q * x * x) + asm.offset)
    method = "clarabel" if threads == 1 else f"clarabel (faer, {threads} threads)"
    cz = cs = None
    if asm.has_cones:
        cz, cs = z[n_lin:].copy(), np.asarray(sol.s)[n_lin:].copy()
    return Solved(asm, x, y, rc, obj, status, method, t1 - t0, t2 - t1, cz, cs)


def solve_clarabel_stable(asm: Assembled) -> Solved:
    """:func:`solve_clarabel` at tolerance 1e-10; when that ends in Clarabel's numerical error
    or insufficient progress, once more at 1e-8 with ten times the static regularisation (as
    :meth:`power.solve.ConicForm.solve_stable` does for the Pyomo models)."""
    try:
        return solve_clarabel(asm)
    except EngineSolveError as exc:
        if "NumericalError" not in str(exc) and "InsufficientProgress" not in str(exc):
            raise
    return solve_clarabel(asm, tol=1e-8, regularisation=1e-7)
