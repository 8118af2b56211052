"""Built-in case ``hu2014-lv`` (seed 000): an LV feeder with two fleet operators of 18 EVs.

From the paper (Hu et al. 2014, seed 000): 60 households on one LV feeder, 36 EVs in two fleet
operators (FOs) of 18, battery 20 kWh, SOC kept in 0.2-0.85 of capacity, 2.3 kW chargers,
15-min steps over one day, driving energy 11 kWh/100 km, a Nordic spot price day, a
time-varying transformer capacity lower in the day and the evening (Fig. 7), FO cost of
eq. (2) with weights 0.5 and 0.1, subgradient step 0.1.

Chosen here: a 10/0.4 kV 250 kVA transformer (r = 0.012 ohm, x = 0.04 ohm at 0.4 kV) feeding
three cables of 20 households each (50 m of 150 mm^2 Al per household: 0.0103 + j0.004 ohm);
household load 1.0 kW peak x :data:`cases.profiles.LOAD_FACTOR_24H` (power factor 0.98); EVs at
households 1..36 (FO 1: odd, FO 2: even households), arriving N(17:30, 1 h) and leaving
N(07:30, 0.5 h) the next day, daily distance N(40, 15) km; they arrive with
``0.85 - energy / 20 kWh`` (at least 0.2) and must leave at 0.85; the horizon runs from
12:00 to 12:00 (96 steps); the transformer capacity for all load is 90 kW during 08:00-16:00,
70 kW during 16:00-22:00 and 95 kW otherwise (``grid/line_limits.csv``); the paper's step 0.1
is read in currency per MWh per kW of excess, i.e. 1e-4 currency/kWh per kW, scaled to the
normalised FO cost here as ``step_kw`` = 0.004 currency/kWh per kW.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cases.case import Case, TimeGrid
from cases.profiles import LOAD_FACTOR_24H, PRICE_24H, hourly_to_steps
from power.feeder import Feeder
from power.fleet import Fleet

STEPS, DT_H, START_H = 96, 0.25, 12.0
N_HOUSE, N_EV = 60, 36


def _capacity_kw(hour: np.ndarray) -> np.ndarray:
    return np.where(
        (hour >= 8) & (hour < 16), 90.0, np.where((hour >= 16) & (hour < 22), 70.0, 95.0)
    )


def build_hu2014_lv() -> Case:
    """Seed 000's LV case (see module docstring for the paper's numbers and the choices)."""
    houses = [f"H{i}" for i in range(1, N_HOUSE + 1)]
    buses = pd.DataFrame(
        {
            "bus": ["MV", "LV0", *houses],
            "v_min_pu": 0.9,
            "v_max_pu": 1.1,
            "base_kv": [10.0] + [0.4] * (N_HOUSE + 1),
        }
    )
    buses.loc[0, ["v_min_pu", "v_max_pu"]] = 1.0
    rows = [("trafo", "MV", "LV0", 0.012, 0.04, 250.0)]
    for feeder in range(3):
        prev = "LV0"
        for k in range(20):
            h = houses[feeder * 20 + k]
            rows.append((f"c{h}", prev, h, 0.0103, 0.004, 150.0))
            prev = h
    lines = pd.DataFrame(rows, columns=["line", "from_bus", "to_bus", "r_ohm", "x_ohm", "p_max_kw"])
    hour = (START_H + np.arange(STEPS) * DT_H) % 24
    factor = hourly_to_steps(LOAD_FACTOR_24H, STEPS, DT_H, START_H)
    p = np.round(1.0 * factor, 4)
    loads = pd.DataFrame(
        {
            "bus": np.repeat(houses, STEPS),
            "t": np.tile(np.arange(STEPS), N_HOUSE),
            "p_kw": np.tile(p, N_HOUSE),
            "q_kvar": np.tile(np.round(0.2 * p, 4), N_HOUSE),
        }
    )
    limits = pd.DataFrame({"line": "trafo", "t": np.arange(STEPS), "p_max_kw": _capacity_kw(hour)})
    feeder = Feeder(
        buses=buses,
        lines=lines,
        loads=loads,
        prices=pd.DataFrame(
            {
                "t": np.arange(STEPS),
                "price_per_kwh": hourly_to_steps(PRICE_24H, STEPS, DT_H, START_H),
            }
        ),
        line_limits=limits,
        slack_bus="MV",
        steps=STEPS,
        dt_h=DT_H,
    )
    rng = np.random.default_rng(0)
    arr_h = rng.normal(17.5, 1.0, N_EV)
    dep_h = rng.normal(7.5, 0.5, N_EV) + 24.0
    a = np.clip(np.floor((arr_h - START_H) / DT_H), 0, STEPS - 1).astype(int)
    d = np.clip(np.ceil((dep_h - START_H) / DT_H), a + 1, STEPS).astype(int)
    energy = np.clip(rng.normal(40.0, 15.0, N_EV), 5.0, None) * 0.11
    soc0 = np.clip(0.85 - energy / 20.0, 0.2, 0.85).round(6)
    fleet = Fleet(
        pd.DataFrame(
            {
                "ev": [f"ev{i}" for i in range(1, N_EV + 1)],
                "bus": houses[:N_EV],
                "arrival_t": a,
                "departure_t": d,
                "soc_init": soc0,
                "soc_target": 0.85,
                "battery_kwh": 20.0,
                "p_max_kw": 2.3,
                "s_max_kva": 2.3,
                "efficiency": 1.0,
                "aggregator": ["fo1" if i % 2 else "fo2" for i in range(1, N_EV + 1)],
            }
        )
    )
    return Case(
        name="hu2014-lv",
        description="seed 000: LV feeder, 60 households, 2 x 18 EVs, capacity market",
        time=TimeGrid(STEPS, DT_H, "12:00"),
        feeder=feeder,
        parameters={
            "soc_min": 0.2,
            "soc_max": 0.85,
            "weight_fo1": 0.5,
            "weight_fo2": 0.1,
            "step_kw": 0.004,
        },
        fleet=fleet,
    )
