"""Hand an assembled LP (or QP with a diagonal Hessian) to HiGHS in one call and solve.

The model is passed as column-wise arrays (``HighsLp``); the diagonal quadratic cost as a
``HighsHessian``. ``method`` picks HiGHS's ``solver`` option (``"simplex"``, ``"ipm"`` or
``"choose"``); the one used is reported in :class:`Solved`.
"""

from __future__ import annotations

import functools
import os
import sys
import time
from dataclasses import dataclass
from typing import Any

import highspy
import numpy as np

from engine.assemble import Assembled


class EngineSolveError(RuntimeError):
    """HiGHS found no optimal solution; the message names the status."""


@dataclass(frozen=True)
class Solved:
    """Primal ``x``, row duals ``y`` (d objective / d row bound), reduced costs ``z``; the
    objective includes the constant offset; times in s. With second-order cones (Clarabel
    only): ``cone_z`` their duals and ``cone_s`` their values ``u = G x + h``, over the rows
    of :attr:`engine.assemble.Assembled.cone_a` (:func:`engine.router.cone_duals`)."""

    assembled: Assembled
    x: np.ndarray
    y: np.ndarray
    z: np.ndarray
    objective: float
    status: str
    method: str
    handover_s: float
    solve_s: float
    cone_z: np.ndarray | None = None
    cone_s: np.ndarray | None = None


@functools.cache
def silence_banner() -> None:
    """Construct a first Highs object with the C-level stdout closed: HiGHS prints its
    copyright banner once per process, on construction, before any option can be set."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def handover(asm: Assembled, **options: Any) -> highspy.Highs:
    """A ``Highs`` instance holding ``asm`` (passModel with arrays; options set first).

    Raises
    ------
    EngineSolveError
        When ``asm`` has second-order cones (HiGHS solves LPs and QPs only).
    """
    if asm.has_cones:
        names = ", ".join(asm.problem.cones)
        raise EngineSolveError(
            f"HiGHS cannot solve second-order cones (cone sets: {names}); "
            "use engine.clarabel_qp.solve_clarabel"
        )
    silence_banner()
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    for k, v in options.items():
        h.setOptionValue(k, v)
    m, n = asm.shape
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = n, m
    lp.col_cost_, lp.col_lower_, lp.col_upper_ = asm.c, asm.lb, asm.ub
    lp.row_lower_, lp.row_upper_ = asm.row_lo, asm.row_hi
    lp.offset_ = asm.offset
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_, lp.a_matrix_.index_ = asm.a.indptr, asm.a.indices
    lp.a_matrix_.value_ = asm.a.data
    if asm.q is None:
        h.passModel(lp)
    else:
        model = highspy.HighsModel()
        model.lp_ = lp
        hess = highspy.HighsHessian()
        hess.dim_ = n
        hess.format_ = highspy.HessianFormat.kTriangular
        nz = np.flatnonzero(asm.q)
        start = np.searchsorted(nz, np.arange(n + 1))
        hess.start_, hess.index_, hess.value_ = start, nz, asm.q[nz]
        model.hessian_ = hess
        h.passModel(model)
    return h


def solve_highs(asm: Assembled, method: str = "choose", **options: Any) -> Solved:
    """Pass ``asm`` to HiGHS and solve with ``method`` ("simplex", "ipm", "choose")."""
    t0 = time.perf_counter()
    h = handover(asm, solver=method, **options)
    t1 = time.perf_counter()
    h.run()
    t2 = time.perf_counter()
    status = h.getModelStatus()
    if status != highspy.HighsModelStatus.kOptimal:
        raise EngineSolveError(
            f"HiGHS found no optimal solution (termination: {h.modelStatusToString(status)})"
        )
    sol = h.getSolution()
    return Solved(
        asm,
        np.asarray(sol.col_value),
        np.asarray(sol.row_dual),
        np.asarray(sol.col_dual),
        float(h.getInfo().objective_function_value),
        h.modelStatusToString(status),
        method,
        t1 - t0,
        t2 - t1,
    )
