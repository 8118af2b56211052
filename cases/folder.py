"""Case folders: ``case.toml`` plus CSV tables; reader and writer.

Layout::

    case.toml                [case] name, description; [time] steps, dt_h, start;
                             [grid] slack_bus, v_slack_pu; [parameters] ...; [robust] gamma
    grid/buses.csv           bus, v_min_pu, v_max_pu, base_kv [, x, y]
    grid/lines.csv           line, from_bus, to_bus, r_ohm, x_ohm, p_max_kw [, s_max_kva]
    grid/loads.csv           bus, t, p_kw, q_kvar
    grid/prices.csv          t, price_per_kwh
    grid/renewables.csv      bus, t, kind (pv|wind), p_kw                 (optional)
    grid/uncertainty.csv     bus, kind (load|pv|wind), xi_frac            (optional)
    grid/generators.csv      gen, bus, p_min_kw, p_max_kw, cost_per_kwh   (optional)
    grid/line_limits.csv     line, t, p_max_kw                            (optional)
    traffic/nodes.csv        node, x, y                                   (coupled cases)
    traffic/segments.csv     segment, from_node, to_node, length_km, free_flow_steps,
                             capacity_veh_per_step, soc_per_vehicle
    traffic/stations.csv     station, node, bus, plugs, charger_kw, efficiency
    traffic/demand.csv       od, origin, destination, aggregator, t, vehicles, soc_total
    fleet/evs.csv            ev, bus, arrival_t, departure_t, soc_init, soc_target,
                             battery_kwh, p_max_kw, s_max_kva, efficiency [, aggregator]

Writing is canonical (``index=False``, ``\\n`` line ends, floats as Python's shortest repr),
so folder -> Case -> folder reproduces every file byte for byte. Writing goes to a temporary
folder that is renamed at the end: a failure leaves nothing half-written.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import tomli_w

from cases.atomic import atomic_folder
from cases.case import Case, CaseError, TimeGrid, TrafficData
from cases.reading import Column, columns_from_registry, plain, read_table, read_toml
from power.feeder import OPTIONAL_TABLES, TABLES, Feeder, FeederDataError, empty_table
from power.fleet import FILE as FLEET_FILE
from power.fleet import Fleet, FleetDataError
from power.registry import ATTRIBUTES as GRID_ATTRIBUTES
from robust.uncertainty import ATTRIBUTES as UNCERTAINTY_ATTRIBUTES
from robust.uncertainty import Uncertainty, UncertaintyDataError
from traffic.network import TABLES as TRAFFIC_TABLES
from traffic.network import (
    RoadNetwork,
    Stations,
    TrafficDataError,
    TravelDemand,
    check_departure_soc,
    validate_traffic,
    write_traffic_folder,
)
from traffic.registry import ATTRIBUTES as TRAFFIC_ATTRIBUTES

UNCERTAINTY_FILE = "grid/uncertainty.csv"
INPUT_ERRORS = (CaseError, FeederDataError, FleetDataError, UncertaintyDataError, TrafficDataError)


TRAFFIC_MIN_ROWS = {"nodes": 2, "segments": 1, "stations": 0, "demand": 1}


def _columns(table: str) -> tuple[dict[str, Column], type[Exception]]:
    """Column specs of a case-folder table from its attribute registry, and the error class
    of the package that holds the table."""
    for attrs, error in (
        (GRID_ATTRIBUTES, FleetDataError if table == "evs" else FeederDataError),
        (TRAFFIC_ATTRIBUTES, TrafficDataError),
        (UNCERTAINTY_ATTRIBUTES, UncertaintyDataError),
    ):
        if any(a[0] == table for a in attrs):
            return columns_from_registry(attrs, table), error
    raise KeyError(table)


class _Problems:
    """Raise the first problem (``collect=False``) or collect every one (``evtp check``)."""

    def __init__(self, collect: bool) -> None:
        self.collect = collect
        self.found: list[str] = []

    @property
    def sink(self) -> list[str] | None:
        return self.found if self.collect else None

    def run(self, fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
        """``fn(*args, **kw)``; with ``collect``, an input error is recorded and None returned."""
        if not self.collect:
            return fn(*args, **kw)
        try:
            return fn(*args, **kw)
        except INPUT_ERRORS as exc:
            self.found.append(str(exc))
            return None


def _read_csv(
    folder: Path, rel: str, table: str, required: bool, problems: _Problems, min_rows: int = 0
) -> pd.DataFrame | None:
    path = folder / rel
    if not os.path.lexists(path):
        if required:
            problems.run(_raise, f"{rel}: file missing in case folder {folder}")
        return None
    columns, error = _columns(table)
    return read_table(path, rel, columns, min_rows=min_rows, problems=problems.sink, error=error)


def _raise(msg: str) -> None:
    raise CaseError(msg)


def _get(doc: dict, section: str, key: str, kind: type, default: Any = None) -> Any:
    sec = doc.get(section, {})
    if not isinstance(sec, dict):
        raise CaseError(f"case.toml: [{section}] must be a table")
    if key not in sec:
        if default is None:
            raise CaseError(f"case.toml: [{section}] {key} is missing")
        return default
    val = sec[key]
    if kind is float and isinstance(val, int) and not isinstance(val, bool):
        val = float(val)
    if not isinstance(val, kind) or isinstance(val, bool) and kind is not bool:
        raise CaseError(f"case.toml: [{section}] {key} must be {kind.__name__}, got {plain(val)}")
    if kind is float and not math.isfinite(val):
        raise CaseError(f"case.toml: [{section}] {key} must be a finite number, got {plain(val)}")
    return val


def _time(doc: dict) -> TimeGrid:
    steps = _get(doc, "time", "steps", int)
    if steps < 1:
        raise CaseError(f"case.toml: [time] steps must be a positive integer, got {steps}")
    dt_h = _get(doc, "time", "dt_h", float)
    if not 0 < dt_h <= 24:
        raise CaseError(f"case.toml: [time] dt_h must lie in (0, 24] hours, got {plain(dt_h)}")
    return TimeGrid(steps=steps, dt_h=dt_h, start=_get(doc, "time", "start", str, "00:00"))


def _read(folder: Path, p: _Problems) -> Case | None:
    """Read every file of ``folder``; build the parts independently so that, collecting, a
    problem in one part does not hide those of another."""
    doc = p.run(read_toml, folder / "case.toml")
    time = None if doc is None else p.run(_time, doc)
    tables: dict[str, pd.DataFrame | None] = {}
    for name, (rel, _, _) in TABLES.items():
        df = _read_csv(folder, rel, name, name not in OPTIONAL_TABLES, p)
        tables[name] = empty_table(name) if df is None and name in OPTIONAL_TABLES else df
    feeder = None
    if time is not None and all(df is not None for df in tables.values()):
        feeder = p.run(
            lambda: Feeder(
                **tables,
                slack_bus=str(_get(doc, "grid", "slack_bus", str)),
                v_slack_pu=_get(doc, "grid", "v_slack_pu", float, 1.0),
                steps=time.steps,
                dt_h=time.dt_h,
            )
        )
    unc = _read_csv(folder, UNCERTAINTY_FILE, "uncertainty", False, p)
    uncertainty = Uncertainty() if unc is None else Uncertainty(unc)
    if feeder is not None and unc is not None:
        p.run(uncertainty.validate, feeder.bus_ids)
    traffic = None
    if (folder / "traffic").is_dir():
        frames = {
            t: _read_csv(folder, TRAFFIC_TABLES[t][0], t, t != "stations", p, TRAFFIC_MIN_ROWS[t])
            for t in TRAFFIC_TABLES
        }
        network = None
        if frames["nodes"] is not None and frames["segments"] is not None:
            network = p.run(RoadNetwork, frames["nodes"], frames["segments"])
        stations = None
        stations_ok = not os.path.lexists(folder / TRAFFIC_TABLES["stations"][0])
        if frames["stations"] is not None:
            stations = p.run(Stations, frames["stations"])
            stations_ok = stations is not None
        demand = None if frames["demand"] is None else p.run(TravelDemand, frames["demand"])
        if network is not None and demand is not None and time is not None and stations_ok:
            n = len(p.found)
            p.run(validate_traffic, network, stations, demand, time.steps)
            if len(p.found) == n:
                traffic = TrafficData(network, stations, demand)
    evs = _read_csv(folder, FLEET_FILE, "evs", False, p)
    fleet = None if evs is None else Fleet(evs)
    if fleet is not None and feeder is not None and time is not None:
        p.run(fleet.validate, time.steps, feeder.bus_ids)
    if p.found or doc is None or time is None or feeder is None:
        return None
    if (folder / "traffic").is_dir() and traffic is None:
        return None
    case = p.run(
        lambda: Case(
            name=_get(doc, "case", "name", str),
            description=_get(doc, "case", "description", str, ""),
            time=time,
            feeder=feeder,
            uncertainty=uncertainty,
            parameters=dict(doc.get("parameters", {})),
            gamma=_get(doc, "robust", "gamma", float, 0.0),
            traffic=traffic,
            fleet=fleet,
            build=dict(doc.get("build", {})),
        )
    )
    if case is not None and case.traffic is not None:
        p.run(check_departure_soc, case.traffic.demand, float(case.parameter("soc_min")))
        if p.found:
            return None
    return case


def _folder(folder: str | Path) -> Path:
    folder = Path(folder)
    if not (folder / "case.toml").exists():
        raise CaseError(f"case.toml: not found in {folder} (not a case folder)")
    return folder


def read_case(folder: str | Path) -> Case:
    """Read and validate a case folder; raise a one-line error naming file and element."""
    case = _read(_folder(folder), _Problems(collect=False))
    assert case is not None  # without collecting, every problem raises
    return case


def case_problems(folder: str | Path) -> list[str]:
    """Every problem found in a case folder (empty when it reads as a valid case): file-level
    and cell-level problems of every file, and the first problem of each part (feeder,
    uncertainty, road network, stations, demand, fleet, case)."""
    p = _Problems(collect=True)
    try:
        case = _read(_folder(folder), p)
    except INPUT_ERRORS as exc:
        return [*p.found, str(exc)]
    if case is None and not p.found:
        p.found.append(f"{folder}: not a valid case folder")
    return p.found


def case_toml(case: Case) -> dict[str, Any]:
    """The case.toml document of ``case``."""
    return {
        "case": {"name": case.name, "description": case.description},
        "time": {"steps": case.time.steps, "dt_h": case.time.dt_h, "start": case.time.start},
        "grid": {"slack_bus": case.feeder.slack_bus, "v_slack_pu": case.feeder.v_slack_pu},
        "parameters": dict(case.parameters),
        "robust": {"gamma": case.gamma},
    } | ({"build": case.build} if case.build else {})


def write_csv(df: pd.DataFrame, path: Path) -> None:
    """Canonical CSV: no index, ``\\n`` line ends."""
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(path, index=False, lineterminator="\n")


def write_case(case: Case, folder: str | Path, *, overwrite: bool = False) -> Path:
    """Write ``case`` as a folder atomically (temp folder renamed at the end)."""
    folder = Path(folder)
    if folder.exists() and not overwrite:
        raise CaseError(f"{folder}: output folder exists (choose another --out)")
    with atomic_folder(folder) as tmp:
        (tmp / "case.toml").write_text(tomli_w.dumps(case_toml(case)))
        for name, (rel, _, _) in TABLES.items():
            df = getattr(case.feeder, name)
            if name in OPTIONAL_TABLES and not len(df):
                continue
            write_csv(df, tmp / rel)
        if len(case.uncertainty.table):
            write_csv(case.uncertainty.table, tmp / UNCERTAINTY_FILE)
        if case.traffic is not None:
            tr = case.traffic
            write_traffic_folder(tmp, tr.network, tr.stations, tr.demand)
        if case.fleet is not None:
            write_csv(case.fleet.evs, tmp / FLEET_FILE)
    return folder
