"""The tariff scheme's DSO and EVA problems in the engine against the Pyomo models of
coupling/problems/dso.py (objective, DLMP duals, station loads), and in-place tariff updates."""

from __future__ import annotations

import numpy as np
import pyomo.environ as pyo
import pytest

from cases.builtin import load_case
from coupling.problems.case_dta import case_dta, case_paths
from coupling.problems.dso import (
    MarketParams,
    aggregators,
    build_dso,
    build_eva,
    station_bus,
    station_ids,
    station_loads,
)
from coupling.problems.market import declare_dso, declare_eva, set_tariff
from coupling.problems.robust_grid import grid_margins
from engine.assemble import assemble
from engine.clarabel_qp import solve_clarabel
from engine.router import duals, values
from power.limits import effective_limits, fixed_q_flows
from power.sensitivity import sensitivities
from power.solve import solve


@pytest.fixture(scope="module")
def setup():
    case = load_case("tn20-dn17")
    paths = case_paths(case)
    structs = {a: case_dta(case, paths, aggregators=[a]) for a in aggregators(case)}
    return case, paths, structs, MarketParams.from_case(case)


def test_dso_equals_the_pyomo_dso(setup):
    case, paths, structs, mp = setup
    f = case.feeder
    margins = grid_margins(f, sensitivities(f), case.uncertainty, 1.0, "node")
    m = build_dso(case, paths, margins, mp)
    ref = solve(m, duals=True)
    lim = effective_limits(f, fixed_q_flows(f), margins)
    sol = solve_clarabel(assemble(declare_dso(structs, f, station_bus(case), lim, mp.beta, mp.eps)))
    assert sol.objective == pytest.approx(ref.objective, rel=1e-7)
    y_ref = np.array([[ref.duals[m.grid.p_bal[b, t]] for t in range(f.steps)] for b in f.bus_ids])
    np.testing.assert_allclose(duals(sol, "p_bal"), y_ref, atol=1e-6)
    # the robust line limit binds somewhere: the congestion is in the duals being compared
    assert np.ptp(y_ref) > 1e-3
    np.testing.assert_allclose(
        values(sol, "charge_kw"),
        station_loads(m.station_p_kw, station_ids(case), f.steps),
        atol=1e-4,
    )


def test_eva_equals_the_pyomo_eva_and_tariffs_update_in_place(setup):
    case, paths, structs, mp = setup
    f = case.feeder
    stations = station_ids(case)
    a = aggregators(case)[0]
    prob = declare_eva(structs[a], a, stations, f.price_per_kwh, f.dt_h, mp.beta, mp.eps)
    asm = assemble(prob)
    m = build_eva(case, paths, a, mp)
    rng = np.random.default_rng(3)
    for _ in range(2):  # the second tariff re-uses the assembled matrices
        tariff = rng.uniform(0.0, 0.05, (len(stations), f.steps))
        set_tariff(asm, f.price_per_kwh, tariff, f.dt_h)
        for i, y in enumerate(stations):
            for t in range(f.steps):
                m.tariff[y, t] = float(tariff[i, t])
        ref = solve(m, duals=False)
        sol = solve_clarabel(asm)
        assert sol.objective == pytest.approx(ref.objective, rel=1e-7)
        np.testing.assert_allclose(
            values(sol, "charge_kw"),
            station_loads(m.dta.station_p_kw, stations, f.steps),
            atol=1e-4,
        )
        assert pyo.value(m.obj) == pytest.approx(ref.objective, rel=1e-9)
