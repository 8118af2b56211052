"""A feeder on another time grid: its profiles resampled (``evtp build --tntp --steps --dt-h``).

The feeder's profiles are piecewise constant over its steps and repeat after its horizon
(a day profile repeats on the next day). A new step takes the time-weighted mean of the old
values it overlaps: loads, renewables and prices keep their energy (kWh) and mean price per
hour. Time-varying line limits take the *smallest* old limit the new step overlaps, so a
limit is never loosened.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pandas as pd

from power.feeder import Feeder


def _integral(values: np.ndarray, dt_old: float, hours: np.ndarray) -> np.ndarray:
    """Integral from 0 h to each of ``hours`` of the periodic step functions ``values``
    (rows x old steps, value x h); shape rows x len(hours)."""
    n_old = values.shape[1]
    cum = np.concatenate([np.zeros((len(values), 1)), np.cumsum(values, axis=1)], axis=1)
    period = n_old * dt_old
    days, rest = np.divmod(hours, period)
    i = np.minimum((rest // dt_old).astype(int), n_old - 1)
    frac = rest - i * dt_old
    return (days[None, :] * cum[:, -1:] + cum[:, i]) * dt_old + frac[None, :] * values[:, i]


def resample_matrix(values: np.ndarray, dt_old: float, steps: int, dt_h: float) -> np.ndarray:
    """Time-weighted means of the periodic profiles ``values`` (rows x old steps) over
    ``steps`` new steps of ``dt_h`` hours from hour 0."""
    edges = dt_h * np.arange(steps + 1)
    return np.diff(_integral(np.asarray(values, float), dt_old, edges), axis=1) / dt_h


def _overlap_min(values: np.ndarray, dt_old: float, steps: int, dt_h: float) -> np.ndarray:
    """Smallest old value each new step overlaps (rows x new steps)."""
    n_old = values.shape[1]
    start = dt_h * np.arange(steps)
    first = np.floor(start / dt_old + 1e-9).astype(int)
    last = np.ceil((start + dt_h) / dt_old - 1e-9).astype(int) - 1
    out = np.empty((len(values), steps))
    for k in range(steps):  # steps of the new grid; each a short slice
        idx = np.arange(first[k], last[k] + 1) % n_old
        out[:, k] = values[:, idx].min(axis=1)
    return out


def _long(
    table: pd.DataFrame, keys: list[str], cols: list[str], n_old: int, steps: int, fn: Callable
) -> pd.DataFrame:
    """Resample the long table ``table`` (keys, t, cols) column by column with ``fn``."""
    if not len(table):
        return table
    out = None
    for col in cols:
        if keys:
            wide = table.pivot_table(index=keys, columns="t", values=col, aggfunc="sum")
        else:
            wide = table.set_index("t")[[col]].T
        wide = wide.reindex(columns=range(n_old), fill_value=0.0).fillna(0.0)
        new = pd.DataFrame(fn(wide.to_numpy(float)), index=wide.index, columns=range(steps))
        s = new.stack() if keys else new.iloc[0]
        s = s.rename(col)
        out = s.to_frame() if out is None else out.join(s)
    out.index.names = [*keys, "t"] if keys else ["t"]
    res = out.reset_index()
    return res[[c for c in table.columns if c in res.columns]]


def resample_feeder(feeder: Feeder, steps: int, dt_h: float) -> Feeder:
    """``feeder`` with its profiles on ``steps`` steps of ``dt_h`` hours (module docstring)."""
    if steps < 1 or not np.isfinite(dt_h) or dt_h <= 0:
        raise ValueError("need steps >= 1 and dt_h > 0")
    if (steps, dt_h) == (feeder.steps, feeder.dt_h):
        return feeder
    full = pd.MultiIndex.from_product([feeder.loads["bus"].unique(), range(feeder.steps)])

    def mean(v: np.ndarray) -> np.ndarray:
        return resample_matrix(v, feeder.dt_h, steps, dt_h)

    def low(v: np.ndarray) -> np.ndarray:
        return _overlap_min(v, feeder.dt_h, steps, dt_h)

    loads = feeder.loads.set_index(["bus", "t"]).reindex(full, fill_value=0.0)
    loads.index.names = ["bus", "t"]
    loads = loads.reset_index()
    return replace(
        feeder,
        steps=steps,
        dt_h=dt_h,
        loads=_long(loads, ["bus"], ["p_kw", "q_kvar"], feeder.steps, steps, mean),
        prices=_long(feeder.prices, [], ["price_per_kwh"], feeder.steps, steps, mean),
        renewables=_long(feeder.renewables, ["bus", "kind"], ["p_kw"], feeder.steps, steps, mean),
        line_limits=_long(feeder.line_limits, ["line"], ["p_max_kw"], feeder.steps, steps, low),
    )
