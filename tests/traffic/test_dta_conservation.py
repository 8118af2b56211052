"""Property test: vehicles and energy are conserved on every path element of random small
networks, station load equals the chargers' powers times the vehicles on them, and every
vehicle quantity respects the SOC bounds.

The references are balances recomputed from the solution, element by element:
- segment (free-flow ``t0``, use ``c``): sum in - sum out = queue at T-1 + vehicles that
  entered in the last ``t0`` steps (still in free flow); energy likewise, with ``c`` per
  vehicle that reached the end of the free-flow part;
- station: sum in - sum out = waiting + charging at T-1; energy gains
  ``sum_t sum_l k_l x_l^t`` with ``k_l = eta p dt / E`` (p > 0) or ``p dt / (eta E)`` (p < 0).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyomo.environ as pyo
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.traffic.util import solve
from traffic.dta import DtaOptions
from traffic.network import RoadNetwork, Stations, TravelDemand
from traffic.paths import k_shortest_paths
from traffic.results import dta_results, variable_values

TOL = 1e-6
DT_H, BATTERY = 0.25, 20.0


@st.composite
def cases(draw):
    n = draw(st.integers(3, 5))
    nodes = [f"N{i}" for i in range(n)]
    edges = {(i, i + 1) for i in range(n - 1)}
    for _ in range(draw(st.integers(0, 3))):
        a, b = draw(st.integers(0, n - 1)), draw(st.integers(0, n - 1))
        if a != b:
            edges.add((a, b))
    edges = sorted(edges)
    segs = pd.DataFrame(
        {
            "segment": [f"{nodes[a]}-{nodes[b]}" for a, b in edges],
            "from_node": [nodes[a] for a, _ in edges],
            "to_node": [nodes[b] for _, b in edges],
            "length_km": 1.0,
            "free_flow_steps": [draw(st.integers(1, 2)) for _ in edges],
            "capacity_veh_per_step": [draw(st.sampled_from([0.7, 2.0, 50.0])) for _ in edges],
            "soc_per_vehicle": [draw(st.sampled_from([0.0, 0.05, 0.15])) for _ in edges],
        }
    )
    net = RoadNetwork(pd.DataFrame({"node": nodes, "x": 0.0, "y": 0.0}), segs)
    rows = []
    for t in sorted(set(draw(st.lists(st.integers(0, 2), min_size=1, max_size=2)))):
        veh = draw(st.sampled_from([1.0, 2.5, 4.0]))
        rows.append(
            ("od", nodes[0], nodes[-1], "m", t, veh, veh * draw(st.sampled_from([0.3, 0.5, 0.9])))
        )
    dem = TravelDemand(
        pd.DataFrame(
            rows,
            columns=["od", "origin", "destination", "aggregator", "t", "vehicles", "soc_total"],
        )
    )
    stations = Stations(
        pd.DataFrame(
            {
                "station": ["S"],
                "node": [nodes[draw(st.integers(0, n - 2))]],
                "bus": ["1"],
                "plugs": [draw(st.sampled_from([1.0, 3.0]))],
                "charger_kw": [draw(st.sampled_from(["50", "-20;40", "30;90"]))],
                "efficiency": [draw(st.sampled_from([0.8, 1.0]))],
            }
        )
    )
    price = draw(st.lists(st.sampled_from([-0.5, 0.0, 0.1, 0.3]), min_size=9, max_size=9))
    return net, stations, dem, price


def k_energy(p_kw: float, eta: float) -> float:
    return (eta * p_kw if p_kw > 0 else p_kw / eta) * DT_H / BATTERY


@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
@given(cases())
def test_vehicles_and_energy_conserved(case):
    net, stations, dem, price = case
    steps = 9
    paths = k_shortest_paths(net, dem, 2, stations, via="always")
    opts = DtaOptions(1.0, penalty_per_vehicle=100.0)
    m = solve(net, stations, dem, paths, steps, DT_H, BATTERY, opts, price=price)
    v = variable_values(m)

    # SOC bounds on every state and flow
    assert (v["soc"] >= v["soc_floor"] * v["vehicles"] - TOL).all()
    assert (v["soc"] <= 1.0 * v["vehicles"] + TOL).all()
    assert (v["vehicles"] >= -TOL).all()

    flows = v[v["kind"] == "flow"].set_index(["path", "boundary", "t"])
    use = dict(zip(net.segments["segment"], net.segments["soc_per_vehicle"], strict=True))
    t0 = dict(zip(net.segments["segment"], net.segments["free_flow_steps"], strict=True))
    eta = float(stations.table["efficiency"].iloc[0])
    dep_total = arr_total = inside_total = 0.0
    for p in m.dta_index.paths.paths:
        elems = p.elements()

        def fl(k, p=p):
            try:
                f = flows.loc[(p.path, k)]
            except KeyError:
                return pd.Series(dtype=float), pd.Series(dtype=float)
            return f["vehicles"], f["soc"]

        inside_path = 0.0
        for e, (kind, eid) in enumerate(elems):
            (n_in, e_in), (n_out, e_out) = fl(e), fl(e + 1)
            mine = v[(v["path"] == p.path) & (v["element"] == e)]
            end = mine[mine["t"] == steps - 1]
            if kind == "segment":
                late = n_in.index > steps - 1 - t0[eid]
                n_state = end.loc[end["kind"] == "queued", "vehicles"].sum() + n_in[late].sum()
                e_state = end.loc[end["kind"] == "queued", "soc"].sum() + e_in[late].sum()
                used = use[eid] * n_in[~late].sum()
                assert n_in.sum() - n_out.sum() == pytest.approx(n_state, abs=TOL)
                assert e_in.sum() - e_out.sum() - used == pytest.approx(e_state, abs=TOL)
            else:
                inner = end[end["kind"].isin(["waiting", "charging"])]
                ch = mine[mine["kind"] == "charging"]
                gained = sum(
                    k_energy(pl, eta) * x
                    for pl, x in zip(ch["charger"], ch["vehicles"], strict=True)
                )
                assert n_in.sum() - n_out.sum() == pytest.approx(inner["vehicles"].sum(), abs=TOL)
                assert e_in.sum() - e_out.sum() + gained == pytest.approx(
                    inner["soc"].sum(), abs=TOL
                )
                n_state = inner["vehicles"].sum()
            inside_path += n_state
        dep, arr = fl(0)[0].sum(), fl(len(elems))[0].sum()
        assert dep == pytest.approx(arr + inside_path, abs=1e-5)
        dep_total, arr_total, inside_total = (
            dep_total + dep,
            arr_total + arr,
            inside_total + inside_path,
        )

    r = dta_results(m)
    assert r.vehicles_departed == pytest.approx(dep_total, abs=1e-5)
    assert r.vehicles_arrived == pytest.approx(arr_total, abs=1e-5)
    assert r.arrival_shortfall == pytest.approx(dem.table["vehicles"].sum() - arr_total, abs=1e-5)

    # station load = sum over chargers of power x vehicles on them, per step; plugs respected
    ch = v[v["kind"] == "charging"]
    load = ch.assign(p=ch["charger"].astype(float) * ch["vehicles"]).groupby("t")["p"].sum()
    model = np.array([pyo.value(m.station_p_kw["S", t]) for t in range(steps)])
    table = r.stations.set_index("t")["p_kw"].to_numpy()
    expect = load.reindex(range(steps), fill_value=0.0).to_numpy()
    assert np.allclose(model, expect, atol=1e-6) and np.allclose(table, expect, atol=1e-6)
    plugs = float(stations.table["plugs"].iloc[0])
    assert (r.stations["charging"] <= plugs + TOL).all()
