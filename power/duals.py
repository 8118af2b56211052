"""One router for the grid's duals: the multipliers of the power balance and of the line and
voltage limits of a solved LinDistFlow block, per kWh of a step.

Sign convention (all in currency/kWh of the step, i.e. a dual divided by ``dt_h``):

* ``lam[j, t]``: the marginal cost of one more kWh of *consumption* at bus j in step t, the
  dual of the power balance ``p_bal[j, t]``; it is the DLMP of the job's objective.
* ``mu_up[l, t] >= 0`` and ``mu_down[l, t] >= 0``: the multipliers of the upper and lower
  limits of line l's downstream flow (its reduced cost plus the polygon rows of an S-rating).
  A binding upper limit raises the DLMP of the buses below the line.
* ``nu_low[k, t] >= 0`` and ``nu_high[k, t] >= 0``: the multipliers of bus k's lower and upper
  voltage limits (on the squared voltage ``w``); the slack bus, whose voltage is fixed, has none.

The DSO-aggregator loop uses the same type for its limit prices (``lam`` unused there), so the
DLMP table, the loop's starting prices and its subgradient updates speak one language.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import product
from typing import Any

import numpy as np
from pyomo.common.gc_manager import PauseGC

from power.component_values import ComponentValues
from power.feeder import Feeder
from power.limits import LinearGrid, polygon_directions


def _lookup(keys: list, values: Any) -> np.ndarray:
    """Values of ``keys`` in ``values`` (0 where absent)."""
    if isinstance(values, ComponentValues):
        return values.array(keys)
    return np.fromiter((values.get(k, 0.0) for k in keys), dtype=float, count=len(keys))


def dual_matrix(comp: Any, rows: list, steps: int, values: Any) -> np.ndarray:
    """(rows x steps) array of the duals (or reduced costs) of an indexed component."""
    with PauseGC():
        keys = list(map(comp.__getitem__, product(rows, range(steps))))
        return _lookup(keys, values).reshape(len(rows), steps)


@dataclass(frozen=True)
class GridDuals:
    """The grid's multipliers, each (buses or lines) x steps in currency/kWh (module
    docstring); ``lam`` is None for limit prices that come without a balance (the loop's)."""

    lam: np.ndarray | None
    mu_up: np.ndarray
    mu_down: np.ndarray
    nu_low: np.ndarray
    nu_high: np.ndarray

    @classmethod
    def zeros(cls, n_lines: int, n_buses: int, steps: int) -> GridDuals:
        z_l, z_b = np.zeros((n_lines, steps)), np.zeros((n_buses, steps))
        return cls(None, z_l, z_l.copy(), z_b, z_b.copy())

    @classmethod
    def from_reduced_costs(
        cls, rc_p: np.ndarray, rc_w: np.ndarray, dt_h: float, lam: np.ndarray | None = None
    ) -> GridDuals:
        """From the reduced costs (per step) of the downstream flows (lines x steps; plus the
        polygon rows' share) and of the squared voltages (buses x steps, slack row 0)."""
        return cls(
            lam,
            np.maximum(-rc_p, 0.0) / dt_h,
            np.maximum(rc_p, 0.0) / dt_h,
            np.maximum(rc_w, 0.0) / dt_h,
            np.maximum(-rc_w, 0.0) / dt_h,
        )

    def bus_prices(self, grid: LinearGrid) -> tuple[np.ndarray, np.ndarray]:
        """(congestion, voltage) parts per bus and step (currency/kWh) on the linear model
        ``grid``: what the limits add to the price of one more kWh consumed at the bus."""
        return grid.bus_prices(self.mu_up - self.mu_down, self.nu_low - self.nu_high)

    def bus_tariff(
        self, grid: LinearGrid, price_per_kwh: np.ndarray, losses: bool = True
    ) -> np.ndarray:
        """Tariff per bus and step (currency/kWh): the loss part (energy price times the loss
        factor, 0 without losses; left out with ``losses=False``), congestion and voltage
        parts, on the linear model ``grid``."""
        cong, volt = self.bus_prices(grid)
        if not losses:
            return cong + volt
        return price_per_kwh[None, :] * grid.loss_factor() + cong + volt


def grid_duals(blk: Any, feeder: Feeder, duals: Any, reduced_costs: Any) -> GridDuals:
    """The multipliers of a solved LinDistFlow block ``blk`` (:mod:`power.lindistflow`) from the
    solver's row duals and column reduced costs (d objective / d bound, per step)."""
    steps, dt = feeder.steps, feeder.dt_h
    lam = dual_matrix(blk.p_bal, feeder.bus_ids, steps, duals) / dt
    rc_p = dual_matrix(blk.p, feeder.line_ids, steps, reduced_costs)
    rc_w = dual_matrix(blk.w, feeder.bus_ids, steps, reduced_costs)
    rc_w[feeder.tree.slack] = 0.0  # fixed variable: its reduced cost is not a bound dual
    if hasattr(blk, "s_poly"):
        cos, _, _ = polygon_directions(len(blk.K))
        for k in range(len(blk.K)):
            with PauseGC():
                index = product(feeder.line_ids, [k], range(steps))
                keys = list(map(blk.s_poly.__getitem__, index))
                pi = _lookup(keys, duals).reshape(len(feeder.line_ids), steps)
            rc_p += cos[k] * pi
    return GridDuals.from_reduced_costs(rc_p, rc_w, dt, lam)
