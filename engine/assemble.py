"""Stack the sets of a :class:`engine.problem.Problem` into one sparse LP/QP.

``A`` is built from the COO triplets of every term shifted by its row and column offsets, in
one ``csc`` construction: no dense intermediate, no per-row Python.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from engine.problem import Problem


@dataclass(frozen=True)
class Assembled:
    """``min c x + 1/2 x' diag(q) x + offset``, ``row_lo <= A x <= row_hi``, ``lb <= x <= ub``."""

    problem: Problem
    a: sp.csc_matrix
    row_lo: np.ndarray
    row_hi: np.ndarray
    c: np.ndarray
    q: np.ndarray | None
    lb: np.ndarray
    ub: np.ndarray
    offset: float

    @property
    def shape(self) -> tuple[int, int]:
        return self.a.shape


def assemble(problem: Problem) -> Assembled:
    """One sparse problem from all var and row sets of ``problem`` (declaration order)."""
    vs = list(problem.vars.values())
    rs = list(problem.rows.values())
    rows, cols, vals = [], [], []
    for r in rs:
        for name, a in r.terms.items():
            coo = a.tocoo()
            rows.append(coo.row.astype(np.int64) + r.offset)
            cols.append(coo.col.astype(np.int64) + problem.vars[name].offset)
            vals.append(coo.data)
    cat = lambda parts, dt=float: (  # noqa: E731
        np.concatenate(parts) if parts else np.zeros(0, dt)
    )
    a = sp.csc_matrix(
        (cat(vals), (cat(rows, np.int64), cat(cols, np.int64))),
        shape=(problem.n_rows, problem.n_cols),
    )
    a.sum_duplicates()
    q = None
    if any(v.qcost is not None for v in vs):
        q = cat([v.qcost if v.qcost is not None else np.zeros(v.idx.size) for v in vs])
    return Assembled(
        problem,
        a,
        cat([r.lo for r in rs]),
        cat([r.hi for r in rs]),
        cat([v.cost for v in vs]),
        q,
        cat([v.lb for v in vs]),
        cat([v.ub for v in vs]),
        problem.objective_offset,
    )
