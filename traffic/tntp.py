"""Reader for TNTP road networks (github.com/bstabler/TransportationNetworks).

File format
-----------
- ``*_net.tntp``: a metadata block of ``<KEY> value`` lines ending with
  ``<END OF METADATA>``, then a ``~`` header line naming the columns (init_node, term_node,
  capacity, length, free_flow_time, b, power, speed, toll, link_type), then one link per
  line, whitespace separated, ending with ``;``.
- ``*_trips.tntp``: metadata block, then ``Origin o`` blocks of ``d : trips;`` pairs.
- ``*_node.tntp``: a header line (``Node X Y ;``) and one ``node x y ;`` line per node.
- Nodes ``1 .. FIRST THRU NODE - 1`` are *zones* (centroids): trips start and end there but
  no path may pass through them. Nodes from FIRST THRU NODE on are through nodes.

Units, per file of ``shared/data/transportation-networks``
----------------------------------------------------------
- SiouxFalls: capacity veh/h; free_flow_time in 0.01 h, conventionally read as minutes
  (``fft_unit_min=1``, the default); length set equal to free-flow time by the data's author
  (arbitrary unit, read as miles by default). Trips are approximate peak-hour OD flows
  (360,600 in total).
- Anaheim: capacity veh/h; length in feet (``length_unit_km=0.0003048``); free_flow_time in
  minutes. 38 zones, FIRST THRU NODE 39.
- Braess-Example: abstract units (free_flow_time read as minutes, capacity 1).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from traffic.network import RoadNetwork, TrafficDataError, TravelDemand

NET_COLUMNS = (
    "init_node",
    "term_node",
    "capacity",
    "length",
    "free_flow_time",
    "b",
    "power",
    "speed",
    "toll",
    "link_type",
)
_META = re.compile(r"^\s*<([^>]+)>\s*(.*)$")


def _split_metadata(path: Path) -> tuple[dict[str, str], list[str]]:
    meta: dict[str, str] = {}
    lines = Path(path).read_text().splitlines()
    for i, line in enumerate(lines):
        m = _META.match(line)
        if not m:
            if line.strip():
                return meta, lines[i:]
            continue
        key = m.group(1).strip().upper()
        if key == "END OF METADATA":
            return meta, lines[i + 1 :]
        meta[key] = m.group(2).strip()
    return meta, []


def read_tntp_net(path: str | Path) -> tuple[dict[str, str], pd.DataFrame]:
    """Read a ``_net.tntp`` file: (metadata, links table with the columns of its header).

    Node ids are returned as strings; numeric columns as floats.
    """
    meta, body = _split_metadata(Path(path))
    cols = list(NET_COLUMNS)
    rows = []
    for line in body:
        s = line.strip()
        if not s:
            continue
        if s.startswith("~"):
            cols = [c for c in s.lstrip("~").replace(";", " ").split()]
            continue
        parts = s.replace(";", " ").split()
        rows.append(parts[: len(cols)])
    df = pd.DataFrame(rows, columns=cols[: max((len(r) for r in rows), default=len(cols))])
    for c in df.columns:
        if c not in ("init_node", "term_node"):
            df[c] = pd.to_numeric(df[c])
    n = meta.get("NUMBER OF LINKS")
    if n is not None and int(n) != len(df):
        raise TrafficDataError(f"{Path(path).name}: metadata says {n} links, file has {len(df)}")
    return meta, df


def read_tntp_trips(path: str | Path) -> tuple[dict[str, str], pd.DataFrame]:
    """Read a ``_trips.tntp`` file: (metadata, table origin, destination, trips)."""
    meta, body = _split_metadata(Path(path))
    out_o, out_d, out_v = [], [], []
    origin = None
    pair = re.compile(r"(\S+)\s*:\s*([-+0-9.eE]+)")
    for line in body:
        s = line.strip()
        if not s:
            continue
        if s.lower().startswith("origin"):
            origin = s.split()[1]
            continue
        if origin is None:
            continue
        for d, v in pair.findall(s):
            out_o.append(origin)
            out_d.append(d)
            out_v.append(float(v))
    return meta, pd.DataFrame({"origin": out_o, "destination": out_d, "trips": out_v})


def read_tntp_nodes(path: str | Path) -> pd.DataFrame:
    """Read a ``_node.tntp`` file: table node, x, y."""
    rows = []
    for line in Path(path).read_text().splitlines()[1:]:
        parts = line.replace(";", " ").split()
        if len(parts) >= 3:
            rows.append((parts[0], float(parts[1]), float(parts[2])))
    return pd.DataFrame(rows, columns=["node", "x", "y"])


def default_departure_profile(steps: int, dt_h: float, start_step: int = 0) -> np.ndarray:
    """Default departure profile: the trip table is one hour of demand (TNTP tables are
    peak-hour OD flows), departing uniformly over the steps of the hour from ``start_step``.
    Returns weights per step summing to 1."""
    n = max(1, math.ceil(1.0 / dt_h - 1e-9))
    if start_step + n > steps:
        raise ValueError(
            f"the departure hour (steps {start_step}..{start_step + n - 1}) exceeds the horizon"
        )
    w = np.zeros(steps)
    w[start_step : start_step + n] = 1.0 / n
    return w


def tntp_to_traffic(
    net_file: str | Path,
    trips_file: str | Path,
    node_file: str | Path | None = None,
    *,
    steps: int,
    dt_h: float,
    ev_share: float,
    profile: Sequence[float] | np.ndarray | None = None,
    fft_unit_min: float = 1.0,
    length_unit_km: float = 1.609344,
    kwh_per_km: float = 0.18,
    battery_kwh: float = 60.0,
    soc_departure: float = 0.5,
    aggregator: str = "eva1",
    min_vehicles: float = 0.0,
) -> tuple[RoadNetwork, TravelDemand]:
    """Build a RoadNetwork and the EV TravelDemand from TNTP files.

    Parameters
    ----------
    net_file, trips_file, node_file : TNTP files (node file optional; coordinates NaN
        without it).
    steps, dt_h : the time grid (steps of ``dt_h`` hours).
    ev_share : fraction of the trips that are EVs (0..1].
    profile : departure weights per step (length ``steps``, normalised to sum 1); default
        :func:`default_departure_profile`.
    fft_unit_min : minutes per TNTP free-flow time unit (see the module docstring).
    length_unit_km : km per TNTP length unit.
    kwh_per_km, battery_kwh : consumption and battery size giving ``soc_per_vehicle``.
    soc_departure : mean SOC of departing EVs.
    aggregator : aggregator id of all trips.
    min_vehicles : drop ODs with fewer EVs than this over the horizon.

    Notes
    -----
    ``free_flow_steps = max(1, ceil(fft_min / (60 dt_h)))``;
    ``capacity_veh_per_step = capacity_veh_per_h * dt_h``. Zones below FIRST THRU NODE are
    recorded in ``nodes.through`` (False) and paths never pass through them.
    """
    meta, links = read_tntp_net(net_file)
    _, trips = read_tntp_trips(trips_file)
    first_thru = int(float(meta.get("FIRST THRU NODE", "1")))
    ids = pd.unique(pd.concat([links["init_node"], links["term_node"]]))
    if node_file is not None:
        nodes = read_tntp_nodes(node_file)
        extra = [n for n in ids if n not in set(nodes["node"])]
        if extra:
            nodes = pd.concat([nodes, pd.DataFrame({"node": extra, "x": np.nan, "y": np.nan})])
    else:
        order = sorted(ids, key=lambda s: (len(s), s))
        nodes = pd.DataFrame({"node": order, "x": np.nan, "y": np.nan})
    nodes = nodes.reset_index(drop=True)
    nodes["through"] = [int(n) >= first_thru if n.isdigit() else True for n in nodes["node"]]

    fft_h = links["free_flow_time"].to_numpy(float) * fft_unit_min / 60.0
    length_km = links["length"].to_numpy(float) * length_unit_km
    segs = pd.DataFrame(
        {
            "segment": links["init_node"] + "-" + links["term_node"],
            "from_node": links["init_node"],
            "to_node": links["term_node"],
            "length_km": length_km,
            "free_flow_steps": np.maximum(1, np.ceil(fft_h / dt_h - 1e-9)).astype(int),
            "capacity_veh_per_step": links["capacity"].to_numpy(float) * dt_h,
            "soc_per_vehicle": np.minimum(1.0, length_km * kwh_per_km / battery_kwh),
        }
    )
    dup = segs["segment"].duplicated(keep=False)
    if dup.any():
        segs.loc[dup, "segment"] += "#" + segs[dup].groupby("segment").cumcount().astype(str)
    network = RoadNetwork(nodes, segs)

    w = default_departure_profile(steps, dt_h) if profile is None else np.asarray(profile, float)
    if w.shape != (steps,) or (w < 0).any() or w.sum() <= 0:
        raise ValueError("profile must have one non-negative weight per step, not all zero")
    w = w / w.sum()
    od = trips[(trips["trips"] > 0) & (trips["origin"] != trips["destination"])].copy()
    od["ev"] = od["trips"] * ev_share
    od = od[od["ev"] > max(min_vehicles, 0.0)]
    ts = np.flatnonzero(w > 0)
    n_od = len(od)
    veh = np.repeat(od["ev"].to_numpy(), len(ts)) * np.tile(w[ts], n_od)
    table = pd.DataFrame(
        {
            "od": np.repeat((od["origin"] + "-" + od["destination"]).to_numpy(), len(ts)),
            "origin": np.repeat(od["origin"].to_numpy(), len(ts)),
            "destination": np.repeat(od["destination"].to_numpy(), len(ts)),
            "aggregator": aggregator,
            "t": np.tile(ts, n_od),
            "vehicles": veh,
            "soc_total": veh * soc_departure,
        }
    )
    return network, TravelDemand(table)
