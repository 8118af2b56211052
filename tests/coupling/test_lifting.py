"""Lifted squares: same optimum as the square of the sum, diagonal Hessian."""

from __future__ import annotations

import numpy as np
import pyomo.environ as pyo
import pytest
from pyomo.repn import generate_standard_repn

from cases.builtin import load_case
from coupling.problems.case_dta import case_paths
from coupling.problems.dso import MarketParams, build_eva
from coupling.problems.lifting import lifted
from power.solve import solve


def test_lifted_square_gives_the_hand_optimum():
    # min (x1 + 2 x2)^2 - 4 x1 - 6 x2, 0 <= x <= 10: with s = x1 + 2 x2 the gradient is
    # (2s - 4, 4s - 6), which cannot vanish together: x2 = 0 binds, so s = x1, 2 x1 - 4 = 0
    # -> x1 = 2 (then 4 s - 6 = 2 >= 0 confirms x2 = 0); optimum 4 - 8 = -4
    m = pyo.ConcreteModel()
    m.x = pyo.Var([1, 2], bounds=(0, 10))
    s = lifted(m, "s", {0: m.x[1] + 2 * m.x[2]})
    m.obj = pyo.Objective(expr=s[0] ** 2 - 4 * m.x[1] - 6 * m.x[2])
    res = solve(m, duals=False)
    assert res.objective == pytest.approx(-4.0, abs=1e-7)
    assert (pyo.value(m.x[1]), pyo.value(m.x[2])) == pytest.approx((2.0, 0.0), abs=1e-6)


def test_aggregator_objective_hessian_is_diagonal():
    case = load_case("tn20-dn17")
    m = build_eva(case, case_paths(case), "eva1", MarketParams.from_case(case))
    (obj,) = m.component_data_objects(pyo.Objective, active=True)
    repn = generate_standard_repn(obj.expr, quadratic=True)
    assert len(repn.quadratic_vars) > 0
    assert all(a is b for a, b in repn.quadratic_vars)  # squares of single variables only


@pytest.mark.parametrize("beta, eps", [(0.02, 1e-4), (0.0, 1e-3), (0.05, 0.0)])
def test_charging_cost_is_one_formula_in_pyomo_and_numpy(beta, eps):
    # the DSO/EVA objective term (Pyomo, lifted variables) and the reported charging cost
    # (numpy) come from MarketParams.quadratic_cost; both must equal the hand sum
    from coupling.problems.dso import _charging_terms

    rng = np.random.default_rng(3)
    stations, steps, dt = ["a", "b", "c"], 4, 0.25
    loads = rng.uniform(0.0, 50.0, (len(stations), steps))
    hand = beta * dt * sum(loads[:, t].sum() ** 2 for t in range(steps)) + eps * dt * sum(
        x**2 for x in loads.ravel()
    )
    mp = MarketParams(beta=beta, eps=eps)
    m = pyo.ConcreteModel()
    m.p = pyo.Var(stations, range(steps))
    for i, y in enumerate(stations):
        for t in range(steps):
            m.p[y, t].value = loads[i, t]
    expr = _charging_terms(m, m.p, stations, steps, dt, mp)
    for (y, t), v in m.charge_kw.items():  # the lifted variables at their defining values
        v.value = m.p[y, t].value
    if beta:
        for t in range(steps):
            m.total_kw[t].value = loads[:, t].sum()
    else:
        assert not hasattr(m, "total_kw")
    assert pyo.value(expr) == pytest.approx(hand, rel=1e-12)
    assert mp.quadratic_cost(loads, dt) == pytest.approx(hand, rel=1e-12)
