"""Demand aggregation: merge OD pairs that carry few vehicles onto kept OD pairs.

Rule
----
1. **Groups.** ODs are grouped by ``aggregator`` and by the values of every extra column
   of the table (any column besides od, origin, destination, aggregator, t, vehicles,
   soc_total, e.g. ``arrival_soc``). Extra columns must be constant per OD. An OD only ever
   merges onto an OD of its own group, so two aggregators, or two target arrival SOCs, are
   never mixed.
2. **Kept ODs.** ``V`` is an OD's vehicles over the horizon (summed over its departure
   steps). An OD is kept when ``V >= min_vehicles``. Each group always keeps its largest OD
   (ties by od id), also when no OD of the group reaches ``min_vehicles``. With
   ``max_ods``, the kept set is each group's largest OD plus the largest other ODs with
   ``V >= min_vehicles`` (ties by od id) up to ``max_ods`` ODs in total. ``max_ods`` must be
   at least the number of groups.
3. **Nearest kept OD.** Every other OD ``(o, d)`` moves onto the kept OD ``(o', d')`` of its
   group that minimises ``dist(o, o') + dist(d, d')`` (ties by od id), where
   ``dist(a, b) = min(D[a, b], D[b, a])`` and ``D`` is the shortest-path road distance in km
   over ``segments.length_km`` (paths may start or end at a ``blocked`` node, never pass
   through one).
4. **Rows.** A merged OD's rows are added to the kept OD's rows at the same departure step
   ``t``: vehicles and soc_total are summed, and a row is created where the kept OD had
   none. Total vehicles and total soc_total (battery equivalents, hence energy) are
   conserved, in total and per aggregator, group and step. The kept OD's origin,
   destination and extra values stay; the mean SOC of its rows becomes the
   vehicle-weighted mean.

Error
-----
Vehicle-km ``sum_od V_od * D[o, d]`` (directed shortest path, km) is reported before (all
ODs) and after (kept ODs with their new totals); ``km_error`` is the signed relative change.
It measures how much road travel (and hence driving energy) the merge adds or removes.

Cost: one Dijkstra from each distinct origin/destination node (scipy); the nearest-pair
search groups the kept ODs by origin node, so it costs (nodes + merged ODs) x kept origin
nodes, vectorised in chunks of at most ``CHUNK_ELEMENTS`` entries (no loop per OD). It finds
exactly the minimisers (and tie break) of the direct search over all kept ODs.
``V >= min_vehicles`` is tested with a relative tolerance of 1e-9, so an OD whose steps sum
to the threshold up to rounding is kept.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from common.validate import Where
from traffic.graph import shortest_distances

BASE_COLUMNS = ("od", "origin", "destination", "aggregator", "t", "vehicles", "soc_total")
SEGMENT_COLUMNS = ("from_node", "to_node", "length_km")
CHUNK_ELEMENTS = 2_000_000  # merged x kept cost entries per chunk (16 MB of float64)


@dataclass(frozen=True)
class AggregationReport:
    """What :func:`aggregate_demand` merged and the error it made.

    Vehicles over the horizon; soc_total in battery equivalents; km in vehicle-km.
    """

    ods_before: int
    ods_after: int
    merged_ods: int
    vehicles_moved: float  # vehicles of the merged ODs (moved onto kept ones)
    vehicles_total: float  # conserved
    soc_total: float  # conserved (battery equivalents)
    km_before: float  # vehicle-km over shortest-path road lengths, original ODs
    km_after: float  # vehicle-km of the kept ODs with their new totals

    @property
    def km_error(self) -> float:
        """Signed relative change of vehicle-km, ``(km_after - km_before) / km_before``."""
        if self.km_before == 0:
            return 0.0 if self.km_after == 0 else float("inf")
        return (self.km_after - self.km_before) / self.km_before

    def as_dict(self) -> dict[str, float | int]:
        """The fields and ``km_error`` as a flat dict (for summaries)."""
        return {**asdict(self), "km_error": self.km_error}


def _od_node_distances(
    segments: pd.DataFrame, nodes: np.ndarray, blocked: Collection[str]
) -> np.ndarray:
    """Directed shortest-path distances (km) between ``nodes`` (labels as str):
    ``D[i, j]`` from ``nodes[i]`` to ``nodes[j]``, inf when unreachable, 0 on the diagonal.

    A blocked node is split into an entry copy (receiving its in-links) and an exit copy
    (sending its out-links), so paths may start or end there but never pass through.
    """
    dist = shortest_distances(
        segments, segments["length_km"].to_numpy(float), nodes, nodes, blocked
    )
    np.fill_diagonal(dist, 0.0)
    return dist


def _nearest_kept(
    sym: np.ndarray, oi: np.ndarray, di: np.ndarray, kept: np.ndarray, merged: np.ndarray, n: int
) -> np.ndarray:
    """For each merged OD, the kept OD minimising ``sym[o, o'] + sym[d, d']``, ties by the
    smallest position (positions are in od id order). ``oi``/``di``: node index of each OD's
    origin/destination; ``n``: number of ODs (a position larger than any).

    The kept ODs are sorted into blocks by origin node ``o'``. Per destination node ``d``
    and block, ``C[d, o'] = min sym[d, d']`` over the block and ``best[d, o']`` the smallest
    position attaining it; then the nearest kept OD of ``(o, d)`` minimises
    ``sym[o, o'] + C[d, o']`` over blocks. The sums are the same floating-point sums as over
    all kept ODs, so the minimisers (and the tie break) are exactly those of the direct
    search, at a cost of (nodes + merged) x blocks instead of merged x kept.
    """
    order = np.lexsort((kept, oi[kept]))
    k_sorted, ko = kept[order], oi[kept][order]
    starts = np.flatnonzero(np.r_[True, ko[1:] != ko[:-1]])
    sizes = np.diff(np.r_[starts, len(ko)])
    origins = ko[starts]
    kd = di[k_sorted]
    dest_nodes = np.unique(di[merged])
    c_min = np.empty((sym.shape[0], len(origins)))
    best = np.empty((sym.shape[0], len(origins)), dtype=np.int64)
    step = max(1, CHUNK_ELEMENTS // len(k_sorted))
    for s in range(0, len(dest_nodes), step):
        rows = dest_nodes[s : s + step]
        x = sym[np.ix_(rows, kd)]
        c = np.minimum.reduceat(x, starts, axis=1)
        at_min = x == np.repeat(c, sizes, axis=1)
        c_min[rows] = c
        best[rows] = np.minimum.reduceat(np.where(at_min, k_sorted, n), starts, axis=1)
    out = np.empty(len(merged), dtype=np.int64)
    to_origin = sym[:, origins]
    step = max(1, CHUNK_ELEMENTS // len(origins))
    for s in range(0, len(merged), step):
        mm = merged[s : s + step]
        cost = to_origin[oi[mm]] + c_min[di[mm]]
        low = cost.min(axis=1)
        out[s : s + step] = np.where(cost == low[:, None], best[di[mm]], n).min(axis=1)
    return out


# problems of the demand table are told as "demand aggregation: <column>: <message>"
_WHERE = Where("demand aggregation", ValueError, tag="")


def aggregate_demand(
    table: pd.DataFrame,
    segments: pd.DataFrame,
    *,
    min_vehicles: float = 1.0,
    max_ods: int | None = None,
    blocked: Collection[str] = frozenset(),
) -> tuple[pd.DataFrame, AggregationReport]:
    """Merge ODs with fewer than ``min_vehicles`` vehicles onto the nearest kept OD.

    Parameters
    ----------
    table : demand rows with the columns of ``demand.csv`` (od, origin, destination,
        aggregator, t, vehicles, soc_total) and optional extra per-OD columns (e.g.
        arrival_soc), constant per od.
    segments : road segments with from_node, to_node, length_km (km).
    min_vehicles : an OD with at least this many vehicles over the horizon is kept.
    max_ods : at most this many ODs are kept (at least one per group).
    blocked : nodes paths may start or end at but not pass through (zones below TNTP's
        FIRST THRU NODE, as in :mod:`traffic.paths`).

    Returns
    -------
    (table, report): the aggregated rows, sorted by (od, t) in the input's column order with
    a fresh index, and an :class:`AggregationReport`. See the module docstring for the rule.
    """
    missing = [c for c in BASE_COLUMNS if c not in table.columns]
    if missing:
        raise _WHERE.error_for(missing[0], "missing column of the demand table; add it")
    missing = [c for c in SEGMENT_COLUMNS if c not in segments.columns]
    if missing:
        raise ValueError(f"demand aggregation: segments: missing column {missing[0]}; add it")
    if max_ods is not None and max_ods < 1:
        raise _WHERE.error_for("max_ods", f"must be at least 1, got {max_ods}")
    veh_rows = table["vehicles"].to_numpy(float)
    if not np.isfinite(veh_rows).all() or (veh_rows < 0).any():
        i = int(np.flatnonzero(~(np.isfinite(veh_rows) & (veh_rows >= 0)))[0])
        raise _WHERE.error_for(
            "vehicles", f"od '{table['od'].iloc[i]}' has {veh_rows[i]}; use >= 0"
        )
    seg_len = segments["length_km"].to_numpy(float)
    if not np.isfinite(seg_len).all() or (seg_len < 0).any():
        i = int(np.flatnonzero(~(np.isfinite(seg_len) & (seg_len >= 0)))[0])
        raise ValueError(
            f"demand aggregation: segments: length_km of row {i} is {seg_len[i]}; use >= 0"
        )

    extra = [c for c in table.columns if c not in BASE_COLUMNS]
    attrs = ["origin", "destination", "aggregator", *extra]
    if len(table) == 0:
        report = AggregationReport(0, 0, 0, 0.0, 0.0, 0.0, 0.0, 0.0)
        return table.iloc[0:0].reset_index(drop=True), report
    varying = table.groupby("od", sort=False)[attrs].nunique(dropna=False).max()
    if (varying > 1).any():
        col = varying.index[varying > 1][0]
        raise _WHERE.error_for(col, "must be constant per od (one value over all its rows)")

    ods = table.drop_duplicates("od").set_index("od")[attrs].sort_index()
    od_ids = ods.index.to_numpy()
    pos = ods.index.get_indexer(table["od"])
    n = len(ods)
    vol = np.bincount(pos, weights=veh_rows, minlength=n)
    group = ods.groupby(["aggregator", *extra], sort=True, dropna=False).ngroup().to_numpy()

    # kept ODs: rank by vehicles (descending), ties by od id (= position, ods are sorted)
    rank = np.lexsort((np.arange(n), -vol))
    leader = np.zeros(n, bool)
    _, first_in_group = np.unique(group[rank], return_index=True)
    leader[rank[first_in_group]] = True
    candidate = (vol >= min_vehicles * (1 - 1e-9)) & ~leader
    keep = leader | candidate
    if max_ods is not None:
        n_groups = int(leader.sum())
        if max_ods < n_groups:
            raise _WHERE.error_for(
                "max_ods",
                f"{max_ods} is below the {n_groups} groups (aggregator x extra columns), "
                f"each of which keeps one od; use max_ods >= {n_groups}",
            )
        keep = leader.copy()
        keep[rank[candidate[rank]][: max_ods - n_groups]] = True

    # road distances between the distinct origin/destination nodes
    nodes = pd.Index(pd.unique(np.concatenate([ods["origin"], ods["destination"]]).astype(str)))
    dist = _od_node_distances(segments, nodes.to_numpy(), blocked)
    oi = nodes.get_indexer(ods["origin"].astype(str))
    di = nodes.get_indexer(ods["destination"].astype(str))
    direct = dist[oi, di]
    if not np.isfinite(direct).all():
        i = int(np.flatnonzero(~np.isfinite(direct))[0])
        raise _WHERE.error_for(
            "origin",
            f"od '{od_ids[i]}' has no road path from '{ods['origin'].iloc[i]}' to "
            f"'{ods['destination'].iloc[i]}' over segments; fix the network or drop the od",
        )
    sym = np.minimum(dist, dist.T)

    target = np.arange(n)
    for g in np.unique(group[~keep]):
        in_g = group == g
        kept = np.flatnonzero(keep & in_g)
        merged = np.flatnonzero(~keep & in_g)
        target[merged] = _nearest_kept(sym, oi, di, kept, merged, n)

    rows = pd.DataFrame(
        {
            "_k": target[pos],
            "t": table["t"].to_numpy(),
            "vehicles": veh_rows,
            "soc_total": table["soc_total"].to_numpy(float),
        }
    )
    summed = rows.groupby(["_k", "t"], sort=True)[["vehicles", "soc_total"]].sum().reset_index()
    k = summed["_k"].to_numpy()
    per_od = ods.iloc[k]
    cols: dict[str, object] = {}
    for c in table.columns:
        if c == "od":
            cols[c] = od_ids[k]
        elif c in ("t", "vehicles", "soc_total"):
            cols[c] = summed[c].to_numpy()
        else:
            cols[c] = per_od[c].to_numpy()
    out = pd.DataFrame(cols)
    for c in table.columns:
        if out[c].dtype != table[c].dtype:
            out[c] = out[c].astype(table[c].dtype)

    vol_after = np.bincount(target, weights=vol, minlength=n)
    report = AggregationReport(
        ods_before=n,
        ods_after=int(keep.sum()),
        merged_ods=int(n - keep.sum()),
        vehicles_moved=float(vol[~keep].sum()),
        vehicles_total=float(veh_rows.sum()),
        soc_total=float(table["soc_total"].to_numpy(float).sum()),
        km_before=float(vol @ direct),
        km_after=float(vol_after[keep] @ direct[keep]),
    )
    return out, report
