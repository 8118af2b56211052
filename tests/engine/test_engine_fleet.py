"""The stationary fleet in the engine against the Pyomo strategy models (grid, smart, v2g)."""

from __future__ import annotations

import numpy as np
import pytest

from cases.builtin import load_case
from coupling.jobs.strategy import (
    SMART_K,
    STRATEGIES,
    UNSERVED_COST,
    build_strategy_model,
    fleet_share,
)
from engine.assemble import assemble
from engine.clarabel_qp import solve_clarabel
from engine.highs import solve_highs
from engine.problem import Problem
from engine.router import values
from power.fleet import fleet_results
from power.fleet_engine import connect_fleet, declare_fleet, smart_cost
from power.lindistflow_engine import declare_lindistflow
from power.solve import solve


@pytest.mark.parametrize("strategy", ["grid", "smart", "v2g"])
def test_fleet_strategies_equal_the_pyomo_models(strategy):
    case = load_case("cigre-mv-ev")
    f = case.feeder
    fleet = fleet_share(case.fleet, 0.3, seed=1)
    s = STRATEGIES[strategy]
    m = build_strategy_model(case, fleet, s)
    ref = solve(m, duals=False)
    prob = Problem()
    declare_lindistflow(prob, f)
    ix = declare_fleet(prob, fleet, f.dt_h, discharge=s.discharge, unserved_cost=UNSERVED_COST)
    connect_fleet(prob, fleet, ix, f)
    if s.smart:  # seed 002's objective replaces the energy cost
        prob.vars["p_import"].cost = np.zeros(f.steps)
        smart_cost(prob, fleet, ix, SMART_K)
        sol = solve_clarabel(assemble(prob))
        assert sol.objective == pytest.approx(ref.objective, rel=1e-7)
    else:  # the Pyomo objective prices the EV energy only: the base load's cost is a constant
        sol = solve_highs(assemble(prob))
        base = float((f.price_per_kwh * (f.load_p_kw - f.renewable_p_kw()).sum(0)).sum() * f.dt_h)
        assert sol.objective - base == pytest.approx(ref.objective, rel=1e-7)
    soc = fleet_results(m.fleet, fleet)["soc"].to_numpy()
    # the QP's SOC path is unique (strictly convex in soc); the LP's only at departure
    keep = slice(None) if s.smart else ix.last - 1
    np.testing.assert_allclose(values(sol, "soc")[keep], soc[keep], atol=1e-4)
