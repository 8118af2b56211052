"""Solving by independent parts (engine/split.py) gives the optimum of one solve: objective,
station loads and grid duals of a city's DSO problem, the KKT conditions of block-diagonal
LPs, and a cache that re-solves only the parts whose data changed."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from click.testing import CliRunner

from cases.builtin import load_case
from coupling.cli import main
from coupling.problems.case_dta import case_dta, case_paths
from coupling.problems.dso import MarketParams, aggregators, station_bus
from coupling.problems.market import PARALLEL_QP_COLS, declare_dso, dso_duals, solve_market
from engine.assemble import assemble
from engine.clarabel_qp import solve_clarabel
from engine.highs import solve_highs
from engine.problem import Problem, index
from engine.router import duals, values
from engine.split import PartCache, coupled_parts, parts, solve_split
from power.limits import effective_limits, fixed_q_flows
from traffic.grid_city import write_grid_city


@pytest.fixture(scope="module")
def city_dso(tmp_path_factory):
    folder = tmp_path_factory.mktemp("city")
    f = write_grid_city(folder / "tntp", n=5, zones=8, trips_total=20_000.0, seed=1)
    args = ["build", "--tntp", f["net"], "--trips", f["trips"], "--nodes", f["nodes"]]
    args += ["--feeder", "ieee33", "--stations", "2", "--ev-share", "0.03"]
    r = CliRunner().invoke(main, [str(a) for a in [*args, "--out", folder / "case"]])
    assert r.exit_code == 0, r.output
    case = load_case(folder / "case")
    paths = case_paths(case)
    structs = {a: case_dta(case, paths, aggregators=[a]) for a in aggregators(case)}
    mp = MarketParams.from_case(case)
    lim = effective_limits(case.feeder, fixed_q_flows(case.feeder))
    prob = declare_dso(structs, case.feeder, station_bus(case), lim, mp.beta, mp.eps)
    return case, prob


def test_city_dso_by_parts_equals_one_solve(city_dso):
    case, prob = city_dso
    asm = assemble(prob)
    pt = parts(asm)
    assert pt.n > 10  # ODs that reach no station are LPs of their own
    whole = solve_clarabel(asm)
    cache = PartCache()
    split = solve_market(asm, cache)
    assert "independent LP parts" in split.method
    assert split.objective == pytest.approx(whole.objective, rel=1e-7)
    # the station loads: the uniqueness term eps = 1e-4 is a weak curvature, so the two
    # interior-point solves (the coupled part, over 100 k columns, to LARGE_QP_TOL = 1e-8; the
    # whole to 1e-10) pin them to about 4e-3 kW of each other (out of up to 100 kW), and the
    # balance duals to about 6e-7 /kWh
    hot = coupled_parts(asm, pt, ["charge_kw"])
    assert np.isin(pt.col_label, np.flatnonzero(hot)).sum() >= PARALLEL_QP_COLS  # large-QP path
    np.testing.assert_allclose(values(split, "charge_kw"), values(whole, "charge_kw"), atol=1e-2)
    np.testing.assert_allclose(duals(split, "p_bal"), duals(whole, "p_bal"), atol=2e-6)
    f = case.feeder
    a, b = dso_duals(split, f), dso_duals(whole, f)
    np.testing.assert_allclose(a.mu_up, b.mu_up, atol=1e-6)
    # the second solve takes every LP part from the cache and finds the same optimum
    n_lp = cache.misses
    assert n_lp == pt.n - 1
    again = solve_market(asm, cache)
    assert cache.hits == n_lp and cache.misses == n_lp
    assert again.objective == pytest.approx(split.objective, rel=1e-12)


def _block_lps(rng: np.random.Generator, k: int, m: int, n: int) -> Problem:
    """``k`` independent feasible LPs ``A_i x_i = A_i x0_i``, ``0 <= x_i <= 3`` with random
    costs, and one strictly convex QP part coupled to nothing."""
    prob = Problem()
    for i in range(k):
        a = sp.csr_matrix(rng.normal(size=(m, n)))
        x0 = rng.uniform(0.5, 1.5, n)
        prob.add_vars(f"x{i}", index(j=np.arange(n)), 0.0, 3.0, rng.normal(size=n))
        prob.add_rows(f"r{i}", index(r=np.arange(m)), {f"x{i}": a}, a @ x0, a @ x0)
    prob.add_vars("q", index(j=np.arange(3)), -1.0, 1.0, rng.normal(size=3), qcost=2.0)
    prob.add_rows("rq", index(r=[0]), {"q": np.ones((1, 3))}, -0.5, 0.5)
    return prob


def test_block_lps_by_parts_meet_the_kkt_conditions():
    rng = np.random.default_rng(7)
    asm = assemble(_block_lps(rng, k=12, m=6, n=15))
    assert parts(asm).n == 13
    ref = solve_highs(asm)  # one solve of the whole (HiGHS' QP solver)
    cache = PartCache()
    sol = solve_split(asm, solve_clarabel, cache=cache, chunk_cols=40)
    assert sol.objective == pytest.approx(ref.objective, rel=1e-7)
    # stationarity c + Q x - A'y - z = 0, in HiGHS' sign convention (d objective / d bound)
    res = asm.c + asm.q * sol.x - asm.a.T @ sol.y - sol.z
    assert np.abs(res).max() < 1e-6
    ax = asm.a @ sol.x
    assert np.all(ax >= asm.row_lo - 1e-6) and np.all(ax <= asm.row_hi + 1e-6)
    # a changed cost re-solves only its own part
    v = asm.problem.vars["x3"]
    asm.c[v.offset] += 0.5
    sol2 = solve_split(asm, solve_clarabel, cache=cache, chunk_cols=40)
    assert cache.misses == 13 and cache.hits == 11
    assert sol2.objective == pytest.approx(solve_highs(asm).objective, rel=1e-7)
