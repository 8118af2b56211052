"""DLMP of the DistFlow engine sets (:mod:`power.distflow_engine`) and its exact decomposition
into energy, loss, congestion and voltage parts, from the engine's duals.

The method of :func:`power.dlmp.distflow_dlmp_arrays` (see its docstring) in the engine's
convention: with row duals ``y`` and reduced costs ``rc`` (d objective / d bound) and the
cone duals ``z`` (:func:`engine.router.cone_duals`, ``d objective / d const = -z``),
stationarity of a column reads ``c - A' y - rc - G' z = 0``. On the state columns ``S`` (p, q,
l, w of the non-slack buses, p_import, q_import) the unknowns are the duals of the physics —
p_bal, q_bal, v_drop and, per branch cone on its boundary, the scalar ``alpha`` of
``z = alpha (u_0, -u_1, -u_2, -u_3) / u_0`` — and the system is square:

    [A_phys,S' , (D G_branch,S)'] (y_phys, alpha) = h_energy + h_congestion + h_voltage

with ``h_energy = c_S - rc_S`` (l >= 0, import bounds), ``h_congestion = -rc_p - A_recv,S'
y_recv - G_S,S' z_S`` (flow bound, downstream-end row, S cones) and ``h_voltage = -rc_w``.
One sparse LU and three right-hand sides split every p_bal dual exactly.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from engine.highs import Solved
from engine.problem import Problem
from power.dlmp import split_dlmp
from power.feeder import Feeder


def _cols(prob: Problem, name: str, keep: np.ndarray | None = None) -> np.ndarray:
    v = prob.vars[name]
    pos = np.arange(v.offset, v.offset + v.idx.size)
    return pos if keep is None else pos[keep]


def _rows(prob: Problem, name: str) -> np.ndarray:
    r = prob.rows[name]
    return np.arange(r.offset, r.offset + r.idx.size)


def _cone_rows(prob: Problem, name: str) -> np.ndarray:
    c = prob.cones[name]
    return np.arange(c.offset, c.offset + c.idx.size * c.dim)


def distflow_dlmp_parts(sol: Solved, feeder: Feeder) -> dict[str, np.ndarray]:
    """DLMP and its exact parts (buses x steps, currency/kWh) of solved DistFlow sets, plus
    the ``residual`` (dlmp - sum of parts, the solver's tolerance) and ``flow_rc`` (lines x
    steps, currency per kW and step), the line limits' duals on the upstream-end flow ``p``
    (bound, downstream-end row, S cones) as :func:`power.dlmp.distflow_dlmp_arrays` gives
    them. Keys as that function's."""
    asm = sol.assembled
    prob = asm.problem
    if sol.cone_z is None or asm.cone_a is None:
        raise ValueError("distflow_dlmp_parts needs a conic solution (solve_clarabel)")
    tree, T, dt = feeder.tree, feeder.steps, feeder.dt_h
    nb, nl = len(feeder.bus_ids), len(feeder.line_ids)
    w_keep = np.ones((nb, T), bool)
    w_keep[tree.slack] = False
    p_cols = _cols(prob, "p")
    w_cols = _cols(prob, "w", w_keep.reshape(-1))
    state = np.concatenate(
        [p_cols, _cols(prob, "q"), _cols(prob, "l"), w_cols]
        + [_cols(prob, "p_import"), _cols(prob, "q_import")]
    )
    n_s, n_p = len(state), len(p_cols)
    a_s = asm.a.tocsc()[:, state].tocsr()
    g_s = asm.cone_a.tocsc()[:, state].tocsr()
    p_rows = _rows(prob, "p_bal")
    phys = np.concatenate([p_rows, _rows(prob, "q_bal"), _rows(prob, "v_drop")])
    # branch cones on their boundary: z = alpha d, d = (u_0, -u_1, -u_2, -u_3) / u_0
    br = _cone_rows(prob, "branch")
    u = sol.cone_s[br].reshape(-1, 4)
    d = u * np.array([1.0, -1.0, -1.0, -1.0]) / np.maximum(u[:, :1], 1e-300)
    k = np.arange(len(u))
    cdir = sp.csr_matrix((d.reshape(-1), (np.repeat(k, 4), br - br[0])), shape=(len(u), len(br)))
    m_mat = sp.hstack([a_s[phys].T, (cdir @ g_s[br]).T], format="csc")
    # sources: the columns' own bounds by kind, the downstream-end rows and the S cones
    rc_s = sol.z[state]
    is_p = np.zeros(n_s, bool)
    is_p[:n_p] = True
    is_w = np.zeros(n_s, bool)
    is_w[3 * n_p : 3 * n_p + len(w_cols)] = True
    grad = asm.c[state] + (asm.q[state] * sol.x[state] if asm.q is not None else 0.0)
    h = np.zeros((n_s, 3))
    h[:, 0] = grad - np.where(is_p | is_w, 0.0, rc_s)
    h[:, 1] = -np.where(is_p, rc_s, 0.0)
    if "p_recv_lo" in prob.rows:
        rr = _rows(prob, "p_recv_lo")
        h[:, 1] -= a_s[rr].T @ sol.y[rr]
    for name in ("s_send", "s_recv"):
        if name in prob.cones:
            cr = _cone_rows(prob, name)
            h[:, 1] -= g_s[cr].T @ sol.cone_z[cr]
    h[:, 2] = -np.where(is_w, rc_s, 0.0)
    y_parts = spla.splu(m_mat).solve(h)
    supply, congestion, voltage = (
        (y_parts[: len(p_rows), j] / dt).reshape(nb, T) for j in range(3)
    )
    out = split_dlmp((sol.y[p_rows] / dt).reshape(nb, T), supply, congestion, voltage, tree.slack)
    out["flow_rc"] = -h[:n_p, 1].reshape(nl, T)
    return out
