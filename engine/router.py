"""Primal values and duals back to tables through the index maps (vectorised slices)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from engine.highs import Solved


def values(sol: Solved, name: str) -> np.ndarray:
    """Primal values of var set ``name`` shaped by its coordinates (e.g. lines x steps)."""
    v = sol.assembled.problem.vars[name]
    return sol.x[v.offset : v.offset + v.idx.size].reshape(v.idx.shape)


def reduced_costs(sol: Solved, name: str) -> np.ndarray:
    """Reduced costs (d objective / d bound) of var set ``name``, shaped."""
    v = sol.assembled.problem.vars[name]
    return sol.z[v.offset : v.offset + v.idx.size].reshape(v.idx.shape)


def duals(sol: Solved, name: str) -> np.ndarray:
    """Duals of row set ``name`` (d objective / d right-hand side), shaped."""
    r = sol.assembled.problem.rows[name]
    return sol.y[r.offset : r.offset + r.idx.size].reshape(r.idx.shape)


def cone_duals(sol: Solved, name: str) -> np.ndarray:
    """Duals of cone set ``name``, shaped (coordinates..., dimension): per cone the vector
    ``z`` in the (self-dual) second-order cone, ``z_0 >= ||z_1..||``, with ``d objective /
    d const = -z`` (:mod:`engine.clarabel_qp`); ``z_0 > 0`` where the cone binds."""
    return _cone_block(sol, name, sol.cone_z)


def cone_values(sol: Solved, name: str) -> np.ndarray:
    """Values ``u = G x + h`` of cone set ``name``'s components, shaped (coordinates...,
    dimension) as :func:`cone_duals`."""
    return _cone_block(sol, name, sol.cone_s)


def _cone_block(sol: Solved, name: str, arr: np.ndarray | None) -> np.ndarray:
    c = sol.assembled.problem.cones[name]
    if arr is None:
        raise ValueError(f"cone set {name!r}: the solution has no cone values (not Clarabel?)")
    return arr[c.offset : c.offset + c.idx.size * c.dim].reshape(*c.idx.shape, c.dim)


def table(sol: Solved, **columns: str) -> pd.DataFrame:
    """A long table over one index from sets of equal index, e.g.
    ``table(sol, p_kw="p", loading=...)``: each keyword names a var set (``"x:name"``) or a row
    set (``"y:name"``); a plain name is a var set."""
    prob = sol.assembled.problem
    out: dict[str, np.ndarray] = {}
    idx = None
    for col, ref in columns.items():
        kind, _, name = ref.rpartition(":")
        s = prob.rows[name] if kind == "y" else prob.vars[name]
        arr = duals(sol, name) if kind == "y" else values(sol, name)
        if idx is None:
            idx = s.idx
        elif s.idx.shape != idx.shape:
            raise ValueError(f"table: {ref} has shape {s.idx.shape}, not {idx.shape}")
        out[col] = arr.reshape(-1)
    assert idx is not None
    return pd.DataFrame(out, index=idx.labels()).reset_index()
