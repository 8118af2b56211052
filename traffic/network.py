"""Road network, charging stations and EV travel demand: containers, validation and CSV IO.

Every table is a pandas DataFrame with one row per element and units in the column names.
Ids (node, segment, station, od, aggregator, bus) are strings; time steps ``t`` are integers
in ``0 .. steps-1``. Energy is counted in *battery equivalents*: the sum of the vehicles'
state-of-charge fractions (100 vehicles at SOC 0.4 carry 40 battery equivalents).

Any inconsistency raises :class:`TrafficDataError`, whose one-line message names the
case-folder file, the column and the element at fault, e.g.
``traffic/segments.csv: column capacity_veh_per_step: segment 'T1-T2' is negative (-5)``.

Case-folder files (written by :func:`write_traffic_folder`, read by
:func:`read_traffic_folder`):

- ``traffic/nodes.csv``: node, x, y
- ``traffic/segments.csv``: segment, from_node, to_node, length_km, free_flow_steps,
  capacity_veh_per_step, soc_per_vehicle (SOC fraction one vehicle uses on the segment)
- ``traffic/stations.csv`` (optional): station, node, bus, plugs, charger_kw (virtual
  charger powers in kW separated by ``;``, negative = discharge), efficiency
- ``traffic/demand.csv``: od, origin, destination, aggregator, t, vehicles, soc_total
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd

from common.validate import Where, bare, first
from traffic.registry import FILES, columns, required

# table -> (file in a case folder, id (string) columns, numeric columns) and the column order
# of the CSV files, both from the attribute registry (traffic/registry.py)
TABLES: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    t: (FILES[t][0], *required(t)) for t in FILES
}
COLUMNS: dict[str, tuple[str, ...]] = {t: columns(t) for t in FILES}


class TrafficDataError(ValueError):
    """Invalid traffic data; the message is one line naming file, column and element."""


# where each table's problems are told; a row is named by the table's first id column
WHERE = {t: Where(file, TrafficDataError, key=ids[0]) for t, (file, ids, _) in TABLES.items()}


def _check_columns(table: str, df: pd.DataFrame) -> pd.DataFrame:
    """Check required columns, cast id columns to str and numeric columns to numbers."""
    _, ids, nums = TABLES[table]
    w = WHERE[table]
    w.missing_columns(df, ids + nums, "required column is missing")
    out = df.copy()
    for col in ids:
        w.check(col, out[col].isna(), lambda i: f"row {i} is empty")
        out[col] = out[col].astype(str)
    for col in nums:
        if not pd.api.types.is_numeric_dtype(out[col]):
            conv = pd.to_numeric(out[col], errors="coerce")
            w.check(
                col,
                conv.isna() & out[col].notna(),
                lambda i, col=col: (
                    f"{w.label(out, i, show=bare)} is not a number ({out[col].iloc[i]!r})"
                ),
            )
            out[col] = conv
        if col not in ("x", "y"):
            w.check(col, out[col].isna(), lambda i: f"{w.label(out, i, show=bare)} has no value")
        w.check(
            col,
            np.isinf(out[col].to_numpy(dtype=float)),
            lambda i, col=col: (
                f"{w.label(out, i, show=bare)} is not a finite number "
                f"({out[col].iloc[i]}; write a finite number)"
            ),
        )
    return out.reset_index(drop=True)


def _unique_ids(table: str, df: pd.DataFrame, col: str) -> None:
    """The first repeated id of ``col``: ``duplicate node id 'A'``."""
    WHERE[table].check(
        col, df[col].duplicated(), lambda i: f"duplicate {col} id '{df[col].iloc[i]}'"
    )


def _check_bounds(
    table: str,
    df: pd.DataFrame,
    col: str,
    *,
    lo: float | None = None,
    lo_open: bool = False,
    hi: float | None = None,
    integer: bool = False,
) -> None:
    """The first row of ``col`` that is not whole (``integer``) or lies outside the bounds."""
    vals = df[col].to_numpy(dtype=float)
    checks = []
    if integer:
        checks.append((vals != np.round(vals), "is not an integer"))
    if lo is not None:
        if lo_open:
            checks.append((vals <= lo, f"must be > {lo:g}"))
        else:
            checks.append((vals < lo, "is negative" if lo == 0 else f"must be >= {lo:g}"))
    if hi is not None:
        checks.append((vals > hi, f"must be <= {hi:g}"))
    w = WHERE[table]
    for bad, what in checks:
        w.check(
            col,
            bad,
            lambda i, what=what: f"{w.label(df, i, show=bare)} {what} ({df[col].iloc[i]:g})",
        )


def parse_charger_kw(text: str) -> tuple[float, ...]:
    """Parse a ``;``-separated list of virtual charger powers (kW, negative = discharge)."""
    parts = [p.strip() for p in str(text).split(";") if p.strip()]
    if not parts:
        raise ValueError("no charger power given")
    powers = tuple(float(p) for p in parts)
    if not all(np.isfinite(p) and abs(p) < 1e9 for p in powers):
        raise ValueError("charger powers must be finite numbers of kW")
    return powers


@dataclass(frozen=True)
class RoadNetwork:
    """A directed road network.

    Parameters
    ----------
    nodes : node (id), x, y (coordinates, any planar or lon/lat unit).
    segments : segment (id), from_node, to_node, length_km (km), free_flow_steps (integer
        number of time steps to traverse the segment at free flow, >= 1),
        capacity_veh_per_step (vehicles that can leave the segment per step),
        soc_per_vehicle (SOC fraction, of one battery, that one vehicle uses on the segment).
    """

    nodes: pd.DataFrame
    segments: pd.DataFrame

    def __post_init__(self) -> None:
        nodes = _check_columns("nodes", self.nodes)
        segs = _check_columns("segments", self.segments)
        _unique_ids("nodes", nodes, "node")
        _unique_ids("segments", segs, "segment")
        known = set(nodes["node"])
        for col in ("from_node", "to_node"):
            i = first(~segs[col].isin(known))
            if i is not None:
                raise WHERE["segments"].error_for(
                    col,
                    f"segment '{segs['segment'].iloc[i]}' refers to unknown node "
                    f"'{segs[col].iloc[i]}'",
                )
        i = first(segs["from_node"] == segs["to_node"])
        if i is not None:
            raise WHERE["segments"].error_for(
                "to_node", f"segment '{segs['segment'].iloc[i]}' is a loop"
            )
        _check_bounds("segments", segs, "length_km", lo=0)
        _check_bounds("segments", segs, "free_flow_steps", lo=1, integer=True)
        _check_bounds("segments", segs, "capacity_veh_per_step", lo=0)
        _check_bounds("segments", segs, "soc_per_vehicle", lo=0, hi=1)
        object.__setattr__(self, "nodes", nodes)
        object.__setattr__(self, "segments", segs)
        uf = nx.utils.UnionFind(nodes["node"])
        for a, b in zip(segs["from_node"], segs["to_node"]):
            uf.union(a, b)
        parts = list(uf.to_sets())
        if len(parts) > 1:
            main = max(parts, key=len)
            lost = next(n for n in nodes["node"] if n not in main)
            raise WHERE["nodes"].error_for(
                "node",
                f"node '{lost}' is not connected to the rest of the road network "
                f"({len(parts)} disconnected parts)",
            )

    @cached_property
    def graph(self) -> nx.DiGraph:
        """Directed graph; edge attributes segment, free_flow_steps, length_km.

        Of parallel segments (same from and to node) the graph keeps the fastest one.
        """
        g = nx.DiGraph()
        g.add_nodes_from(self.nodes["node"])
        order = self.segments.sort_values(
            ["free_flow_steps", "length_km"], ascending=False, kind="stable"
        )
        for s, a, b, ff, km in order[
            ["segment", "from_node", "to_node", "free_flow_steps", "length_km"]
        ].itertuples(index=False):
            g.add_edge(a, b, segment=s, free_flow_steps=int(ff), length_km=float(km))
        return g


@dataclass(frozen=True)
class Stations:
    """Fast-charging stations (FCS) on road nodes.

    Parameters
    ----------
    table : station (id), node (road node), bus (grid bus id, used only by the coupling),
        plugs (number of vehicles that can charge at once, > 0), charger_kw (``;``-separated
        powers of the virtual chargers in kW at the grid side, negative = discharge / V2G),
        efficiency (charger efficiency in (0, 1]).
    """

    table: pd.DataFrame

    def __post_init__(self) -> None:
        t = _check_columns("stations", self.table)
        _unique_ids("stations", t, "station")
        _check_bounds("stations", t, "plugs", lo=0, lo_open=True)
        _check_bounds("stations", t, "efficiency", lo=0, lo_open=True, hi=1)
        for s, text in zip(t["station"], t["charger_kw"], strict=True):
            try:
                parse_charger_kw(text)
            except ValueError:
                raise WHERE["stations"].error_for(
                    "charger_kw",
                    f"station '{s}' has no valid powers ({text!r}; write finite kW values "
                    "separated by ';', e.g. 50;22)",
                ) from None
        object.__setattr__(self, "table", t)

    @cached_property
    def chargers(self) -> dict[str, tuple[float, ...]]:
        """Station id -> virtual charger powers (kW)."""
        return {
            s: parse_charger_kw(c)
            for s, c in zip(self.table["station"], self.table["charger_kw"], strict=True)
        }

    def validate(self, network: RoadNetwork) -> None:
        """Check that every station sits on a known road node."""
        i = first(~self.table["node"].isin(set(network.nodes["node"])))
        if i is not None:
            raise WHERE["stations"].error_for(
                "node",
                f"station '{self.table['station'].iloc[i]}' is at unknown node "
                f"'{self.table['node'].iloc[i]}'",
            )


@dataclass(frozen=True)
class TravelDemand:
    """EV trips per origin-destination pair (OD) and departure step.

    Parameters
    ----------
    table : od (id), origin, destination (road nodes), aggregator (EV aggregator id), t
        (departure step), vehicles (vehicles departing), soc_total (their summed SOC at
        departure, battery equivalents; mean SOC = soc_total / vehicles).
    """

    table: pd.DataFrame

    def __post_init__(self) -> None:
        t = _check_columns("demand", self.table)
        _check_bounds("demand", t, "t", lo=0, integer=True)
        _check_bounds("demand", t, "vehicles", lo=0)
        _check_bounds("demand", t, "soc_total", lo=0)
        i = first(t["soc_total"] > t["vehicles"] * (1 + 1e-9) + 1e-12)
        if i is not None:
            raise WHERE["demand"].error_for(
                "soc_total",
                f"od '{t['od'].iloc[i]}' at t={t['t'].iloc[i]} exceeds its vehicles "
                f"({t['soc_total'].iloc[i]:g} > {t['vehicles'].iloc[i]:g})",
            )
        i = first(t.duplicated(["od", "t"]))
        if i is not None:
            raise WHERE["demand"].error_for(
                "t", f"od '{t['od'].iloc[i]}' has two rows for t={t['t'].iloc[i]}"
            )
        if "arrival_soc" in t:
            conv = pd.to_numeric(t["arrival_soc"], errors="coerce")
            bad = (conv.isna() & t["arrival_soc"].notna()) | (conv < 0) | (conv > 1)
            i = first(bad)
            if i is not None:
                raise WHERE["demand"].error_for(
                    "arrival_soc",
                    f"od '{t['od'].iloc[i]}' must be empty or in [0, 1] "
                    f"({t['arrival_soc'].iloc[i]!r})",
                )
            t["arrival_soc"] = conv
        for col in ("origin", "destination", "aggregator") + (
            ("arrival_soc",) if "arrival_soc" in t else ()
        ):
            n = t.groupby("od")[col].nunique()
            if (n > 1).any():
                raise WHERE["demand"].error_for(
                    col, f"od '{n.index[n > 1][0]}' has more than one {col}"
                )
        i = first(t["origin"] == t["destination"])
        if i is not None:
            raise WHERE["demand"].error_for(
                "destination", f"od '{t['od'].iloc[i]}' ends where it starts"
            )
        per_agg = t.groupby("aggregator", sort=False)["vehicles"].sum()
        if len(per_agg) and (per_agg <= 0).any():
            a = per_agg.index[per_agg <= 0][0]
            raise WHERE["demand"].error_for(
                "vehicles",
                f"aggregator '{a}' has no departing vehicles (give it vehicles or remove its rows)",
            )
        object.__setattr__(self, "table", t)

    @cached_property
    def ods(self) -> pd.DataFrame:
        """One row per OD: od, origin, destination, aggregator, vehicles, soc_total."""
        g = self.table.groupby("od", sort=False)
        cols = ["origin", "destination", "aggregator"] + (
            ["arrival_soc"] if "arrival_soc" in self.table else []
        )
        first = g[cols].first()
        sums = g[["vehicles", "soc_total"]].sum()
        return first.join(sums).reset_index()

    def for_aggregators(self, aggregators: list[str] | tuple[str, ...]) -> TravelDemand:
        """The demand of the given aggregators only."""
        return TravelDemand(self.table[self.table["aggregator"].isin(list(aggregators))])

    def validate(self, network: RoadNetwork, steps: int) -> None:
        """Check nodes, the time grid and that every OD has a path in ``network``."""
        t = self.table
        known = set(network.nodes["node"])
        for col in ("origin", "destination"):
            i = first(~t[col].isin(known))
            if i is not None:
                raise WHERE["demand"].error_for(
                    col,
                    f"od '{t['od'].iloc[i]}' refers to unknown node '{t[col].iloc[i]}'",
                )
        i = first(t["t"] >= steps)
        if i is not None:
            raise WHERE["demand"].error_for(
                "t",
                f"od '{t['od'].iloc[i]}' departs at t={t['t'].iloc[i]} outside 0..{steps - 1}",
            )
        g = network.graph
        for od, o, d in self.ods[["od", "origin", "destination"]].itertuples(index=False):
            if not nx.has_path(g, o, d):
                raise WHERE["demand"].error_for(
                    "destination", f"od '{od}' has no path from '{o}' to '{d}'"
                )


def validate_traffic(
    network: RoadNetwork, stations: Stations | None, demand: TravelDemand, steps: int
) -> None:
    """Cross-check stations and demand against the network and a grid of ``steps`` steps."""
    if stations is not None:
        stations.validate(network)
    demand.validate(network, steps)


# ---------------------------------------------------------------------- folder IO
def _read(folder: Path, table: str) -> pd.DataFrame:
    rel, ids, _ = TABLES[table]
    path = Path(folder) / rel
    if not path.exists():
        raise TrafficDataError(f"{rel}: file not found in {folder}")
    return pd.read_csv(
        path,
        dtype={c: str for c in ids},
        keep_default_na=False,
        na_values={"x": [""], "y": [""], "arrival_soc": [""]},
        float_precision="round_trip",
    )


def read_traffic_folder(
    folder: str | Path, steps: int
) -> tuple[RoadNetwork, Stations | None, TravelDemand]:
    """Read ``traffic/*.csv`` of a case folder and validate them on a grid of ``steps`` steps.

    ``traffic/stations.csv`` is optional (None when absent).
    """
    folder = Path(folder)
    network = RoadNetwork(_read(folder, "nodes"), _read(folder, "segments"))
    stations = None
    if (folder / TABLES["stations"][0]).exists():
        stations = Stations(_read(folder, "stations"))
    demand = TravelDemand(_read(folder, "demand"))
    validate_traffic(network, stations, demand, steps)
    return network, stations, demand


def write_traffic_folder(
    folder: str | Path,
    network: RoadNetwork,
    stations: Stations | None,
    demand: TravelDemand,
) -> list[Path]:
    """Write ``traffic/*.csv`` into ``folder``; returns the files written.

    Reading the files back with :func:`read_traffic_folder` and writing them again gives
    byte-identical files.
    """
    folder = Path(folder)
    (folder / "traffic").mkdir(parents=True, exist_ok=True)
    frames = {"nodes": network.nodes, "segments": network.segments, "demand": demand.table}
    if stations is not None:
        frames["stations"] = stations.table
    out = []
    for name, df in frames.items():
        path = folder / TABLES[name][0]
        cols = [c for c in COLUMNS[name] if c in df.columns]
        extra = [c for c in df.columns if c not in cols]
        df[cols + extra].to_csv(path, index=False, lineterminator="\n")
        out.append(path)
    return out


def check_departure_soc(demand: TravelDemand, soc_min: float) -> None:
    """Refuse departures whose mean SOC (``soc_total / vehicles``) is below ``soc_min``: no
    vehicle may start below the floor it must keep.

    Raises
    ------
    TrafficDataError : naming the OD and departure step.
    """
    dem = demand.table[demand.table["vehicles"] > 0]
    low = dem["soc_total"] < soc_min * dem["vehicles"] - 1e-9
    if low.any():
        r = dem[low].iloc[0]
        raise TrafficDataError(
            f"traffic/demand.csv: column soc_total: od '{r['od']}' at t={r['t']} has mean SOC "
            f"{r['soc_total'] / r['vehicles']:.3g} below soc_min {soc_min:g} (raise soc_total "
            "or lower [parameters] soc_min in case.toml)"
        )
