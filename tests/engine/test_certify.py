"""A known solution is accepted without a solve only when it meets the problem's KKT
conditions: a hand-solved LP, and the DSO's schedule as an aggregator's response to the DLMP
tariff (the theory of coupling/problems/dso.py) against a solve of the aggregator."""

from __future__ import annotations

import numpy as np
import pytest

from cases.builtin import load_case
from coupling.problems.case_dta import case_dta, case_paths
from coupling.problems.dso import MarketParams, aggregators, station_bus, station_ids
from coupling.problems.market import declare_dso, declare_eva, dso_duals, set_tariff, solve_market
from engine.assemble import assemble
from engine.certify import certify, kkt
from engine.highs import Solved, solve_highs
from engine.problem import Problem, index
from engine.router import values
from power.limits import LinearGrid, effective_limits, fixed_q_flows


def _lp() -> Problem:
    """min x0 + 2 x1 s.t. x0 + x1 >= 1, x >= 0: x = (1, 0), y = 1, z = (0, 1) by hand."""
    prob = Problem()
    prob.add_vars("x", index(j=[0, 1]), 0.0, np.inf, [1.0, 2.0])
    prob.add_rows("r", index(r=[0]), {"x": np.ones((1, 2))}, 1.0, np.inf)
    return prob


def test_kkt_of_a_hand_solved_lp():
    asm = assemble(_lp())
    x, y, z = np.array([1.0, 0.0]), np.array([1.0]), np.array([0.0, 1.0])
    assert kkt(asm, x, y, z).ok()
    assert kkt(asm, x, np.array([0.5]), z).dual > 0.1  # not stationary
    # stationary, but x0 > 0 with a positive reduced cost
    assert kkt(asm, x, np.array([0.5]), np.array([0.5, 1.5])).gap > 0.1
    # stationary but the row dual has the sign of its infinite upper bound
    assert not kkt(asm, x, np.array([-1.0]), np.array([2.0, 3.0])).ok()
    # feasible, stationary, but not optimal: x1 > 0 with a positive reduced cost
    assert kkt(asm, np.array([0.5, 0.5]), y, z).gap > 0.1
    sol = solve_highs(asm)
    known = Solved(asm, x, y, z, 1.0, "Optimal", "hand", 0.0, 0.0)
    got = certify(asm, known)
    assert got is not None and got.objective == pytest.approx(sol.objective)


def test_the_dso_schedule_is_the_aggregator_response_to_its_dlmp():
    case = load_case("tn20-dn17")
    f = case.feeder
    paths = case_paths(case)
    a = aggregators(case)[0]
    # one aggregator: the whole demand of the case under one name
    st = case_dta(case, paths)
    mp = MarketParams.from_case(case)
    lim = effective_limits(f, fixed_q_flows(f))
    dso = solve_market(assemble(declare_dso({a: st}, f, station_bus(case), lim, mp.beta, mp.eps)))
    tariff_bus = dso_duals(dso, f).bus_tariff(LinearGrid(f), f.price_per_kwh)
    assert np.ptp(tariff_bus) > 1e-3  # a limit binds: the tariff is not flat
    bus = np.array([f.bus_pos[station_bus(case)[y]] for y in station_ids(case)])
    eva = assemble(declare_eva(st, a, station_ids(case), f.price_per_kwh, f.dt_h, mp.beta, mp.eps))
    set_tariff(eva, f.price_per_kwh, tariff_bus[bus], f.dt_h)
    got = certify(eva, dso)
    assert got is not None
    ref = solve_market(eva)
    assert got.objective == pytest.approx(ref.objective, rel=1e-7)
    np.testing.assert_allclose(values(got, "charge_kw"), values(ref, "charge_kw"), atol=1e-2)
    # another tariff: the DSO's schedule is no longer the response, and is refused
    moved = tariff_bus[bus].copy()
    moved[values(ref, "charge_kw") > 1.0] += 0.01
    set_tariff(eva, f.price_per_kwh, moved, f.dt_h)
    assert certify(eva, dso) is None
