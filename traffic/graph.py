"""Shortest paths over road segments with scipy (one Dijkstra per source, no Python loop per
pair), used by the demand model, the demand aggregation and the case energy report."""

from __future__ import annotations

from collections.abc import Collection

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra


def through_blocked(nodes: pd.DataFrame) -> set[str]:
    """Nodes never passed through: those whose optional ``through`` column is False."""
    if "through" not in nodes:
        return set()
    through = nodes["through"].astype(str).str.lower().isin(["true", "1"])
    return set(nodes.loc[~through, "node"].astype(str))


def shortest_distances(
    segments: pd.DataFrame,
    weight: np.ndarray,
    sources: np.ndarray,
    targets: np.ndarray,
    blocked: Collection[str] = (),
) -> np.ndarray:
    """Shortest-path sums of ``weight`` (one value > 0 per segment) from each of ``sources``
    to each of ``targets`` (node labels): shape (len(sources), len(targets)), inf where
    unreachable. Of parallel segments the lightest counts.

    A blocked node is split into an entry copy (receiving its in-links) and the node itself
    (sending its out-links), so paths may start or end there but never pass through.
    """
    frm = segments["from_node"].astype(str).to_numpy()
    to = segments["to_node"].astype(str).to_numpy()
    w = np.asarray(weight, float)
    src_l, dst_l = np.asarray(sources).astype(str), np.asarray(targets).astype(str)
    labels = pd.Index(pd.unique(np.concatenate([frm, to, src_l, dst_l])))
    n = len(labels)
    is_blocked = labels.isin([str(b) for b in blocked])
    entry = np.arange(n)
    entry[is_blocked] = n + np.arange(int(is_blocked.sum()))
    m = n + int(is_blocked.sum())
    u = labels.get_indexer(frm)
    v = entry[labels.get_indexer(to)]
    order = np.lexsort((w, v, u))  # parallel links: keep the lightest (csr would add them)
    u, v, w = u[order], v[order], w[order]
    first = np.ones(len(u), bool)
    first[1:] = (u[1:] != u[:-1]) | (v[1:] != v[:-1])
    graph = sp.csr_matrix((w[first], (u[first], v[first])), shape=(m, m))
    src = labels.get_indexer(src_l)
    uniq, row = np.unique(src, return_inverse=True)
    dist = dijkstra(graph, directed=True, indices=uniq)
    return dist[row][:, entry[labels.get_indexer(dst_l)]]


def pair_distances(
    segments: pd.DataFrame,
    weight: np.ndarray,
    origins: np.ndarray,
    destinations: np.ndarray,
    blocked: Collection[str] = (),
) -> np.ndarray:
    """:func:`shortest_distances` for each (origin, destination) pair: shape (pairs,)."""
    uo, io = np.unique(np.asarray(origins).astype(str), return_inverse=True)
    ud, jd = np.unique(np.asarray(destinations).astype(str), return_inverse=True)
    return shortest_distances(segments, weight, uo, ud, blocked)[io, jd]
