"""Traffic data: validation messages and the case-folder round trip."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.traffic.util import demand, station
from traffic.network import (
    RoadNetwork,
    Stations,
    TrafficDataError,
    TravelDemand,
    read_traffic_folder,
    write_traffic_folder,
)


def nodes() -> pd.DataFrame:
    return pd.DataFrame({"node": ["T1", "T2", "T3"], "x": [0.0, 1.5, 3.25], "y": [0.0, 0.1, 0.0]})


def segments(**change) -> pd.DataFrame:
    df = pd.DataFrame(
        {
            "segment": ["T1-T2", "T2-T3"],
            "from_node": ["T1", "T2"],
            "to_node": ["T2", "T3"],
            "length_km": [12.5, 8.0],
            "free_flow_steps": [2, 1],
            "capacity_veh_per_step": [200.0, 150.0],
            "soc_per_vehicle": [0.0375, 0.024],
        }
    )
    for col, (row, val) in change.items():
        df[col] = df[col].astype(object)
        df.loc[row, col] = val
    return df


def test_negative_capacity_message_names_file_column_element():
    with pytest.raises(TrafficDataError) as err:
        RoadNetwork(nodes(), segments(capacity_veh_per_step=(0, -5)))
    assert str(err.value) == (
        "traffic/segments.csv: column capacity_veh_per_step: segment 'T1-T2' is negative (-5)"
    )


@pytest.mark.parametrize(
    ("change", "text"),
    [
        ({"to_node": (1, "T9")}, "column to_node: segment 'T2-T3' refers to unknown node 'T9'"),
        ({"segment": (1, "T1-T2")}, "column segment: duplicate segment id 'T1-T2'"),
        (
            {"free_flow_steps": (0, 1.5)},
            "column free_flow_steps: segment 'T1-T2' is not an integer",
        ),
        ({"free_flow_steps": (1, -1)}, "column free_flow_steps: segment 'T2-T3' must be >= 1"),
        ({"length_km": (1, -2.0)}, "column length_km: segment 'T2-T3' is negative"),
    ],
)
def test_segment_errors(change, text):
    with pytest.raises(
        TrafficDataError, match="^traffic/segments.csv: " + text.replace("(", r"\(")
    ):
        RoadNetwork(nodes(), segments(**change))


def test_station_errors():
    net = RoadNetwork(nodes(), segments())
    with pytest.raises(
        TrafficDataError, match="stations.csv: column plugs: station 'S' must be > 0"
    ):
        station("T2", "50", plugs=0)
    with pytest.raises(TrafficDataError, match="column efficiency: station 'S' must be <= 1"):
        station("T2", "50", eta=1.2)
    with pytest.raises(
        TrafficDataError, match="column charger_kw: station 'S' has no valid powers"
    ):
        station("T2", "fast")
    with pytest.raises(TrafficDataError, match="column node: station 'S' is at unknown node 'T7'"):
        station("T7", "50").validate(net)
    assert station("T2", "-50; 50;150").chargers == {"S": (-50.0, 50.0, 150.0)}


def test_demand_errors():
    net = RoadNetwork(nodes(), segments())
    with pytest.raises(
        TrafficDataError, match="demand.csv: column t: od 'a' departs at t=4 outside 0..3"
    ):
        demand([("a", "T1", "T3", "m", 4, 1.0, 0.5)]).validate(net, 4)
    with pytest.raises(
        TrafficDataError, match="column destination: od 'b' has no path from 'T3' to 'T1'"
    ):
        demand([("b", "T3", "T1", "m", 0, 1.0, 0.5)]).validate(net, 4)
    with pytest.raises(TrafficDataError, match="column origin: od 'c' refers to unknown node 'X'"):
        demand([("c", "X", "T1", "m", 0, 1.0, 0.5)]).validate(net, 4)
    with pytest.raises(
        TrafficDataError, match="column soc_total: od 'd' at t=0 exceeds its vehicles"
    ):
        demand([("d", "T1", "T3", "m", 0, 1.0, 1.5)])
    with pytest.raises(TrafficDataError, match="column vehicles: od 'e' is negative"):
        demand([("e", "T1", "T3", "m", 0, -1.0, 0.0)])


def test_folder_round_trip_is_byte_identical(tmp_path):
    net = RoadNetwork(nodes(), segments())
    st = Stations(
        pd.DataFrame(
            {
                "station": ["F1"],
                "node": ["T2"],
                "bus": ["7"],
                "plugs": [4],
                "charger_kw": ["-50;50;150"],
                "efficiency": [0.95],
            }
        )
    )
    dem = demand(
        [("01", "T1", "T3", "eva1", 0, 12.5, 5.0), ("01", "T1", "T3", "eva1", 1, 3.0, 1.2)]
    )
    first = write_traffic_folder(tmp_path / "a", net, st, dem)
    net2, st2, dem2 = read_traffic_folder(tmp_path / "a", steps=4)
    second = write_traffic_folder(tmp_path / "b", net2, st2, dem2)
    assert [p.name for p in first] == ["nodes.csv", "segments.csv", "demand.csv", "stations.csv"]
    for a, b in zip(first, second, strict=True):
        assert a.read_bytes() == b.read_bytes()
    assert dem2.table["od"].tolist() == ["01", "01"]  # ids stay strings ("01" is not 1)
    assert st2.chargers == {"F1": (-50.0, 50.0, 150.0)}
    assert (tmp_path / "a/traffic/segments.csv").read_text().splitlines()[0] == (
        "segment,from_node,to_node,length_km,free_flow_steps,capacity_veh_per_step,soc_per_vehicle"
    )


def test_aggregator_filter():
    dem = demand([("a", "T1", "T3", "m1", 0, 2.0, 1.0), ("b", "T1", "T2", "m2", 0, 3.0, 1.0)])
    assert TravelDemand.for_aggregators(dem, ["m2"]).ods["od"].tolist() == ["b"]
