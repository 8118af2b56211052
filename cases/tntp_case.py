"""Coupled cases from a TNTP road network and a feeder (``evtp build --tntp``).

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

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from cases.case import Case, CaseError, TrafficData
from traffic.network import Stations, TravelDemand
from traffic.tntp import tntp_to_traffic


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


def build_tntp_case(
    feeder_case: Case,
    net_file: str | Path,
    trips_file: str | Path,
    node_file: str | Path | None,
    *,
    stations: int,
    ev_share: float,
    plugs: int = 20,
    charger_kw: float = 50.0,
    efficiency: float = 0.95,
    battery_kwh: float = 60.0,
    name: str | None = None,
) -> Case:
    """A coupled case: the feeder case's grid and time grid, the TNTP road network and an EV
    share of its trips, and ``stations`` fast-charging stations placed by the module's rule."""
    if not 0.0 < ev_share <= 1.0:
        raise CaseError(f"--ev-share must lie in (0, 1], got {ev_share}")
    if stations < 0:
        raise CaseError(f"--stations must be >= 0, got {stations}")
    tg = feeder_case.time
    network, demand = tntp_to_traffic(
        net_file,
        trips_file,
        node_file,
        steps=tg.steps,
        dt_h=tg.dt_h,
        ev_share=ev_share,
        battery_kwh=battery_kwh,
    )
    st = None
    if stations:
        placed = place_stations(network.nodes, demand, feeder_case, stations)
        st = Stations(
            pd.DataFrame(
                {
                    "station": [f"S{i + 1}" for i in range(len(placed))],
                    "node": [n for n, _ in placed],
                    "bus": [b for _, b in placed],
                    "plugs": float(plugs),
                    "charger_kw": f"{charger_kw:g}",
                    "efficiency": efficiency,
                }
            )
        )
    net_name = Path(net_file).name.removesuffix("_net.tntp")
    # keep TNTP-size models tractable: stops only on trips that may need charging, flows at
    # most 4 steps later than free flow (see benchmarks/bench_traffic.py)
    params = dict(feeder_case.parameters) | {
        "battery_kwh": battery_kwh,
        "path_stops": "needed",
        "max_delay_steps": 4,
        "penalty_per_vehicle": 1000.0,
    }
    return replace(
        feeder_case,
        name=name or f"{net_name}-{feeder_case.name}",
        description=(
            f"TNTP {net_name} ({ev_share:.2%} of trips as EVs, {stations} stations) "
            f"coupled to {feeder_case.name}"
        ),
        parameters=params,
        traffic=TrafficData(network, st, demand),
    )
