"""A tiny coupled case solvable by reasoning: two routes O->A->D and O->B->D, a fast-charging
station on each (A at bus 1, B at bus 2 of the 3-bus test feeder), one or two aggregators."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd

from cases.case import Case, TimeGrid, TrafficData
from robust.uncertainty import Uncertainty
from tests.conftest import three_bus
from traffic.network import RoadNetwork, Stations, TravelDemand


def tiny_case(
    *,
    steps: int = 6,
    line_b_kw: float = 250.0,
    aggregators: tuple[str, ...] = ("eva1",),
    vehicles: float = 200.0,
    beta: float = 0.0,
    gamma: float = 0.0,
) -> Case:
    f = three_bus(pmax=(5000.0, line_b_kw), gen_cost=None)
    loads = pd.DataFrame(
        {
            "bus": ["1"] * steps + ["2"] * steps,
            "t": list(range(steps)) * 2,
            "p_kw": [100.0] * steps + [100.0] * steps,
            "q_kvar": [20.0] * (2 * steps),
        }
    )
    prices = pd.DataFrame(
        {"t": range(steps), "price_per_kwh": [0.10 + 0.02 * t for t in range(steps)]}
    )
    f = replace(f, loads=loads, prices=prices, steps=steps)
    nodes = pd.DataFrame(
        {"node": ["O", "A", "B", "D"], "x": [0.0, 1.0, 1.0, 2.0], "y": [0.0, 1.0, -1.0, 0.0]}
    )
    segs = pd.DataFrame(
        {
            "segment": ["O-A", "A-D", "O-B", "B-D"],
            "from_node": ["O", "A", "O", "B"],
            "to_node": ["A", "D", "B", "D"],
            "length_km": 10.0,
            "free_flow_steps": [1, 1, 1, 1],
            "capacity_veh_per_step": 1000.0,
            "soc_per_vehicle": [0.04, 0.04, 0.039, 0.039],
        }
    )
    st = pd.DataFrame(
        {
            "station": ["SA", "SB"],
            "node": ["A", "B"],
            "bus": ["1", "2"],
            "plugs": [100.0, 100.0],
            "charger_kw": ["50", "50"],
            "efficiency": [1.0, 1.0],
        }
    )
    rows = []
    for i, a in enumerate(aggregators):
        rows.append((f"OD{i}", "O", "D", a, 0, vehicles, 0.25 * vehicles))
    dem = pd.DataFrame(
        rows, columns=["od", "origin", "destination", "aggregator", "t", "vehicles", "soc_total"]
    )
    unc = pd.DataFrame({"bus": ["1", "2"], "kind": ["load", "load"], "xi_frac": [0.1, 0.1]})
    return Case(
        name="tiny",
        description="tiny coupled test case",
        time=TimeGrid(steps, 1.0),
        feeder=f,
        uncertainty=Uncertainty(unc),
        parameters={
            "battery_kwh": 50.0,
            "cost_per_vehicle_step": 1.0,
            "beta": beta,
            "k_paths": 2,
        },
        gamma=gamma,
        traffic=TrafficData(RoadNetwork(nodes, segs), Stations(st), TravelDemand(dem)),
    )
