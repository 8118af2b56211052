"""Stack the sets of a :class:`engine.problem.Problem` into one sparse LP/QP.

``A`` is built from the COO triplets of every term shifted by its row and column offsets, in
one ``csc`` construction: no dense intermediate, no per-row Python. The cone sets stack the
same way into a separate block ``u = G x + h`` (cone-major: the components of one cone are
consecutive rows), so that an LP/QP without cones assembles exactly as before.
"""

from __future__ import annotations

from collections.abc import Iterable
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
    cone_a: sp.csc_matrix | None = None
    cone_b: np.ndarray | None = None
    cone_dims: tuple[tuple[int, int], ...] = ()

    @property
    def has_cones(self) -> bool:
        """True when the problem has second-order cones (``u = cone_a x + cone_b``, per set
        ``cone_dims`` = (number of cones, dimension), in declaration order)."""
        return bool(self.cone_dims)

    @property
    def shape(self) -> tuple[int, int]:
        return self.a.shape


def assemble(problem: Problem) -> Assembled:
    """One sparse problem from all var and row sets of ``problem`` (declaration order)."""
    vs = list(problem.vars.values())
    rs = list(problem.rows.values())
    a = _stack(
        problem,
        ((r.offset, 1, name, t) for r in rs for name, t in r.terms.items()),
        problem.n_rows,
    )
    cat = lambda parts, dt=float: (  # noqa: E731
        np.concatenate(parts) if parts else np.zeros(0, dt)
    )
    cone_a, cone_b, dims = _cones(problem)
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
        cone_a,
        cone_b,
        dims,
    )


def _cones(
    problem: Problem,
) -> tuple[sp.csc_matrix | None, np.ndarray | None, tuple[tuple[int, int], ...]]:
    """The cone block ``u = G x + h`` of all cone sets (cone k of a set of dimension m at rows
    ``offset + k m .. offset + k m + m - 1``), h, and (cones, dimension) per set."""
    cs = [c for c in problem.cones.values() if c.idx.size]
    if not cs:
        return None, None, ()
    g = _stack(
        problem,
        (
            (c.offset + i, c.dim, name, t)
            for c in cs
            for i, terms in enumerate(c.terms)
            for name, t in terms.items()
        ),
        problem.n_cone_rows,
    )
    h = np.zeros(problem.n_cone_rows)
    for c in cs:
        h[c.offset : c.offset + c.idx.size * c.dim] = c.const.reshape(-1)
    return g, h, tuple((c.idx.size, c.dim) for c in cs)


def _stack(
    problem: Problem, terms: Iterable[tuple[int, int, str, sp.spmatrix]], n_rows: int
) -> sp.csc_matrix:
    """One ``n_rows x n_cols`` matrix from ``(first row, row stride, var set, matrix)`` terms:
    row k of a term goes to ``first + stride k``, its columns after the var set's offset; one
    ``csc`` construction from the COO triplets, duplicates summed."""
    rows, cols, vals = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)], [np.zeros(0)]
    for first, stride, name, a in terms:
        coo = a.tocoo()
        rows.append(coo.row.astype(np.int64) * stride + first)
        cols.append(coo.col.astype(np.int64) + problem.vars[name].offset)
        vals.append(coo.data)
    out = sp.csc_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=(n_rows, problem.n_cols),
    )
    out.sum_duplicates()
    return out
