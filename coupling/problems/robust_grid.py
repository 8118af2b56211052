"""Glue between a case's feeder/uncertainty tables and the array-based robust layer."""

from __future__ import annotations

import numpy as np

from power.feeder import Feeder
from power.sensitivity import Sensitivities
from robust.sets import RobustMargins, SetKind, UncertainSources, robust_margins
from robust.uncertainty import Uncertainty


def uncertain_sources(feeder: Feeder, unc: Uncertainty) -> UncertainSources:
    """One source per (bus, kind) with a positive forecast; xi = xi_frac x forecast (kW)."""
    forecasts = {
        "load": feeder.load_p_kw,
        "pv": feeder.renewable_p_kw("pv"),
        "wind": feeder.renewable_p_kw("wind"),
    }
    with np.errstate(divide="ignore", invalid="ignore"):
        tan_load = np.where(feeder.load_p_kw != 0, feeder.load_q_kvar / feeder.load_p_kw, 0.0)
    bus, sign, xi, tan, kinds = [], [], [], [], []
    for kind, fc in forecasts.items():
        frac = unc.xi_frac(feeder.bus_ids, kind)
        for b in np.flatnonzero(frac > 0):
            if not np.any(fc[b]):
                continue
            bus.append(b)
            sign.append(1.0 if kind == "load" else -1.0)
            xi.append(frac[b] * np.abs(fc[b]))
            tan.append(tan_load[b] if kind == "load" else np.zeros(feeder.steps))
            kinds.append(kind)
    steps = feeder.steps
    return UncertainSources(
        bus=np.asarray(bus, dtype=int),
        sign=np.asarray(sign, dtype=float),
        xi_kw=np.asarray(xi, dtype=float).reshape(len(bus), steps),
        tan_phi=np.asarray(tan, dtype=float).reshape(len(bus), steps),
        kind=np.asarray(kinds, dtype=object),
    )


def grid_margins(
    feeder: Feeder, sens: Sensitivities, unc: Uncertainty, gamma: float, kind: SetKind = "node"
) -> RobustMargins:
    """Robust bound tightenings of the feeder's LinDistFlow block (zeros when gamma = 0)."""
    src = uncertain_sources(feeder, unc)
    return robust_margins(sens.downstream, sens.r_shared, sens.x_shared, src, gamma, kind)
