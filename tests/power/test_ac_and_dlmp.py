"""AC checks against pandapower and DLMPs against finite differences of the optimal cost."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandapower as pp
import pandapower.networks as pn
import pandas as pd
import pytest

from cases.builtin import load_case
from cases.case import Case
from cases.ieee33 import feeder_from_nominal
from coupling.problems.grid import build_opf, linear_powerflow
from power.ac_check import ac_check
from power.dlmp import dlmp_arrays
from power.pandapower_io import from_pandapower
from power.results import grid_state
from power.sensitivity import sensitivities
from power.solve import solve

V_TOL_LINEAR = 0.015  # LinDistFlow vs AC voltage (pu), issue 2
V_TOL_SAME = 0.002  # our AC check vs pandapower's own network (pu)


def test_ieee33_ac_min_voltage_matches_pandapower_runpp():
    case = load_case("ieee33")
    st = linear_powerflow(case.feeder)
    ac = ac_check(case.feeder, st.p_net_kw, st.q_net_kvar)
    factors = case.feeder.load_p_kw.sum(axis=0) / 3715.0
    # every fourth step and the peak (pandapower's Newton-Raphson costs ~1 s a step)
    steps = sorted({*range(0, len(factors), 4), int(np.argmax(factors))})
    for t, k in ((t, factors[t]) for t in steps):
        net = pn.case33bw()
        net.load["p_mw"] *= k
        net.load["q_mvar"] *= k
        pp.runpp(net, numba=False)
        assert ac.v_pu[:, t].min() == pytest.approx(net.res_bus.vm_pu.min(), abs=V_TOL_SAME)
    assert np.abs(ac.v_pu - st.v_pu).max() <= V_TOL_LINEAR
    # at the peak the feeder's well-known minimum, 0.9131 pu at bus 18 (index 17)
    assert ac.v_pu.min() == pytest.approx(0.91309, abs=1e-4)
    assert int(np.argmin(ac.v_pu[:, 18])) == 17


def test_cigre_mv_linear_vs_ac():
    grid = from_pandapower(pn.create_cigre_network_mv(with_der="pv_wind"))
    f = feeder_from_nominal(
        grid,
        3,
        1.0,
        np.array([0.5, 1.0, 0.8]),
        np.full(3, 0.1),
        pv_factor=np.array([0.0, 0.3, 1.0]),
        wind_factor=np.array([1.0, 0.3, 0.0]),
    )
    st = linear_powerflow(f)
    ac = ac_check(f, st.p_net_kw, st.q_net_kvar)
    assert np.abs(ac.v_pu - st.v_pu).max() <= V_TOL_LINEAR
    # the AC check network reproduces pandapower's own CIGRE MV flow at nominal load (no line
    # capacitance in ours: a few mpu apart at most)
    net = pn.create_cigre_network_mv(with_der="pv_wind")
    net.sgen["p_mw"] *= 0.3
    net.sgen.loc[net.sgen.type != "WP", "p_mw"] /= 0.3
    pp.runpp(net, numba=False)
    ref = net.res_bus.vm_pu.to_numpy()
    ours = ac.v_pu[[f.bus_pos[str(b)] for b in net.bus.index], 1]
    assert np.abs(ours - ref).max() <= 0.01


def _congested_ieee33() -> Case:
    """ieee33 with a 3 MW limit on the first line, 0.93 pu minimum and generators at 17 and 32."""
    case = load_case("ieee33")
    f = case.feeder
    lines = f.lines.copy()
    lines.loc[0, "p_max_kw"] = 3000.0
    buses = f.buses.copy()
    buses.loc[buses.bus != f.slack_bus, "v_min_pu"] = 0.93
    gens = pd.DataFrame(
        {
            "gen": ["g17", "g32"],
            "bus": ["17", "32"],
            "p_min_kw": [0.0, 0.0],
            "p_max_kw": [1500.0, 1000.0],
            "cost_per_kwh": [0.3, 0.25],
        }
    )
    return replace(case, feeder=replace(f, lines=lines, buses=buses, generators=gens))


def test_dlmp_equals_finite_difference_of_optimal_cost():
    case = _congested_ieee33()
    f = case.feeder
    m = build_opf(case)
    res = solve(m)
    d = dlmp_arrays(m.grid, f, sensitivities(f), res.duals, res.reduced_costs)
    assert d["energy"] + d["congestion"] + d["voltage"] == pytest.approx(d["dlmp"], abs=1e-6)
    assert np.abs(d["congestion"]).max() > 0.01 and np.abs(d["voltage"]).max() > 0.01
    eps = 0.5  # kW
    checked = 0
    for bus, t in [("17", 18), ("32", 18), ("5", 18), ("24", 12), ("1", 3)]:
        loads = f.loads.copy()
        row = (loads.bus == bus) & (loads.t == t)
        loads.loc[row, "p_kw"] += eps
        m2 = build_opf(replace(case, feeder=replace(f, loads=loads)))
        fd = (solve(m2, duals=False).objective - res.objective) / (eps * f.dt_h)
        assert d["dlmp"][f.bus_pos[bus], t] == pytest.approx(fd, rel=0.01, abs=1e-6)
        checked += 1
    assert checked == 5


def test_grid_state_net_load_balances_import():
    case = _congested_ieee33()
    m = build_opf(case)
    solve(m)
    st = grid_state(m.grid, case.feeder)
    # lossless: the net loads of all buses (generators included) sum to the slack supply
    imp = np.array([m.grid.p_import[t].value for t in range(case.feeder.steps)])
    assert st.p_net_kw.sum(axis=0) == pytest.approx(imp, abs=1e-6)
    gen = m.grid.p_gen.extract_values()
    assert st.p_net_kw[case.feeder.bus_pos["17"], 18] == pytest.approx(
        case.feeder.load_p_kw[17, 18] - gen["g17", 18], abs=1e-6
    )
