"""Built-in case ``ieee33``: the 33-bus Baran & Wu feeder (pandapower ``case33bw``)."""

from __future__ import annotations

import numpy as np
import pandapower.networks as pn
import pandas as pd

from cases.case import Case, TimeGrid
from cases.profiles import LOAD_FACTOR_24H, PRICE_24H
from power.feeder import Feeder
from power.pandapower_io import NominalGrid, from_pandapower
from robust.uncertainty import Uncertainty


def feeder_from_nominal(
    grid: NominalGrid,
    steps: int,
    dt_h: float,
    load_factor: np.ndarray,
    price: np.ndarray,
    pv_factor: np.ndarray | None = None,
    wind_factor: np.ndarray | None = None,
) -> Feeder:
    """Feeder with every load = nominal x ``load_factor[t]`` and renewables = nominal x factor."""
    ids = grid.buses["bus"].to_numpy()
    has = (grid.load_p_kw != 0) | (grid.load_q_kvar != 0)
    lb = ids[has.to_numpy()]
    loads = pd.DataFrame(
        {
            "bus": np.repeat(lb, steps),
            "t": np.tile(np.arange(steps), len(lb)),
            "p_kw": np.outer(grid.load_p_kw[lb].to_numpy(), load_factor).reshape(-1).round(6),
            "q_kvar": np.outer(grid.load_q_kvar[lb].to_numpy(), load_factor).reshape(-1).round(6),
        }
    )
    ren = []
    for kind, nominal, factor in (
        ("pv", grid.pv_kw, pv_factor),
        ("wind", grid.wind_kw, wind_factor),
    ):
        rb = ids[(nominal > 0).to_numpy()]
        if factor is None or not len(rb):
            continue
        ren.append(
            pd.DataFrame(
                {
                    "bus": np.repeat(rb, steps),
                    "t": np.tile(np.arange(steps), len(rb)),
                    "kind": kind,
                    "p_kw": np.outer(nominal[rb].to_numpy(), factor).reshape(-1).round(6),
                }
            )
        )
    kwargs = {"renewables": pd.concat(ren, ignore_index=True)} if ren else {}
    return Feeder(
        buses=grid.buses,
        lines=grid.lines,
        loads=loads,
        prices=pd.DataFrame({"t": np.arange(steps), "price_per_kwh": price}),
        slack_bus=grid.slack_bus,
        v_slack_pu=grid.v_slack_pu,
        steps=steps,
        dt_h=dt_h,
        **kwargs,
    )


def build_ieee33() -> Case:
    """IEEE 33-bus feeder over one day in 24 hourly steps.

    Assumptions: pandapower's ``case33bw`` with its five tie lines open (out of service);
    every load = nominal (3715 kW, 2300 kvar in total) x one shared daily factor
    (:data:`cases.profiles.LOAD_FACTOR_24H`, peak 1.0 at 18:00); Nordic-like hourly price
    (:data:`cases.profiles.PRICE_24H`); voltage limits 0.9-1.1 pu (the feeder's own minimum at
    nominal load is 0.913 pu, so limits bind only when EV load is added); slack 1.0 pu. The
    case has no thermal ratings (case33bw gives 99999 kA), so it is voltage-constrained. Load
    forecast uncertainty: +-10 % at every load bus.
    """
    grid = from_pandapower(pn.case33bw(), v_min_pu=0.9, v_max_pu=1.1)
    steps = 24
    feeder = feeder_from_nominal(grid, steps, 1.0, LOAD_FACTOR_24H, PRICE_24H)
    load_buses = sorted(set(feeder.loads["bus"]), key=feeder.bus_pos.get)
    unc = pd.DataFrame({"bus": load_buses, "kind": "load", "xi_frac": 0.1})
    return Case(
        name="ieee33",
        description="IEEE 33-bus feeder (case33bw), 24 hourly steps, shared load profile",
        time=TimeGrid(steps=steps, dt_h=1.0, start="00:00"),
        feeder=feeder,
        uncertainty=Uncertainty(unc),
        parameters={},
        gamma=0.0,
    )
