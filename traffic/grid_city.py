"""A synthetic grid city written as TNTP files (net, trips, nodes).

The city is an ``n x n`` lattice of two-way streets:

- Nodes sit at ``x = column * block_km``, ``y = row * block_km`` (km).
- Every street segment is two directed links of equal length. The length is the block
  length times a seeded factor drawn uniformly from [1.0, 1.1] (up to 10 % detour, never
  shorter than the straight distance).
- Streets on every 4th row and column (rows/columns 0, 4, 8, ...) are arterials: 60 km/h
  and twice the capacity of a local street. Local streets use ``speed_kmh`` and
  ``capacity_veh_h``. Free-flow time = length / speed, in minutes.
- ``zones`` of the nodes are zones (centroids), spread evenly over the lattice (every
  ``n*n/zones``-th node in row-major order). TNTP requires zones to be the nodes
  ``1..zones``, so the zone nodes are numbered first, then the others, each in row-major
  order. ``FIRST THRU NODE`` is 1: paths may pass through zones, as in Chicago-Sketch.
- Trips follow a seeded doubly-unconstrained gravity model
  ``T_ij = k P_i A_j exp(-d_ij / 3 km)`` for ``i != j``, with ``d_ij`` the shortest road
  distance (km) over the lattice, productions ``P`` (population) and attractions ``A``
  (jobs) drawn lognormal(0, 0.8) per zone, and ``k`` set so that the trips sum to
  ``trips_total``.

Files follow the TransportationNetworks formats (as SiouxFalls and Chicago-Sketch):
``<name>_net.tntp`` (lengths in km, free-flow times in minutes, capacities in veh/h,
speeds in km/h), ``<name>_trips.tntp`` and ``<name>_node.tntp`` (coordinates in km).
The same arguments give byte-identical files.

Command line: ``python -m traffic.grid_city OUT_DIR [--n 13] [--zones 66] [--seed 0]``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra

ARTERIAL_EVERY = 4  # every 4th row and column is an arterial
ARTERIAL_SPEED_KMH = 60.0
ARTERIAL_CAPACITY_FACTOR = 2.0
DETOUR_MAX = 0.10  # link length = block_km * U[1, 1 + DETOUR_MAX]
GRAVITY_SCALE_KM = 3.0  # deterrence exp(-d / 3 km)
LOGNORMAL_SIGMA = 0.8  # spread of zone populations and jobs


def _lattice_links(n: int, block_km: float, rng: np.random.Generator):
    """Undirected street segments of the lattice: (a, b, length_km, arterial), lattice
    indices ``row * n + col``, horizontal streets first, then vertical ones."""
    r, c = np.meshgrid(np.arange(n), np.arange(n - 1), indexing="ij")
    h_a, h_b = (r * n + c).ravel(), (r * n + c + 1).ravel()
    h_art = (r % ARTERIAL_EVERY == 0).ravel()
    r, c = np.meshgrid(np.arange(n - 1), np.arange(n), indexing="ij")
    v_a, v_b = (r * n + c).ravel(), ((r + 1) * n + c).ravel()
    v_art = (c % ARTERIAL_EVERY == 0).ravel()
    a = np.concatenate([h_a, v_a])
    b = np.concatenate([h_b, v_b])
    art = np.concatenate([h_art, v_art])
    length = block_km * (1.0 + DETOUR_MAX * rng.random(len(a)))
    return a, b, length, art


def _zone_lattice_index(n: int, zones: int) -> np.ndarray:
    """Lattice indices of the zone nodes: ``zones`` nodes evenly spaced in row-major order."""
    return np.floor((np.arange(zones) + 0.5) * (n * n) / zones).astype(int)


def write_grid_city(
    out_dir: str | Path,
    *,
    n: int = 13,
    zones: int = 66,
    block_km: float = 0.8,
    speed_kmh: float = 40.0,
    capacity_veh_h: float = 1800.0,
    trips_total: float = 400_000.0,
    seed: int = 0,
    name: str = "GridCity",
) -> dict[str, Path]:
    """Write a synthetic ``n x n`` grid city as TNTP files into ``out_dir``.

    Parameters
    ----------
    out_dir : folder to write (created if missing).
    n : lattice size (``n*n`` nodes, ``4 n (n-1)`` directed links).
    zones : number of zone nodes (2 .. n*n), numbered 1..zones.
    block_km : block length (km) between neighbouring nodes.
    speed_kmh, capacity_veh_h : speed (km/h) and capacity (veh/h) of local streets;
        arterials (every 4th row/column) run at 60 km/h with twice the capacity.
    trips_total : total trips of the OD table (vehicles per hour, as TNTP peak-hour tables).
    seed : seed of link lengths and zone populations.
    name : file prefix.

    Returns
    -------
    ``{"net": path, "trips": path, "nodes": path}``.
    """
    if n < 2:
        raise ValueError(f"grid city: n must be at least 2, got {n}")
    if not 2 <= zones <= n * n:
        raise ValueError(f"grid city: zones must be within 2..{n * n} for n={n}, got {zones}")
    if block_km <= 0 or speed_kmh <= 0 or capacity_veh_h <= 0 or trips_total <= 0:
        raise ValueError("grid city: block_km, speed_kmh, capacity_veh_h, trips_total must be > 0")
    rng = np.random.default_rng(seed)
    n_nodes = n * n

    # node numbering: zones first (1..zones), then the others, each in row-major order
    zone_idx = _zone_lattice_index(n, zones)
    is_zone = np.zeros(n_nodes, bool)
    is_zone[zone_idx] = True
    order = np.concatenate([zone_idx, np.flatnonzero(~is_zone)])
    node_id = np.empty(n_nodes, int)
    node_id[order] = np.arange(1, n_nodes + 1)

    a, b, length, art = _lattice_links(n, block_km, rng)
    speed = np.where(art, ARTERIAL_SPEED_KMH, speed_kmh)
    cap = np.where(art, ARTERIAL_CAPACITY_FACTOR * capacity_veh_h, capacity_veh_h)
    # directed links: both directions; sorted by (init, term) node id as TNTP files are
    tail = np.concatenate([node_id[a], node_id[b]])
    head = np.concatenate([node_id[b], node_id[a]])
    length2 = np.concatenate([length, length])
    speed2 = np.concatenate([speed, speed])
    cap2 = np.concatenate([cap, cap])
    link_type = np.where(np.concatenate([art, art]), 2, 1)
    srt = np.lexsort((head, tail))
    tail, head, length2, speed2, cap2, link_type = (
        x[srt] for x in (tail, head, length2, speed2, cap2, link_type)
    )
    length2 = np.round(length2, 6)
    fft_min = np.round(60.0 * length2 / speed2, 6)

    # gravity trips between zones over shortest road distances
    g = sp.csr_matrix((length2, (tail - 1, head - 1)), shape=(n_nodes, n_nodes))
    dist = dijkstra(g, indices=np.arange(zones))[:, :zones]
    prod = rng.lognormal(0.0, LOGNORMAL_SIGMA, zones)
    attr = rng.lognormal(0.0, LOGNORMAL_SIGMA, zones)
    w = prod[:, None] * attr[None, :] * np.exp(-dist / GRAVITY_SCALE_KM)
    np.fill_diagonal(w, 0.0)
    trips = np.round(w * (trips_total / w.sum()), 4)

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "net": out / f"{name}_net.tntp",
        "trips": out / f"{name}_trips.tntp",
        "nodes": out / f"{name}_node.tntp",
    }
    header = (
        "~\tinit node\tterm node\tCapacity (veh/h)\tLength (km)\tFree Flow Time (min)"
        "\tB\tPower\tSpeed (km/h)\tToll\tType (1 local, 2 arterial)\t;"
    )
    lines = [
        f"<NUMBER OF ZONES> {zones}",
        f"<NUMBER OF NODES> {n_nodes}",
        "<FIRST THRU NODE> 1",
        f"<NUMBER OF LINKS> {len(tail)}",
        f"<ORIGINAL HEADER>{header}",
        "<END OF METADATA>",
        "",
        "",
        "~\tinit_node\tterm_node\tcapacity\tlength\tfree_flow_time\tb\tpower\tspeed\ttoll"
        "\tlink_type\t;",
    ]
    lines += [
        f"\t{i}\t{j}\t{c:.1f}\t{ln:.6f}\t{f:.6f}\t0.15\t4\t{s:.1f}\t0\t{lt}\t;"
        for i, j, c, ln, f, s, lt in zip(
            tail.tolist(),
            head.tolist(),
            cap2.tolist(),
            length2.tolist(),
            fft_min.tolist(),
            speed2.tolist(),
            link_type.tolist(),
            strict=True,
        )
    ]
    paths["net"].write_text("\n".join(lines) + "\n")

    lines = [
        f"<NUMBER OF ZONES> {zones}",
        f"<TOTAL OD FLOW> {trips.sum():.4f}",
        "<END OF METADATA>",
        "",
        "",
    ]
    for i in range(zones):
        lines.append(f"Origin \t{i + 1} ")
        row = trips[i].tolist()
        for k in range(0, zones, 5):
            lines.append(
                "".join(f"{j + 1:5d} : {row[j]:12.4f}; " for j in range(k, min(k + 5, zones)))
            )
        lines.append("")
    paths["trips"].write_text("\n".join(lines) + "\n")

    x = (np.arange(n_nodes) % n) * block_km
    y = (np.arange(n_nodes) // n) * block_km
    lines = ["Node\tX\tY\t;"]
    lines += [f"{i + 1}\t{x[order[i]]:.3f}\t{y[order[i]]:.3f}\t;" for i in range(n_nodes)]
    paths["nodes"].write_text("\n".join(lines) + "\n")
    return paths


def main(argv: list[str] | None = None) -> int:
    """``python -m traffic.grid_city OUT_DIR [--n 13] [--zones 66] [--seed 0]``."""
    p = argparse.ArgumentParser(
        prog="python -m traffic.grid_city", description="Write a synthetic grid city as TNTP."
    )
    p.add_argument("out_dir", help="folder to write the TNTP files into")
    p.add_argument("--n", type=int, default=13, help="lattice size (n x n nodes)")
    p.add_argument("--zones", type=int, default=66, help="number of zone nodes")
    p.add_argument("--seed", type=int, default=0, help="seed of lengths and populations")
    p.add_argument("--name", default="GridCity", help="file prefix")
    args = p.parse_args(argv)
    try:
        paths = write_grid_city(
            args.out_dir, n=args.n, zones=args.zones, seed=args.seed, name=args.name
        )
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for kind, path in paths.items():
        print(f"{kind}: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
