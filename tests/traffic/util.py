"""Helpers of the traffic tests: tiny networks and a solve with the new HiGHS interface."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyomo.environ as pyo
import pytest
from pyomo.contrib.solver.common.factory import SolverFactory

from traffic.dta import DtaOptions, add_linear_dta, dta_layout, traffic_cost_expr
from traffic.network import RoadNetwork, Stations, TravelDemand
from traffic.paths import PathSet

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "transportation-networks"
SOL_TOL = 1e-6


def need_data(name: str) -> Path:
    """Folder of a shared TNTP network, or skip the test when it is absent."""
    folder = DATA / name
    if not folder.is_dir():
        pytest.skip(f"shared TNTP data not found at {folder} (tests read it, never copy it)")
    return folder


def solve(
    network: RoadNetwork,
    stations: Stations | None,
    demand: TravelDemand,
    paths: PathSet,
    steps: int,
    dt_h: float,
    battery_kwh: float,
    opts: DtaOptions,
    price: float | list[float] = 0.0,
    **kw,
) -> pyo.ConcreteModel:
    """Build the DTA block, minimise w*vehicle-steps + penalty + price*energy, check optimal."""
    m = pyo.ConcreteModel()
    st = dta_layout(network, stations, demand, paths, steps, dt_h, battery_kwh, opts, **kw)
    add_linear_dta(m, st)
    m.obj = pyo.Objective(expr=traffic_cost_expr(m, price))
    res = SolverFactory("highs").solve(m)
    assert "convergenceCriteriaSatisfied" in str(res.termination_condition)
    return m


def demand(rows: list[tuple]) -> TravelDemand:
    """TravelDemand from (od, origin, destination, aggregator, t, vehicles, soc_total)."""
    cols = ["od", "origin", "destination", "aggregator", "t", "vehicles", "soc_total"]
    return TravelDemand(pd.DataFrame(rows, columns=cols))


def station(node: str, kw: str, plugs: float = 10, eta: float = 1.0, name: str = "S") -> Stations:
    return Stations(
        pd.DataFrame(
            {
                "station": [name],
                "node": [node],
                "bus": ["1"],
                "plugs": [plugs],
                "charger_kw": [kw],
                "efficiency": [eta],
            }
        )
    )
