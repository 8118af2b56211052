"""Attribute registry of the grid and fleet tables of a case folder: one row per column with
type, unit, whether it is required, default and description. It drives validation (required
columns, id vs numeric parsing) and the case-folder reference in docs/case-folder.md.

Kinds: ``id`` (text id), ``text``, ``int`` (step index or count), ``float``.
"""

from __future__ import annotations

from common.registry import Attribute, Registry

# table -> (file, optional table?)
FILES: dict[str, tuple[str, bool]] = {
    "buses": ("grid/buses.csv", False),
    "lines": ("grid/lines.csv", False),
    "loads": ("grid/loads.csv", False),
    "prices": ("grid/prices.csv", False),
    "renewables": ("grid/renewables.csv", True),
    "generators": ("grid/generators.csv", True),
    "line_limits": ("grid/line_limits.csv", True),
    "evs": ("fleet/evs.csv", True),
}

# (table, column, kind, unit, required, default, description)
ATTRIBUTES: list[Attribute] = [
    ("buses", "bus", "id", "", True, "", "bus id"),
    ("buses", "v_min_pu", "float", "pu", True, "", "lower voltage limit"),
    ("buses", "v_max_pu", "float", "pu", True, "", "upper voltage limit"),
    ("buses", "base_kv", "float", "kV", True, "", "line-to-line base voltage"),
    ("buses", "x", "float", "", False, "empty", "map coordinate"),
    ("buses", "y", "float", "", False, "empty", "map coordinate"),
    ("lines", "line", "id", "", True, "", "line (or transformer) id"),
    ("lines", "from_bus", "id", "", True, "", "one end"),
    ("lines", "to_bus", "id", "", True, "", "other end (any orientation; the feeder is radial)"),
    ("lines", "r_ohm", "float", "ohm", True, "", "series resistance (transformers: LV side)"),
    ("lines", "x_ohm", "float", "ohm", True, "", "series reactance (transformers: LV side)"),
    ("lines", "p_max_kw", "float", "kW", True, "", "active-power limit |P|"),
    ("lines", "s_max_kva", "float", "kVA", False, "empty", "apparent-power rating"),
    ("loads", "bus", "id", "", True, "", "bus id"),
    ("loads", "t", "int", "step", True, "", "step index 0..steps-1"),
    ("loads", "p_kw", "float", "kW", True, "", "active load (forecast)"),
    ("loads", "q_kvar", "float", "kvar", True, "", "reactive load"),
    ("prices", "t", "int", "step", True, "", "step index, every step once"),
    ("prices", "price_per_kwh", "float", "currency/kWh", True, "", "energy price at the slack"),
    ("renewables", "bus", "id", "", True, "", "bus id"),
    ("renewables", "kind", "text", "", True, "", "pv or wind"),
    ("renewables", "t", "int", "step", True, "", "step index"),
    ("renewables", "p_kw", "float", "kW", True, "", "generation forecast (>= 0)"),
    ("generators", "gen", "id", "", True, "", "generator id"),
    ("generators", "bus", "id", "", True, "", "bus id"),
    ("generators", "p_min_kw", "float", "kW", True, "", "minimum output"),
    ("generators", "p_max_kw", "float", "kW", True, "", "maximum output"),
    ("generators", "cost_per_kwh", "float", "currency/kWh", True, "", "energy cost"),
    ("line_limits", "line", "id", "", True, "", "line id"),
    ("line_limits", "t", "int", "step", True, "", "step index"),
    ("line_limits", "p_max_kw", "float", "kW", True, "", "limit replacing lines.p_max_kw"),
    ("evs", "ev", "id", "", True, "", "EV id"),
    ("evs", "bus", "id", "", True, "", "bus where it is plugged in"),
    ("evs", "arrival_t", "int", "step", True, "", "first plugged step"),
    ("evs", "departure_t", "int", "step", True, "", "end of the plugged window (exclusive)"),
    ("evs", "soc_init", "float", "fraction", True, "", "SOC at arrival"),
    ("evs", "soc_target", "float", "fraction", True, "", "SOC wanted at departure"),
    ("evs", "battery_kwh", "float", "kWh", True, "", "usable battery capacity"),
    ("evs", "p_max_kw", "float", "kW", True, "", "charger power"),
    ("evs", "s_max_kva", "float", "kVA", True, "", "charger apparent-power rating"),
    ("evs", "efficiency", "float", "", True, "", "charging/discharging efficiency (0, 1]"),
    ("evs", "aggregator", "id", "", False, "single operator", "fleet operator"),
]


REGISTRY = Registry(FILES, ATTRIBUTES)
required = REGISTRY.required
columns = REGISTRY.columns
