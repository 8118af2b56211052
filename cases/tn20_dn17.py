"""Built-in case ``tn20-dn17``: seed 003's coupled case rebuilt (20-node roads, 17-node feeder).

From the paper (seed 003): road nodes T1..T20; ODs T9 -> T1 and T4 -> T10 with 5000 EVs and a
total SOC of 2000 battery equivalents each (mean SOC 0.4); segment T1-T2 with 200 veh/step and
a free-flow time of 5 steps, T2-T5 79 / 2 and T5-T6 82 / 2; a 17-node feeder whose lines
E5-F1, E5-F2, E5-F3, E5-F4 feed the stations F1..F4 with limits 800 / 300 / 750 / 350 kW;
+-10 % uncertainty on wind, PV and load; Gamma = 1; 24 hourly steps.

Chosen here (the paper does not give them):

* Road layout (see ``SEGMENTS``): each OD has a short route through a station on a congestible
  station line (T9->T1 via F2 at T5; T4->T10 via F3 at T6) and longer alternatives via F1
  (T8) and F4 (T13). Unlisted capacities are 2000 veh/step (not binding). Consumption is
  0.025 SOC (``SOC_PER_STEP``) per step of free-flow time on a segment; free-flow times in
  steps as listed.
* Departures: each OD's 5000 EVs leave between 05:00 and 10:00 (weights 1, 2, 3, 3, 2, 1),
  so charging demand peaks around 10:00-15:00 as in the paper's tariff table.
* Stations F1..F4 at road nodes T8, T5, T6, T13: 400 plugs each, one 50 kW virtual charger,
  efficiency 0.95. Battery 30 kWh. Every vehicle quantity keeps SOC in [0.2, 1.0].
* Costs: w = 0.03 $/vehicle-step (travel time), seed 003's beta = 2e-5 $/kWh per kW of total
  charging power, energy price 0.08 $/kWh at night, 0.15 $/kWh 08:00-20:00 (day-ahead
  shape); uniqueness term eps = 1e-5 $/kWh per kW per station.
* Feeder: 10 kV, E1 slack at 1.0 pu, trunk E1-E2-E3-E4-E5, laterals E2-E6-E7, E3-E8-E9,
  E4-E10-E11, E5-E12-E13 and the four station lines; 0.2-0.5 ohm per line; trunk limits
  6000 kW, lateral limits 2000 kW; 0.9-1.1 pu. Loads at E6..E13 and F2, F3 follow one daily
  profile; PV at E9, E11, F2, F3 (bell 07:00-19:00), wind at E13; +-10 % uncertainty on all.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cases.case import Case, TimeGrid, TrafficData
from cases.profiles import LOAD_FACTOR_24H
from power.feeder import Feeder
from robust.uncertainty import Uncertainty
from traffic.network import COLUMNS, RoadNetwork, Stations, TravelDemand

STEPS = 24

# (from, to, free-flow steps, capacity veh/step); both directions are added
SEGMENTS = [
    ("T1", "T2", 5, 200.0),  # paper
    ("T2", "T5", 2, 79.0),  # paper
    ("T5", "T6", 2, 82.0),  # paper
    ("T6", "T12", 1, 2000.0),
    ("T12", "T9", 1, 2000.0),
    ("T12", "T11", 2, 2000.0),
    ("T11", "T14", 2, 2000.0),
    ("T14", "T8", 2, 2000.0),
    ("T8", "T1", 4, 2000.0),
    ("T2", "T8", 3, 2000.0),
    ("T4", "T3", 1, 2000.0),
    ("T3", "T6", 3, 2000.0),
    ("T6", "T11", 2, 2000.0),
    ("T11", "T10", 3, 2000.0),
    ("T4", "T7", 1, 2000.0),
    ("T7", "T13", 2, 2000.0),
    ("T13", "T16", 3, 2000.0),
    ("T16", "T10", 2, 2000.0),
    ("T13", "T12", 2, 2000.0),
    ("T3", "T18", 2, 2000.0),
    ("T7", "T17", 2, 2000.0),
    ("T13", "T15", 2, 2000.0),
    ("T9", "T19", 2, 2000.0),
    ("T16", "T20", 2, 2000.0),
    ("T17", "T20", 3, 2000.0),
]
NODE_XY = {
    "T1": (0, 0), "T2": (1, 0), "T3": (3, 2), "T4": (4, 2), "T5": (1, 1), "T6": (2, 1),
    "T7": (4, 3), "T8": (0, 1), "T9": (2, 3), "T10": (0, 4), "T11": (1, 2), "T12": (2, 2),
    "T13": (3, 3), "T14": (0, 2), "T15": (3, 4), "T16": (1, 4), "T17": (5, 3), "T18": (4, 1),
    "T19": (2, 4), "T20": (2, 5),
}  # fmt: skip
STATIONS = {"F1": "T8", "F2": "T5", "F3": "T6", "F4": "T13"}
STATION_LIMITS_KW = {"F1": 800.0, "F2": 300.0, "F3": 750.0, "F4": 350.0}  # paper
SOC_PER_STEP = 0.025

# feeder: (line, from, to, r_ohm, x_ohm, p_max_kw)
LINES = [
    ("E1-E2", "E1", "E2", 0.20, 0.15, 6000.0),
    ("E2-E3", "E2", "E3", 0.25, 0.18, 6000.0),
    ("E3-E4", "E3", "E4", 0.25, 0.18, 6000.0),
    ("E4-E5", "E4", "E5", 0.30, 0.20, 6000.0),
    ("E2-E6", "E2", "E6", 0.40, 0.25, 2000.0),
    ("E6-E7", "E6", "E7", 0.40, 0.25, 2000.0),
    ("E3-E8", "E3", "E8", 0.40, 0.25, 2000.0),
    ("E8-E9", "E8", "E9", 0.40, 0.25, 2000.0),
    ("E4-E10", "E4", "E10", 0.45, 0.30, 2000.0),
    ("E10-E11", "E10", "E11", 0.45, 0.30, 2000.0),
    ("E5-E12", "E5", "E12", 0.50, 0.30, 2000.0),
    ("E12-E13", "E12", "E13", 0.50, 0.30, 2000.0),
] + [(f"E5-{y}", "E5", y, 0.30, 0.20, lim) for y, lim in STATION_LIMITS_KW.items()]
LOAD_KW = {
    "E6": 300.0, "E7": 250.0, "E8": 300.0, "E9": 200.0, "E10": 350.0, "E11": 250.0,
    "E12": 300.0, "E13": 200.0, "F2": 60.0, "F3": 100.0,
}  # fmt: skip
PV_KW = {"E9": 200.0, "E11": 200.0, "F2": 80.0, "F3": 150.0}
WIND_KW = {"E13": 400.0}


def _pv_profile() -> np.ndarray:
    h = np.arange(STEPS) + 0.5
    return np.clip(np.sin(np.pi * (h - 7.0) / 12.0), 0.0, None).round(4)


def _wind_profile() -> np.ndarray:
    h = np.arange(STEPS)
    return (0.45 + 0.25 * np.cos(2 * np.pi * (h - 3) / 24.0)).round(4)


def _feeder() -> Feeder:
    buses = [f"E{i}" for i in range(1, 14)] + list(STATIONS)
    bus_df = pd.DataFrame({"bus": buses, "v_min_pu": 0.9, "v_max_pu": 1.1, "base_kv": 10.0})
    bus_df.loc[0, ["v_min_pu", "v_max_pu"]] = 1.0
    lines = pd.DataFrame(
        LINES, columns=["line", "from_bus", "to_bus", "r_ohm", "x_ohm", "p_max_kw"]
    )
    t = np.arange(STEPS)
    lf = LOAD_FACTOR_24H
    loads = pd.DataFrame(
        [
            (b, int(k), round(p * lf[k], 4), round(0.3 * p * lf[k], 4))
            for b, p in LOAD_KW.items()
            for k in t
        ],
        columns=["bus", "t", "p_kw", "q_kvar"],
    )
    pv, wind = _pv_profile(), _wind_profile()
    ren = pd.DataFrame(
        [(b, int(k), "pv", round(p * pv[k], 4)) for b, p in PV_KW.items() for k in t]
        + [(b, int(k), "wind", round(p * wind[k], 4)) for b, p in WIND_KW.items() for k in t],
        columns=["bus", "t", "kind", "p_kw"],
    )
    price = np.where((t >= 8) & (t < 20), 0.15, 0.08)
    return Feeder(
        buses=bus_df,
        lines=lines,
        loads=loads,
        prices=pd.DataFrame({"t": t, "price_per_kwh": price}),
        renewables=ren,
        slack_bus="E1",
        steps=STEPS,
        dt_h=1.0,
    )


def _traffic() -> TrafficData:
    nodes = pd.DataFrame(
        {
            "node": list(NODE_XY),
            "x": [float(x) for x, _ in NODE_XY.values()],
            "y": [float(y) for _, y in NODE_XY.values()],
        }
    )
    rows = []
    for a, b, ff, cap in SEGMENTS:
        for u, v in ((a, b), (b, a)):
            rows.append((f"{u}-{v}", u, v, 10.0 * ff, ff, cap, round(SOC_PER_STEP * ff, 6)))
    segs = pd.DataFrame(rows, columns=list(COLUMNS["segments"]))
    st = pd.DataFrame(
        {
            "station": list(STATIONS),
            "node": list(STATIONS.values()),
            "bus": list(STATIONS),
            "plugs": 400.0,
            "charger_kw": "50",
            "efficiency": 0.95,
        }
    )
    weights = np.array([1, 2, 3, 3, 2, 1], float)
    weights /= weights.sum()
    dem = []
    for od, o, d, agg in (("T9-T1", "T9", "T1", "eva1"), ("T4-T10", "T4", "T10", "eva2")):
        for i, w in enumerate(weights):
            dem.append((od, o, d, agg, 5 + i, round(5000 * w, 6), round(2000 * w, 6)))
    demand = pd.DataFrame(
        dem, columns=["od", "origin", "destination", "aggregator", "t", "vehicles", "soc_total"]
    )
    return TrafficData(RoadNetwork(nodes, segs), Stations(st), TravelDemand(demand))


def build_tn20_dn17() -> Case:
    """Seed 003's coupled case (see module docstring for what comes from the paper)."""
    f = _feeder()
    unc = pd.DataFrame(
        [(b, "load", 0.1) for b in LOAD_KW]
        + [(b, "pv", 0.1) for b in PV_KW]
        + [(b, "wind", 0.1) for b in WIND_KW],
        columns=["bus", "kind", "xi_frac"],
    )
    return Case(
        name="tn20-dn17",
        description="seed 003: 20-node road network, 17-node feeder, 2 aggregators, 24 h",
        time=TimeGrid(STEPS, 1.0, "00:00"),
        feeder=f,
        uncertainty=Uncertainty(unc),
        parameters={
            "cost_per_vehicle_step": 0.03,
            "beta": 2e-5,
            "eps": 1e-5,
            "battery_kwh": 30.0,
            "k_paths": 3,
            "penalty_per_vehicle": 50.0,
            # the subgradient mechanism (from zero prices) oscillates with a constant step of
            # 1e-3; this diminishing step converges in 79 iterations (issue 12)
            "step_kw": 1e-4,
            "step_rule": "diminishing",
            "max_iter": 100,
        },
        gamma=1.0,
        traffic=_traffic(),
    )
