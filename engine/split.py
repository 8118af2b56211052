"""Solve an assembled problem by its independent parts (connected components of ``A``).

A coupled case's DTA is, apart from the ODs that can reach a station, a set of small LPs (one
per OD and its paths) that share no row with each other or with the grid. Their objective
terms are separate, so the optimum of the whole is the optimum of each part: solving them
apart is exact, and an interior-point solve of many small LPs is far faster than one of the
whole (Clarabel on the grid city's DSO problem, 1.46 M columns: 95 s; its grid-coupled part,
0.39 M columns, 33 s, and the 791 others, 15 s with HiGHS' interior point).

:func:`solve_split` solves the parts that hold a quadratic cost or a column of the named
``coupled`` var sets with the caller's solver (one call), and the other parts as LPs with
HiGHS' interior point (no crossover), a few thousand columns per call. A :class:`PartCache`
keeps each part's solution under a hash of its data (matrix block, costs, bounds): a part
whose data did not change (the traffic-only ODs between tariff iterations, and between the
DSO's problem and an aggregator's) is not solved again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from engine.assemble import Assembled
from engine.highs import Solved, solve_highs


@dataclass
class PartCache:
    """Solutions ``(x, y, z)`` of LP parts keyed by a hash of their data; ``hits``/``misses``
    count parts found and solved."""

    store: dict[bytes, tuple[np.ndarray, np.ndarray, np.ndarray]] = field(default_factory=dict)
    hits: int = 0
    misses: int = 0


@dataclass(frozen=True)
class Parts:
    """Components of an assembled problem: columns and rows permuted so that each component
    is contiguous (``col_perm``, ``row_perm``), with its ranges ``col_start``/``row_start``
    (length ``n + 1``) in that order."""

    n: int
    col_label: np.ndarray
    row_label: np.ndarray
    col_perm: np.ndarray
    row_perm: np.ndarray
    col_start: np.ndarray
    row_start: np.ndarray


def _ranges(labels: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    perm = np.argsort(labels, kind="stable")
    start = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(labels, minlength=n), out=start[1:])
    return perm, start


def parts(asm: Assembled) -> Parts:
    """The connected components of the bipartite row-column graph of ``asm.a`` (a column that
    appears in no row is a component of its own)."""
    m, n = asm.shape
    a = asm.a.tocoo()
    g = sp.coo_matrix((np.ones(a.nnz, dtype=np.int8), (a.row, m + a.col)), shape=(m + n, m + n))
    k, lab = connected_components(g, directed=False)
    col_label, row_label = lab[m:].astype(np.int64), lab[:m].astype(np.int64)
    col_perm, col_start = _ranges(col_label, k)
    row_perm, row_start = _ranges(row_label, k)
    return Parts(k, col_label, row_label, col_perm, row_perm, col_start, row_start)


def _sub(asm: Assembled, a: sp.csr_matrix, rows: np.ndarray, cols: np.ndarray) -> Assembled:
    """``asm`` restricted to ``rows`` and ``cols`` (``a``: that block, any sparse format)."""
    return replace(
        asm,
        a=sp.csc_matrix(a),
        row_lo=asm.row_lo[rows],
        row_hi=asm.row_hi[rows],
        c=asm.c[cols],
        q=None if asm.q is None else asm.q[cols],
        lb=asm.lb[cols],
        ub=asm.ub[cols],
        offset=0.0,
    )


def coupled_parts(asm: Assembled, pt: Parts, coupled: Iterable[str] = ()) -> np.ndarray:
    """Per part: does it hold a quadratic cost or a column of a var set named in
    ``coupled``?"""
    hot = np.zeros(pt.n, dtype=bool)
    if asm.q is not None:
        hot[np.unique(pt.col_label[np.flatnonzero(asm.q)])] = True
    for name in coupled:
        v = asm.problem.vars[name]
        hot[np.unique(pt.col_label[v.offset : v.offset + v.idx.size])] = True
    return hot


def subproblem(
    asm: Assembled, pt: Parts, ids: Iterable[int]
) -> tuple[Assembled, np.ndarray, np.ndarray]:
    """The sub-problem of parts ``ids`` (any of them, block diagonal) with its rows and
    columns in ``asm``."""
    ids = list(ids)
    rows = np.concatenate([pt.row_perm[pt.row_start[i] : pt.row_start[i + 1]] for i in ids])
    cols = np.concatenate([pt.col_perm[pt.col_start[i] : pt.col_start[i + 1]] for i in ids])
    return _sub(asm, asm.a[:, cols].tocsr()[rows], rows, cols), rows, cols


def _key(sub: Assembled) -> bytes:
    h = hashlib.blake2b(digest_size=20)
    a = sub.a
    for arr in (a.indptr, a.indices, a.data, sub.row_lo, sub.row_hi, sub.c, sub.lb, sub.ub):
        h.update(np.ascontiguousarray(arr).tobytes())
    h.update(np.asarray(sub.shape, dtype=np.int64).tobytes())
    return h.digest()


def _chunks(sizes: Iterable[tuple[int, int]], target: int) -> list[list[int]]:
    """Consecutive groups of (part, columns) with about ``target`` columns each."""
    out: list[list[int]] = [[]]
    acc = 0
    for i, n in sizes:
        if acc >= target:
            out.append([])
            acc = 0
        out[-1].append(i)
        acc += n
    return [c for c in out if c]


def solve_split(
    asm: Assembled,
    solve_coupled: Callable[[Assembled], Solved],
    *,
    coupled: Iterable[str] = (),
    cache: PartCache | None = None,
    chunk_cols: int = 2000,
    min_parts: int = 2,
) -> Solved:
    """Solve ``asm`` part by part (module docstring); the same optimum as one solve.

    solve_coupled : the solver for the parts with a quadratic cost or a column of a var set
        named in ``coupled`` (e.g. the grid and the station loads), all in one call.
    cache : solutions of LP parts kept between calls (None: none kept).
    chunk_cols : columns per HiGHS call for the other parts.
    min_parts : below this many components the whole problem goes to ``solve_coupled``, and
        so does a problem with second-order cones (its parts are not split along them).
    """
    if asm.has_cones:
        return solve_coupled(asm)
    pt = parts(asm)
    if pt.n < min_parts:
        return solve_coupled(asm)
    hot = coupled_parts(asm, pt, coupled)
    a_p = asm.a.tocsr()[pt.row_perm][:, pt.col_perm].tocsr()
    x, y, z = np.zeros(asm.shape[1]), np.zeros(asm.shape[0]), np.zeros(asm.shape[1])
    handover_s = solve_s = 0.0
    methods: list[str] = []
    status = "Optimal"

    def block(ids: list[int]) -> tuple[Assembled, np.ndarray, np.ndarray]:
        """The sub-problem of consecutive parts ``ids`` (block diagonal, contiguous)."""
        r0, r1 = pt.row_start[ids[0]], pt.row_start[ids[-1] + 1]
        c0, c1 = pt.col_start[ids[0]], pt.col_start[ids[-1] + 1]
        rows, cols = pt.row_perm[r0:r1], pt.col_perm[c0:c1]
        return _sub(asm, a_p[r0:r1, c0:c1], rows, cols), rows, cols

    def scatter(sol: Solved, rows: np.ndarray, cols: np.ndarray) -> None:
        x[cols], y[rows], z[cols] = sol.x, sol.y, sol.z

    # the coupled parts: one call to the caller's solver, in a thread beside the LP parts
    # (both solvers release the GIL while they solve)
    hot_ids = np.flatnonzero(hot)
    pool = ThreadPoolExecutor(max_workers=1)
    future = None
    if len(hot_ids):
        sub, hot_rows, hot_cols = subproblem(asm, pt, hot_ids)
        future = pool.submit(solve_coupled, sub)

    # the other parts: cached, else LPs in chunks
    todo: list[tuple[int, int]] = []
    keys: dict[int, bytes] = {}
    for i in np.flatnonzero(~hot):
        if cache is not None:
            sub, rows, cols = block([i])
            keys[i] = _key(sub)
            hit = cache.store.get(keys[i])
            if hit is not None:
                cache.hits += 1
                x[cols], y[rows], z[cols] = hit
                continue
        todo.append((int(i), int(pt.col_start[i + 1] - pt.col_start[i])))
    solved_parts = 0
    for ids in _chunks(todo, chunk_cols):
        # consecutive labels only: split a chunk where the parts are not adjacent
        runs = np.split(ids, np.flatnonzero(np.diff(ids) != 1) + 1)
        for run in runs:
            sub, rows, cols = block(list(run))
            sol = solve_highs(sub, method="ipm", run_crossover="off")
            scatter(sol, rows, cols)
            solve_s += sol.solve_s
            handover_s += sol.handover_s
            if cache is not None:
                for i in run:
                    r0, r1 = pt.row_start[i], pt.row_start[i + 1]
                    c0, c1 = pt.col_start[i], pt.col_start[i + 1]
                    rr, cc = pt.row_perm[r0:r1], pt.col_perm[c0:c1]
                    cache.store[keys[int(i)]] = (x[cc].copy(), y[rr].copy(), z[cc].copy())
                    cache.misses += 1
        solved_parts += len(ids)
    pool.shutdown(wait=True)
    if future is not None:
        sol = future.result()
        scatter(sol, hot_rows, hot_cols)
        handover_s += sol.handover_s
        solve_s += sol.solve_s
        status = sol.status
        methods.insert(0, sol.method)
    n_lp = int(np.count_nonzero(~hot))
    if n_lp:
        cached = n_lp - solved_parts
        methods.append(
            f"HiGHS ipm (no crossover) on {n_lp} independent LP parts"
            + (f", {cached} from cache" if cached else "")
        )
    q = asm.q if asm.q is not None else 0.0
    obj = float(asm.c @ x + 0.5 * np.sum(q * x * x) + asm.offset)
    return Solved(asm, x, y, z, obj, status, " + ".join(methods), handover_s, solve_s)
