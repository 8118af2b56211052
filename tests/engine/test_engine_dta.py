"""The DTA in the matrix engine against the Pyomo block emitted from the same structure, and
the hand-countable Braess network."""

from __future__ import annotations

import numpy as np
import pyomo.environ as pyo
import pytest

from cases.builtin import load_case
from coupling.problems.case_dta import add_case_dta, case_dta, case_paths
from engine.assemble import assemble
from engine.highs import solve_highs
from engine.problem import Problem
from engine.pyomo_view import to_pyomo
from engine.router import duals, values
from power.solve import solve
from traffic.dta import traffic_cost_expr
from traffic.dta_engine import declare_dta, declare_dta_costs
from traffic.results import dta_results, tables_from_values


def engine_traffic(st, price):
    prob = Problem()
    declare_dta(prob, st)
    declare_dta_costs(prob, st, price)
    asm = assemble(prob)
    return asm, solve_highs(asm, method="simplex")


def test_tn20_dn17_traffic_equals_the_pyomo_block():
    case = load_case("tn20-dn17")
    paths = case_paths(case)
    price = case.feeder.price_per_kwh
    st = case_dta(case, paths)
    asm, sol = engine_traffic(st, price)
    m = pyo.ConcreteModel()
    m.dta = pyo.Block()
    add_case_dta(m.dta, case, paths)
    m.obj = pyo.Objective(expr=traffic_cost_expr(m.dta, price))
    ref = solve(m, duals=True)
    assert sol.objective == pytest.approx(ref.objective, rel=1e-7)
    # the scalars of the tables from the engine's arrays equal the Pyomo block's expressions
    r = tables_from_values(st.index, values(sol, "veh_min"), values(sol, "veh_max"))
    p = dta_results(m.dta)
    assert r.vehicles_arrived == pytest.approx(pyo.value(m.dta.vehicles_arrived), abs=1e-6)
    assert r.travel_cost + r.arrival_penalty == pytest.approx(
        p.travel_cost + p.arrival_penalty, rel=1e-7
    )
    # the duals are the LP's: every column bound is 0 (or fixed at 0), so strong duality reads
    # objective = rhs' y + offset over the balance and capacity rows
    y = st.rhs_veh @ duals(sol, "balance_veh") + st.rhs_soc @ duals(sol, "balance_soc")
    caps = [n for n in ("exit_capacity", "plugs") if n in asm.problem.rows]
    y += sum(asm.problem.rows[n].hi @ duals(sol, n) for n in caps)
    assert not asm.lb.any() and not asm.ub[np.isfinite(asm.ub)].any()
    assert y + asm.offset == pytest.approx(sol.objective, rel=1e-6)
    # and the Pyomo view of the engine's problem gives the same optimum again
    assert solve(to_pyomo(asm)).objective == pytest.approx(sol.objective, rel=1e-7)


def test_station_load_prices_the_charging():
    case = load_case("tn20-dn17")
    st = case_dta(case, case_paths(case))
    zero = np.zeros(case.time.steps)
    _, base = engine_traffic(st, zero)
    # a flat price p adds p * dt * (charged energy) to the optimum if the routing does not move;
    # a tiny price cannot move it: the derivative of the optimum is the charged energy
    h = 1e-6
    _, bumped = engine_traffic(st, zero + h)
    r = tables_from_values(st.index, values(base, "veh_min"), values(base, "veh_max"))
    energy_kwh = float(r.stations["p_kw"].sum() * case.time.dt_h)
    assert energy_kwh > 100.0
    assert (bumped.objective - base.objective) / h == pytest.approx(energy_kwh, rel=1e-4)
