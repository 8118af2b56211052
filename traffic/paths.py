"""Path sets for the path-based dynamic traffic assignment.

A path is a simple node sequence of the road network together with the charging stations
at which its vehicles *may* stop (the model decides whether they do). Paths of one OD are
the ``k`` shortest simple paths by free-flow time (networkx ``shortest_simple_paths``,
Yen's algorithm), plus, where charging may be needed, the shortest paths *via* the nearest
stations.

Limits
------
- Paths are simple (no node twice): where the shortest way on from a station would revisit
  a node of the way there, the second leg avoids those nodes (dropped if none exists).
- Of parallel segments (same from and to node) only the fastest is used.
- Path cost is the free-flow time in steps; ties are broken by length (km). With long steps
  many segments take one step each, so the ranking is then close to a hop count.
- "Charging may be needed" is judged on the lowest mean departure SOC of the OD's
  departure steps: when every one of
  the k shortest paths consumes more than ``mean SOC - floor`` of a battery (floor: the
  OD's ``arrival_soc`` when the demand has one, else ``soc_min``), paths via the
  ``n_via`` stations with the smallest detour are added (``via="always"`` adds them for every
  OD, ``via="never"`` never). Vehicles below the mean are not considered separately, since
  the DTA tracks SOC in aggregate.
- Nodes whose optional ``through`` column (``nodes`` table) is False (TNTP zones) are
  never passed through, only started from or ended at.
- Stations at the destination node are never stops (a trip ends there); stations at the
  origin and at intermediate nodes are.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from itertools import islice
from typing import Literal

import networkx as nx
import pandas as pd

from traffic.network import RoadNetwork, Stations, TravelDemand

NODE_SEP = ">"


@dataclass(frozen=True)
class Path:
    """One path of an OD.

    Attributes
    ----------
    path : path id, ``"<od>#<i>"``.
    od : the OD it serves.
    nodes : node ids from origin to destination.
    segments : segment ids, ``len(nodes) - 1`` of them.
    stops : (node position, station id) of the stations where vehicles may stop, in order.
    """

    path: str
    od: str
    nodes: tuple[str, ...]
    segments: tuple[str, ...]
    stops: tuple[tuple[int, str], ...] = ()

    def elements(self) -> list[tuple[str, str]]:
        """The path as a sequence of ("segment", id) and ("station", id), in travel order."""
        out: list[tuple[str, str]] = []
        by_pos: dict[int, list[str]] = {}
        for pos, st in self.stops:
            by_pos.setdefault(pos, []).append(st)
        for p, seg in enumerate(self.segments):
            out.extend(("station", st) for st in by_pos.get(p, []))
            out.append(("segment", seg))
        return out


@dataclass(frozen=True)
class PathSet:
    """All paths of a demand, in OD order."""

    paths: tuple[Path, ...]

    @cached_property
    def table(self) -> pd.DataFrame:
        """path, od, nodes (joined by ``>``), segments (joined by ``;``), stops (stations)."""
        return pd.DataFrame(
            {
                "path": [p.path for p in self.paths],
                "od": [p.od for p in self.paths],
                "nodes": [NODE_SEP.join(p.nodes) for p in self.paths],
                "segments": [";".join(p.segments) for p in self.paths],
                "stops": [";".join(s for _, s in p.stops) for p in self.paths],
            }
        )


def _weighted_graph(network: RoadNetwork) -> nx.DiGraph:
    g = nx.DiGraph()
    g.add_nodes_from(network.graph.nodes)
    for a, b, d in network.graph.edges(data=True):
        g.add_edge(a, b, w=d["free_flow_steps"] + 1e-6 * d["length_km"], segment=d["segment"])
    return g


def _make_path(
    g: nx.DiGraph,
    od: str,
    i: int,
    nodes: list[str],
    station_at: dict[str, list[str]],
) -> Path:
    segs = tuple(g.edges[a, b]["segment"] for a, b in zip(nodes[:-1], nodes[1:], strict=True))
    stops = tuple((p, st) for p, n in enumerate(nodes[:-1]) for st in station_at.get(n, []))
    return Path(f"{od}#{i}", od, tuple(nodes), segs, stops)


def k_shortest_paths(
    network: RoadNetwork,
    demand: TravelDemand,
    k: int = 3,
    stations: Stations | None = None,
    *,
    via: Literal["needed", "always", "never"] = "needed",
    n_via: int = 2,
    soc_min: float = 0.2,
    stops: Literal["all", "needed"] = "all",
) -> PathSet:
    """k shortest paths per OD by free-flow time, plus paths via the nearest stations.

    Parameters
    ----------
    network, demand, stations : the traffic data (stations may be None).
    k : number of shortest simple paths per OD (fewer when the network has fewer).
    via : when to add paths via stations (see the module docstring).
    n_via : number of stations, by smallest detour ``T(o, y) + T(y, d)``, to route via.
    soc_min : SOC floor used to judge whether charging may be needed.
    stops : "all": every path may stop at every station on it (except at its destination);
        "needed": only paths of ODs that may need charging (or all ODs with
        ``via="always"``) get stops; a much smaller model when few trips need to charge.

    Returns
    -------
    PathSet in the OD order of ``demand.ods``; every path passing a station node (other than
    its destination) may stop there.
    """
    if k < 1:
        raise ValueError("k must be >= 1")
    full = g = _weighted_graph(network)
    station_at: dict[str, list[str]] = {}
    if stations is not None:
        for st, node in zip(stations.table["station"], stations.table["node"], strict=True):
            station_at.setdefault(node, []).append(st)
    use = dict(zip(network.segments["segment"], network.segments["soc_per_vehicle"], strict=True))
    dist_from: dict[str, dict[str, float]] = {}
    dist_to: dict[str, dict[str, float]] = {}
    rev = g.reverse(copy=False)

    blocked: set[str] = set()
    if "through" in network.nodes:
        through = network.nodes["through"].astype(str).str.lower().isin(["true", "1"])
        blocked = set(network.nodes.loc[~through, "node"])

    out: list[Path] = []
    ods = demand.ods
    rows = demand.table[demand.table["vehicles"] > 0]
    low_soc = (rows["soc_total"] / rows["vehicles"]).groupby(rows["od"]).min().to_dict()
    floor = (
        ods["arrival_soc"].fillna(soc_min).clip(lower=soc_min)
        if "arrival_soc" in ods
        else pd.Series(soc_min, index=ods.index)
    )
    for od, o, d, veh, soc, fl in zip(
        ods["od"],
        ods["origin"],
        ods["destination"],
        ods["vehicles"],
        ods["soc_total"],
        floor,
        strict=True,
    ):
        g = full
        if blocked:
            g = nx.subgraph_view(
                full, filter_node=lambda n, o=o, d=d: n not in blocked or n in (o, d)
            )
            rev = g.reverse(copy=False)
            dist_from, dist_to = {}, {}
        node_lists = [list(p) for p in islice(nx.shortest_simple_paths(g, o, d, weight="w"), k)]
        mean_soc = low_soc.get(od, soc / veh if veh > 0 else 1.0)
        plain = [_make_path(g, od, i, nl, {}) for i, nl in enumerate(node_lists)]
        need = min(sum(use[s] for s in p.segments) for p in plain) > mean_soc - fl + 1e-12
        if stops == "all" or need or via == "always":
            paths = [_make_path(g, od, i, nl, station_at) for i, nl in enumerate(node_lists)]
        else:
            paths = plain
        if station_at and (via == "always" or (via == "needed" and need)):
            if o not in dist_from:
                dist_from[o] = nx.single_source_dijkstra_path_length(g, o, weight="w")
            if d not in dist_to:
                dist_to[d] = nx.single_source_dijkstra_path_length(rev, d, weight="w")
            detour = sorted(
                (dist_from[o][n] + dist_to[d][n], n)
                for n in station_at
                if n != d and n in dist_from[o] and n in dist_to[d]
            )
            seen = {tuple(nl) for nl in node_lists}
            for _, n in detour[:n_via]:
                first = nx.shortest_path(g, o, n, weight="w")
                nl = first + nx.shortest_path(g, n, d, weight="w")[1:]
                if len(set(nl)) < len(nl):  # second leg avoiding the first: a simple path
                    used = set(first[:-1])
                    rest = nx.subgraph_view(g, filter_node=lambda x, used=used: x not in used)
                    try:
                        nl = first + nx.shortest_path(rest, n, d, weight="w")[1:]
                    except (nx.NetworkXNoPath, nx.NodeNotFound):
                        continue
                if tuple(nl) in seen:
                    continue
                seen.add(tuple(nl))
                paths.append(_make_path(g, od, len(paths), nl, station_at))
        out.extend(paths)
    return PathSet(tuple(out))
