"""The EV demand model: departure profile, SOC split, trip energy, who must stop."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyomo.environ as pyo
import pytest
from scipy import stats

from tests.traffic.util import solve, station
from traffic.dta import DtaOptions
from traffic.ev_demand import (
    WEEKDAY_TRIP_STARTS,
    EvDemandModel,
    ev_demand,
    shortest_paths,
    step_weights,
)
from traffic.network import RoadNetwork, TrafficDataError
from traffic.paths import k_shortest_paths


def line_network(km: float = 100.0, kwh_per_km: float = 0.17, battery: float = 60.0):
    """1 <-> 2 <-> 3, every link ``km`` long and one step at free flow."""
    pairs = [("1", "2"), ("2", "1"), ("2", "3"), ("3", "2")]
    segs = pd.DataFrame(
        {
            "segment": [f"{a}-{b}" for a, b in pairs],
            "from_node": [a for a, _ in pairs],
            "to_node": [b for _, b in pairs],
            "length_km": km,
            "free_flow_steps": 1,
            "capacity_veh_per_step": 1e4,
            "soc_per_vehicle": km * kwh_per_km / battery,
        }
    )
    nodes = pd.DataFrame({"node": ["1", "2", "3"], "x": [0.0, 1.0, 2.0], "y": 0.0})
    return RoadNetwork(nodes, segs)


def at_hour(h: int) -> tuple[float, ...]:
    return tuple(np.eye(24)[h])


def test_step_weights_integrate_the_hourly_profile():
    assert step_weights(at_hour(7), 24, 1.0, 0.0).tolist() == np.eye(24)[7].tolist()
    w = step_weights(at_hour(7), 48, 0.5, 0.0)
    assert w[14] == pytest.approx(0.5) and w[15] == pytest.approx(0.5) and w.sum() == 1.0
    w = step_weights(at_hour(7), 4, 1.0, 6.5)  # steps 06:30-07:30, 07:30-08:30, ...
    assert w[:2] == pytest.approx([0.5, 0.5]) and w[2:].sum() == 0
    w = step_weights(WEEKDAY_TRIP_STARTS, 96, 0.25, 0.0)  # a day of 15 min: the profile / 4
    assert w.reshape(24, 4).sum(axis=1) == pytest.approx(np.array(WEEKDAY_TRIP_STARTS))
    assert step_weights(at_hour(23), 3, 1.0, 23.0) == pytest.approx([1.0, 0.0, 0.0])  # wraps
    assert step_weights(at_hour(1), 3, 1.0, 23.0) == pytest.approx([0.0, 0.0, 1.0])


def test_departure_profile_is_honoured():
    net = line_network(km=10.0)
    trips = pd.DataFrame({"origin": ["1", "3"], "destination": ["3", "1"], "trips": [100.0, 50.0]})
    model = EvDemandModel(ev_share=0.5, charge_share=0.0)
    dem, st = ev_demand(trips, net, model, steps=24, dt_h=1.0)
    per_t = dem.table.groupby("t")["vehicles"].sum().reindex(range(24), fill_value=0.0)
    # last departure: 24 - 1 - 2 free-flow steps - ceil(0.6 x 60 / 50) = 1 charge step
    latest = 24 - 1 - 2 - 1
    share = np.array(WEEKDAY_TRIP_STARTS)
    expected = 75.0 * share[: latest + 1] / share[: latest + 1].sum()
    assert per_t.to_numpy()[: latest + 1] == pytest.approx(expected)
    assert per_t.to_numpy()[latest + 1 :].sum() == 0.0
    assert st.ev_trips == pytest.approx(75.0) and dem.table["vehicles"].sum() == pytest.approx(75.0)


def test_soc_split_at_the_trip_threshold_matches_the_beta_distribution():
    net = line_network()
    trips = pd.DataFrame({"origin": ["1"], "destination": ["3"], "trips": [10.0]})
    model = EvDemandModel(ev_share=1.0, charge_share=0.25, departures=at_hour(0))
    dem, st = ev_demand(trips, net, model, steps=8, dt_h=1.0)
    t = dem.table.set_index("od")
    use = 200.0 * 0.17 / 60.0
    m, s = 0.6, 0.15
    k = m * (1 - m) / s**2 - 1
    below = stats.beta(m * k, (1 - m) * k).cdf(0.2 + use)  # independent reference
    assert t.loc["1-3~need", "vehicles"] == pytest.approx(7.5 * below, abs=0.02 * 7.5)
    assert t.loc["1-3~charge", "vehicles"] == pytest.approx(2.5)
    assert t.loc["1-3~charge", "arrival_soc"] == 0.8
    # the classes split the sample: total SOC is the sample mean times the vehicles
    sample_mean = model.soc_sample().mean()
    assert dem.table["soc_total"].sum() == pytest.approx(10.0 * sample_mean)
    assert t.loc["1-3~need", "soc_total"] / t.loc["1-3~need", "vehicles"] < 0.2 + use
    assert t.loc["1-3", "soc_total"] / t.loc["1-3", "vehicles"] >= 0.2 + use
    assert st.driving_kwh == pytest.approx(10.0 * 200.0 * 0.17)


def test_trips_that_cannot_arrive_without_charging_stop_and_charge_their_deficit():
    """Vehicles of the need class hold less SOC than soc_min + trip use: they must stop at
    the station in the middle, and at a positive price they charge exactly their deficit
    (hand calculation from the demand table)."""
    net = line_network()
    trips = pd.DataFrame({"origin": ["1"], "destination": ["3"], "trips": [10.0]})
    model = EvDemandModel(ev_share=1.0, charge_share=0.0, departures=at_hour(0))
    dem, st = ev_demand(trips, net, model, steps=8, dt_h=1.0)
    stations = station("2", "50", plugs=20)
    paths = k_shortest_paths(net, dem, 2, stations, stops="needed")
    by_od = paths.table.groupby("od")["stops"].apply(lambda s: set(s) - {""})
    assert by_od["1-3~need"] == {"S"} and by_od["1-3"] == set()  # only the need class may stop
    m = solve(net, stations, dem, paths, 8, 1.0, 60.0, DtaOptions(1.0), price=0.1)
    kwh = sum(pyo.value(m.station_p_kw["S", t]) for t in range(8))  # 1 h steps, eta 1
    need = dem.table[dem.table["od"] == "1-3~need"]
    deficit = float(((0.2 + 2 * 100 * 0.17 / 60) * need["vehicles"] - need["soc_total"]).sum())
    assert deficit > 0 and kwh == pytest.approx(deficit * 60.0, rel=1e-6)
    assert pyo.value(m.arrival_shortfall) == pytest.approx(0.0, abs=1e-6)
    assert st.min_charge_kwh == pytest.approx(deficit * 60.0, rel=1e-9)


def test_shortest_paths_never_pass_through_zones():
    net = line_network(km=5.0)
    nodes = net.nodes.assign(through=[True, False, True])  # node 2 is a zone
    blocked = RoadNetwork(nodes, net.segments)
    km, steps = shortest_paths(blocked, np.array(["1", "2"]), np.array(["3", "3"]))
    assert np.isinf(km[0]) and km[1] == pytest.approx(5.0) and steps[1] == 1
    km, steps = shortest_paths(net, np.array(["1"]), np.array(["3"]))
    assert km[0] == pytest.approx(10.0) and steps[0] == 2


@pytest.mark.parametrize(
    ("kw", "words"),
    [
        ({"ev_share": 0.0}, "--ev-share"),
        ({"soc_sd": 0.6}, "--soc-sd"),
        ({"charge_share": 1.5}, "--charge-share"),
        ({"target_soc": 0.1}, "--target-soc"),
        ({"departures": (1.0,) * 23}, "24 finite"),
        ({"kwh_per_km": float("inf")}, "--kwh-per-km"),
    ],
)
def test_bad_model_parameters_are_refused(kw, words):
    with pytest.raises(TrafficDataError, match=words):
        EvDemandModel(**kw)
