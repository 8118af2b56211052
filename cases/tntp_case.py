"""Coupled cases from a TNTP road network and a feeder (``evtp build --tntp``).

What the build does, in order (each step documented in its module):

1. the road network, in the units of the file (``traffic/tntp.py``: header, known network
   or ``--length-unit`` / ``--time-unit``; implausible readings refused);
2. the feeder on the case's time grid (``--steps`` / ``--dt-h``; ``power/resample.py``)
   and, where its lines carry no rating that can bind, derived ratings
   (``--line-headroom``; ``power/ratings.py``);
3. the EV demand (``traffic/ev_demand.py``: departure profile, departure SOC, trip
   energy, who must stop and who intends to charge);
4. the demand split among ``--aggregators`` by origin zone (``traffic/aggregators.py``);
5. OD pairs carrying less than ``--min-od-vehicles`` EVs over the horizon merged onto kept
   ones of the same aggregator (``traffic/aggregate.py``), vehicles and SOC conserved, the
   vehicle-km error reported; departures that the kept OD could no longer complete in the
   horizon move to its latest feasible step (counted);
6. stations by the rule below; ``[parameters] path_stops = "needed"`` so that only trips
   that need or intend to charge get paths with stops.

Everything the build decided is kept in ``case.toml [build]`` (:attr:`Case.build`).

Station placement rule (documented, deterministic):

1. Node demand = EV trips starting plus ending at the node over the horizon; the ``n``
   through-nodes of highest demand get a station (ties broken by node id).
2. Station -> bus: when both the road nodes and the feeder buses have coordinates, both
   layouts are scaled to the unit square and each station (in order of demand) takes the
   nearest non-slack bus not yet taken (the nearest overall once every bus is taken);
   otherwise stations take the non-slack buses in order of decreasing downstream load, i.e.
   the strongest connection points first, cycling when there are more stations than buses.
3. Each station gets ``plugs`` plugs and one virtual charger of ``charger_kw`` at
   ``efficiency``.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from cases.case import Case, CaseError, TimeGrid, TrafficData
from power.ratings import DEFAULT_HEADROOM, derive_line_ratings
from power.resample import resample_feeder
from traffic.aggregate import aggregate_demand
from traffic.aggregators import assign_aggregators
from traffic.ev_demand import EvDemandModel, charge_steps, clip_departures, ev_demand
from traffic.graph import through_blocked
from traffic.network import Stations, TravelDemand
from traffic.tntp import (
    LENGTH_UNITS_KM,
    TIME_UNITS_MIN,
    TntpWarning,
    read_tntp_net,
    read_tntp_trips,
    tntp_network,
    tntp_units,
)


def _unit(xy: np.ndarray) -> np.ndarray:
    lo, hi = np.nanmin(xy, axis=0), np.nanmax(xy, axis=0)
    return (xy - lo) / np.where(hi > lo, hi - lo, 1.0)


def place_stations(
    nodes: pd.DataFrame, demand: TravelDemand, case: Case, n: int
) -> list[tuple[str, str]]:
    """(road node, feeder bus) of ``n`` stations by the rule of the module docstring."""
    dem = demand.table
    per_node = (
        pd.concat(
            [
                dem.groupby("origin")["vehicles"].sum(),
                dem.groupby("destination")["vehicles"].sum(),
            ]
        )
        .groupby(level=0)
        .sum()
    )
    through = nodes.loc[nodes.get("through", pd.Series(True, nodes.index)).astype(bool), "node"]
    per_node = per_node.reindex(through, fill_value=0.0)
    ranked = sorted(per_node.index, key=lambda k: (-per_node[k], len(k), k))[:n]
    if len(ranked) < n:
        raise CaseError(f"--stations {n}: the road network has only {len(ranked)} through nodes")
    f = case.feeder
    cand = [b for b in f.bus_ids if b != f.slack_bus]
    buses = f.buses.set_index("bus")
    node_xy = nodes.set_index("node").loc[ranked, ["x", "y"]].to_numpy(float)
    if {"x", "y"} <= set(buses.columns) and not (
        np.isnan(node_xy).any() or buses.loc[cand, ["x", "y"]].isna().to_numpy().any()
    ):
        bus_xy = _unit(buses.loc[cand, ["x", "y"]].to_numpy(float))
        node_u = _unit(node_xy)
        taken: set[int] = set()
        out = []
        for i, node in enumerate(ranked):
            dist = np.hypot(*(bus_xy - node_u[i]).T)
            order = np.argsort(dist, kind="stable")
            free = [j for j in order if j not in taken]
            j = free[0] if free else order[0]
            taken.add(int(j))
            out.append((node, cand[j]))
        return out
    acc = f.load_p_kw.sum(axis=1)
    tree = f.tree
    for b in tree.order[::-1][:-1]:  # leaves first: downstream load of every bus
        acc[tree.parent_bus[tree.parent_line[b]]] += acc[b]
    down = acc
    order = sorted(cand, key=lambda b: (-down[f.bus_pos[b]], f.bus_pos[b]))
    return [(node, order[i % len(order)]) for i, node in enumerate(ranked)]


@dataclass(frozen=True)
class TntpBuild:
    """Options of ``evtp build --tntp`` besides the demand model.

    stations, plugs, charger_kw, efficiency : stations (count, plugs each, kW, fraction).
    steps, dt_h : time grid (None: the feeder's).
    length_unit, time_unit : TNTP units (None: ``traffic.tntp.tntp_units``).
    line_headroom : ratings of unrated lines over their base-load peak (power/ratings.py).
    min_od_vehicles, max_ods : demand aggregation (0 and None: none).
    max_delay_steps, penalty_per_vehicle : written to ``[parameters]``.
    aggregators : the demand split by origin zone among this many aggregators
        (``traffic/aggregators.py``).
    """

    stations: int = 4
    plugs: int = 20
    charger_kw: float = 50.0
    efficiency: float = 0.95
    steps: int | None = None
    dt_h: float | None = None
    length_unit: str | None = None
    time_unit: str | None = None
    line_headroom: float = DEFAULT_HEADROOM
    min_od_vehicles: float = 1.0
    max_ods: int | None = None
    max_delay_steps: int = 4
    penalty_per_vehicle: float = 1000.0
    aggregators: int = 1


def _clock_hours(start: str) -> float:
    try:
        h, m = (start.split(":") + ["0"])[:2]
        return float(h) + float(m) / 60.0
    except ValueError:
        return 0.0


def build_tntp_case(
    feeder_case: Case,
    net_file: str | Path,
    trips_file: str | Path,
    node_file: str | Path | None,
    demand_model: EvDemandModel | None = None,
    opts: TntpBuild | None = None,
    *,
    name: str | None = None,
) -> Case:
    """A coupled case from TNTP files and a feeder case, by the steps of the module
    docstring; what was decided is in the case's ``build`` record."""
    model = demand_model or EvDemandModel()
    opts = opts or TntpBuild()
    if opts.stations < 0:
        raise CaseError(f"--stations must be >= 0, got {opts.stations}")
    if opts.plugs < 1 or not 0 < opts.efficiency <= 1 or not np.isfinite(opts.charger_kw):
        raise CaseError("--plugs must be >= 1, efficiency in (0, 1], --charger-kw finite")
    if opts.min_od_vehicles < 0 or (opts.max_ods is not None and opts.max_ods < 1):
        raise CaseError("--min-od-vehicles must be >= 0 and --max-ods >= 1")
    tg = feeder_case.time
    steps = tg.steps if opts.steps is None else int(opts.steps)
    dt_h = tg.dt_h if opts.dt_h is None else float(opts.dt_h)
    if steps < 1 or not (np.isfinite(dt_h) and dt_h > 0):
        raise CaseError(f"--steps must be >= 1 and --dt-h > 0, got {steps}, {dt_h}")
    feeder = resample_feeder(feeder_case.feeder, steps, dt_h)
    feeder, rated = derive_line_ratings(feeder, opts.line_headroom)

    meta, _ = read_tntp_net(net_file)
    l_unit, t_unit, units = tntp_units(meta, net_file, opts.length_unit, opts.time_unit)
    if "assumed" in units:
        warnings.warn(
            f"{Path(net_file).name}: units not stated, {units}", TntpWarning, stacklevel=2
        )
    network = tntp_network(
        net_file,
        node_file,
        dt_h=dt_h,
        length_unit_km=LENGTH_UNITS_KM[l_unit],
        fft_unit_min=TIME_UNITS_MIN[t_unit],
        kwh_per_km=model.kwh_per_km,
        battery_kwh=model.battery_kwh,
    )
    _, trips = read_tntp_trips(trips_file)
    demand, stats = ev_demand(
        trips, network, model, steps=steps, dt_h=dt_h, start_h=_clock_hours(tg.start)
    )
    if not len(demand.table):
        raise CaseError("the trips give no EV demand (check --ev-share and the horizon)")
    try:
        split = assign_aggregators(demand.table, opts.aggregators)
    except ValueError as exc:
        raise CaseError(str(exc)) from None
    table, agg = aggregate_demand(
        split,
        network.segments,
        min_vehicles=opts.min_od_vehicles,
        max_ods=opts.max_ods,
        blocked=through_blocked(network.nodes),
    )
    table, moved = clip_departures(table, network, steps, charge_steps(model, dt_h))
    demand = TravelDemand(table)
    st = None
    if opts.stations:
        placed = place_stations(
            network.nodes,
            demand,
            replace(feeder_case, feeder=feeder, time=TimeGrid(steps, dt_h, tg.start), fleet=None),
            opts.stations,
        )
        st = Stations(
            pd.DataFrame(
                {
                    "station": [f"S{i + 1}" for i in range(len(placed))],
                    "node": [n for n, _ in placed],
                    "bus": [b for _, b in placed],
                    "plugs": float(opts.plugs),
                    "charger_kw": f"{opts.charger_kw:g}",
                    "efficiency": opts.efficiency,
                }
            )
        )
    net_name = Path(net_file).name.removesuffix("_net.tntp")
    params = dict(feeder_case.parameters) | {
        "battery_kwh": model.battery_kwh,
        "soc_min": model.soc_min,
        "path_stops": "needed",
        "max_delay_steps": opts.max_delay_steps,
        "penalty_per_vehicle": opts.penalty_per_vehicle,
    }
    record = {
        "network": net_name,
        "units": units,
        "demand_model": {k: v for k, v in asdict(model).items() if k != "departures"}
        | {"departures": [round(x, 6) for x in model.departures]},
        "demand": stats.as_dict(),
        "aggregation": agg.as_dict() | {"departures_moved_later_to_earlier": moved},
        "aggregators": split.groupby("aggregator")["vehicles"].sum().round(3).to_dict(),
        "rated_lines": len(rated),
        "line_headroom": opts.line_headroom if rated else None,
        # the feeder case's stationary fleet is on its own time grid and not in the city's
        # demand: the coupled case leaves it out (and says so)
        "fleet_left_out": feeder_case.fleet.n if feeder_case.fleet is not None else None,
    }
    return replace(
        feeder_case,
        name=name or f"{net_name}-{feeder_case.name}",
        description=(
            f"TNTP {net_name} ({model.ev_share:.2%} of trips as EVs, {opts.stations} stations) "
            f"coupled to {feeder_case.name}"
        ),
        time=TimeGrid(steps, dt_h, tg.start),
        feeder=feeder,
        uncertainty=feeder_case.uncertainty,
        parameters=params,
        traffic=TrafficData(network, st, demand),
        fleet=None,
        build={k: v for k, v in record.items() if v is not None},
    )
