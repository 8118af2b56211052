"""Line ratings where a feeder has none that can bind (``evtp build --line-headroom``).

Benchmark feeders such as ieee33 (case33bw) carry no thermal ratings: their lines hold
``p_max_kw`` of the order of 1e9, so no grid limit can ever bind. The rule used by
``evtp build --tntp``:

- a line's rating is *unusable* when ``p_max_kw`` is not finite or exceeds
  :data:`UNUSABLE_FACTOR` times the feeder's peak total load (no flow of the feeder could
  ever reach it);
- such a line gets ``p_max_kw = headroom * max(peak |P| of its base-load flow, largest bus
  peak load)``: the LinDistFlow flow of the fixed loads net of renewables, at its peak over
  the horizon, with a floor so that a line feeding a nearly empty bus can still carry one
  bus's worth; ``s_max_kva`` is left as it is.

``headroom`` 1.5 (the default) leaves 50 % above the base-load peak for EV charging. On
Sioux Falls x ieee33 at 1 % EVs (docs/tutorial.md) the lines of two stations then bind and
their congestion tariffs reach 0.047 $/kWh; at 1.2 the feeder cannot host the charging that
trips need and the DLMP climbs to the unserved-vehicle penalty (11 $/kWh). Pass a larger
value for a stronger grid.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from power.feeder import Feeder
from power.sensitivity import downstream_matrix

UNUSABLE_FACTOR = 10.0
DEFAULT_HEADROOM = 1.5


def base_peak_flow_kw(feeder: Feeder) -> np.ndarray:
    """Peak over the horizon of each line's |P| (kW) under the fixed loads net of
    renewables (LinDistFlow, lossless)."""
    net = feeder.load_p_kw - feeder.renewable_p_kw()
    return np.abs(downstream_matrix(feeder) @ net).max(axis=1)


def unusable_ratings(feeder: Feeder) -> np.ndarray:
    """Mask of lines whose ``p_max_kw`` can never bind (module docstring)."""
    p_max = feeder.lines["p_max_kw"].to_numpy(float)
    peak_total = max(float(feeder.load_p_kw.sum(axis=0).max()), 1e-9)
    return ~np.isfinite(p_max) | (p_max > UNUSABLE_FACTOR * peak_total)


def derive_line_ratings(
    feeder: Feeder, headroom: float = DEFAULT_HEADROOM
) -> tuple[Feeder, list[str]]:
    """``feeder`` with derived ratings on the lines whose own cannot bind, and their ids."""
    if not np.isfinite(headroom) or headroom <= 0:
        raise ValueError(f"--line-headroom must be a finite number > 0, got {headroom!r}")
    bad = unusable_ratings(feeder)
    if not bad.any():
        return feeder, []
    floor = float(feeder.load_p_kw.max(axis=1).max())
    rating = headroom * np.maximum(base_peak_flow_kw(feeder), floor)
    lines = feeder.lines.copy()
    lines.loc[bad, "p_max_kw"] = np.round(rating[bad], 3)
    return replace(feeder, lines=lines), lines.loc[bad, "line"].tolist()
