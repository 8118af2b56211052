"""Verify a known solution of an assembled problem by its optimality (KKT) conditions.

An interior-point solver cannot start warm, but a convex problem needs no solve when a
candidate already meets its KKT conditions: in the tariff scheme, one aggregator facing the
DSO's DLMP tariff has the DSO's schedule as its optimum (the DSO's KKT conditions with the grid
rows priced, :mod:`coupling.problems.dso`), and an aggregator whose tariff did not move keeps
its last response. :func:`certify` carries a solution over by the names of the var and row
sets and accepts it when, for ``min c x + 1/2 x' diag(q) x`` s.t. ``lo <= A x <= hi``,
``lb <= x <= ub`` with duals ``y`` (rows) and ``z`` (bounds) in HiGHS' convention:

* primal: ``A x`` within its row bounds and ``x`` within its bounds;
* stationarity: ``c + q x - A' y - z = 0``;
* complementarity and sign: ``y > 0`` (``z > 0``) only at a finite lower bound, ``y < 0``
  (``z < 0``) only at a finite upper one, and the sum of ``|y| x distance to that bound`` (the
  duality gap) small against the objective's terms.

Tolerances are relative: to the largest bound, to each column's own cost, to the objective's
terms.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from engine.assemble import Assembled
from engine.highs import Solved


@dataclass(frozen=True)
class KKT:
    """Scaled residuals of a candidate: ``primal`` (violation / (1 + largest bound)),
    ``dual`` (stationarity of each column / (1 + the size of its terms)), ``gap``
    (duality gap / (1 + the objective's terms)); ``inf`` when a dual has the sign of an
    infinite bound."""

    primal: float
    dual: float
    gap: float

    def ok(self, tol: float = 1e-7) -> bool:
        return max(self.primal, self.dual, self.gap) <= tol


def _finite_max(*arrays: np.ndarray) -> float:
    out = 0.0
    for a in arrays:
        f = np.abs(a[np.isfinite(a)])
        if f.size:
            out = max(out, float(f.max()))
    return out


def _gap(v: np.ndarray, d: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> float:
    """Sum of |d| x the distance of ``v`` to the bound its sign points at (inf when that
    bound is infinite and |d| is not negligible)."""
    pos, neg = np.maximum(d, 0.0), np.maximum(-d, 0.0)
    big = 1e-9 * (1.0 + float(np.abs(d).max(initial=0.0)))
    if np.any((pos > big) & ~np.isfinite(lo)) or np.any((neg > big) & ~np.isfinite(hi)):
        return np.inf
    lo_f = np.where(np.isfinite(lo), lo, v)
    hi_f = np.where(np.isfinite(hi), hi, v)
    return float(pos @ np.abs(v - lo_f) + neg @ np.abs(hi_f - v))


def kkt(asm: Assembled, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> KKT:
    """The scaled KKT residuals of ``(x, y, z)`` for ``asm`` (module docstring)."""
    ax = asm.a @ x
    viol = max(
        float(np.maximum(asm.row_lo - ax, 0.0).max(initial=0.0)),
        float(np.maximum(ax - asm.row_hi, 0.0).max(initial=0.0)),
        float(np.maximum(asm.lb - x, 0.0).max(initial=0.0)),
        float(np.maximum(x - asm.ub, 0.0).max(initial=0.0)),
    )
    scale_b = 1.0 + _finite_max(asm.row_lo, asm.row_hi, asm.lb, asm.ub)
    qx = asm.q * x if asm.q is not None else np.zeros_like(x)
    grad = asm.c + qx
    # per column, against the size of its own terms: a small cost (a station's energy
    # price, 0.15 /kWh) must not hide behind a large one elsewhere (a 1,000 arrival penalty)
    size = 1.0 + np.abs(grad) + abs(asm.a).T @ np.abs(y) + np.abs(z)
    stat = float((np.abs(grad - asm.a.T @ y - z) / size).max(initial=0.0))
    gap = _gap(ax, y, asm.row_lo, asm.row_hi) + _gap(x, z, asm.lb, asm.ub)
    terms = float(np.abs(asm.c * x).sum()) + abs(asm.offset)
    return KKT(viol / scale_b, stat, gap / (1.0 + terms))


def carry(target: Assembled, source: Solved) -> tuple[np.ndarray, ...] | None:
    """``source``'s primal values and duals on ``target``'s var and row sets of the same name
    and size, or None when one of ``target``'s sets is missing in ``source`` or differs."""
    tp, sp_ = target.problem, source.assembled.problem
    x, z = np.zeros(target.shape[1]), np.zeros(target.shape[1])
    y = np.zeros(target.shape[0])
    for name, v in tp.vars.items():
        s = sp_.vars.get(name)
        if s is None or s.idx.shape != v.idx.shape:
            return None
        x[v.offset : v.offset + v.idx.size] = source.x[s.offset : s.offset + s.idx.size]
        z[v.offset : v.offset + v.idx.size] = source.z[s.offset : s.offset + s.idx.size]
    for name, r in tp.rows.items():
        s = sp_.rows.get(name)
        if s is None or s.idx.shape != r.idx.shape:
            return None
        y[r.offset : r.offset + r.idx.size] = source.y[s.offset : s.offset + s.idx.size]
    return x, y, z


def certify(target: Assembled, source: Solved, tol: float = 1e-7) -> Solved | None:
    """``source``'s solution as the solution of ``target`` when it meets ``target``'s KKT
    conditions to ``tol`` (:class:`KKT`), else None (then solve ``target``)."""
    t0 = time.perf_counter()
    cand = carry(target, source)
    if cand is None:
        return None
    x, y, z = cand
    if not kkt(target, x, y, z).ok(tol):
        return None
    q = target.q if target.q is not None else 0.0
    obj = float(target.c @ x + 0.5 * np.sum(q * x * x) + target.offset)
    method = f"KKT certificate of a known solution ({source.method})"
    return Solved(target, x, y, z, obj, source.status, method, 0.0, time.perf_counter() - t0)
