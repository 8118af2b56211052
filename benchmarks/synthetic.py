"""Synthetic radial feeders of any size for benchmarks (seeded, no data files)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from cases.profiles import LOAD_FACTOR_24H, PRICE_24H, hourly_to_steps
from power.feeder import Feeder


def synthetic_feeder(n_buses: int, steps: int = 96, dt_h: float = 0.25, seed: int = 0) -> Feeder:
    """A random radial 20 kV feeder: each new bus hangs off one of the last 20 buses."""
    rng = np.random.default_rng(seed)
    parent = np.array([max(0, i - 1 - rng.integers(0, min(i, 20))) for i in range(1, n_buses)])
    ids = np.arange(n_buses).astype(str)
    buses = pd.DataFrame({"bus": ids, "v_min_pu": 0.9, "v_max_pu": 1.1, "base_kv": 20.0})
    buses.loc[0, ["v_min_pu", "v_max_pu"]] = 1.0
    lines = pd.DataFrame(
        {
            "line": "l" + ids[1:],
            "from_bus": ids[parent],
            "to_bus": ids[1:],
            "r_ohm": rng.uniform(0.05, 0.3, n_buses - 1).round(4),
            "x_ohm": rng.uniform(0.03, 0.2, n_buses - 1).round(4),
            "p_max_kw": 20000.0,
        }
    )
    nominal = rng.uniform(1.0, 6.0, n_buses - 1).round(2)
    factor = hourly_to_steps(LOAD_FACTOR_24H, steps, dt_h, 12.0)
    p = np.outer(nominal, factor).round(4)
    loads = pd.DataFrame(
        {
            "bus": np.repeat(ids[1:], steps),
            "t": np.tile(np.arange(steps), n_buses - 1),
            "p_kw": p.reshape(-1),
            "q_kvar": (0.3 * p).round(4).reshape(-1),
        }
    )
    prices = pd.DataFrame(
        {"t": np.arange(steps), "price_per_kwh": hourly_to_steps(PRICE_24H, steps, dt_h, 12.0)}
    )
    return Feeder(
        buses=buses, lines=lines, loads=loads, prices=prices, slack_bus="0", steps=steps, dt_h=dt_h
    )
