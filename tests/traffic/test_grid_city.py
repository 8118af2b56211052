"""Synthetic grid city: counts, TNTP round trip, gravity form, determinism, plausibility."""

from __future__ import annotations

import subprocess
import sys

import networkx as nx
import numpy as np
import pytest

from traffic.grid_city import write_grid_city
from traffic.tntp import read_tntp_net, read_tntp_nodes, read_tntp_trips, tntp_to_traffic


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    out = tmp_path_factory.mktemp("city")
    paths = write_grid_city(out)
    meta, links = read_tntp_net(paths["net"])
    tmeta, trips = read_tntp_trips(paths["trips"])
    nodes = read_tntp_nodes(paths["nodes"])
    return paths, meta, links, tmeta, trips, nodes


def _graph(links):
    g = nx.DiGraph()
    for i, j, ln in links[["init_node", "term_node", "length"]].itertuples(index=False):
        g.add_edge(i, j, w=ln)
    return g


def test_counts(city):
    paths, meta, links, tmeta, trips, nodes = city
    assert set(paths) == {"net", "trips", "nodes"}
    assert paths["net"].name == "GridCity_net.tntp"
    assert meta["NUMBER OF NODES"] == "169" and meta["NUMBER OF ZONES"] == "66"
    assert meta["FIRST THRU NODE"] == "1" and meta["NUMBER OF LINKS"] == "624"
    assert "Length (km)" in meta["ORIGINAL HEADER"]
    assert "Free Flow Time (min)" in meta["ORIGINAL HEADER"]
    assert len(links) == 4 * 12 * 13
    ids = set(links["init_node"]) | set(links["term_node"])
    assert ids == {str(i) for i in range(1, 170)}
    assert nodes["node"].tolist() == [str(i) for i in range(1, 170)]
    # no duplicate links; each link has its reverse
    pairs = set(zip(links["init_node"], links["term_node"], strict=True))
    assert len(pairs) == 624 and all((j, i) in pairs for i, j in pairs)
    # trips only between zones 1..66, all 66*65 off-diagonal pairs positive
    pos = trips[trips["trips"] > 0]
    assert len(pos) == 66 * 65 == 4290
    assert (pos["origin"] != pos["destination"]).all()
    assert set(pos["origin"]) == set(pos["destination"]) == {str(i) for i in range(1, 67)}
    assert tmeta["NUMBER OF ZONES"] == "66"


def test_total_trips(city):
    _, _, _, tmeta, trips, _ = city
    assert trips["trips"].sum() == pytest.approx(400_000.0, rel=1e-6)
    assert float(tmeta["TOTAL OD FLOW"]) == pytest.approx(trips["trips"].sum(), abs=1e-3)


def test_zones_spread_over_the_lattice(city):
    _, _, _, _, _, nodes = city
    zones = nodes.iloc[:66]
    # every lattice row (y) holds 5 or 6 of the 66 zones (66 / 13 = 5.1); all columns some
    per_row = zones.groupby("y").size()
    assert len(per_row) == 13 and per_row.between(5, 6).all()
    assert zones["x"].nunique() == 13


def test_lengths_speeds_and_arterials(city):
    _, _, links, _, _, nodes = city
    xy = nodes.set_index("node")[["x", "y"]]
    a = xy.loc[links["init_node"]].to_numpy()
    b = xy.loc[links["term_node"]].to_numpy()
    straight = np.hypot(*(a - b).T)
    np.testing.assert_allclose(straight, 0.8, atol=1e-9)  # lattice neighbours only
    ln = links["length"].to_numpy()
    assert (ln >= straight - 1e-9).all() and (ln <= 1.1 * straight + 1e-6).all()
    # the jitter is not degenerate: lengths spread over the +10 % band
    assert ln.max() - ln.min() > 0.05
    speed = 60.0 * ln / links["free_flow_time"].to_numpy()
    # arterial: a link along a row y = 0, 3.2, 6.4, 9.6 km or a column x of the same values
    along_row = np.isclose(a[:, 1], b[:, 1])
    line = np.where(along_row, a[:, 1], a[:, 0])
    arterial = np.rint(line / 0.8).astype(int) % 4 == 0
    assert arterial.sum() == 2 * 2 * 4 * 12  # 4 rows + 4 columns, 12 segments, 2 directions
    np.testing.assert_allclose(speed, np.where(arterial, 60.0, 40.0), rtol=1e-5)
    np.testing.assert_allclose(links["speed"], np.where(arterial, 60.0, 40.0))
    np.testing.assert_allclose(links["capacity"], np.where(arterial, 3600.0, 1800.0))
    assert (links["link_type"] == np.where(arterial, 2, 1)).all()
    # two directions of a street have the same length
    rev = links.set_index(["term_node", "init_node"])["length"]
    fwd = links.set_index(["init_node", "term_node"])["length"]
    np.testing.assert_allclose(fwd.sort_index(), rev.sort_index().to_numpy())


def test_strongly_connected(city):
    _, _, links, _, _, _ = city
    g = _graph(links)
    assert nx.number_strongly_connected_components(g) == 1 and g.number_of_nodes() == 169


def test_gravity_form(city):
    """T_ij T_kl / (T_il T_kj) = exp(-(d_ij + d_kl - d_il - d_kj) / 3 km): populations cancel."""
    _, _, links, _, trips, _ = city
    g = _graph(links)
    t = trips.set_index(["origin", "destination"])["trips"]
    rng = np.random.default_rng(1)
    checked = 0
    for _ in range(200):
        i, j, k, m = (str(v) for v in rng.choice(np.arange(1, 67), 4, replace=False))
        q = [t[(i, j)], t[(k, m)], t[(i, m)], t[(k, j)]]
        if min(q) < 20:  # 4-decimal rounding: keep the check at 1e-5 relative
            continue
        d = {
            (o, e): nx.dijkstra_path_length(g, o, e, weight="w")
            for o, e in ((i, j), (k, m), (i, m), (k, j))
        }
        lhs = q[0] * q[1] / (q[2] * q[3])
        rhs = np.exp(-(d[(i, j)] + d[(k, m)] - d[(i, m)] - d[(k, j)]) / 3.0)
        assert lhs == pytest.approx(rhs, rel=2e-5)
        checked += 1
    assert checked > 20


def test_deterministic(tmp_path):
    a = write_grid_city(tmp_path / "a", n=6, zones=10, seed=3)
    b = write_grid_city(tmp_path / "b", n=6, zones=10, seed=3)
    c = write_grid_city(tmp_path / "c", n=6, zones=10, seed=4)
    for kind in ("net", "trips", "nodes"):
        assert a[kind].read_bytes() == b[kind].read_bytes()
    assert a["net"].read_bytes() != c["net"].read_bytes()
    assert a["trips"].read_bytes() != c["trips"].read_bytes()


def test_reads_as_traffic_case(city):
    paths = city[0]
    net, dem = tntp_to_traffic(
        paths["net"],
        paths["trips"],
        paths["nodes"],
        steps=4,
        dt_h=0.25,
        ev_share=0.01,
        length_unit_km=1.0,
    )
    assert len(net.segments) == 624 and net.nodes["through"].all()
    assert dem.table["vehicles"].sum() == pytest.approx(4000.0, rel=1e-6)
    assert dem.table["od"].nunique() == 4290
    # 0.8..0.88 km at 40 km/h: 1.2..1.32 min -> one 15-min step
    assert (net.segments["free_flow_steps"] == 1).all()


def test_cli(tmp_path):
    ok = subprocess.run(
        [sys.executable, "-m", "traffic.grid_city", str(tmp_path), "--n", "4", "--zones", "5"],
        capture_output=True,
        text=True,
    )
    assert ok.returncode == 0, ok.stderr
    meta, links = read_tntp_net(tmp_path / "GridCity_net.tntp")
    assert meta["NUMBER OF ZONES"] == "5" and len(links) == 4 * 3 * 4
    bad = subprocess.run(
        [sys.executable, "-m", "traffic.grid_city", str(tmp_path), "--n", "3", "--zones", "10"],
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2
    assert bad.stderr.strip().count("\n") == 0 and "zones" in bad.stderr
