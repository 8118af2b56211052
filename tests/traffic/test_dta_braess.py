"""The DTA on the Braess network, checked against hand calculations.

Braess_net.tntp read with 10-minute steps (dt_h = 1/6, free-flow times read as minutes):
segments 1-3 and 4-2 take 1 step (time ~0), 1-4 and 3-2 take 5 steps (50 min), 3-4 takes 1
step (10 min). Paths of OD 1->2: 1-3-4-2 (3 steps), 1-3-2 and 1-4-2 (6 steps each). Six
vehicles (the Braess trip table) depart at t = 0. Capacities (1 veh/h in the file) and SOC use
per segment are set by each test.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.traffic.util import SOL_TOL, demand, need_data, solve, station
from traffic.dta import DtaOptions
from traffic.network import RoadNetwork
from traffic.paths import k_shortest_paths
from traffic.results import dta_results, variable_values
from traffic.tntp import tntp_to_traffic

DT_H = 1 / 6
W = 1.0  # currency per vehicle-step


def arrivals(v):
    """The flows at the last boundary of each path (vehicles reaching the destination)."""
    f = v[v["kind"] == "flow"]
    return f[f["boundary"] == f.groupby("path")["boundary"].transform("max")]


def braess(cap=100.0, use=0.1, steps=8, soc=0.4):
    folder = need_data("Braess-Example")
    net, dem = tntp_to_traffic(
        folder / "Braess_net.tntp",
        folder / "Braess_trips.tntp",
        steps=steps,
        dt_h=DT_H,
        ev_share=1.0,
        profile=np.eye(steps)[0],
        soc_departure=soc,
    )
    segs = net.segments.assign(capacity_veh_per_step=100.0, soc_per_vehicle=use)
    if isinstance(cap, dict):
        for s, c in cap.items():
            segs.loc[segs["segment"] == s, "capacity_veh_per_step"] = c
    return RoadNetwork(net.nodes, segs), dem


def test_braess_import_and_free_flow_steps():
    net, dem = braess()
    ff = dict(zip(net.segments["segment"], net.segments["free_flow_steps"], strict=True))
    assert ff == {"1-3": 1, "1-4": 5, "3-2": 5, "3-4": 1, "4-2": 1}
    assert dem.table[["od", "t"]].values.tolist() == [["1-2", 0]]
    assert dem.table[["vehicles", "soc_total"]].values.tolist() == [pytest.approx([6.0, 2.4])]
    paths = k_shortest_paths(net, dem, 3)
    assert paths.table["nodes"].tolist()[0] == "1>3>4>2"
    assert set(paths.table["nodes"]) == {"1>3>4>2", "1>3>2", "1>4>2"}


def test_free_flow_delay():
    net, dem = braess(use=0.0)
    m = solve(net, None, dem, k_shortest_paths(net, dem, 3), 8, DT_H, 30.0, DtaOptions(W))
    r = dta_results(m)
    # all six take 1-3-4-2: enter 1-3 at t=0, 3-4 at t=1, 4-2 at t=2, arrive (leave 4-2) at t=3
    assert r.vehicle_steps == pytest.approx(6 * 3, abs=SOL_TOL)
    assert r.travel_cost == pytest.approx(W * 18, abs=SOL_TOL)
    seg = r.segments.set_index(["segment", "t"])
    for s, t_in in (("1-3", 0), ("3-4", 1), ("4-2", 2)):
        assert seg.loc[(s, t_in), "inflow"] == pytest.approx(6.0, abs=SOL_TOL)
        assert seg.loc[(s, t_in + 1), "outflow"] == pytest.approx(6.0, abs=SOL_TOL)
        assert seg.loc[(s, t_in), "on_segment"] == pytest.approx(6.0, abs=SOL_TOL)
    assert r.segments["queued"].sum() == pytest.approx(0.0, abs=SOL_TOL)
    assert r.vehicles_arrived == pytest.approx(6.0, abs=SOL_TOL)
    assert r.paths.groupby("nodes")["inflow"].sum().to_dict() == pytest.approx(
        {"1>3>4>2": 6.0, "1>3>2": 0.0, "1>4>2": 0.0}, abs=SOL_TOL
    )


def test_capacity_queue():
    # 3-4 lets 2 vehicles out per step: exits at t = 2, 3, 4 and arrivals at 3, 4, 5;
    # waiting 1 or 2 extra steps (4 or 5 in all) still beats the 6-step paths.
    net, dem = braess(cap={"3-4": 2.0}, use=0.0)
    m = solve(net, None, dem, k_shortest_paths(net, dem, 3), 8, DT_H, 30.0, DtaOptions(W))
    r = dta_results(m)
    assert r.vehicle_steps == pytest.approx(2 * 3 + 2 * 4 + 2 * 5, abs=SOL_TOL)
    assert r.segments["queued"].sum() == pytest.approx(0 + 2 + 4, abs=SOL_TOL)
    out = r.segments[r.segments["segment"] == "3-4"].set_index("t")["outflow"]
    assert out.loc[[2, 3, 4]].tolist() == pytest.approx([2.0, 2.0, 2.0], abs=SOL_TOL)
    assert len(m.exit_capacity) > 0
    assert (
        r.segments["outflow"] <= r.segments["segment"].map({"3-4": 2.0}).fillna(100) + SOL_TOL
    ).all()


def station_case(kw="30", plugs=10.0, eta=0.9, battery=30.0, price=0.1):
    # SOC: 0.4 at departure, 0.1 per segment, floor 0.2: 1-3-4-2 (0.3) needs 0.1 per
    # vehicle, 0.6 battery equivalents for six; 1-4-2 (0.2) needs none but takes 6 steps.
    net, dem = braess()
    st = station("3", kw, plugs=plugs, eta=eta)
    paths = k_shortest_paths(net, dem, 3, st)
    m = solve(net, st, dem, paths, 8, DT_H, battery, DtaOptions(W), price=price)
    return m, dta_results(m)


def test_one_station_charges_what_the_trip_needs():
    # 30 kW, eta 0.9, 10 min, 30 kWh: 0.9*30/6/30 = 0.15 battery per vehicle-step, so
    # 0.6 needs 4 vehicle-steps of charging = 4 * 30 kW * 1/6 h = 20 kWh from the grid.
    m, r = station_case()
    assert r.vehicle_steps == pytest.approx(18 + 4, abs=SOL_TOL)
    assert r.stations["charging"].sum() == pytest.approx(4.0, abs=SOL_TOL)
    energy_kwh = r.stations["p_kw"].sum() * DT_H
    assert energy_kwh == pytest.approx(20.0, abs=1e-5)
    assert m.obj() == pytest.approx(W * 22 + 0.1 * 20.0, abs=1e-5)
    v = variable_values(m)
    arr = arrivals(v)
    assert arr["soc"].sum() == pytest.approx(6 * 0.2, abs=1e-6)  # arrive exactly at the floor


def test_charging_power_leaves_vehicle_counts_unchanged():
    """Seed 003's typo would add sum_l p_l eta dt x_l to the vehicle count of the charging
    state; here vehicles are conserved and only the SOC gains the energy."""
    for kw, steps_charging in (("30", 4.0), ("60", 2.0)):
        m, r = station_case(kw=kw)
        v = variable_values(m)
        into = v.loc[v["kind"] == "to_charger", "vehicles"].sum()
        out = v.loc[v["kind"] == "leave", "vehicles"].sum()
        assert into == pytest.approx(out, abs=SOL_TOL)
        assert into > 1.0  # the station is used
        assert r.vehicles_arrived == pytest.approx(6.0, abs=SOL_TOL)
        assert r.vehicles_departed == pytest.approx(6.0, abs=SOL_TOL)
        assert r.stations["charging"].sum() == pytest.approx(steps_charging, abs=SOL_TOL)
        arr = arrivals(v)
        assert arr["soc"].sum() == pytest.approx(1.2, abs=1e-6)


def test_soc_floor_forces_the_long_path_without_station():
    # 1-3-4-2 would arrive at 0.4 - 0.3 = 0.1 < 0.2; 1-4-2 arrives at exactly 0.2.
    net, dem = braess()
    m = solve(net, None, dem, k_shortest_paths(net, dem, 3), 8, DT_H, 30.0, DtaOptions(W))
    r = dta_results(m)
    assert r.vehicle_steps == pytest.approx(6 * 6, abs=SOL_TOL)
    assert r.paths.groupby("nodes")["inflow"].sum()["1>4>2"] == pytest.approx(6.0, abs=SOL_TOL)
    v = variable_values(m)
    states = v[v["vehicles"] > SOL_TOL]
    ratio = states["soc"] / states["vehicles"]
    assert (ratio >= 0.2 - 1e-7).all() and (ratio <= 1.0 + 1e-7).all()


def test_soc_ceiling_caps_charging():
    # V2G-free check of the upper bound: a 600 kW charger would add 3.0 battery per
    # vehicle-step; the ceiling 1.0 limits each vehicle in the charging state, so with a
    # negative price (paid to charge) the station fills batteries to 1.0 and no further.
    m, r = station_case(kw="600", price=-1.0)
    v = variable_values(m)
    ch = v[(v["kind"] == "charging") & (v["vehicles"] > SOL_TOL)]
    assert (ch["soc"] <= ch["vehicles"] + 1e-7).all()
    arr = arrivals(v)
    assert (arr["soc"] <= arr["vehicles"] + 1e-7).all()


def test_unreachable_by_horizon_pays_penalty():
    # 2 steps are too short for any path: nobody arrives; not departing (unserved) is
    # cheaper than travelling, so the objective is the penalty alone.
    net, dem = braess(steps=2)
    opts = DtaOptions(W, penalty_per_vehicle=500.0)
    m = solve(net, None, dem, k_shortest_paths(net, dem, 3), 2, DT_H, 30.0, opts)
    r = dta_results(m)
    assert r.arrival_shortfall == pytest.approx(6.0, abs=SOL_TOL)
    assert r.arrival_penalty == pytest.approx(3000.0, abs=1e-5)
    assert m.obj() == pytest.approx(3000.0, abs=1e-5)
    assert r.vehicles_departed == pytest.approx(0.0, abs=SOL_TOL)


def test_aggregator_subset_block():
    net, _ = braess()
    dem = demand([("a", "1", "2", "m1", 0, 4.0, 2.0), ("b", "1", "2", "m2", 0, 2.0, 1.0)])
    paths = k_shortest_paths(net, dem, 1)
    opts = DtaOptions(W, soc_min=0.0)
    m = solve(net, None, dem, paths, 8, DT_H, 30.0, opts, aggregators=["m2"])
    assert m.vehicles_departed() == pytest.approx(2.0, abs=SOL_TOL)
    assert m.vehicle_steps() == pytest.approx(2 * 3, abs=SOL_TOL)
