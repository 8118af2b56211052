"""Distribution locational marginal prices (DLMP) from LinDistFlow duals, and their exact
decomposition into energy, loss, congestion and voltage parts.

Sign convention: the DLMP at bus j and step t is the change of the optimal cost per kWh of
extra *consumption* at that bus and step, ``dlmp = dual(p_bal[j, t]) / dt_h``, in currency
per kWh. A binding upper line limit or lower voltage limit makes the DLMP of the buses below
it higher (positive congestion / voltage parts).

Decomposition (exact, from KKT stationarity of the flow and voltage variables): moving one kW
of consumption at bus j, supplied from the slack bus, raises the downstream flow of every line
l on the slack->j path by ``Dt[l, j]`` and the import by ``F_j``. Lossless LinDistFlow has
``Dt = D`` (downstream incidence) and ``F = 1``. With the AC correction's linearised losses
(line l's loss ``a_l + b_l P_l`` at its downstream bus, :mod:`power.correction`), each line
on the way multiplies by ``f_l = 1 / (1 - b_l)``: ``Dt[l, j] = prod f_k`` over the path lines
from l down to j and ``F_j = prod f_k`` over the whole path. With ``mu_l`` the dual of the flow
limit of line l (the reduced cost of its flow variable plus the polygon rows) and ``nu_k``
that of the voltage bound of bus k (the reduced cost of ``w[k, t]``),

    dlmp_j = energy + loss_j + congestion_j + voltage_j
    energy       = dual(p_bal[slack, t]) / dt
    loss_j       = energy (F_j - 1)
    congestion_j = -sum_l Dt[l, j] mu_l / dt
    voltage_j    = +2 sum_l Dt[l, j] r_l sum_k D[l, k] nu_k / dt   (= 2 (R nu)_j lossless)

References
----------
Papavasiliou, A. (2018), "Analysis of distribution locational marginal prices", IEEE Trans.
Smart Grid 9(5); Bai, L. et al. (2018), "Distribution locational marginal pricing (DLMP) for
congestion management and voltage support", IEEE Trans. Power Systems 33(4); seed 003.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyomo.environ as pyo
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from power.duals import GridDuals, grid_duals
from power.feeder import Feeder
from power.limits import LinearGrid
from power.sensitivity import Sensitivities


def dlmp_arrays(
    blk: pyo.Block, feeder: Feeder, sens: Sensitivities, duals: Any, reduced_costs: Any
) -> dict[str, np.ndarray]:
    """DLMP and its parts, each (buses x steps) in currency/kWh (:func:`power.duals.grid_duals`
    routes the solver's duals)."""
    g = grid_duals(blk, feeder, duals, reduced_costs)
    return dlmp_parts(g, feeder, getattr(blk, "linear_grid", None) or LinearGrid(feeder))


def dlmp_parts(g: GridDuals, feeder: Feeder, grid: LinearGrid) -> dict[str, np.ndarray]:
    """DLMP and its parts, each (buses x steps) in currency/kWh, from the grid's multipliers
    ``g`` (with the balance duals ``lam``) on the linear model ``grid`` (module docstring)."""
    assert g.lam is not None
    energy = np.repeat(g.lam[feeder.tree.slack][None, :], len(feeder.bus_ids), 0)
    congestion, voltage = g.bus_prices(grid)
    loss = energy * grid.loss_factor()
    return {
        "dlmp": g.lam,
        "energy": energy,
        "loss": loss,
        "congestion": congestion,
        "voltage": voltage,
    }


# ------------------------------------------------------------------------ the tariffs table
PARTS = ("dlmp", "energy", "loss", "congestion", "voltage")
"""The DLMP and its exact parts (``dlmp = energy + loss + congestion + voltage``)."""
TARIFF_VALUES = tuple(f"{p}_per_kwh" for p in ("tariff", *PARTS))
"""The value columns of every ``tariffs`` table, in currency/kWh."""


def tariff_table(
    bus_ids: list[str],
    parts: dict[str, np.ndarray] | None = None,
    tariff: np.ndarray | None = None,
    *,
    stations: list[str] | None = None,
    station_bus: np.ndarray | None = None,
) -> pd.DataFrame:
    """The ``tariffs`` table of every job; one schema, all values in currency/kWh:

    ``[station,] bus, t, tariff_per_kwh, dlmp_per_kwh, energy_per_kwh, loss_per_kwh,
    congestion_per_kwh, voltage_per_kwh``.

    parts : the DLMP and its parts (keys :data:`PARTS`, each buses x steps): the marginal
        system cost of one more kWh consumed at the bus and step (None: the mechanism has no
        DSO problem, and those columns are empty).
    tariff : the network tariff (buses x steps) a consumer pays on top of the energy price;
        default ``dlmp - energy`` (= loss + congestion + voltage).
    stations, station_bus : one block of rows per station, at bus ``bus_ids[station_bus[i]]``,
        instead of one per bus (the ``station`` column is there only then).
    """
    if tariff is None:
        if parts is None:
            raise ValueError("tariff_table needs the DLMP parts, the tariff or both")
        tariff = parts["dlmp"] - parts["energy"]
    n_bus, steps = tariff.shape
    empty = np.full((n_bus, steps), np.nan)
    values = {"tariff": tariff} | {p: empty if parts is None else parts[p] for p in PARTS}
    rows = np.arange(n_bus) if station_bus is None else np.asarray(station_bus, dtype=np.int64)
    out: dict[str, np.ndarray] = {}
    if stations is not None:
        out["station"] = np.repeat(np.asarray(stations, dtype=object), steps)
    out["bus"] = np.repeat(np.asarray(bus_ids, dtype=object)[rows], steps)
    out["t"] = np.tile(np.arange(steps), len(rows))
    for k, v in values.items():
        out[f"{k}_per_kwh"] = np.asarray(v, dtype=float)[rows].reshape(-1)
    return pd.DataFrame(out)


# ---------------------------------------------------------------------- DistFlow (SOCP)
def split_dlmp(
    dlmp: np.ndarray, supply: np.ndarray, congestion: np.ndarray, voltage: np.ndarray, slack: int
) -> dict[str, np.ndarray]:
    """A DistFlow DLMP (buses x steps, currency/kWh) and its parts from the three solved parts
    of its balance dual: ``supply`` (serving the bus from the slack: energy at the slack bus's
    own value, the rest of it loss), ``congestion`` and ``voltage``; ``residual`` = dlmp less
    the sum of the parts (the solver's tolerance). Pyomo's and the engine's decomposition alike."""
    energy = np.repeat(supply[slack][None, :], dlmp.shape[0], 0)
    out = {
        "dlmp": dlmp,
        "energy": energy,
        "loss": supply - energy,
        "congestion": congestion,
        "voltage": voltage,
    }
    out["residual"] = dlmp - sum(out[k] for k in ("energy", "loss", "congestion", "voltage"))
    return out


def distflow_dlmp_arrays(blk: pyo.Block, feeder: Feeder, res: Any) -> dict[str, np.ndarray]:
    """DLMP and its exact parts (buses x steps, currency/kWh) of a solved DistFlow block
    (:mod:`power.distflow`, ``res`` the :class:`power.distflow.ConicResult`), plus the
    ``residual`` of the decomposition (dlmp - sum of parts, the solver's tolerance) and
    ``flow_rc`` (lines x steps), the line-limit duals on the upstream-end flow ``p``.

    The state of the branch-flow equations per step, ``x_S`` = (p, q, l of every line, w of
    every non-slack bus, p_import, q_import), is as large as its equations (p_bal, q_bal per
    bus, v_drop and the current definition per line; the cone counts with the scalar
    multiplier of its boundary, ``z = alpha (s_0, -s_1..)``). Stationarity of the state
    columns, ``grad_S + A_phys,S' zeta + sum_{limits} A_r,S' z_r = 0``, is therefore a square
    linear system ``M zeta = h`` (the transposed power-flow Jacobian) whose right-hand side is
    a sum of three sources: the objective gradient on the state (the price of the import,
    with its bound), the line limits (flow bounds at both ends, S cones) and the voltage
    bounds. Solving it once per source splits every p_bal dual exactly:

    * energy = the price source at the slack bus (the marginal cost of import);
    * loss = the price source at bus j minus energy (``energy * (d import / d load_j - 1)``);
    * congestion, voltage = the line-limit and voltage-bound sources at bus j.
    """
    pos = {id(v): i for i, v in enumerate(res.columns)}
    steps, dt = feeder.steps, feeder.dt_h
    tree = feeder.tree
    lines, buses = feeder.line_ids, feeder.bus_ids
    nonslack = [b for k, b in enumerate(buses) if k != tree.slack]

    def cols(var: Any, keys: list) -> list[int]:
        return [pos[id(var[k])] for k in keys]

    lt = [(ln, t) for t in range(steps) for ln in lines]
    bt = [(b, t) for t in range(steps) for b in nonslack]
    state = (
        cols(blk.p, lt)
        + cols(blk.q, lt)
        + cols(blk.l, lt)
        + cols(blk.w, bt)
        + cols(blk.p_import, list(range(steps)))
        + cols(blk.q_import, list(range(steps)))
    )
    kind = {}  # column -> source of its bound rows
    for j in cols(blk.p, lt):
        kind[j] = "congestion"
    for j in cols(blk.w, bt):
        kind[j] = "voltage"
    rowpos = {id(c): i for i, c in enumerate(res.rows) if not isinstance(c, tuple)}
    all_bt = [(b, t) for b in buses for t in range(steps)]
    p_rows = [rowpos[id(blk.p_bal[k])] for k in all_bt]
    phys = p_rows + [rowpos[id(blk.q_bal[k])] for k in all_bt]
    phys += [rowpos[id(blk.v_drop[k])] for k in lt]
    src: dict[str, list[int]] = {"energy": [], "congestion": [], "voltage": []}
    recv = getattr(blk, "p_recv_lo", None)
    recv_ids = {id(c) for c in recv.values()} if recv is not None else set()
    phys_set = set(phys)
    for i, c in enumerate(res.rows):
        if i in phys_set:
            continue
        if isinstance(c, tuple):
            src[kind.get(c[1], "energy")].append(i)
        elif id(c) in recv_ids:
            src["congestion"].append(i)
    a_s = res.a[:, state].tocsr()
    # cones: the branch cones are physics (direction of their boundary), the others limits
    cone_r, cone_c, cone_v = [], [], []
    nb = 0
    for k, (fam, _, rows) in enumerate(res.socs):
        r0 = int(res.soc_start[k])
        rr = np.arange(r0, r0 + len(rows))
        if fam == "branch":
            s = res.s[rr]
            d = np.concatenate([[s[0]], -s[1:]]) / max(s[0], 1e-300)
            cone_r += [nb] * len(rr)
            cone_c += rr.tolist()
            cone_v += d.tolist()
            nb += 1
        else:
            src["congestion"] += rr.tolist()
    cdir = sp.csr_matrix((cone_v, (cone_r, cone_c)), shape=(nb, res.a.shape[0]))
    m_mat = sp.hstack([a_s[phys].T, (cdir @ a_s).T], format="csc")
    rhs = np.zeros((len(state), 3))
    for j, name in enumerate(src):
        rr = np.asarray(src[name], dtype=int)
        if len(rr):
            rhs[:, j] = -(a_s[rr].T @ res.z[rr])
    rhs[:, 0] -= res.grad[state]
    zeta = spla.splu(m_mat).solve(rhs)
    nbus = len(buses)
    supply, congestion, voltage = (
        (-zeta[: len(p_rows), j] / dt).reshape(nbus, steps) for j in range(3)
    )
    out = split_dlmp(
        (-res.z[p_rows] / dt).reshape(nbus, steps), supply, congestion, voltage, tree.slack
    )
    # the line limits' duals on the upstream-end flow p (bound, downstream-end row, S cones),
    # as the reduced cost of p would be (lines x steps): the flow prices of the loop
    out["flow_rc"] = rhs[: len(lt), 1].reshape(steps, len(lines)).T.copy()
    return out
