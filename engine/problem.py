"""A problem as named, indexed sets of columns and rows (sparse, no per-element Python).

A :class:`VarSet` is a block of columns indexed by the Cartesian product of its coordinates
(e.g. ``line x t``), stored flat in C order, with bounds and a linear (and diagonal quadratic)
cost. A :class:`RowSet` is a block of rows ``lo <= sum_k A_k x_k <= hi`` whose terms ``A_k`` are
sparse matrices over the columns of the var sets they name. A :class:`ConeSet` is a block of
second-order cones of equal dimension ``||(u_1, .., u_m)|| <= u_0`` whose components
``u_i = sum_k A_ik x_k + b_i`` are affine in the same way. Blocks such as
:func:`power.lindistflow_engine.declare_lindistflow` add their sets to a :class:`Problem`;
nothing is dense of size rows x columns and every index map is an integer array.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp


class ProblemError(ValueError):
    """A block declared an inconsistent set (shapes, names); the message names it."""


@dataclass(frozen=True)
class Index:
    """Named coordinates of a set: ``dims`` and one label array per dim (C-order product)."""

    dims: tuple[str, ...]
    coords: tuple[np.ndarray, ...]

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(len(c) for c in self.coords)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    def labels(self) -> pd.MultiIndex | pd.Index:
        """The pandas index of the flat set (vectorised product of the coordinates)."""
        if len(self.dims) == 1:
            return pd.Index(self.coords[0], name=self.dims[0])
        return pd.MultiIndex.from_product(self.coords, names=list(self.dims))


def index(**coords: object) -> Index:
    """``index(line=ids, t=range(T))``: an :class:`Index` from keyword coordinates."""
    return Index(
        tuple(coords),
        tuple(np.asarray(list(c) if isinstance(c, range) else c) for c in coords.values()),
    )


def _flat(value: float | np.ndarray, size: int, what: str) -> np.ndarray:
    arr = np.asarray(value, dtype=float)
    if arr.ndim == 0:
        return np.full(size, float(arr))
    if arr.size != size:
        raise ProblemError(f"{what}: {arr.size} values for a set of {size}")
    return arr.reshape(-1)


@dataclass
class VarSet:
    """Columns ``name[idx]`` with bounds ``lb <= x <= ub`` and cost ``c x + 1/2 q x^2``."""

    name: str
    idx: Index
    lb: np.ndarray
    ub: np.ndarray
    cost: np.ndarray
    qcost: np.ndarray | None = None
    offset: int = -1  # first column in the assembled problem (set by Problem.add_vars)


@dataclass
class RowSet:
    """Rows ``lo <= sum_k terms[k] @ x_k <= hi``; ``terms`` maps var-set names to sparse
    matrices of shape (rows, size of that var set)."""

    name: str
    idx: Index
    terms: dict[str, sp.csr_matrix]
    lo: np.ndarray
    hi: np.ndarray
    offset: int = -1


@dataclass
class ConeSet:
    """Second-order cones ``name[k]``, k over ``idx``: ``||(u_1[k], .., u_m[k])|| <= u_0[k]``
    with ``u_i = sum_v terms[i][v] @ x_v + const[:, i]``; ``terms[i]`` maps var-set names to
    sparse matrices of shape (cones, size of that var set), ``const`` is (cones, m + 1)."""

    name: str
    idx: Index
    terms: list[dict[str, sp.csr_matrix]]
    const: np.ndarray
    offset: int = -1  # first row of the set in the assembled cone block (cone-major)

    @property
    def dim(self) -> int:
        """Dimension ``m + 1`` of each cone (the bound ``u_0`` included)."""
        return len(self.terms)


@dataclass
class Problem:
    """Named var, row and cone sets in declaration order; ``objective_offset`` is a constant
    cost."""

    vars: dict[str, VarSet] = field(default_factory=dict)
    rows: dict[str, RowSet] = field(default_factory=dict)
    objective_offset: float = 0.0
    n_cols: int = 0
    n_rows: int = 0
    cones: dict[str, ConeSet] = field(default_factory=dict)
    n_cone_rows: int = 0

    def add_vars(
        self,
        name: str,
        idx: Index,
        lb: float | np.ndarray = -np.inf,
        ub: float | np.ndarray = np.inf,
        cost: float | np.ndarray = 0.0,
        qcost: float | np.ndarray | None = None,
    ) -> VarSet:
        """Declare columns ``name`` over ``idx`` (bounds and costs scalar or flat/shaped)."""
        if name in self.vars:
            raise ProblemError(f"variable set {name!r} declared twice")
        n = idx.size
        vs = VarSet(
            name,
            idx,
            _flat(lb, n, f"{name} lower bound"),
            _flat(ub, n, f"{name} upper bound"),
            _flat(cost, n, f"{name} cost"),
            None if qcost is None else _flat(qcost, n, f"{name} quadratic cost"),
            self.n_cols,
        )
        self.vars[name] = vs
        self.n_cols += n
        return vs

    def add_rows(
        self,
        name: str,
        idx: Index,
        terms: dict[str, sp.spmatrix],
        lo: float | np.ndarray,
        hi: float | np.ndarray,
    ) -> RowSet:
        """Declare rows ``name`` over ``idx``: ``lo <= sum terms[v] @ x_v <= hi``."""
        if name in self.rows:
            raise ProblemError(f"row set {name!r} declared twice")
        m = idx.size
        checked = self._checked_terms(f"rows {name!r}", m, terms)
        rs = RowSet(
            name,
            idx,
            checked,
            _flat(lo, m, f"{name} lower"),
            _flat(hi, m, f"{name} upper"),
            self.n_rows,
        )
        self.rows[name] = rs
        self.n_rows += m
        return rs

    def _checked_terms(
        self, what: str, m: int, terms: dict[str, sp.spmatrix]
    ) -> dict[str, sp.csr_matrix]:
        checked: dict[str, sp.csr_matrix] = {}
        for v, a in terms.items():
            if v not in self.vars:
                raise ProblemError(f"{what}: unknown variable set {v!r}")
            a = sp.csr_matrix(a)
            if a.shape != (m, self.vars[v].idx.size):
                raise ProblemError(
                    f"{what}: term {v!r} has shape {a.shape}, expected {(m, self.vars[v].idx.size)}"
                )
            checked[v] = a
        return checked

    def add_cones(
        self,
        name: str,
        idx: Index,
        terms_per_component: list[dict[str, sp.spmatrix]],
        const: float | np.ndarray | list = 0.0,
    ) -> ConeSet:
        """Declare second-order cones ``name`` over ``idx``: cone k is
        ``||(u_1[k], .., u_m[k])|| <= u_0[k]`` with component ``u_i = sum_v
        terms_per_component[i][v] @ x_v + const_i`` (``terms_per_component[0]`` the bound).

        const : a scalar, or one entry per component (each a scalar or an array over ``idx``),
            or an array of shape (cones, m + 1).
        """
        if name in self.cones:
            raise ProblemError(f"cone set {name!r} declared twice")
        n, dim = idx.size, len(terms_per_component)
        if dim < 2:
            raise ProblemError(f"cones {name!r}: {dim} components, at least 2 needed")
        checked = [
            self._checked_terms(f"cones {name!r} component {i}", n, t)
            for i, t in enumerate(terms_per_component)
        ]
        c = np.asarray(const, dtype=float) if not isinstance(const, list) else None
        if c is not None and c.shape == (n, dim):
            b = c.copy()
        elif c is not None and c.ndim == 0:
            b = np.full((n, dim), float(c))
        else:
            parts = const if isinstance(const, list) else list(c)
            if len(parts) != dim:
                raise ProblemError(f"cones {name!r}: {len(parts)} constants for {dim} components")
            b = np.column_stack([_flat(v, n, f"{name} constant {i}") for i, v in enumerate(parts)])
        cs = ConeSet(name, idx, checked, b.reshape(n, dim), self.n_cone_rows)
        self.cones[name] = cs
        self.n_cone_rows += n * dim
        return cs

    def add_to_rows(self, name: str, var: str, a: sp.spmatrix) -> None:
        """Add a term (e.g. EV charging as load) to already declared rows ``name``."""
        rs = self.rows[name]
        a = sp.csr_matrix(a)
        if a.shape != (rs.idx.size, self.vars[var].idx.size):
            raise ProblemError(f"rows {name!r}: term {var!r} has shape {a.shape}")
        rs.terms[var] = rs.terms[var] + a if var in rs.terms else a

    def fix(self, name: str, flat_positions: np.ndarray, value: float | np.ndarray) -> None:
        """Fix columns of var set ``name`` (flat positions) to ``value`` (lb = ub)."""
        vs = self.vars[name]
        vs.lb[flat_positions] = value
        vs.ub[flat_positions] = value


def selector(
    n_rows: int, rows: np.ndarray, cols: np.ndarray, n_cols: int, vals: float | np.ndarray = 1.0
) -> sp.csr_matrix:
    """Sparse ``n_rows x n_cols`` matrix with ``vals`` at (rows, cols) (duplicates summed)."""
    rows, cols = np.asarray(rows, np.int64).reshape(-1), np.asarray(cols, np.int64).reshape(-1)
    v = np.broadcast_to(np.asarray(vals, float), rows.shape)
    return sp.csr_matrix((v, (rows, cols)), shape=(n_rows, n_cols))
