"""TNTP import: format details on a synthetic file, and the shared networks."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from tests.traffic.util import SOL_TOL, need_data, solve
from traffic.dta import DtaOptions
from traffic.network import TrafficDataError
from traffic.paths import k_shortest_paths
from traffic.tntp import NET_COLUMNS, read_tntp_net, read_tntp_trips, tntp_to_traffic

NET = """<NUMBER OF ZONES> 2
<NUMBER OF NODES> 4
<FIRST THRU NODE> 3
<NUMBER OF LINKS> 5
<END OF METADATA>


{header}
	1	3	1000	1	20	0.15	4	0	0	1	;
	3	2	1000	1	16	0.15	4	0	0	1	;
	1	4	1000	1	31	0.15	4	0	0	1	;
	4	2	1000	1	0.5	0.15	4	0	0	1;
	2	1	4000	0.5	1	0.15	4	0	0	1	;
"""
NET = NET.format(header="~ \t" + "\t".join(NET_COLUMNS) + "\t;")
TRIPS = """<NUMBER OF ZONES> 2
<TOTAL OD FLOW> 130.0
<END OF METADATA>

Origin 	1
    1 :      0.0;     2 :    100.0;
Origin 	2
    1 :     30.0;     2 :      0.0;
"""


def test_synthetic_tntp(tmp_path):
    (tmp_path / "x_net.tntp").write_text(NET)
    (tmp_path / "x_trips.tntp").write_text(TRIPS)
    meta, links = read_tntp_net(tmp_path / "x_net.tntp")
    assert meta["FIRST THRU NODE"] == "3" and len(links) == 5
    assert links["term_node"].tolist() == ["3", "2", "4", "2", "1"]
    _, trips = read_tntp_trips(tmp_path / "x_trips.tntp")
    assert trips["trips"].sum() == 130.0
    net, dem = tntp_to_traffic(
        tmp_path / "x_net.tntp", tmp_path / "x_trips.tntp", steps=8, dt_h=0.25, ev_share=0.1
    )
    seg = net.segments.set_index("segment")
    # ceil(min / 15), at least 1; 1000 veh/h * 0.25 h
    assert seg["free_flow_steps"].to_dict() == {"1-3": 2, "3-2": 2, "1-4": 3, "4-2": 1, "2-1": 1}
    assert seg.loc["1-3", "capacity_veh_per_step"] == pytest.approx(250.0)
    assert seg.loc["2-1", "length_km"] == pytest.approx(0.5 * 1.609344)
    # zones 1, 2 are not through nodes; default profile: the hour's trips over steps 0..3
    assert net.nodes.set_index("node")["through"].to_dict() == {
        "1": False,
        "2": False,
        "3": True,
        "4": True,
    }
    assert dem.table.groupby("od")["vehicles"].sum().to_dict() == pytest.approx(
        {"1-2": 10.0, "2-1": 3.0}
    )
    assert sorted(dem.table["t"].unique()) == [0, 1, 2, 3]
    assert dem.table["soc_total"].sum() == pytest.approx(0.5 * 13.0)


def test_siouxfalls_import():
    sf = need_data("SiouxFalls")
    _, trips = read_tntp_trips(sf / "SiouxFalls_trips.tntp")
    assert trips["trips"].sum() == pytest.approx(360_600.0)
    net, dem = tntp_to_traffic(
        sf / "SiouxFalls_net.tntp",
        sf / "SiouxFalls_trips.tntp",
        sf / "SiouxFalls_node.tntp",
        steps=96,
        dt_h=0.25,
        ev_share=0.01,
    )
    assert len(net.nodes) == 24 and len(net.segments) == 76
    assert dem.table["vehicles"].sum() == pytest.approx(3606.0)
    seg = net.segments.set_index("segment")
    assert seg.loc["1-2", "capacity_veh_per_step"] == pytest.approx(25900.20064 * 0.25)
    assert seg.loc["1-2", "free_flow_steps"] == 1  # 6 min in a 15-min step
    assert net.nodes.set_index("node").loc["1", "x"] == pytest.approx(-96.77041974)


def test_anaheim_zones_are_not_passed_through():
    an = need_data("Anaheim")
    net, dem = tntp_to_traffic(
        an / "Anaheim_net.tntp",
        an / "Anaheim_trips.tntp",
        steps=8,
        dt_h=0.25,
        ev_share=0.01,
        length_unit_km=0.0003048,
    )
    assert len(net.nodes) == 416 and len(net.segments) == 914
    zones = set(net.nodes.loc[~net.nodes["through"], "node"])
    assert zones == {str(i) for i in range(1, 39)}
    some = dem.for_aggregators(["eva1"])
    some = type(some)(some.table[some.table["od"].isin(some.ods["od"][:20])])
    for p in k_shortest_paths(net, some, 2).paths:
        assert not set(p.nodes[1:-1]) & zones


@pytest.mark.slow  # a city-size solve (~15 s); the grid-city CLI test covers the path
def test_siouxfalls_solved_run_matches_shortest_paths():
    """Capacity never binds at 0.1 % EVs and SOC is ample, so every EV takes a free-flow
    shortest path: vehicle-steps = sum over ODs of vehicles x shortest free-flow steps
    (networkx Dijkstra as the independent reference)."""
    sf = need_data("SiouxFalls")
    steps = 12
    net, dem = tntp_to_traffic(
        sf / "SiouxFalls_net.tntp",
        sf / "SiouxFalls_trips.tntp",
        steps=steps,
        dt_h=0.25,
        ev_share=0.001,
        soc_departure=0.9,
    )
    g = nx.DiGraph()
    for a, b, ff in net.segments[["from_node", "to_node", "free_flow_steps"]].itertuples(
        index=False
    ):
        g.add_edge(a, b, ff=int(ff))
    ods = dem.ods
    sp = np.array(
        [
            nx.shortest_path_length(g, o, d, weight="ff")
            for o, d in zip(ods["origin"], ods["destination"], strict=True)
        ]
    )
    assert sp.max() + 3 < steps  # everyone can arrive within the horizon
    expected = float((ods["vehicles"].to_numpy() * sp).sum())
    paths = k_shortest_paths(net, dem, 2)
    m = solve(net, None, dem, paths, steps, 0.25, 60.0, DtaOptions(2.0))
    assert m.vehicles_arrived() == pytest.approx(360.6, abs=1e-5)
    assert m.vehicle_steps() == pytest.approx(expected, rel=1e-7)
    assert m.travel_cost() == pytest.approx(2.0 * expected, rel=1e-7)
    assert m.arrival_shortfall() == pytest.approx(0.0, abs=SOL_TOL)


def test_units_come_from_the_header_the_known_network_or_the_user():
    from traffic.tntp import TntpWarning, tntp_network, tntp_units

    an = need_data("Anaheim")
    meta, links = read_tntp_net(an / "Anaheim_net.tntp")
    assert tntp_units(meta, "Anaheim_net.tntp")[:2] == ("ft", "min")
    assert tntp_units({}, "SiouxFalls_net.tntp")[:2] == ("mi", "min")
    assert tntp_units({}, "x_net.tntp", "km", "h")[:2] == ("km", "h")
    assert "assumed" in tntp_units({}, "x_net.tntp")[2]
    net = tntp_network(an / "Anaheim_net.tntp", an / "anaheim_nodes.geojson", dt_h=1.0)
    seg = net.segments
    # a mile of 5280 ft at 1.0905 min: 1.609 km at 88.5 km/h
    first = seg.iloc[0]
    assert first["length_km"] == pytest.approx(1.609344)
    assert seg["length_km"].max() < 3.0  # feet read as feet: links of at most 2.9 km
    fft_h = links["free_flow_time"].to_numpy(float) / 60.0
    assert (seg["length_km"].to_numpy() / fft_h).max() < 200.0
    assert net.nodes.set_index("node").loc["1", "x"] == pytest.approx(-117.8801417)
    # the same file read in miles is refused, naming a link
    with pytest.raises(TrafficDataError, match=r"Anaheim_net.tntp: link \S+ is \d+ km long"):
        tntp_network(an / "Anaheim_net.tntp", dt_h=1.0, length_unit_km=1.609344)
    ch = need_data("Chicago-Sketch")
    with pytest.warns(TntpWarning, match="8 links faster than 200 km/h"):
        net = tntp_network(ch / "ChicagoSketch_net.tntp", dt_h=1.0)
    assert len(net.segments) == 2950


def test_a_free_flow_time_of_zero_off_a_connector_is_refused(tmp_path):
    from traffic.tntp import tntp_network

    # 1 and 2 are zones: 1-3 is a connector (0 allowed), 3-4 joins two through nodes
    text = NET.replace("<NUMBER OF LINKS> 5", "<NUMBER OF LINKS> 7")
    text += "\t1\t3\t1000\t1\t0\t0.15\t4\t0\t0\t1\t;\n"
    (tmp_path / "a_net.tntp").write_text(text.replace("<NUMBER OF LINKS> 7", "<NUMBER OF LINKS> 6"))
    net = tntp_network(tmp_path / "a_net.tntp", dt_h=0.25, length_unit_km=1.0, fft_unit_min=1.0)
    assert len(net.segments) == 6
    text += "\t3\t4\t1000\t1\t0\t0.15\t4\t0\t0\t1\t;\n"
    (tmp_path / "b_net.tntp").write_text(text)
    with pytest.raises(TrafficDataError, match="link 3-4 has a free-flow time of 0 and is not a"):
        tntp_network(tmp_path / "b_net.tntp", dt_h=0.25, length_unit_km=1.0, fft_unit_min=1.0)
