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

Units
-----
Lengths and free-flow times come in different units per network. They are taken, in this
order, from the command line (``length_unit``, ``time_unit``), from the ``<ORIGINAL HEADER>``
metadata line where it states them (e.g. ``Length (ft)``, ``fftt(min)``), from
:data:`KNOWN_UNITS` for networks whose README states them, and otherwise read as miles and
minutes with a warning. Per file of ``shared/data/transportation-networks``:

- SiouxFalls: capacity veh/h; free-flow times in 0.01 h by the README, "often viewed as if
  they were minutes" (the reading evtp keeps by default, 60 mph on every link); lengths set
  equal to free-flow times by the data's author, read as miles (the README's 1973 source
  gives lengths in miles). Trips are approximate hourly OD flows (360,600 in total).
- Anaheim: header ``Length (ft)``, ``Free Flow Time (min)``. 38 zones, FIRST THRU NODE 39.
  Node coordinates come as ``anaheim_nodes.geojson`` (lon/lat), also read here.
- Chicago-Sketch: header ``length (miles)``, ``fftt(min)``; centroid connectors have a
  free-flow time of 0.
- Braess-Example: abstract units (read as miles and minutes, not checked for plausibility).

Implausible readings are refused with the link named (:func:`check_plausible`): a link
longer than 100 km, speeds over 200 km/h on more than 1 % of the links, or a free-flow time
of 0 on a link that is not a zone connector (a link touching a zone, node id <= NUMBER OF
ZONES). A few fast links are a quirk of the data and are slowed to 200 km/h with a warning.
"""

from __future__ import annotations

import json
import math
import re
import warnings
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

LENGTH_UNITS_KM: dict[str, float] = {"km": 1.0, "m": 1e-3, "mi": 1.609344, "ft": 0.0003048}
TIME_UNITS_MIN: dict[str, float] = {"min": 1.0, "h": 60.0, "0.01h": 0.6, "s": 1.0 / 60.0}
# (length unit, free-flow time unit) of networks whose files do not state them
KNOWN_UNITS: dict[str, tuple[str, str]] = {"SiouxFalls": ("mi", "min"), "Braess": ("mi", "min")}
# networks in abstract units (no plausibility checks)
ABSTRACT = {"Braess"}
MAX_LINK_KM = 100.0
MAX_SPEED_KMH = 200.0
MAX_FAST_SHARE = 0.01
_HEADER_LENGTH = {"ft": "ft", "feet": "ft", "mi": "mi", "mile": "mi", "miles": "mi"}
_HEADER_LENGTH |= {"km": "km", "m": "m", "meters": "m", "metres": "m"}
_HEADER_TIME = {"min": "min", "mins": "min", "minutes": "min", "h": "h", "hr": "h", "hours": "h"}
_HEADER_TIME |= {"s": "s", "sec": "s", "seconds": "s", "0.01 h": "0.01h", "0.01h": "0.01h"}


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
    """Read a ``_node.tntp`` file, or a GeoJSON file of points with an ``id`` property (as
    Anaheim's ``anaheim_nodes.geojson``): table node, x, y."""
    if str(path).lower().endswith((".geojson", ".json")):
        feats = json.loads(Path(path).read_text())["features"]
        return pd.DataFrame(
            [
                (str(f["properties"]["id"]), *map(float, f["geometry"]["coordinates"][:2]))
                for f in feats
            ],
            columns=["node", "x", "y"],
        )
    rows = []
    for line in Path(path).read_text().splitlines()[1:]:
        parts = line.replace(";", " ").split()
        if len(parts) >= 3:
            rows.append((parts[0], float(parts[1]), float(parts[2])))
    return pd.DataFrame(rows, columns=["node", "x", "y"])


def tntp_units(
    meta: dict[str, str],
    net_file: str | Path,
    length_unit: str | None = None,
    time_unit: str | None = None,
) -> tuple[str, str, str]:
    """(length unit, free-flow time unit, where they came from) of a ``_net.tntp`` file, by
    the order of the module docstring. Units are keys of :data:`LENGTH_UNITS_KM` and
    :data:`TIME_UNITS_MIN`."""
    for unit, table, opt in (
        (length_unit, LENGTH_UNITS_KM, "--length-unit"),
        (time_unit, TIME_UNITS_MIN, "--time-unit"),
    ):
        if unit is not None and unit not in table:
            raise TrafficDataError(f"{opt} {unit!r}: use one of {', '.join(table)}")
    header = meta.get("ORIGINAL HEADER", "").lower()
    m_len = re.search(r"length\s*\(([^)]*)\)", header)
    m_time = re.search(r"(?:free flow time|fftt)\s*\(([^)]*)\)", header)
    from_header = (
        _HEADER_LENGTH.get(m_len.group(1).strip()) if m_len else None,
        _HEADER_TIME.get(m_time.group(1).strip()) if m_time else None,
    )
    known = KNOWN_UNITS.get(Path(net_file).name.split("_")[0], (None, None))
    out, said = [], []
    for given, header_unit, known_unit, fallback, what in (
        (length_unit, from_header[0], known[0], "mi", "lengths"),
        (time_unit, from_header[1], known[1], "min", "free-flow times"),
    ):
        for unit, source in (
            (given, "given"),
            (header_unit, "file header"),
            (known_unit, "known network"),
            (fallback, "assumed"),
        ):
            if unit is not None:
                out.append(unit)
                said.append(f"{what} in {unit} ({source})")
                break
    return out[0], out[1], "; ".join(said)


class TntpWarning(UserWarning):
    """A TNTP file was read with an assumption or a repair the user should know of."""


def check_plausible(
    links: pd.DataFrame, length_km: np.ndarray, fft_min: np.ndarray, zones: int, file: str
) -> np.ndarray:
    """Refuse implausible readings, naming the link: a link longer than :data:`MAX_LINK_KM`,
    a free-flow time of 0 on a link that is not a zone connector, and speeds over
    :data:`MAX_SPEED_KMH` on more than :data:`MAX_FAST_SHARE` of the links (a unit error).
    A few such fast links are a quirk of the data (Chicago-Sketch has 8 of 2,950): their
    free-flow time is raised to the time at :data:`MAX_SPEED_KMH`, with a
    :class:`TntpWarning`. Returns the free-flow times (min) to use."""
    name = (links["init_node"] + "-" + links["term_node"]).to_numpy()
    hint = "check --length-unit and --time-unit"
    i = np.flatnonzero(length_km > MAX_LINK_KM)
    if len(i):
        raise TrafficDataError(
            f"{file}: link {name[i[0]]} is {length_km[i[0]]:.0f} km long (> {MAX_LINK_KM:g} km); "
            f"{hint}"
        )
    num = {c: pd.to_numeric(links[c], errors="coerce").to_numpy(float) for c in links.columns[:2]}
    connector = (num["init_node"] <= zones) | (num["term_node"] <= zones)
    i = np.flatnonzero((fft_min <= 0) & ~connector)
    if len(i):
        raise TrafficDataError(
            f"{file}: link {name[i[0]]} has a free-flow time of 0 and is not a zone connector"
        )
    with np.errstate(divide="ignore", invalid="ignore"):
        speed = np.where(fft_min > 0, length_km / (fft_min / 60.0), 0.0)
    fast = np.flatnonzero(speed > MAX_SPEED_KMH)
    if len(fast) > MAX_FAST_SHARE * len(links):
        i = fast[0]
        raise TrafficDataError(
            f"{file}: {len(fast)} of {len(links)} links run faster than {MAX_SPEED_KMH:g} km/h "
            f"(link {name[i]}: {speed[i]:.0f} km/h); {hint}"
        )
    if len(fast):
        listed = ", ".join(f"{name[i]} ({speed[i]:.0f} km/h)" for i in fast[:4])
        warnings.warn(
            f"{file}: {len(fast)} links faster than {MAX_SPEED_KMH:g} km/h ({listed}"
            f"{', ...' if len(fast) > 4 else ''}): free-flow times raised to that speed",
            TntpWarning,
            stacklevel=3,
        )
        fft_min = fft_min.copy()
        fft_min[fast] = length_km[fast] / MAX_SPEED_KMH * 60.0
    return fft_min


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


def tntp_network(
    net_file: str | Path,
    node_file: str | Path | None = None,
    *,
    dt_h: float,
    fft_unit_min: float | None = None,
    length_unit_km: float | None = None,
    kwh_per_km: float = 0.18,
    battery_kwh: float = 60.0,
) -> RoadNetwork:
    """The RoadNetwork of a ``_net.tntp`` file (node file optional: coordinates NaN without
    it), on steps of ``dt_h`` hours; units by :func:`tntp_units` unless given (minutes per
    free-flow time unit, km per length unit); ``soc_per_vehicle`` from ``kwh_per_km`` and
    ``battery_kwh``. Zones below FIRST THRU NODE get ``through`` False.

    ``free_flow_steps = max(1, ceil(fft_min / (60 dt_h)))``;
    ``capacity_veh_per_step = capacity_veh_per_h * dt_h``.
    """
    meta, links = read_tntp_net(net_file)
    first_thru = int(float(meta.get("FIRST THRU NODE", "1")))
    ids = pd.unique(pd.concat([links["init_node"], links["term_node"]]))
    if node_file is not None:
        nodes = read_tntp_nodes(node_file)
        known = set(nodes["node"])
        extra = [n for n in ids if n not in known]
        if extra:
            nodes = pd.concat([nodes, pd.DataFrame({"node": extra, "x": np.nan, "y": np.nan})])
    else:
        order = sorted(ids, key=lambda s: (len(s), s))
        nodes = pd.DataFrame({"node": order, "x": np.nan, "y": np.nan})
    nodes = nodes.reset_index(drop=True)
    nodes["through"] = [int(n) >= first_thru if n.isdigit() else True for n in nodes["node"]]

    l_unit, t_unit, said = tntp_units(meta, net_file)
    if "assumed" in said and (fft_unit_min is None or length_unit_km is None):
        warnings.warn(f"{Path(net_file).name}: units not stated, {said}", TntpWarning, stacklevel=2)
    length_unit_km = LENGTH_UNITS_KM[l_unit] if length_unit_km is None else length_unit_km
    fft_unit_min = TIME_UNITS_MIN[t_unit] if fft_unit_min is None else fft_unit_min
    fft_min = links["free_flow_time"].to_numpy(float) * fft_unit_min
    length_km = links["length"].to_numpy(float) * length_unit_km
    zones = int(float(meta.get("NUMBER OF ZONES", "0")))
    if Path(net_file).name.split("_")[0] not in ABSTRACT:
        fft_min = check_plausible(links, length_km, fft_min, zones, Path(net_file).name)
    fft_h = fft_min / 60.0
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
    return RoadNetwork(nodes, segs)


def tntp_to_traffic(
    net_file: str | Path,
    trips_file: str | Path,
    node_file: str | Path | None = None,
    *,
    steps: int,
    dt_h: float,
    ev_share: float,
    profile: Sequence[float] | np.ndarray | None = None,
    fft_unit_min: float | None = None,
    length_unit_km: float | None = None,
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
    fft_unit_min : minutes per TNTP free-flow time unit (None: by :func:`tntp_units`).
    length_unit_km : km per TNTP length unit (None: by :func:`tntp_units`).
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
    network = tntp_network(
        net_file,
        node_file,
        dt_h=dt_h,
        fft_unit_min=fft_unit_min,
        length_unit_km=length_unit_km,
        kwh_per_km=kwh_per_km,
        battery_kwh=battery_kwh,
    )
    _, trips = read_tntp_trips(trips_file)
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
