"""Attribute registry of the traffic tables of a case folder (same format as
``power/registry.py``): it drives validation, the CSV column order and docs/case-folder.md."""

from __future__ import annotations

from common.registry import Attribute, Registry

FILES: dict[str, tuple[str, bool]] = {
    "nodes": ("traffic/nodes.csv", False),
    "segments": ("traffic/segments.csv", False),
    "stations": ("traffic/stations.csv", True),
    "demand": ("traffic/demand.csv", False),
}

# (table, column, kind, unit, required, default, description)
ATTRIBUTES: list[Attribute] = [
    ("nodes", "node", "id", "", True, "", "road node id"),
    ("nodes", "x", "float", "", True, "empty allowed", "map coordinate"),
    ("nodes", "y", "float", "", True, "empty allowed", "map coordinate"),
    ("segments", "segment", "id", "", True, "", "directed road segment id"),
    ("segments", "from_node", "id", "", True, "", "tail node"),
    ("segments", "to_node", "id", "", True, "", "head node"),
    ("segments", "length_km", "float", "km", True, "", "length"),
    ("segments", "free_flow_steps", "int", "steps", True, "", "free-flow travel time (>= 1)"),
    ("segments", "capacity_veh_per_step", "float", "veh/step", True, "", "exit capacity"),
    ("segments", "soc_per_vehicle", "float", "fraction", True, "", "SOC one vehicle uses"),
    ("stations", "station", "id", "", True, "", "fast-charging station id"),
    ("stations", "node", "id", "", True, "", "road node of the station"),
    ("stations", "bus", "id", "", True, "", "feeder bus that supplies it"),
    ("stations", "plugs", "float", "plugs", True, "", "vehicles charging at once"),
    (
        "stations",
        "charger_kw",
        "text",
        "kW",
        True,
        "",
        "virtual charger powers, ';'-separated, <0 = V2G",
    ),
    ("stations", "efficiency", "float", "", True, "", "charging efficiency (0, 1]"),
    ("demand", "od", "id", "", True, "", "origin-destination pair id"),
    ("demand", "origin", "id", "", True, "", "origin node"),
    ("demand", "destination", "id", "", True, "", "destination node"),
    ("demand", "aggregator", "id", "", True, "", "EV aggregator of these vehicles"),
    ("demand", "t", "int", "step", True, "", "departure step"),
    ("demand", "vehicles", "float", "veh", True, "", "departing EVs"),
    ("demand", "soc_total", "float", "battery eq.", True, "", "sum of their SOC fractions"),
    (
        "demand",
        "arrival_soc",
        "float",
        "fraction",
        False,
        "soc_min",
        "SOC floor at arrival of the OD's vehicles (empty: soc_min)",
    ),
]


REGISTRY = Registry(FILES, ATTRIBUTES)
required = REGISTRY.required
columns = REGISTRY.columns
