"""The DTA engine block's builders one by one (as tests/engine/test_lindistflow_blocks.py for
LinDistFlow), against hand counts on a tiny network.

Network A -(AB)-> B -(BC)-> C, one free-flow step each, SOC use 0.3 per vehicle on each; station
S at B with chargers of 50 and 11 kW, efficiency 0.9, 2 plugs; 3 vehicles of OD "ac" depart
from A at t = 0 with SOC 0.5 each; T = 4 steps of 15 min, batteries of 20 kWh. One path
A>B>C stopping at S: elements AB (0), S (1), BC (2). Exit capacity of AB 2 vehicles per step
(< the 3 vehicles: its rows can bind), BC 50 (cannot: no rows); 2 plugs < 3 vehicles (rows).

Free-flow windows (no delay limit): boundary 0 at t = 0, boundaries 1 and 2 (before/after S) at
t = 1..3, boundary 3 at t = 2..3. Vehicle quantities: flows 1 + 3 + 3 + 2 = 9, AB queue 3,
S enter + bypass 3 + 3, S waiting, to_charger, leave and 2 charging per t = 1..3: 15, BC queue
2, unserved 1: N = 36. Balance rows: AB 3, split_in 3, split_out 3, waiting 3, charging 3, BC
2, departure 1: R = 18. Exit rows (AB, t = 1..3): 3; plug rows (S, t = 1..3): 3.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyomo.environ as pyo
import pytest

from engine.assemble import assemble
from engine.highs import solve_highs
from engine.problem import Problem, ProblemError
from engine.router import values
from tests.traffic.util import demand, solve, station
from traffic.dta import DtaOptions, dta_layout
from traffic.dta_engine import (
    declare_dta,
    declare_dta_balances,
    declare_dta_capacity,
    declare_dta_columns,
    declare_dta_costs,
    declare_dta_station_load,
)
from traffic.network import RoadNetwork
from traffic.paths import Path, PathSet

T, DT_H, BATTERY, ETA, USE = 4, 0.25, 20.0, 0.9, 0.3
OPTS = DtaOptions(soc_min=0.2, soc_max=1.0, penalty_per_vehicle=100.0)
PRICE = [0.3, 0.1, 0.2, 0.4]


def tiny():
    net = RoadNetwork(
        pd.DataFrame({"node": ["A", "B", "C"], "x": 0.0, "y": 0.0}),
        pd.DataFrame(
            {
                "segment": ["AB", "BC"],
                "from_node": ["A", "B"],
                "to_node": ["B", "C"],
                "length_km": 1.0,
                "free_flow_steps": [1, 1],
                "capacity_veh_per_step": [2.0, 50.0],
                "soc_per_vehicle": [USE, USE],
            }
        ),
    )
    sta = station("B", "50;11", plugs=2, eta=ETA)
    dem = demand([("ac", "A", "C", "m", 0, 3.0, 1.5)])
    paths = PathSet((Path("ac#0", "ac", ("A", "B", "C"), ("AB", "BC"), ((1, "S"),)),))
    return net, sta, dem, paths


def layout(opts=OPTS):
    net, sta, dem, paths = tiny()
    return dta_layout(net, sta, dem, paths, T, DT_H, BATTERY, opts)


def column(st, **where):
    v = st.index.variables
    mask = np.ones(len(v), bool)
    for k, x in where.items():
        mask &= (v[k] == x).to_numpy()
    (i,) = np.flatnonzero(mask)
    return int(i)


def row(st, kind, t, element=None):
    r = st.index.rows
    mask = ((r["kind"] == kind) & (r["t"] == t)).to_numpy()
    if element is not None:
        mask &= (r["element"] == element).to_numpy()
    (i,) = np.flatnonzero(mask)
    return int(i)


def coefs(m, r):
    """Row ``r`` of a sparse matrix as {column: coefficient}."""
    m = m.tocsr()
    s, e = m.indptr[r], m.indptr[r + 1]
    return dict(zip(m.indices[s:e].tolist(), m.data[s:e].tolist(), strict=True))


def test_columns_alone_count_and_bounds():
    st = layout()
    prob = Problem()
    declare_dta_columns(prob, st, prefix="m:")
    assert set(prob.vars) == {"m:veh_min", "m:veh_max"} and not prob.rows
    assert prob.n_cols == 2 * 36
    for vs in prob.vars.values():
        assert not vs.lb.any() and np.isinf(vs.ub).all() and not vs.cost.any()
    # a time window of 0 steps: the station's last waiting and charging states are fixed to 0
    st0 = layout(DtaOptions(soc_min=0.2, max_delay_steps=0))
    prob = Problem()
    declare_dta_columns(prob, st0)
    kinds = st0.index.variables["kind"].to_numpy()[st0.fixed]
    assert sorted(kinds) == ["charging", "charging", "waiting"]
    for vs in prob.vars.values():
        assert (vs.ub[st0.fixed] == 0.0).all()
        assert np.isinf(np.delete(vs.ub, st0.fixed)).all()


def test_balances_alone_hand_rows():
    st = layout()
    prob = Problem()
    declare_dta_columns(prob, st)
    declare_dta_balances(prob, st)
    assert set(prob.rows) == {"balance_veh", "balance_soc"}
    assert prob.rows["balance_veh"].idx.size == prob.rows["balance_soc"].idx.size == 18
    bv, bs = prob.rows["balance_veh"], prob.rows["balance_soc"]
    lo, hi = 0.2, 1.0

    # departure: u_0 + unserved = 3 vehicles, SOC twin = 1.5 battery equivalents
    r = row(st, "departure", 0)
    u0 = column(st, kind="flow", boundary=0, t=0)
    un = column(st, kind="unserved", t=0)
    for side in ("veh_min", "veh_max"):
        assert coefs(bv.terms[side], r) == {u0: 1.0, un: 1.0}
    assert (bv.lo[r], bv.hi[r], bs.lo[r], bs.hi[r]) == (3.0, 3.0, 1.5, 1.5)
    assert coefs(bs.terms["veh_min"], r) == pytest.approx({u0: lo, un: lo})
    assert coefs(bs.terms["veh_max"], r) == pytest.approx({u0: hi, un: hi})

    # segment AB at t = 1: queue_1 + exit_1 - departure_0 = 0; the SOC twin uses 0.3 per
    # vehicle that entered: (floor - 0.3) on the departure flow
    r = row(st, "segment", 1, element=0)
    q1 = column(st, kind="queued", segment="AB", t=1)
    v1 = column(st, kind="flow", boundary=1, t=1)
    for side in ("veh_min", "veh_max"):
        assert coefs(bv.terms[side], r) == {q1: 1.0, v1: 1.0, u0: -1.0}
    assert bv.lo[r] == bv.hi[r] == bs.lo[r] == bs.hi[r] == 0.0
    assert coefs(bs.terms["veh_min"], r) == pytest.approx({q1: lo, v1: lo, u0: -lo + USE})
    assert coefs(bs.terms["veh_max"], r) == pytest.approx({q1: hi, v1: hi, u0: -hi + USE})

    # charging state of S at t = 2: x50_2 + x11_2 - x50_1 - x11_1 - to_charger_2 + leave_2 = 0;
    # the SOC twin gains k = eta p dt / E per vehicle and step on each charger
    r = row(st, "charging", 2)
    x = {(p, t): column(st, kind="charging", charger=p, t=t) for p in (50.0, 11.0) for t in (1, 2)}
    cd = column(st, kind="to_charger", t=2)
    lv = column(st, kind="leave", t=2)
    veh = {x[50.0, 2]: 1.0, x[11.0, 2]: 1.0, x[50.0, 1]: -1.0, x[11.0, 1]: -1.0, cd: -1.0}
    veh[lv] = 1.0
    for side in ("veh_min", "veh_max"):
        assert coefs(bv.terms[side], r) == veh
    k = {p: ETA * p * DT_H / BATTERY for p in (50.0, 11.0)}
    assert k[50.0] == pytest.approx(0.5625)
    for side, m in (("veh_min", lo), ("veh_max", hi)):
        want = {i: c * m for i, c in veh.items()}
        want[x[50.0, 2]] -= k[50.0]
        want[x[11.0, 2]] -= k[11.0]
        assert coefs(bs.terms[side], r) == pytest.approx(want)


def test_capacity_alone_only_binding_rows():
    st = layout()
    prob = Problem()
    declare_dta_columns(prob, st)
    declare_dta_capacity(prob, st)
    assert set(prob.rows) == {"exit_capacity", "plugs"}  # no rows on BC (50 > 3 vehicles)
    ex, pl = prob.rows["exit_capacity"], prob.rows["plugs"]
    assert st.exit_keys == [("AB", 1), ("AB", 2), ("AB", 3)]
    assert st.plug_keys == [("S", 1), ("S", 2), ("S", 3)]
    # exit of AB at t = 2: the flow leaving AB at 2 <= 2 vehicles per step
    v2 = column(st, kind="flow", boundary=1, t=2)
    for side in ("veh_min", "veh_max"):
        assert coefs(ex.terms[side], 1) == {v2: 1.0}
    assert np.isneginf(ex.lo).all() and (ex.hi == 2.0).all()
    # plugs of S at t = 3: both chargers' vehicles <= 2
    x = [column(st, kind="charging", charger=p, t=3) for p in (50.0, 11.0)]
    assert coefs(pl.terms["veh_max"], 2) == dict.fromkeys(x, 1.0)
    assert (pl.hi == 2.0).all()
    # with enough plugs and exit capacity nothing can bind and no set is declared
    net, sta, dem, paths = tiny()
    net = RoadNetwork(net.nodes, net.segments.assign(capacity_veh_per_step=3.0))
    sta = station("B", "50;11", plugs=3, eta=ETA)
    free = dta_layout(net, sta, dem, paths, T, DT_H, BATTERY, OPTS)
    prob = Problem()
    declare_dta_columns(prob, free)
    declare_dta_capacity(prob, free)
    assert not prob.rows


def test_station_load_of_known_vehicles():
    st = layout()
    prob = Problem()
    declare_dta_columns(prob, st)
    load = declare_dta_station_load(prob, st)
    assert not prob.rows and prob.n_cols == 2 * 36  # a map, nothing declared
    assert load.idx.dims == ("station", "t") and load.idx.shape == (1, T)
    vmin, vmax = np.zeros(36), np.zeros(36)
    # 2 vehicles on the 50 kW charger at t = 2 (split over both SOC columns), 1.5 on the 11 kW
    # charger at t = 3, and vehicles elsewhere that draw nothing
    vmin[column(st, kind="charging", charger=50.0, t=2)] = 0.5
    vmax[column(st, kind="charging", charger=50.0, t=2)] = 1.5
    vmax[column(st, kind="charging", charger=11.0, t=3)] = 1.5
    vmax[column(st, kind="waiting", t=2)] = 4.0
    vmin[column(st, kind="queued", segment="AB", t=1)] = 1.0
    p = load.evaluate({"veh_min": vmin, "veh_max": vmax})
    np.testing.assert_allclose(p, [[0.0, 0.0, 50.0 * 2.0, 11.0 * 1.5]])


def test_costs_alone():
    st = layout()
    prob = Problem()
    declare_dta_columns(prob, st)
    declare_dta_costs(prob, st, PRICE)
    assert not prob.rows
    c = prob.vars["veh_min"].cost
    assert (c == prob.vars["veh_max"].cost).all()
    assert prob.objective_offset == pytest.approx(100.0 * 3.0)  # penalty x demand
    # the 50 kW charger at t = 2: one vehicle-step plus 0.2 currency/kWh x 50 kW x 0.25 h
    assert c[column(st, kind="charging", charger=50.0, t=2)] == pytest.approx(1.0 + 0.2 * 12.5)
    # an arrival at t = 3 earns the penalty back; it is on BC's exit, one step in the network
    assert c[column(st, kind="flow", boundary=3, t=3)] == pytest.approx(-100.0)
    # the departure at t = 0 spends its free-flow step on AB
    assert c[column(st, kind="flow", boundary=0, t=0)] == pytest.approx(1.0)


def test_builders_need_the_columns():
    st = layout()
    for builder in (
        declare_dta_balances,
        declare_dta_capacity,
        declare_dta_station_load,
        declare_dta_costs,
    ):
        with pytest.raises(ProblemError, match="veh_min' not declared"):
            builder(Problem(), st)


def test_composition_equals_the_pyomo_block():
    st = layout()
    prob = Problem()
    load = declare_dta(prob, st)
    declare_dta_costs(prob, st, PRICE)
    assert set(prob.rows) == {"balance_veh", "balance_soc", "exit_capacity", "plugs"}
    assert prob.n_rows == 2 * 18 + 3 + 3 and prob.n_cols == 2 * 36
    sol = solve_highs(assemble(prob), method="simplex")
    m = solve(*tiny(), T, DT_H, BATTERY, OPTS, price=PRICE)
    assert sol.objective == pytest.approx(pyo.value(m.obj), rel=1e-7)
    # the model charges (the trip needs 0.6 of a battery, the vehicles carry 0.5)
    vals = {n: values(sol, n) for n in ("veh_min", "veh_max")}
    p = load.evaluate(vals)
    assert p.sum() > 1.0
    pyo_p = [[pyo.value(m.station_p_kw["S", t]) for t in range(T)]]
    # and the engine's station load map gives the energy cost of the Pyomo block's expression
    assert float(np.dot(p[0], PRICE)) == pytest.approx(float(np.dot(pyo_p[0], PRICE)), rel=1e-6)
