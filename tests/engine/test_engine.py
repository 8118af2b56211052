"""The matrix engine against the Pyomo path, finite differences and a user constraint.

References: :func:`power.lindistflow.add_lindistflow` solved through :func:`power.solve.solve`
(a second formulation of the same LP), finite differences of the engine's own optimal cost, and
the engine with a tightened bound against a Pyomo constraint added by a user.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pyomo.environ as pyo
import pytest
import scipy.sparse as sp

from cases.builtin import load_case
from engine.assemble import assemble
from engine.highs import solve_highs
from engine.problem import Problem, ProblemError, index
from engine.pyomo_view import position, to_pyomo
from engine.router import duals, reduced_costs, table, values
from power.lindistflow import GridOptions, add_lindistflow
from power.lindistflow_engine import declare_lindistflow
from power.solve import solve


def congested_ieee33() -> object:
    """ieee33 with a cheap generator at bus 18 and the first line limited to 3200 kW: at the
    evening peak the line binds and the generator relieves it."""
    f = load_case("ieee33").feeder
    gens = pd.DataFrame(
        {
            "gen": ["g18"],
            "bus": ["18"],
            "p_min_kw": [0.0],
            "p_max_kw": [1000.0],
            "cost_per_kwh": [0.2],
        }
    )
    lines = f.lines.copy()
    lines.loc[0, "p_max_kw"] = 3200.0
    return dataclasses.replace(f, generators=gens, lines=lines)


def engine_solve(feeder):
    prob = Problem()
    declare_lindistflow(prob, feeder)
    return solve_highs(assemble(prob))


def pyomo_solve(feeder):
    m = pyo.ConcreteModel()
    add_lindistflow(m, feeder, GridOptions())
    m.obj = pyo.Objective(expr=m.cost)
    return m, solve(m, duals=True)


@pytest.mark.parametrize("case", ["ieee33", "cigre-mv-ev", "hu2014-lv", "congested"])
def test_same_optimum_and_duals_as_the_pyomo_path(case):
    f = congested_ieee33() if case == "congested" else load_case(case).feeder
    sol = engine_solve(f)
    m, ref = pyomo_solve(f)
    assert sol.objective == pytest.approx(ref.objective, rel=1e-7)
    T = range(f.steps)
    y_ref = np.array([[ref.duals[m.p_bal[b, t]] for t in T] for b in f.bus_ids])
    v_ref = np.array([[ref.duals[m.v_drop[ln, t]] for t in T] for ln in f.line_ids])
    np.testing.assert_allclose(duals(sol, "p_bal"), y_ref, atol=1e-6)
    np.testing.assert_allclose(duals(sol, "v_drop"), v_ref, atol=1e-6)
    p_ref = np.array([[m.p[ln, t].value for t in T] for ln in f.line_ids])
    np.testing.assert_allclose(values(sol, "p"), p_ref, atol=1e-6)


def test_congestion_binds_and_the_dual_is_the_marginal_cost():
    f = congested_ieee33()
    sol = engine_solve(f)
    p = values(sol, "p")
    t = int(np.argmax(p[0]))
    assert p[0, t] == pytest.approx(3200.0)  # the limited line binds at the peak
    assert reduced_costs(sol, "p")[0, t] != 0.0
    # d cost / d load at bus 18 at step t, central difference of the optimal cost (currency/kW)
    h = 1.0
    costs = []
    for sign in (+1, -1):
        loads = f.loads.copy()
        sel = (loads.bus == "18") & (loads.t == t)
        loads.loc[sel, "p_kw"] += sign * h
        costs.append(engine_solve(dataclasses.replace(f, loads=loads)).objective)
    fd = (costs[0] - costs[1]) / (2 * h)
    y = duals(sol, "p_bal")[f.bus_pos["18"], t]
    assert y == pytest.approx(fd, rel=1e-6)
    # at that step the marginal unit at bus 18 is the generator (0.2 x dt), not the import
    assert y == pytest.approx(0.2 * f.dt_h, rel=1e-6)


def test_a_user_constraint_in_pyomo_changes_the_optimum():
    f = congested_ieee33()
    prob = Problem()
    declare_lindistflow(prob, f)
    asm = assemble(prob)
    sol = solve_highs(asm)
    t = 12  # midday: the line has room and the generator (0.2/kWh) is dearer than import
    assert values(sol, "p_gen")[0, t] == pytest.approx(0.0, abs=1e-9)
    m = to_pyomo(asm)
    assert solve(m).objective == pytest.approx(sol.objective, rel=1e-9)
    # the user adds a must-run of 100 kW at step t
    g = m.p_gen[position(prob, "p_gen", gen="g18", t=t)]
    m.must_run = pyo.Constraint(expr=g >= 100.0)
    forced = solve(m).objective
    # hand calculation: 100 kW of generation replace 100 kW of import (lossless)
    extra = 100.0 * (0.2 - f.price_per_kwh[t]) * f.dt_h
    assert forced - sol.objective == pytest.approx(extra, rel=1e-9)
    # second formulation: the same must-run as a bound in the engine
    prob2 = Problem()
    declare_lindistflow(prob2, f)
    prob2.vars["p_gen"].lb[position(prob2, "p_gen", gen="g18", t=t)] = 100.0
    assert solve_highs(assemble(prob2)).objective == pytest.approx(forced, rel=1e-9)


def test_router_tables_and_declaration_errors():
    f = load_case("ieee33").feeder
    sol = engine_solve(f)
    df = table(sol, p_kw="p", dual_v="y:v_drop")
    assert list(df.columns) == ["line", "t", "p_kw", "dual_v"] and len(df) == 32 * 24
    row = df[(df.line == "l0") & (df.t == 18)]
    assert row.p_kw.item() == pytest.approx(3715.0)  # the whole peak load (test_cli reference)
    prob = Problem()
    prob.add_vars("x", index(i=range(3)))
    with pytest.raises(ProblemError, match="term 'x' has shape"):
        prob.add_rows("r", index(j=range(2)), {"x": sp.identity(3)}, 0.0, 0.0)
    with pytest.raises(ProblemError, match="unknown variable set 'y'"):
        prob.add_rows("r", index(j=range(2)), {"y": sp.identity(2)}, 0.0, 0.0)
    with pytest.raises(ProblemError, match="declared twice"):
        prob.add_vars("x", index(i=range(3)))


def test_quadratic_cost_reaches_highs():
    # min sum (x_i - a_i)^2 / 2 = 1/2 x^2 - a x (+ const) s.t. sum x = 1: x = a + (1 - sum a)/n
    a = np.array([0.2, 0.5, 1.0])
    prob = Problem()
    prob.add_vars("x", index(i=range(3)), cost=-a, qcost=1.0)
    prob.add_rows("sum", index(k=[0]), {"x": sp.csr_matrix(np.ones((1, 3)))}, 1.0, 1.0)
    sol = solve_highs(assemble(prob))
    np.testing.assert_allclose(values(sol, "x"), a + (1 - a.sum()) / 3, atol=1e-6)
    assert duals(sol, "sum")[0] == pytest.approx((1 - a.sum()) / 3, abs=1e-6)


def test_linearised_losses_match_the_pyomo_block_and_the_linear_evaluator():
    from power.limits import LinearGrid
    from power.lindistflow import set_losses

    f = congested_ieee33()
    rng = np.random.default_rng(7)
    shape = (len(f.line_ids), f.steps)
    grid = LinearGrid(f, loss_a_kw=rng.uniform(0.0, 2.0, shape), loss_b=rng.uniform(0, 0.01, shape))
    prob = Problem()
    declare_lindistflow(prob, f, losses=grid)
    sol = solve_highs(assemble(prob))
    m, _ = pyomo_solve(f)
    set_losses(m, grid)
    ref = solve(m, duals=True)
    assert sol.objective == pytest.approx(ref.objective, rel=1e-7)
    T = range(f.steps)
    y_ref = np.array([[ref.duals[m.p_bal[b, t]] for t in T] for b in f.bus_ids])
    np.testing.assert_allclose(duals(sol, "p_bal"), y_ref, atol=1e-6)
    # independent: with the line limits off, the flows are the evaluator's map of the net load
    free = Problem()
    g33 = load_case("ieee33").feeder
    lossy = LinearGrid(g33, loss_a_kw=grid.loss_a_kw, loss_b=grid.loss_b)
    declare_lindistflow(free, g33, losses=lossy, enforce_limits=False)
    s = solve_highs(assemble(free))
    net = g33.load_p_kw - g33.renewable_p_kw()
    np.testing.assert_allclose(values(s, "p"), lossy.flows(net), atol=1e-6)
