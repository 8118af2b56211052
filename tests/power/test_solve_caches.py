"""The solver caches are explicit objects with their invalidation rule (issue 13): nothing is
stored on the Pyomo model."""

from __future__ import annotations

import pyomo.environ as pyo
import pytest

from power.solve import CompiledQP, KeptLP, solve


def _qp() -> pyo.ConcreteModel:
    m = pyo.ConcreteModel()
    m.x = pyo.Var(bounds=(0, 10))
    m.c = pyo.Param(initialize=4.0, mutable=True)
    m.obj = pyo.Objective(expr=(m.x - m.c) ** 2)  # optimum x = c within the bounds
    return m


def test_compiled_qp_rereads_the_objective_and_recompiles_on_new_bounds():
    m, cache = _qp(), CompiledQP()
    assert solve(m, compiled=cache).objective == pytest.approx(0.0, abs=1e-8)
    first = cache.info
    m.c = 6.0  # only the objective changes: the compiled rows are reused
    solve(m, compiled=cache)
    assert cache.info is first and pyo.value(m.x) == pytest.approx(6.0, abs=1e-6)
    m.x.setub(5.0)  # a bound changes: the cache notices and recompiles
    solve(m, compiled=cache)
    assert cache.info is not first and pyo.value(m.x) == pytest.approx(5.0, abs=1e-6)
    assert not [k for k in vars(m) if k.startswith("_evtp")]


def test_kept_lp_is_returned_not_stored_on_the_model():
    m = pyo.ConcreteModel()
    m.x = pyo.Var(bounds=(1, 3))
    m.obj = pyo.Objective(expr=2 * m.x)
    res = solve(m, keep=True)
    assert isinstance(res.kept, KeptLP) and res.objective == pytest.approx(2.0)
    res.kept.highs.changeColsBounds(1, [0], [2.0], [3.0])  # in place, then a warm re-solve
    assert res.kept.resolve().objective == pytest.approx(4.0)
    assert pyo.value(m.x) == pytest.approx(2.0)
    assert solve(m).kept is None
