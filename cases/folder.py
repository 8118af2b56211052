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

import tomllib
from pathlib import Path
from typing import Any

import pandas as pd
import tomli_w

from cases.atomic import atomic_folder
from cases.case import Case, CaseError, TimeGrid, TrafficData
from power.feeder import OPTIONAL_TABLES, TABLES, Feeder, empty_table
from power.fleet import FILE as FLEET_FILE
from power.fleet import ID_COLUMNS as FLEET_IDS
from power.fleet import Fleet
from robust.uncertainty import Uncertainty
from traffic.network import read_traffic_folder, write_traffic_folder

UNCERTAINTY_FILE = "grid/uncertainty.csv"


def _read_csv(folder: Path, rel: str, ids: tuple[str, ...], required: bool) -> pd.DataFrame | None:
    path = folder / rel
    if not path.exists():
        if required:
            raise CaseError(f"{rel}: file missing in case folder {folder}")
        return None
    try:
        return pd.read_csv(
            path,
            dtype={c: str for c in ids},
            keep_default_na=False,
            na_values=[""],
            float_precision="round_trip",
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise CaseError(f"{rel}: cannot be read as CSV ({str(exc).splitlines()[0]})") from None


def _get(doc: dict, section: str, key: str, kind: type, default: Any = None) -> Any:
    sec = doc.get(section, {})
    if key not in sec:
        if default is None:
            raise CaseError(f"case.toml: [{section}] {key} is missing")
        return default
    val = sec[key]
    if kind is float and isinstance(val, int) and not isinstance(val, bool):
        val = float(val)
    if not isinstance(val, kind) or isinstance(val, bool) and kind is not bool:
        raise CaseError(f"case.toml: [{section}] {key} must be {kind.__name__}, got {val!r}")
    return val


def read_case(folder: str | Path) -> Case:
    """Read and validate a case folder; raise a one-line error naming file and element."""
    folder = Path(folder)
    toml_path = folder / "case.toml"
    if not toml_path.is_file():
        raise CaseError(f"case.toml: not found in {folder} (not a case folder)")
    try:
        doc = tomllib.loads(toml_path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise CaseError(f"case.toml: invalid TOML ({exc})") from None
    time = TimeGrid(
        steps=_get(doc, "time", "steps", int),
        dt_h=_get(doc, "time", "dt_h", float),
        start=_get(doc, "time", "start", str, "00:00"),
    )
    tables = {}
    for name, (rel, ids, _) in TABLES.items():
        df = _read_csv(folder, rel, ids, required=name not in OPTIONAL_TABLES)
        tables[name] = empty_table(name) if df is None else df
    feeder = Feeder(
        **tables,
        slack_bus=str(_get(doc, "grid", "slack_bus", str)),
        v_slack_pu=_get(doc, "grid", "v_slack_pu", float, 1.0),
        steps=time.steps,
        dt_h=time.dt_h,
    )
    unc = _read_csv(folder, UNCERTAINTY_FILE, ("bus", "kind"), required=False)
    traffic = None
    if (folder / "traffic").is_dir():
        traffic = TrafficData(*read_traffic_folder(folder, time.steps))
    evs = _read_csv(folder, FLEET_FILE, (*FLEET_IDS, "aggregator"), required=False)
    return Case(
        name=_get(doc, "case", "name", str),
        description=_get(doc, "case", "description", str, ""),
        time=time,
        feeder=feeder,
        uncertainty=Uncertainty() if unc is None else Uncertainty(unc),
        parameters=dict(doc.get("parameters", {})),
        gamma=_get(doc, "robust", "gamma", float, 0.0),
        traffic=traffic,
        fleet=None if evs is None else Fleet(evs),
        build=dict(doc.get("build", {})),
    )


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
