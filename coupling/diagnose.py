"""Diagnoses for problems that cannot be met: which demand is not served and by how much
(from the documented slack variables), and which grid limit the base load alone breaks."""

from __future__ import annotations

import numpy as np
import pyomo.environ as pyo

from power.feeder import Feeder
from power.limits import LinearGrid, effective_limits, fixed_q_flows, net_load
from traffic.results import variable_values


def unserved_by_od(blk: pyo.Block) -> dict[str, float]:
    """Vehicles per OD that never depart (slack ``unserved`` of the DTA block), > 1e-6 only."""
    v = variable_values(blk)
    u = v[v["kind"] == "unserved"].groupby("od")["vehicles"].sum()
    return {str(k): float(x) for k, x in u.items() if x > 1e-6}


def base_load_violation(feeder: Feeder) -> str | None:
    """One sentence naming the first limit (:func:`power.limits.effective_limits`, fixed Q)
    that the base load alone (no EVs, no generators) violates in the linear model, or None
    when the base load fits."""
    f = feeder
    grid = LinearGrid(f)
    q_fixed = fixed_q_flows(f)
    lim = effective_limits(f, q_fixed)
    ev = grid.evaluate(*net_load(f), lim)
    excess = np.maximum(ev.ex_up, ev.ex_down)
    if (excess > 1e-6).any():
        i, t = np.unravel_index(np.argmax(excess), excess.shape)
        room = lim.flow_up_kw[i, t] if ev.flow_kw[i, t] >= 0 else lim.flow_down_kw[i, t]
        return (
            f"the base load alone loads line {f.line_ids[i]!r} to "
            f"{abs(ev.flow_kw[i, t]):.1f} kW at t={t}, above its limit {room:.1f} kW"
        )
    v = np.sqrt(np.maximum(ev.w, 0))
    low = np.sqrt(np.maximum(lim.w_min, 0)) - v
    low[lim.free] = -np.inf
    if (low > 1e-6).any():
        b, t = np.unravel_index(np.argmax(low), low.shape)
        return (
            f"the base load alone brings bus {f.bus_ids[b]!r} to {v[b, t]:.4f} pu at t={t}, "
            f"below its limit {np.sqrt(lim.w_min[b, t]):.4f} pu"
        )
    high = v - np.sqrt(lim.w_max)
    high[lim.free] = -np.inf
    if (high > 1e-6).any():
        b, t = np.unravel_index(np.argmax(high), high.shape)
        return (
            f"bus {f.bus_ids[b]!r} is at {v[b, t]:.4f} pu at t={t}, above "
            f"{np.sqrt(lim.w_max[b, t]):.4f} pu"
        )
    return None
