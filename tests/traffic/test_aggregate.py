"""Demand aggregation: hand-built merges, conservation, groups, max_ods, a brute-force
reference (networkx distances, loops over ODs) and a size check."""

from __future__ import annotations

import time

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from traffic.aggregate import AggregationReport, aggregate_demand

COLS = ["od", "origin", "destination", "aggregator", "t", "vehicles", "soc_total"]


def _segments(edges: list[tuple[str, str, float]]) -> pd.DataFrame:
    return pd.DataFrame(edges, columns=["from_node", "to_node", "length_km"])


def _lattice(n: int, block: float = 1.0, seed: int = 0, asym: bool = False) -> pd.DataFrame:
    """Two-way n x n lattice with lengths block * U[1, 1.2], node ids 'r_c'; with ``asym``
    the two directions of a street differ (block * U[1, 3] each), so D[a, b] != D[b, a]."""
    rng = np.random.default_rng(seed)
    edges = []
    for r in range(n):
        for c in range(n):
            for r2, c2 in ((r, c + 1), (r + 1, c)):
                if r2 < n and c2 < n:
                    ln = block * (1 + 0.2 * rng.random())
                    back = block * (1 + 2 * rng.random()) if asym else ln
                    ln = block * (1 + 2 * rng.random()) if asym else ln
                    edges += [(f"{r}_{c}", f"{r2}_{c2}", ln), (f"{r2}_{c2}", f"{r}_{c}", back)]
    return _segments(edges)


def _rows(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=COLS)


# Hand-built network: A-B 1, B-C 2, C-D 1 both ways, and a one-way shortcut A->D 0.5.
# Directed shortest paths: A->C 1.5 (via D), B->D 1.5 (via A), D->B 3, C->A 3, A->B 1.
# Symmetric d: d(A,B)=1, d(A,C)=1.5, d(A,D)=0.5, d(B,C)=2, d(B,D)=1.5, d(C,D)=1.
HAND_SEGMENTS = _segments(
    [
        ("A", "B", 1.0),
        ("B", "A", 1.0),
        ("B", "C", 2.0),
        ("C", "B", 2.0),
        ("C", "D", 1.0),
        ("D", "C", 1.0),
        ("A", "D", 0.5),
    ]
)
HAND_TABLE = _rows(
    [
        ("A-C", "A", "C", "e1", 0, 3.0, 1.5),
        ("A-C", "A", "C", "e1", 1, 2.0, 1.0),
        ("D-B", "D", "B", "e1", 1, 3.0, 1.5),
        ("A-B", "A", "B", "e1", 0, 0.4, 0.36),
        ("B-D", "B", "D", "e1", 1, 0.25, 0.2),
        ("B-D", "B", "D", "e1", 2, 0.25, 0.1),
        ("C-A", "C", "A", "e1", 1, 0.2, 0.05),
        ("D-C", "D", "C", "e1", 2, 0.1, 0.05),
    ]
)


def test_hand_built_merge():
    out, rep = aggregate_demand(HAND_TABLE, HAND_SEGMENTS, min_vehicles=1.0)
    # A-B: to A-C costs d(A,A)+d(B,C) = 2, to D-B d(A,D)+d(B,B) = 0.5 (one-way shortcut) -> D-B
    # B-D: to A-C d(B,A)+d(D,C) = 2, to D-B d(B,D)+d(D,B) = 3 -> A-C
    # C-A: to A-C d(C,A)+d(A,C) = 3, to D-B d(C,D)+d(A,B) = 2 -> D-B
    # D-C: to A-C d(D,A)+d(C,C) = 0.5 (D->A is 4, A->D 0.5), to D-B d(D,D)+d(C,B) = 2 -> A-C
    expected = _rows(
        [
            ("A-C", "A", "C", "e1", 0, 3.0, 1.5),
            ("A-C", "A", "C", "e1", 1, 2.25, 1.2),
            ("A-C", "A", "C", "e1", 2, 0.35, 0.15),
            ("D-B", "D", "B", "e1", 0, 0.4, 0.36),
            ("D-B", "D", "B", "e1", 1, 3.2, 1.55),
        ]
    )
    pd.testing.assert_frame_equal(out, expected)
    # vehicle-km: before 5*1.5 + 3*3 + 0.4*1 + 0.5*1.5 + 0.2*3 + 0.1*1 = 18.35
    # after 5.6*1.5 + 3.6*3 = 19.2
    assert rep == AggregationReport(
        ods_before=6,
        ods_after=2,
        merged_ods=4,
        vehicles_moved=pytest.approx(1.2),
        vehicles_total=pytest.approx(9.2),
        soc_total=pytest.approx(4.76),
        km_before=pytest.approx(18.35),
        km_after=pytest.approx(19.2),
    )
    assert rep.km_error == pytest.approx(0.85 / 18.35)
    d = rep.as_dict()
    assert d["km_error"] == pytest.approx(0.85 / 18.35) and d["ods_after"] == 2


def test_blocked_nodes_are_not_passed_through():
    one = _rows([("B-D", "B", "D", "e1", 0, 2.0, 1.0), ("A-C", "A", "C", "e1", 0, 1.0, 0.5)])
    _, free = aggregate_demand(one, HAND_SEGMENTS, min_vehicles=0.0)
    assert free.km_before == pytest.approx(2 * 1.5 + 1.5)  # B->A->D, A->D->C
    # A blocked: B->D may not pass A (B->C->D = 3); A->C may start at A (1.5)
    _, rep = aggregate_demand(one, HAND_SEGMENTS, min_vehicles=0.0, blocked={"A"})
    assert rep.km_before == pytest.approx(2 * 3 + 1.5)
    # D blocked: A->C may not pass D (A->B->C = 3); B->D may end at D (1.5)
    _, rep = aggregate_demand(one, HAND_SEGMENTS, min_vehicles=0.0, blocked={"D"})
    assert rep.km_before == pytest.approx(2 * 1.5 + 3)


def test_ties_go_to_the_smallest_od_id():
    star = _segments([(c, x, 1.0) for x in "1234" for c in "0"] + [(x, "0", 1.0) for x in "1234"])
    table = _rows(
        [
            ("k_b", "1", "2", "e1", 0, 9.0, 1.0),
            ("k_a", "1", "3", "e1", 0, 2.0, 1.0),
            ("m", "1", "4", "e1", 0, 0.5, 0.1),
        ]
    )
    out, _ = aggregate_demand(table, star)
    # m is 0 + 2 km from both kept ODs: the smaller id k_a wins, not the larger OD k_b
    assert out.set_index("od")["vehicles"].to_dict() == {"k_a": 2.5, "k_b": 9.0}


def _random_table(n_ods: int, seed: int, nodes: list[str], steps: int = 4) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for k in range(n_ods):
        o, d = rng.choice(nodes, 2, replace=False)
        agg = f"e{rng.integers(2)}"
        arr = [0.8, 0.9][rng.integers(2)]
        scale = rng.lognormal(-1.0, 1.5)
        for t in sorted(rng.choice(steps, rng.integers(1, steps + 1), replace=False)):
            v = scale * rng.random()
            rows.append((f"od{k:04d}", o, d, agg, int(t), v, v * rng.random(), arr))
    return pd.DataFrame(rows, columns=[*COLS, "arrival_soc"])


def _check_conserved(before: pd.DataFrame, after: pd.DataFrame, keys: list[str]) -> None:
    for col in ("vehicles", "soc_total"):
        a = before.groupby(keys)[col].sum()
        b = after.groupby(keys)[col].sum()
        pd.testing.assert_index_equal(a.index, b.index)
        np.testing.assert_allclose(b.to_numpy(), a.to_numpy(), rtol=1e-9, atol=1e-12)


def test_conservation_and_groups():
    seg = _lattice(6)
    nodes = sorted(set(seg["from_node"]))
    table = _random_table(300, 1, nodes)
    out, rep = aggregate_demand(table, seg, min_vehicles=1.0)
    assert 4 <= rep.ods_after < rep.ods_before == 300
    assert list(out.columns) == list(table.columns)
    assert out.index.equals(pd.RangeIndex(len(out)))
    assert out[["od", "t"]].equals(out[["od", "t"]].sort_values(["od", "t"]).reset_index(drop=True))
    assert rep.vehicles_total == pytest.approx(table["vehicles"].sum(), rel=1e-12)
    assert rep.soc_total == pytest.approx(table["soc_total"].sum(), rel=1e-12)
    # totals conserved overall, per aggregator, per step, per aggregator x arrival_soc x step
    _check_conserved(table, out, ["aggregator"])
    _check_conserved(table, out, ["t"])
    _check_conserved(table, out, ["aggregator", "arrival_soc", "t"])
    # each output od keeps its own origin, destination, aggregator and arrival_soc
    attrs = ["origin", "destination", "aggregator", "arrival_soc"]
    first = table.drop_duplicates("od").set_index("od")[attrs]
    got = out.drop_duplicates("od").set_index("od")[attrs]
    pd.testing.assert_frame_equal(got, first.loc[got.index])
    # kept: vehicles >= 1, or the largest of a group with none
    vol = table.groupby("od")["vehicles"].sum()
    group_max = vol.groupby(first["aggregator"] + first["arrival_soc"].astype(str)).transform("max")
    kept_expected = set(vol.index[(vol >= 1.0) | (vol == group_max)])
    assert set(out["od"]) == kept_expected
    assert rep.ods_after == len(kept_expected)
    assert rep.vehicles_moved == pytest.approx(vol[~vol.index.isin(kept_expected)].sum())
    # the mean SOC stays a share of vehicles
    assert (out["soc_total"] <= out["vehicles"] * (1 + 1e-12)).all()


def test_group_without_a_large_od_keeps_its_largest():
    table = _rows(
        [
            ("a", "A", "C", "e1", 0, 5.0, 1.0),
            ("b", "A", "B", "e2", 0, 0.3, 0.1),
            ("c", "D", "B", "e2", 0, 0.2, 0.1),
        ]
    )
    out, rep = aggregate_demand(table, HAND_SEGMENTS, min_vehicles=1.0)
    # e2 has no OD with >= 1 vehicle: its largest, b, is kept and c merges onto it (not onto a)
    assert out.set_index("od")["vehicles"].to_dict() == pytest.approx({"a": 5.0, "b": 0.5})
    assert rep.ods_after == 2


def test_max_ods():
    seg = _lattice(6)
    nodes = sorted(set(seg["from_node"]))
    table = _random_table(200, 2, nodes).assign(aggregator="e1", arrival_soc=0.8)
    vol = table.groupby("od")["vehicles"].sum()
    out, rep = aggregate_demand(table, seg, min_vehicles=0.0, max_ods=12)
    assert rep.ods_after == 12 == out["od"].nunique()
    largest = vol.sort_values(ascending=False, kind="stable").index[:12]
    assert set(out["od"]) == set(largest)
    _check_conserved(table, out, ["t"])
    # min_vehicles still applies below max_ods
    out, rep = aggregate_demand(table, seg, min_vehicles=1.0, max_ods=10_000)
    assert rep.ods_after == max(1, int((vol >= 1.0).sum()))
    # two groups (e1, e2): max_ods must leave one od per group
    two = table.assign(aggregator=np.where(table["od"] < "od0100", "e1", "e2"))
    with pytest.raises(ValueError, match="max_ods"):
        aggregate_demand(two, seg, max_ods=1)
    _, rep = aggregate_demand(two, seg, min_vehicles=0.0, max_ods=2)
    assert rep.ods_after == 2


def test_bad_input_is_one_line():
    with pytest.raises(ValueError, match="soc_total"):
        aggregate_demand(HAND_TABLE.drop(columns="soc_total"), HAND_SEGMENTS)
    varying = HAND_TABLE.assign(arrival_soc=np.arange(len(HAND_TABLE)) / 10)
    with pytest.raises(ValueError, match="arrival_soc: must be constant per od"):
        aggregate_demand(varying, HAND_SEGMENTS)
    cut = HAND_SEGMENTS[HAND_SEGMENTS["to_node"] != "C"]
    with pytest.raises(ValueError, match="no road path from 'A' to 'C'"):
        aggregate_demand(HAND_TABLE, cut)
    neg = HAND_TABLE.assign(vehicles=-HAND_TABLE["vehicles"])
    with pytest.raises(ValueError, match="vehicles"):
        aggregate_demand(neg, HAND_SEGMENTS)


def test_empty_table():
    out, rep = aggregate_demand(HAND_TABLE.iloc[0:0], HAND_SEGMENTS)
    assert out.empty and list(out.columns) == COLS and rep.ods_after == 0


def _reference(table: pd.DataFrame, segments: pd.DataFrame, min_vehicles: float, max_ods):
    """Brute force: networkx distances and a loop over every merged x kept OD pair."""
    g = nx.DiGraph()
    for a, b, ln in segments.itertuples(index=False):
        if not g.has_edge(a, b) or g[a][b]["w"] > ln:
            g.add_edge(a, b, w=ln)
    dist = dict(nx.all_pairs_dijkstra_path_length(g, weight="w"))

    def sym(a, b):
        return min(dist[a][b], dist[b][a])

    extra = [c for c in table.columns if c not in COLS]
    info = table.drop_duplicates("od").set_index("od").sort_index()
    vol = table.groupby("od")["vehicles"].sum()
    key = {od: (info.at[od, "aggregator"], *(info.at[od, c] for c in extra)) for od in info.index}
    ranked = sorted(info.index, key=lambda od: (-vol[od], od))
    groups = sorted(set(key.values()))
    leaders = {next(od for od in ranked if key[od] == g) for g in groups}
    cands = [od for od in ranked if od not in leaders and vol[od] >= min_vehicles]
    if max_ods is not None:
        cands = cands[: max_ods - len(leaders)]
    kept = sorted(leaders | set(cands))
    target = {}
    for od in info.index:
        if od in kept:
            target[od] = od
            continue
        o, d = info.at[od, "origin"], info.at[od, "destination"]
        best, best_cost = None, np.inf
        for k in kept:  # ascending od id: strict < keeps the smallest id on ties
            if key[k] != key[od]:
                continue
            cost = sym(o, info.at[k, "origin"]) + sym(d, info.at[k, "destination"])
            if cost < best_cost:
                best, best_cost = k, cost
        target[od] = best
    moved = table.assign(od=table["od"].map(target))
    return moved.groupby(["od", "t"])[["vehicles", "soc_total"]].sum(), kept


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    n_ods=st.integers(1, 40),
    seed=st.integers(0, 10_000),
    min_vehicles=st.sampled_from([0.0, 0.3, 1.0, 5.0]),
    max_ods=st.one_of(st.none(), st.integers(4, 30)),
    with_extra=st.booleans(),
    asym=st.booleans(),
)
def test_against_brute_force(n_ods, seed, min_vehicles, max_ods, with_extra, asym):
    seg = _lattice(4, seed=seed, asym=asym)
    nodes = sorted(set(seg["from_node"]))
    table = _random_table(n_ods, seed, nodes, steps=3)
    if not with_extra:
        table = table.drop(columns="arrival_soc")
    out, rep = aggregate_demand(table, seg, min_vehicles=min_vehicles, max_ods=max_ods)
    ref, kept = _reference(table, seg, min_vehicles, max_ods)
    # same kept ODs, same merged rows
    assert sorted(out["od"].unique()) == kept
    got = out.set_index(["od", "t"])[["vehicles", "soc_total"]]
    pd.testing.assert_frame_equal(got, ref, rtol=1e-12, atol=1e-15)
    # conservation, bounds, only input ods
    assert out["vehicles"].sum() == pytest.approx(table["vehicles"].sum(), rel=1e-9)
    assert out["soc_total"].sum() == pytest.approx(table["soc_total"].sum(), rel=1e-9)
    _check_conserved(table, out, ["aggregator", "t"])
    if max_ods is not None:
        assert rep.ods_after <= max_ods
    assert set(out["od"]) <= set(table["od"])
    assert rep.ods_after + rep.merged_ods == rep.ods_before == table["od"].nunique()


def test_size_40k_ods_on_900_nodes():
    seg = _lattice(30, block=0.5)
    nodes = np.array(sorted(set(seg["from_node"])))
    rng = np.random.default_rng(7)
    idx = rng.choice(900 * 900, 60_000, replace=False)
    o, d = idx // 900, idx % 900
    idx = idx[o != d][:40_000]
    o, d = nodes[idx // 900], nodes[idx % 900]
    n = len(idx)
    veh = rng.lognormal(-1.5, 1.5, n)
    table = pd.DataFrame(
        {
            "od": [f"{a}-{b}" for a, b in zip(o, d, strict=True)],
            "origin": o,
            "destination": d,
            "aggregator": np.where(rng.random(n) < 0.5, "e1", "e2"),
            "t": rng.integers(0, 24, n),
            "vehicles": veh,
            "soc_total": 0.5 * veh,
        }
    )
    start = time.perf_counter()
    out, rep = aggregate_demand(table, seg, min_vehicles=1.0)
    elapsed = time.perf_counter() - start
    assert rep.ods_before == 40_000 and 1_000 < rep.ods_after < 10_000
    assert out["vehicles"].sum() == pytest.approx(veh.sum(), rel=1e-9)
    _check_conserved(table, out, ["aggregator", "t"])
    assert elapsed < 10.0, f"aggregation of 40,000 ODs took {elapsed:.1f} s"


def test_threshold_up_to_rounding():
    # ten departures of 0.1 sum to 0.9999999999999999 in floating point: still one vehicle
    rows = [("a", "A", "C", "e1", t, 0.1, 0.05) for t in range(10)]
    rows += [("b", "D", "B", "e1", 0, 3.0, 1.0), ("c", "B", "D", "e1", 0, 0.5, 0.1)]
    table = _rows(rows)
    assert sum([0.1] * 10) < 1.0
    out, rep = aggregate_demand(table, HAND_SEGMENTS, min_vehicles=1.0)
    assert set(out["od"]) == {"a", "b"} and rep.ods_after == 2
