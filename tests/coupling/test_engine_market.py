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


def test_distflow_dso_equals_the_pyomo_distflow_dso(setup):
    """The tariff job's DistFlow DSO stage (engine: market + declare_distflow) against the
    Pyomo DSO whose grid block is DistFlow with losses, robust margins on its limits."""
    from coupling.problems.market import connect_stations, declare_market
    from engine.clarabel_qp import solve_clarabel_stable
    from power.distflow import add_distflow, solve_socp
    from power.distflow_engine import declare_distflow
    from power.distflow_engine_dlmp import distflow_dlmp_parts
    from power.dlmp import distflow_dlmp_arrays

    case, paths, structs, mp = setup
    f = case.feeder
    margins = grid_margins(f, sensitivities(f), case.uncertainty, 1.0, "node")
    # Pyomo reference: the LinDistFlow DSO with its grid rows replaced by DistFlow's
    m = build_dso(case, paths, margins, mp)
    for c in ("p_bal", "q_bal", "v_drop", "s_poly"):
        if hasattr(m.grid, c):
            getattr(m.grid, c).deactivate()
    bus_of = station_bus(case)
    extra: dict = {}
    for y, t in m.station_p_kw:
        extra[(bus_of[y], t)] = extra.get((bus_of[y], t), 0.0) + m.station_p_kw[y, t]
    m.df = pyo.Block()
    add_distflow(m.df, f, extra_p_kw=extra, margins=margins)
    m.grid.cost.set_value(m.df.cost.expr)
    ref = solve_socp(m, m.df.socs, duals=True)
    ref_dlmp = distflow_dlmp_arrays(m.df, f, ref)

    prob = declare_market(structs, f.steps, f.dt_h, station_ids(case), mp.beta, mp.eps)
    declare_distflow(prob, f, margins=margins)
    connect_stations(prob, f, bus_of)
    sol = solve_clarabel_stable(assemble(prob))
    assert sol.objective == pytest.approx(ref.objective, rel=1e-7)
    parts = distflow_dlmp_parts(sol, f)
    for k in ("dlmp", "energy", "loss", "congestion", "voltage"):
        np.testing.assert_allclose(parts[k], ref_dlmp[k], atol=1e-6, err_msg=k)
    assert np.ptp(ref_dlmp["loss"]) > 1e-4  # losses price the buses differently
    np.testing.assert_allclose(
        values(sol, "charge_kw"),
        station_loads(m.station_p_kw, station_ids(case), f.steps),
        atol=1e-3,
    )
