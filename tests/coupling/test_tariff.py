"""Tariff scheme on the tiny coupled case: equivalence, uniqueness, robustness, loop."""

from __future__ import annotations

from dataclasses import replace

import pytest

from coupling.jobs.tariff import TariffOptions, run_tariff
from coupling.problems.case_dta import case_paths
from coupling.problems.dso import MarketParams, build_dso
from coupling.problems.robust_grid import grid_margins
from power.dlmp import dlmp_arrays
from power.sensitivity import sensitivities
from power.solve import solve
from tests.coupling.tiny import tiny_case

REL = 1e-6  # decentralised vs centralised cost (issue 5)
KW = 0.02  # station loads: interior-point accuracy (kW)


def test_one_eva_reproduces_centralised_optimum():
    # the lossless linear model, by hand (no AC correction)
    run = run_tariff(tiny_case(), TariffOptions(ac_correction=False))
    s = run.summary
    assert s["converged"] and s["iterations"] == 1
    assert s["decentralised_objective"] == pytest.approx(s["centralised_objective"], rel=REL)
    assert s["max_station_load_gap_kw"] < KW
    # line b (250 kW, 100 kW base load at bus 2) is congested at t=1: station SB gets a
    # positive tariff there and draws exactly the 150 kW left
    tar = run.tables["tariffs"].set_index(["station", "t"])
    assert tar.loc[("SB", 1), "tariff_per_kwh"] > 1e-3
    assert tar.loc[("SA", 1), "tariff_per_kwh"] == pytest.approx(0.0, abs=1e-8)
    st = run.tables["stations"].set_index(["station", "t"])
    assert st.loc[("SB", 1), "p_kw"] == pytest.approx(150.0, abs=KW)
    # tariff = DLMP - energy part, parts add up
    # tariff = DLMP - energy part and the parts add up (interior-point duals: 1e-6 accuracy)
    network = (tar.dlmp_per_kwh - tar.energy_per_kwh).to_numpy()
    assert network == pytest.approx(tar.tariff_per_kwh.to_numpy(), abs=1e-6)
    parts = tar.energy_per_kwh + tar.congestion_per_kwh + tar.voltage_per_kwh
    assert parts.to_numpy() == pytest.approx(tar.dlmp_per_kwh.to_numpy(), abs=1e-6)


def test_one_eva_reproduces_corrected_centralised_optimum():
    # with the AC correction the DSO model carries linearised losses: the tariff (DLMP -
    # energy) gains a loss part, and one EVA facing it still reproduces the DSO's optimum
    run = run_tariff(tiny_case())
    s = run.summary
    assert s["converged"] and s["iterations"] == 1
    assert s["decentralised_objective"] == pytest.approx(s["centralised_objective"], rel=REL)
    assert s["max_station_load_gap_kw"] < KW
    tar = run.tables["tariffs"].set_index(["station", "t"])
    assert (tar.loss_per_kwh > 1e-5).all()  # every station is fed through a lossy line
    parts = tar.energy_per_kwh + tar.loss_per_kwh + tar.congestion_per_kwh + tar.voltage_per_kwh
    assert parts.to_numpy() == pytest.approx(tar.dlmp_per_kwh.to_numpy(), abs=1e-6)
    network = (tar.dlmp_per_kwh - tar.energy_per_kwh).to_numpy()
    assert network == pytest.approx(tar.tariff_per_kwh.to_numpy(), abs=1e-6)
    # the AC power flow keeps line b within its limit
    lines = run.tables["lines"]
    assert lines.loading_ac.max() <= 1.0 + 1e-3
    assert lines.query("line == 'b'").loading_ac.max() > 0.99  # still the binding limit


def test_uniqueness_term_splits_a_tie_evenly():
    # both routes identical and no grid limit binding: the total charging is tied between the
    # stations; the per-station strictly convex term makes the response unique and even
    case = tiny_case(line_b_kw=5000.0)
    segs = case.traffic.network.segments.assign(soc_per_vehicle=0.04)
    net = replace(case.traffic.network, segments=segs)
    case = replace(case, traffic=replace(case.traffic, network=net))
    run = run_tariff(case)
    st = run.tables["stations"].groupby("station").p_kw.sum()
    assert st["SA"] == pytest.approx(st["SB"], abs=KW)
    assert st.sum() > 100.0


def test_dlmp_equals_finite_difference_of_dso_cost():
    case = tiny_case()
    paths = case_paths(case)
    mp = MarketParams.from_case(case)
    m = build_dso(case, paths, None, mp)
    res = solve(m)
    f = case.feeder
    d = dlmp_arrays(m.grid, f, sensitivities(f), res.duals, res.reduced_costs)
    eps = 0.5
    for bus, t in [("2", 1), ("1", 1), ("2", 3)]:
        loads = f.loads.copy()
        loads.loc[(loads.bus == bus) & (loads.t == t), "p_kw"] += eps
        c2 = replace(case, feeder=replace(f, loads=loads))
        fd = (solve(build_dso(c2, paths, None, mp), duals=False).objective - res.objective) / eps
        assert d["dlmp"][f.bus_pos[bus], t] == pytest.approx(fd, rel=0.01, abs=1e-5)


def test_robust_tariff_and_cost_rise_with_gamma():
    costs, tariffs = [], []
    for g in (0.0, 0.5, 1.0):
        run = run_tariff(tiny_case(gamma=g))
        costs.append(run.summary["centralised_objective"])
        tar = run.tables["tariffs"].set_index(["station", "t"])
        tariffs.append(tar.loc[("SB", 1), "tariff_per_kwh"])
        assert run.summary["converged"]
    assert costs[0] < costs[1] < costs[2]
    assert tariffs[0] < tariffs[1] < tariffs[2]


def test_gamma_zero_equals_deterministic_dso():
    case = tiny_case()
    paths = case_paths(case)
    mp = MarketParams.from_case(case)
    f = case.feeder
    zero = grid_margins(f, sensitivities(f), case.uncertainty, 0.0)
    a = solve(build_dso(case, paths, None, mp), duals=False).objective
    b = solve(build_dso(case, paths, zero, mp), duals=False).objective
    assert a == pytest.approx(b, rel=1e-9)


@pytest.mark.parametrize("mechanism", ["dlmp", "subgradient"])
def test_loop_removes_violations_when_dso_model_is_wrong(mechanism):
    # two aggregators: the DSO prices the uniqueness term on the station total, each EVA on its
    # own share, so the first responses overload line b; the loop must repair it
    case = tiny_case(aggregators=("e1", "e2"), vehicles=100.0)
    run = run_tariff(case, TariffOptions(mechanism=mechanism))
    loop = run.tables["loop"]
    assert loop.max_violation.iloc[0] > 1.0
    assert run.summary["converged"]
    assert loop.max_violation.iloc[-1] <= TariffOptions().loop.tol_kw
    assert run.summary["max_line_loading"] <= 1.0 + 0.5 / 250.0
    assert len(loop) <= 10


def test_out_of_sample_of_robust_tariff():
    run = run_tariff(tiny_case(gamma=1.0), TariffOptions(samples=200, seed=1))
    assert run.summary["oos_violation_rate"] == 0.0
    det = run_tariff(tiny_case(gamma=0.0), TariffOptions(samples=200, seed=1, gamma=0.0))
    assert det.summary["oos_violation_rate"] == 0.0  # Gamma = 0 samples only the forecast
