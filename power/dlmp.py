"""Distribution locational marginal prices (DLMP) from LinDistFlow duals, and their exact
decomposition into energy, congestion and voltage parts.

Sign convention: the DLMP at bus j and step t is the change of the optimal cost per kWh of
extra *consumption* at that bus and step, ``dlmp = dual(p_bal[j, t]) / dt_h``, in currency
per kWh. A binding upper line limit or lower voltage limit makes the DLMP of the buses below
it higher (positive congestion / voltage parts).

Decomposition (exact under LinDistFlow, which is lossless, so the loss part is 0): moving one
kW of consumption at bus j, supplied from the slack bus, raises the downstream flow of every
line on the slack->j path by one kW (``D[l, j]``) and lowers every squared voltage by
``2 R[k, j]`` (shared-path resistance, pu^2 per kW). With ``mu_l`` the dual of the flow limit of
line l (the reduced cost of its flow variable plus the polygon rows) and ``nu_k`` that of the
voltage bound of bus k (the reduced cost of ``w[k, t]``), KKT stationarity gives

    dlmp_j = energy + congestion_j + voltage_j
    energy       = dual(p_bal[slack, t]) / dt
    congestion_j = -sum_l D[l, j] mu_l / dt
    voltage_j    = +2 sum_k R[k, j] nu_k / dt

References
----------
Papavasiliou, A. (2018), "Analysis of distribution locational marginal prices", IEEE Trans.
Smart Grid 9(5); seed 003 (R_t from the line and voltage duals).
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
    congestion = -(sens.downstream.T @ mu) / dt
    voltage = 2.0 * (sens.r_shared.T @ nu) / dt
    return {"dlmp": lam, "energy": energy, "congestion": congestion, "voltage": voltage}


def dlmp_table(
    blk: pyo.Block, feeder: Feeder, sens: Sensitivities, duals: Any, reduced_costs: Any
) -> pd.DataFrame:
    """Long table (bus, t, dlmp, energy, congestion, voltage) in currency/kWh."""
    return long_table(feeder.bus_ids, "bus", **dlmp_arrays(blk, feeder, sens, duals, reduced_costs))
