"""Diagnoses for problems that cannot be met: which demand is not served and by how much
(from the documented slack variables), and which grid limit the base load alone breaks."""

from __future__ import annotations

import numpy as np
import pyomo.environ as pyo

from power.feeder import Feeder
from power.sensitivity import sensitivities
from traffic.results import variable_values


def unserved_by_od(blk: pyo.Block) -> dict[str, float]:
    """Vehicles per OD that never depart (slack ``unserved`` of the DTA block), > 1e-6 only."""
    v = variable_values(blk)
    u = v[v["kind"] == "unserved"].groupby("od")["vehicles"].sum()
    return {str(k): float(x) for k, x in u.items() if x > 1e-6}


def base_load_violation(feeder: Feeder) -> str | None:
    """One sentence naming the first limit that the base load alone (no EVs, no generators)
    violates in the linear model, or None when the base load fits."""
    sens = sensitivities(feeder)
    p = feeder.load_p_kw - feeder.renewable_p_kw()
    flow = np.asarray(sens.downstream @ p)
    excess = np.abs(flow) - feeder.line_p_max_kw
    if (excess > 1e-6).any():
        i, t = np.unravel_index(np.argmax(excess), excess.shape)
        return (
            f"the base load alone loads line {feeder.line_ids[i]!r} to {abs(flow[i, t]):.1f} kW at "
            f"t={t}, above its limit {feeder.line_p_max_kw[i, t]:.1f} kW"
        )
    w = sens.squared_voltages(p, feeder.load_q_kvar, feeder.v_slack_pu)
    v = np.sqrt(np.maximum(w, 0))
    vmin = feeder.buses["v_min_pu"].to_numpy(float)[:, None]
    vmax = feeder.buses["v_max_pu"].to_numpy(float)[:, None]
    low = vmin - v
    low[feeder.tree.slack] = -np.inf
    if (low > 1e-6).any():
        b, t = np.unravel_index(np.argmax(low), low.shape)
        return (
            f"the base load alone brings bus {feeder.bus_ids[b]!r} to {v[b, t]:.4f} pu at t={t}, "
            f"below its limit {vmin[b, 0]:.4f} pu"
        )
    high = v - vmax
    high[feeder.tree.slack] = -np.inf
    if (high > 1e-6).any():
        b, t = np.unravel_index(np.argmax(high), high.shape)
        return (
            f"bus {feeder.bus_ids[b]!r} is at {v[b, t]:.4f} pu at t={t}, above {vmax[b, 0]:.4f} pu"
        )
    return None
