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

from itertools import product
from typing import Any

import numpy as np
import pandas as pd
import pyomo.environ as pyo
from pyomo.common.gc_manager import PauseGC

from power.component_values import ComponentValues
from power.feeder import Feeder
from power.limits import LinearGrid
from power.results import long_table
from power.sensitivity import Sensitivities


def _lookup(keys: list, duals: Any) -> np.ndarray:
    """Values of ``keys`` in ``duals`` (0 where absent)."""
    if isinstance(duals, ComponentValues):
        return duals.array(keys)
    return np.fromiter((duals.get(k, 0.0) for k in keys), dtype=float, count=len(keys))


def dual_matrix(comp: Any, rows: list, steps: int, duals: Any) -> np.ndarray:
    """(rows x steps) array of the duals (or reduced costs) of an indexed component."""
    with PauseGC():
        keys = list(map(comp.__getitem__, product(rows, range(steps))))
        return _lookup(keys, duals).reshape(len(rows), steps)


def dlmp_arrays(
    blk: pyo.Block, feeder: Feeder, sens: Sensitivities, duals: Any, reduced_costs: Any
) -> dict[str, np.ndarray]:
    """DLMP and its parts, each (buses x steps) in currency/kWh."""
    steps, dt = feeder.steps, feeder.dt_h
    lam = dual_matrix(blk.p_bal, feeder.bus_ids, steps, duals) / dt
    mu = dual_matrix(blk.p, feeder.line_ids, steps, reduced_costs)
    nu = dual_matrix(blk.w, feeder.bus_ids, steps, reduced_costs)
    nu[feeder.tree.slack] = 0.0  # fixed variable: its reduced cost is not a bound dual
    if hasattr(blk, "s_poly"):
        n = len(blk.K)
        theta = 2 * np.pi * (np.arange(n) + 0.5) / n
        for k in range(n):
            with PauseGC():
                index = product(feeder.line_ids, [k], range(steps))
                keys = list(map(blk.s_poly.__getitem__, index))
                pi = _lookup(keys, duals).reshape(len(feeder.line_ids), steps)
            mu += np.cos(theta[k]) * pi
    energy = np.repeat(lam[feeder.tree.slack][None, :], len(feeder.bus_ids), 0)
    grid = getattr(blk, "linear_grid", None) or LinearGrid(feeder)
    congestion, voltage = grid.bus_prices(-mu / dt, nu / dt)
    loss = energy * grid.loss_factor()
    return {
        "dlmp": lam,
        "energy": energy,
        "loss": loss,
        "congestion": congestion,
        "voltage": voltage,
    }


def dlmp_table(
    blk: pyo.Block, feeder: Feeder, sens: Sensitivities, duals: Any, reduced_costs: Any
) -> pd.DataFrame:
    """Long table (bus, t, dlmp, energy, loss, congestion, voltage) in currency/kWh."""
    return long_table(feeder.bus_ids, "bus", **dlmp_arrays(blk, feeder, sens, duals, reduced_costs))
