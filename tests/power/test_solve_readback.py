"""The read-back of :func:`power.solve.solve` (primal values, duals, reduced costs) equals the
element-by-element implementation it replaced (``tests/power/reference_solve.py``): same
compiled model, same solver, so every value must agree to 1e-9 and every key be present.

Cases: the ieee33 OPF with polygon line limits (ranged rows: two rows for one constraint)
and tight limits (binding bounds), and the QP of the smart-charging strategy with grid
limits on cigre-mv-ev with 5 % of its EVs (Clarabel path).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pyomo.environ as pyo
import pytest

from cases.builtin import load_case
from coupling.jobs.strategy import STRATEGIES, build_strategy_model, fleet_share
from coupling.problems.grid import build_opf
from power.dlmp import dlmp_arrays
from power.duals import dual_matrix
from power.lindistflow import GridOptions
from power.sensitivity import sensitivities
from power.solve import solve
from tests.power.reference_solve import reference_solve_direct, reference_solve_qp

TOL = 1e-9


def _values(m: pyo.ConcreteModel) -> dict[str, float | None]:
    return {v.name: v.value for v in m.component_data_objects(pyo.Var)}


def _by_name(mapping) -> dict[str, float]:
    return {k.name: float(v) for k, v in mapping.items()}


def _assert_same(new: dict, old: dict) -> None:
    assert new.keys() == old.keys()
    a = np.array([new[k] if new[k] is not None else np.nan for k in old])
    b = np.array([old[k] if old[k] is not None else np.nan for k in old])
    np.testing.assert_allclose(a, b, rtol=0, atol=TOL)


def _ieee33_tight():
    """ieee33 with two cheap generators at the ends of its main branches, line limits of
    3 MW (polygon 3.3 MVA) and v_max 1.02 pu: generator and grid limits bind."""
    case = load_case("ieee33")
    f = case.feeder
    lines = f.lines.assign(p_max_kw=3000.0, s_max_kva=3300.0)
    buses = f.buses.assign(v_max_pu=f.buses["v_max_pu"].clip(upper=1.02))
    gens = pd.DataFrame(
        {
            "gen": ["g17", "g32"],
            "bus": ["17", "32"],
            "p_min_kw": 0.0,
            "p_max_kw": 2000.0,
            "cost_per_kwh": [0.001, 0.002],
        }
    )
    return replace(case, feeder=replace(f, lines=lines, buses=buses, generators=gens))


def _compare(m, method: str, reference) -> None:
    new = solve(m, duals=True, method=method)
    new_vals = _values(m)
    old = reference(m, True, {}) if method == "direct" else reference(m, True)
    assert new.objective == pytest.approx(old.objective, rel=1e-12, abs=1e-12)
    assert new.status == old.status
    _assert_same(new_vals, _values(m))
    _assert_same(_by_name(new.duals), _by_name(old.duals))
    _assert_same(_by_name(new.reduced_costs), _by_name(old.reduced_costs))
    # every lookup the tables make gives the same number, absent keys included
    for comp in m.component_objects(pyo.Constraint):
        for c in comp.values():
            assert new.duals.get(c, 0.0) == pytest.approx(old.duals.get(c, 0.0), abs=TOL)
    # some duals and reduced costs are non-zero (the case tests what it is for)
    assert max(abs(y) for y in old.duals.values()) > 1e-6
    assert max(abs(z) for z in old.reduced_costs.values()) > 1e-6


def test_lp_readback_equals_reference():
    case = _ieee33_tight()
    m = build_opf(case, GridOptions(thermal="polygon"))
    _compare(m, "direct", reference_solve_direct)
    f = case.feeder
    res = solve(m, duals=True)
    old = reference_solve_direct(m, True, {})
    for comp, ids in ((m.grid.p_bal, f.bus_ids), (m.grid.p, f.line_ids), (m.grid.w, f.bus_ids)):
        src = res.duals if comp is m.grid.p_bal else res.reduced_costs
        ref = old.duals if comp is m.grid.p_bal else old.reduced_costs
        expect = np.array([[ref.get(comp[r, t], 0.0) for t in range(f.steps)] for r in ids])
        np.testing.assert_allclose(dual_matrix(comp, ids, f.steps, src), expect, atol=TOL)
    sens = sensitivities(f)
    d_new = dlmp_arrays(m.grid, f, sens, res.duals, res.reduced_costs)
    d_old = dlmp_arrays(m.grid, f, sens, old.duals, old.reduced_costs)
    for k in d_old:
        np.testing.assert_allclose(d_new[k], d_old[k], rtol=0, atol=TOL)


def test_qp_readback_equals_reference():
    case = load_case("cigre-mv-ev")
    m = build_strategy_model(case, fleet_share(case.fleet, 0.05, 1), STRATEGIES["smart"])
    _compare(m, "qp", reference_solve_qp)


def test_no_duals_leaves_them_none():
    m = build_opf(load_case("ieee33"))
    res = solve(m, duals=False)
    assert res.duals is None and res.reduced_costs is None
