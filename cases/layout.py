"""Plane coordinates for drawing a case: road nodes, feeder buses, and the feeder beside the roads.

- Road nodes keep their ``traffic/nodes.csv`` coordinates (TNTP node files, the built-in
  tn20-dn17 grid); nodes without them get a Kamada-Kawai layout of the road graph.
- Feeder buses keep ``grid/buses.csv`` x, y when every bus has distinct finite ones (the
  pandapower and SimBench feeders carry their geodata); otherwise (tn20-dn17, hu2014-lv, a
  feeder written without coordinates) they get a radial tree layout: the slack bus on top,
  one row per depth, leaves side by side in line order and every bus centred over its
  children. (pandapower's ``create_generic_coordinates`` needs igraph or Graphviz, neither
  of which evtp depends on.)
- With roads, the feeder is scaled to the road network's height and placed to its right, so
  the station-bus links run from the roads across to the feeder. Coordinates have no unit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import networkx as nx
import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from cases.case import Case
    from power.feeder import Feeder
    from traffic.network import RoadNetwork

GAP = 0.15  # space between roads and feeder, as a fraction of the road network's extent
MIN_DISTINCT = 0.9  # share of distinct bus positions for given coordinates to be used


@dataclass(frozen=True)
class CaseLayout:
    """Where to draw a case: ``nodes`` (node, x, y) of the roads, None without roads, and
    ``buses`` (bus, x, y) of the feeder, beside the roads."""

    nodes: pd.DataFrame | None
    buses: pd.DataFrame


def tree_layout(
    buses: list[str], from_bus: list[str], to_bus: list[str], root: str
) -> pd.DataFrame:
    """Radial tree layout (bus, x, y): ``root`` at y = 0, depth d at y = -d, leaves at
    x = 0, 1, 2, ... in depth-first order following the line order, and every other bus at
    the midpoint of its first and last child. Buses not connected to ``root`` form a row
    below the tree."""
    g = nx.Graph()
    g.add_nodes_from(buses)
    g.add_edges_from(zip(from_bus, to_bus))
    tree = nx.bfs_tree(g, root)
    x: dict[str, float] = {}
    depth = nx.shortest_path_length(tree, root)
    leaf = 0.0
    for b in nx.dfs_postorder_nodes(tree, root):
        kids = list(tree.successors(b))
        if kids:
            x[b] = 0.5 * (x[kids[0]] + x[kids[-1]])
        else:
            x[b], leaf = leaf, leaf + 1.0
    lost = [b for b in buses if b not in x]
    bottom = -(max(depth.values()) + 1.0)
    for i, b in enumerate(lost):
        x[b], depth[b] = float(i), -bottom
    return pd.DataFrame(
        {
            "bus": buses,
            "x": [x[b] for b in buses],
            "y": [-float(depth[b]) for b in buses],
        }
    )


def _given_xy(df: pd.DataFrame, key: str) -> pd.DataFrame | None:
    """``df``'s own (key, x, y) when every row has finite, mostly distinct coordinates."""
    if not {"x", "y"} <= set(df.columns) or not len(df):
        return None
    xy = df[[key, "x", "y"]].copy()
    xy[["x", "y"]] = xy[["x", "y"]].apply(pd.to_numeric, errors="coerce")
    if not np.isfinite(xy[["x", "y"]].to_numpy(dtype=float)).all():
        return None
    if len(xy.drop_duplicates(["x", "y"])) < MIN_DISTINCT * len(xy):
        return None
    return xy.reset_index(drop=True)


def feeder_coordinates(feeder: Feeder) -> tuple[pd.DataFrame, bool]:
    """(bus, x, y) of the feeder, and whether they are the feeder's own (geographic) ones
    rather than a generated tree layout."""
    given = _given_xy(feeder.buses, "bus")
    if given is not None:
        return given, True
    lines = feeder.lines
    laid = tree_layout(
        list(feeder.bus_ids), list(lines["from_bus"]), list(lines["to_bus"]), feeder.slack_bus
    )
    return laid, False


def road_coordinates(network: RoadNetwork) -> pd.DataFrame:
    """(node, x, y) of the road network: its own coordinates, else a Kamada-Kawai layout."""
    given = _given_xy(network.nodes, "node")
    if given is not None:
        return given
    pos = nx.kamada_kawai_layout(network.graph.to_undirected())
    nodes = list(network.nodes["node"])
    return pd.DataFrame(
        {"node": nodes, "x": [pos[n][0] for n in nodes], "y": [pos[n][1] for n in nodes]}
    )


def _extent(v: np.ndarray) -> tuple[float, float]:
    return (float(v.min()), float(v.max())) if len(v) else (0.0, 0.0)


def place_beside(buses: pd.DataFrame, nodes: pd.DataFrame, keep_aspect: bool) -> pd.DataFrame:
    """``buses`` (bus, x, y) moved into a box as high as the road ``nodes`` and to their right,
    a gap of ``GAP`` times the roads' extent away. Geographic coordinates (``keep_aspect``)
    keep their shape; a generated layout fills a square box."""
    rx0, rx1 = _extent(nodes["x"].to_numpy(dtype=float))
    ry0, ry1 = _extent(nodes["y"].to_numpy(dtype=float))
    size = max(rx1 - rx0, ry1 - ry0) or 1.0
    height = (ry1 - ry0) or size
    bx0, bx1 = _extent(buses["x"].to_numpy(dtype=float))
    by0, by1 = _extent(buses["y"].to_numpy(dtype=float))
    bw, bh = bx1 - bx0, by1 - by0
    if keep_aspect:
        s = height / (max(bw, bh) or 1.0)
        sx = sy = s
    else:  # fill a height x height square, each axis on its own
        sx = height / bw if bw else 0.0
        sy = height / bh if bh else 0.0
    out = buses.copy()
    x0 = rx1 + GAP * size
    out["x"] = x0 + (buses["x"].to_numpy(dtype=float) - bx0) * sx + (0 if bw else height / 2)
    y_mid = 0.5 * (ry0 + ry1)
    out["y"] = y_mid + (buses["y"].to_numpy(dtype=float) - 0.5 * (by0 + by1)) * sy
    return out


def case_layout(case: Case) -> CaseLayout:
    """Coordinates of every road node and feeder bus of ``case`` (see the module docstring)."""
    buses, geographic = feeder_coordinates(case.feeder)
    if case.traffic is None:
        if not geographic:  # a tree layout as wide as it is high, not a thin column
            w = float(np.ptp(buses["x"].to_numpy(dtype=float)))
            h = float(np.ptp(buses["y"].to_numpy(dtype=float)))
            if w and h:
                buses = buses.assign(x=buses["x"] * (h / w))
        return CaseLayout(nodes=None, buses=buses)
    nodes = road_coordinates(case.traffic.network)
    return CaseLayout(nodes=nodes, buses=place_beside(buses, nodes, geographic))
