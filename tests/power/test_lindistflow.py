"""LinDistFlow, sensitivities and DLMPs on a 3-bus feeder solved by hand."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pyomo.environ as pyo
import pytest

from cases.case import Case, TimeGrid
from coupling.problems.grid import build_opf, linear_powerflow
from power.dlmp import dlmp_arrays
from power.lindistflow import GridOptions
from power.results import grid_state
from power.sensitivity import sensitivities
from power.solve import solve
from tests.conftest import three_bus

TOL = 1e-6


def _case(f):
    return Case(name="t", description="", time=TimeGrid(f.steps, f.dt_h), feeder=f)


def test_sensitivity_maps_by_hand(feeder3):
    s = sensitivities(feeder3)
    # D: line a feeds buses 1, 2; line b feeds bus 2
    assert s.downstream.toarray().tolist() == [[0, 1, 1], [0, 0, 1]]
    # R[k, j] shared path resistance (1e-5 pu^2 per ohm kW at 10 kV, halved 2 r P convention)
    assert s.r_shared * 1e5 == pytest.approx(np.array([[0, 0, 0], [0, 1, 1], [0, 1, 3]]))
    assert s.x_shared * 1e5 == pytest.approx(np.array([[0, 0, 0], [0, 1, 1], [0, 1, 2]]))


def test_powerflow_voltages_by_hand(feeder3):
    st = linear_powerflow(feeder3)
    # flows: a carries 600 kW + 100 kvar, b carries 400 kW
    assert st.p_kw[:, 0] == pytest.approx([600.0, 400.0])
    assert st.q_kvar[:, 0] == pytest.approx([100.0, 0.0])
    # w1 = 1 - 2e-5 (600 + 100) = 0.986 ; w2 = 0.986 - 2e-5 (2 * 400) = 0.970
    assert st.v_pu[:, 0] ** 2 == pytest.approx([1.0, 0.986, 0.970], abs=1e-12)


def test_lp_powerflow_equals_sensitivity_form(feeder3):
    f = three_bus(gen_cost=None)
    m = build_opf(_case(f), GridOptions(limits=False))
    solve(m)
    st = grid_state(m.grid, f)
    ref = linear_powerflow(f)
    assert st.v_pu == pytest.approx(ref.v_pu, abs=1e-9)
    assert st.p_kw == pytest.approx(ref.p_kw, abs=1e-6)
    assert st.p_net_kw == pytest.approx(ref.p_net_kw, abs=1e-6)


def test_congested_opf_duals_by_hand():
    # line b (300 kW) binds: 300 kW imported at 0.1, 100 kW from the generator at 0.3
    f = three_bus()
    m = build_opf(_case(f))
    res = solve(m)
    assert pyo.value(m.grid.p_import[0]) == pytest.approx(500.0, abs=TOL)
    assert pyo.value(m.grid.p_gen["g2", 0]) == pytest.approx(100.0, abs=TOL)
    assert res.objective == pytest.approx(500 * 0.1 + 100 * 0.3, rel=1e-9)
    # the flow-limit dual of line b: one more kW through b saves 0.3 - 0.1
    assert res.reduced_costs[m.grid.p["b", 0]] == pytest.approx(-0.2, abs=TOL)
    d = dlmp_arrays(m.grid, f, sensitivities(f), res.duals, res.reduced_costs)
    assert d["dlmp"][:, 0] == pytest.approx([0.1, 0.1, 0.3], abs=TOL)
    assert d["energy"][:, 0] == pytest.approx([0.1, 0.1, 0.1], abs=TOL)
    assert d["congestion"][:, 0] == pytest.approx([0.0, 0.0, 0.2], abs=TOL)
    assert d["voltage"][:, 0] == pytest.approx([0.0, 0.0, 0.0], abs=TOL)


def test_voltage_constrained_opf_duals_by_hand():
    # v2^2 >= 0.975 allows P_b <= (0.994 - 0.975) / 6e-5 = 316.67 kW; the generator covers the rest.
    # +1 kW at bus 1 lowers w2 by 2e-5, so P_b drops 1/3 kW: dlmp_1 = 2/3 0.1 + 1/3 0.3 = 0.1667
    f = three_bus(pmax=(5000.0, 5000.0), vmin2=np.sqrt(0.975))
    m = build_opf(_case(f))
    res = solve(m)
    pb = 0.019 / 6e-5
    assert pyo.value(m.grid.p["b", 0]) == pytest.approx(pb, rel=1e-6)
    assert pyo.value(m.grid.p_gen["g2", 0]) == pytest.approx(400 - pb, rel=1e-6)
    d = dlmp_arrays(m.grid, f, sensitivities(f), res.duals, res.reduced_costs)
    assert d["dlmp"][:, 0] == pytest.approx([0.1, 0.1 + 0.2 / 3, 0.3], abs=1e-6)
    assert d["voltage"][:, 0] == pytest.approx([0.0, 0.2 / 3, 0.2], abs=1e-6)
    assert d["congestion"][:, 0] == pytest.approx([0.0, 0.0, 0.0], abs=1e-6)


@pytest.mark.parametrize("thermal", ["p", "polygon"])
def test_dlmp_parts_sum_to_dlmp(thermal):
    f = three_bus(pmax=(800.0, 300.0), vmin2=np.sqrt(0.975))
    m = build_opf(_case(f), GridOptions(thermal=thermal, polygon_sides=8))
    res = solve(m)
    d = dlmp_arrays(m.grid, f, sensitivities(f), res.duals, res.reduced_costs)
    assert d["energy"] + d["congestion"] + d["voltage"] == pytest.approx(d["dlmp"], abs=1e-7)
    assert d["dlmp"][2, 0] == pytest.approx(0.3, abs=1e-6)


def test_polygon_limits_apparent_power():
    # line b rated S = 300 kVA and carrying Q = 50 kvar; the facet of the inscribed 16-gon with
    # normal angle pi/16 gives P <= S - Q tan(pi/16) = 290.05 kW (circle: 295.80 kW)
    f = three_bus(pmax=(5000.0, 5000.0), load2=(400.0, 50.0))
    f = replace(f, lines=f.lines.assign(s_max_kva=[5000.0, 300.0]))
    m = build_opf(_case(f), GridOptions(thermal="polygon", polygon_sides=16))
    solve(m)
    p_b = pyo.value(m.grid.p["b", 0])
    assert p_b == pytest.approx(300 - 50 * np.tan(np.pi / 16), rel=1e-6)
    # conservative by at most 1 - cos(pi/16) = 1.9 % of the rating
    assert (np.sqrt(300**2 - 50**2) - p_b) / 300 <= 1 - np.cos(np.pi / 16)
