"""The vectorised result tables of a solved DTA block equal those of the element-by-element
reference implementation (``tests/traffic/reference_results.py``, the code before it was
vectorised) to 1e-9, and its scalars equal ``pyo.value`` of the block's Expressions.

Cases: tn20-dn17 as built in, and tn20-dn17 with time windows (``max_delay_steps``, states
held after their windows), two chargers per station of which one discharges (V2G), and a
penalty low enough that some vehicles do not arrive.
"""

from __future__ import annotations

import functools
from dataclasses import replace

import numpy as np
import pandas as pd
import pyomo.environ as pyo
import pytest

from cases.builtin import load_case
from cases.case import TrafficData
from coupling.jobs.traffic import run_traffic
from coupling.problems.case_dta import add_case_dta, case_paths
from power.solve import solve
from tests.traffic.reference_results import reference_dta_results, reference_variable_values
from traffic.dta import traffic_cost_expr
from traffic.network import Stations
from traffic.results import dta_results, variable_values

TOL = 1e-9


def _variant(windows: bool):
    case = load_case("tn20-dn17")
    if not windows:
        return case
    tr = case.traffic
    st = tr.stations.table.assign(charger_kw="-20;50;120", plugs=30.0)
    params = dict(case.parameters) | {"max_delay_steps": 2, "penalty_per_vehicle": 0.5}
    return replace(
        case, parameters=params, traffic=TrafficData(tr.network, Stations(st), tr.demand)
    )


@functools.cache
def _solved(windows: bool) -> pyo.ConcreteModel:
    case = _variant(windows)
    m = pyo.ConcreteModel()
    m.dta = pyo.Block()
    add_case_dta(m.dta, case, case_paths(case))
    price = case.feeder.price_per_kwh
    m.obj = pyo.Objective(expr=traffic_cost_expr(m.dta, price - 0.3 * price.mean()))
    solve(m, duals=False)
    return m


def _frames_equal(new: pd.DataFrame, old: pd.DataFrame) -> None:
    assert list(new.columns) == list(old.columns)
    assert len(new) == len(old)
    for c in new.columns:
        a, b = new[c].to_numpy(), old[c].to_numpy()
        if a.dtype.kind in "fc" or b.dtype.kind in "fc":
            np.testing.assert_allclose(a.astype(float), b.astype(float), rtol=0, atol=TOL)
        else:
            assert (a == b).all(), c
            assert a.dtype == b.dtype, c


@pytest.fixture(params=[False, True], ids=["tn20-dn17", "windows-v2g"])
def solved(request) -> pyo.ConcreteModel:
    return _solved(request.param)


def test_tables_equal_reference(solved):
    new, old = dta_results(solved.dta), reference_dta_results(solved.dta)
    assert len(old.paths) and len(old.segments) and len(old.stations)
    for name in ("paths", "segments", "stations"):
        _frames_equal(getattr(new, name), getattr(old, name))
    for name in (
        "vehicles_departed",
        "vehicles_arrived",
        "arrival_shortfall",
        "vehicle_steps",
        "travel_cost",
        "arrival_penalty",
    ):
        assert getattr(new, name) == pytest.approx(getattr(old, name), rel=TOL, abs=TOL), name


def test_variable_values_equal_reference(solved):
    new, old = variable_values(solved.dta), reference_variable_values(solved.dta)
    pd.testing.assert_frame_equal(new, old, check_exact=False, rtol=0, atol=TOL)


@pytest.mark.parametrize("windows", [False, True], ids=["tn20-dn17", "windows-v2g"])
def test_tables_equal_reference_on_any_values(windows):
    """Both readers are functions of the variable values only: on random values (vehicles
    left in every state at the end of its window, which an optimum rarely has) they agree."""
    case = _variant(windows)
    m = pyo.ConcreteModel()
    add_case_dta(m, case, case_paths(case))
    rng = np.random.default_rng(7)
    for var in (m.veh_min, m.veh_max):
        for v in var.values():
            if not v.fixed:
                v.set_value(float(rng.uniform(0.0, 3.0)))
    new, old = dta_results(m), reference_dta_results(m)
    for name in ("paths", "segments", "stations"):
        _frames_equal(getattr(new, name), getattr(old, name))
    for name in ("vehicles_departed", "vehicles_arrived", "vehicle_steps", "arrival_penalty"):
        assert getattr(new, name) == pytest.approx(getattr(old, name), rel=TOL), name
    if windows:  # states are held after windows that end before the horizon
        idx = m.dta_index
        last = idx.variables.groupby(["path", "element", "kind"])["t"].transform("max")
        assert ((idx.variables["kind"] == "queued") & (last < idx.steps - 1)).any()


def test_station_load_equals_the_block_expression(solved):
    """p_kw of the stations table is the block's station_p_kw Expression (what the grid sees
    and the objective prices)."""
    st = dta_results(solved.dta).stations
    expect = [pyo.value(solved.dta.station_p_kw[y, t]) for y, t in zip(st["station"], st["t"])]
    np.testing.assert_allclose(st["p_kw"].to_numpy(), expect, rtol=0, atol=TOL)


def test_traffic_run_charging_cost():
    case = load_case("tn20-dn17")
    run = run_traffic(case)
    st = run.tables["stations"]
    price = case.feeder.price_per_kwh
    expect = sum(price[t] * case.time.dt_h * p for t, p in zip(st["t"], st["p_kw"], strict=True))
    assert run.summary["charging_cost"] == pytest.approx(expect, rel=1e-12)
    assert expect > 0
