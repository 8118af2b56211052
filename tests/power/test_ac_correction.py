"""The one limits path and the AC correction of LinDistFlow, on the 3-bus feeder by hand and
against pandapower; DLMP with its loss part against finite differences of the optimal cost."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandapower as pp
import pytest

from benchmarks.bench_ac_correction import ac_figures, target_runs
from cases.builtin import BUILTIN, load_case
from cases.case import Case, TimeGrid
from coupling.jobs.grid import run_opf
from coupling.jobs.strategy import run_strategy
from coupling.jobs.tariff import TariffOptions, run_tariff
from coupling.problems.ac_correction import solve_ac_feasible
from coupling.problems.grid import ac_out_of_sample, build_opf
from coupling.problems.loop import LimitPrices, LoopOptions, run_loop
from power.ac_check import ac_check
from power.correction import line_ends, linearised_losses
from power.dlmp import dlmp_arrays
from power.limits import LinearGrid, effective_limits, fixed_q_flows, net_load
from power.lindistflow import set_bounds, set_losses
from power.pandapower_io import to_pandapower
from power.solve import solve
from robust.sets import UncertainSources
from tests.conftest import three_bus


def _case(f):
    return Case(name="t", description="", time=TimeGrid(f.steps, f.dt_h), feeder=f)


def _s_rated(**kw):
    """3-bus feeder whose line b (300 kW) has a 350 kVA rating and carries 200 kvar: the
    apparent-power limit sqrt(350^2 - 200^2) = 287.2 kW binds before p_max."""
    f = three_bus(load2=(400.0, 200.0), **kw)
    lines = f.lines.assign(s_max_kva=[5000.0, 350.0])
    return replace(f, lines=lines)


def test_losses_at_downstream_buses_equal_pandapower_line_losses(feeder3):
    p, q = net_load(feeder3)
    ac = ac_check(feeder3, p, q)
    grid = linearised_losses(feeder3, ac)
    # independent reference: pandapower's own line losses at the same loads
    net, _ = to_pandapower(feeder3)
    net.load["p_mw"], net.load["q_mvar"] = p[:, 0] / 1000, q[:, 0] / 1000
    pp.runpp(net, calculate_voltage_angles=False)
    pl_kw = net.res_line.pl_mw.to_numpy() * 1000  # lines a, b
    assert pl_kw.min() > 1.0  # ~ r (600^2 + 100^2) / (1000 * 10^2) = 3.7 kW on a
    # the linearised loss of each line at the point of linearisation, placed at its
    # downstream bus (1 for a, 2 for b), is pandapower's loss of that line
    flows = grid.flows(p)
    inj = grid.loss_injection_kw(flows)
    assert inj[:, 0] == pytest.approx([0.0, pl_kw[0], pl_kw[1]], rel=1e-9)
    assert line_ends(feeder3, ac).loss_kw[:, 0] == pytest.approx(pl_kw, rel=1e-9)
    # and the loss-aware linear flows are pandapower's sending-end flows
    assert flows[:, 0] == pytest.approx(net.res_line.p_from_mw.to_numpy() * 1000, rel=1e-9)
    # by hand, line a (1 ohm, 10 kV, slack end at 1 pu): I^2 r = (P^2 + Q^2) / 1e5 kW with the
    # sending-end P = 600 kW + both losses (~607 kW) and Q = 100 kvar + reactive losses
    pf, qf = net.res_line.p_from_mw[0] * 1000, net.res_line.q_from_mvar[0] * 1000
    assert 606.0 < pf < 608.0 and 104.0 < qf < 106.0
    assert pl_kw[0] == pytest.approx((pf**2 + qf**2) / 1e5, rel=1e-6)


def test_a_line_without_flow_is_linearised_downstream(feeder3):
    """A station's line in a step it does not charge carries the power flow's residue (here
    -1e-7 kW): its chord to the peak flow points downstream, as a consumer's load will, not
    along the residue's sign (which flipped loss parts between runs)."""
    p, q = net_load(feeder3)
    p[2], q[2] = -1e-7, 0.0
    ac = ac_check(feeder3, p, q)
    assert -1e-6 < line_ends(feeder3, ac).p_up[1, 0] < 0.0
    grid = linearised_losses(feeder3, ac, peak_kw=np.array([[600.0], [300.0]]))
    v_up2 = ac.v_pu[1, 0] ** 2
    # b = r_pu R / v^2 with R = the 300 kW peak, positive (2 ohm at 10 kV: r_pu = 2e-5 / kW)
    assert grid.loss_b[1, 0] == pytest.approx(2e-5 * 300.0 / v_up2, rel=1e-9)


def test_loop_and_lp_agree_on_binding_limits_with_s_ratings():
    f = _s_rated()
    m = build_opf(_case(f))
    res = solve(m)
    # the LP binds line b at the apparent-power limit, not at p_max
    p_b = m.grid.p["b", 0].value
    assert p_b == pytest.approx(np.sqrt(350.0**2 - 200.0**2), abs=1e-6)
    binding_lp = {ln for ln in f.line_ids if abs(res.reduced_costs[m.grid.p[ln, 0]]) > 1e-9}
    assert binding_lp == {"b"}
    # the loop's evaluator, on the LP's schedule, finds the same limit at zero excess
    lim = effective_limits(f, fixed_q_flows(f))
    gen = np.array([[0.0], [0.0], [m.grid.p_gen["g2", 0].value]])
    ev = LinearGrid(f).evaluate(*net_load(f, -gen), lim)
    binding_loop = {ln for i, ln in enumerate(f.line_ids) if ev.ex_up[i, 0] > -1e-6}
    assert binding_loop == binding_lp
    # and the loop rejects a schedule between the S limit and p_max (295 kW on line b)
    ev_bus = np.array([[0.0], [0.0], [-105.0]])
    loop = run_loop(
        f,
        LinearGrid(f),
        lim,
        LimitPrices.zeros(2, 3, 1),
        lambda _: (ev_bus, {}),
        LoopOptions(max_iter=1),
    )
    assert not loop.converged
    assert loop.history[0]["max_violation"] == pytest.approx(295.0 - p_b, abs=1e-6)


def test_correction_reaches_ac_feasibility_on_three_bus():
    f = three_bus()  # line b binds at 300 kW in the lossless model: AC loading > 1
    m = build_opf(_case(f))
    acr = solve_ac_feasible(m, m.grid, f, correct=False)
    assert acr.ac.loading.max() > 1.002 and not acr.feasible
    m = build_opf(_case(f))
    acr = solve_ac_feasible(m, m.grid, f)
    assert acr.feasible and 1 <= acr.resolves <= 3
    assert acr.ac.loading.max() <= 1.0 + 1e-3
    assert acr.ac.loading[1, 0] > 0.99  # still binding: the correction is not conservative
    # the import now pays the line losses: the AC slack supply (net loads, the generator's
    # output among them, plus the AC losses) equals the LP's import
    net = acr.state.p_net_kw.sum() + line_ends(f, acr.ac).loss_kw.sum()
    assert m.grid.p_import[0].value == pytest.approx(net, abs=0.1)


def test_dlmp_loss_part_equals_finite_difference():
    f = three_bus()
    m = build_opf(_case(f))
    acr = solve_ac_feasible(m, m.grid, f)
    res = acr.result
    d = dlmp_arrays(m.grid, f, None, res.duals, res.reduced_costs)
    parts = d["energy"] + d["loss"] + d["congestion"] + d["voltage"]
    assert parts == pytest.approx(d["dlmp"], abs=1e-9)
    assert d["loss"][1, 0] > 1e-4  # bus 1 is fed through lossy line a
    assert d["loss"][0, 0] == 0.0
    grid, lim = acr.grid, acr.limits
    eps = 0.5
    for bus in ("1", "2"):
        loads = f.loads.copy()
        loads.loc[loads.bus == bus, "p_kw"] += eps
        f2 = replace(f, loads=loads)
        m2 = build_opf(_case(f2))
        # the same corrected model (losses, tightened limits), one more kWh at the bus
        set_losses(m2.grid, LinearGrid(f2, grid.loss_a_kw, grid.loss_b))
        set_bounds(m2.grid, f2, lim)
        fd = (solve(m2, duals=False).objective - res.objective) / eps
        assert d["dlmp"][f.bus_pos[bus], 0] == pytest.approx(fd, rel=0.01)
    # uncongested bus 1: energy times the loss factor and nothing else
    assert d["dlmp"][1, 0] == pytest.approx(d["energy"][1, 0] + d["loss"][1, 0], abs=1e-9)


def test_warm_resolves_equal_a_cold_solve_of_the_corrected_model():
    f = three_bus()
    m = build_opf(_case(f))
    acr = solve_ac_feasible(m, m.grid, f)
    assert acr.resolves >= 1  # the corrected model was re-solved warm in HiGHS
    # a fresh model with the final losses and limits, solved from scratch
    m2 = build_opf(_case(f))
    set_losses(m2.grid, acr.grid)
    set_bounds(m2.grid, f, acr.limits)
    cold = solve(m2)
    assert acr.result.objective == pytest.approx(cold.objective, rel=1e-9)
    # and the Pyomo model itself was brought in line (rows rebuilt in place, bounds)
    again = solve(m)
    assert again.objective == pytest.approx(cold.objective, rel=1e-9)
    assert m.grid.p["b", 0].value == pytest.approx(m2.grid.p["b", 0].value, abs=1e-6)


def test_ac_check_of_changed_steps_equals_the_full_check():
    f = load_case("ieee33").feeder
    p, q = net_load(f)
    full = ac_check(f, p, q)
    p2, q2 = p.copy(), q.copy()
    p2[5:, [3, 7]] *= 1.3
    steps = np.array([3, 7])
    part = ac_check(f, p2, q2, previous=full, steps=steps)
    ref = ac_check(f, p2, q2)
    for a, b in ((part.v_pu, ref.v_pu), (part.p_kw, ref.p_kw), (part.loading, ref.loading)):
        assert a == pytest.approx(b, rel=1e-8, abs=1e-9)  # Newton-Raphson tolerance
    assert not np.allclose(full.v_pu[:, 3], ref.v_pu[:, 3])  # the change is visible


def test_ac_out_of_sample_counts_ac_violations():
    f = three_bus()  # line b at 300 kW in the lossless LP: loading > 1.002 in AC
    m = build_opf(_case(f))
    plain = solve_ac_feasible(m, m.grid, f, correct=False)
    src = UncertainSources(
        bus=np.array([1, 2]),
        sign=np.ones(2),
        xi_kw=np.zeros((2, 1)),
        tan_phi=np.zeros((2, 1)),
        kind=np.array(["load", "load"], dtype=object),
    )
    zero = np.zeros((2, src.n, f.steps))
    out = ac_out_of_sample(f, plain.state, src, zero)
    assert out["ac_samples"] == 2 and out["ac_violation_rate"] == 1.0
    # the worst loading excess is the schedule's own AC loading above 1
    assert out["ac_worst_loading_excess"] == pytest.approx(plain.ac.loading.max() - 1, abs=1e-9)
    m = build_opf(_case(f))
    fixed = solve_ac_feasible(m, m.grid, f)
    assert ac_out_of_sample(f, fixed.state, src, zero)["ac_violation_rate"] == 0.0


@pytest.mark.slow  # two runs of the 878-EV QP: ~40 s on an idle machine
def test_cigre_smart_keeps_097_pu_in_ac():
    case = load_case("cigre-mv-ev")
    run = run_strategy(case, "smart")
    s = run.summary
    assert s["ac_feasible"] and s["ac_resolves"] <= 3
    assert s["min_voltage_ac_pu"] >= 0.97 - 1e-3
    assert s["max_line_loading_ac"] <= 1 + 1e-3
    # without the correction the AC voltage falls below the limit (issue #12: 0.9637)
    plain = run_strategy(case, "smart", ac_correction=False).summary
    assert plain["min_voltage_ac_pu"] < 0.97 - 2e-3


@pytest.mark.slow
def test_feeder1000_grid_keeps_line_limits_in_ac():
    case = load_case("feeder1000-ev")
    s = run_strategy(case, "grid").summary
    assert s["ac_feasible"] and s["ac_resolves"] <= 3
    assert s["max_line_loading_ac"] <= 1 + 1e-3
    assert s["max_line_loading_ac"] > 0.99  # the correction is not conservative
    assert s["unserved_kwh"] == pytest.approx(0.0, abs=1e-6)


@pytest.mark.slow  # about 3 min: 11 fleet operators, 30-40 market rounds
def test_feeder1000_fleet_market_settles_and_keeps_line_limits_in_ac():
    case = load_case("feeder1000-ev")
    s = run_tariff(case, TariffOptions(samples=0)).summary
    assert s["converged"] and s["unserved_kwh"] == pytest.approx(0.0, abs=1e-6)
    assert s["max_line_loading_ac"] <= 1 + 1e-3
    assert 1 <= s["ac_loop_corrections"] <= 6  # the preferred plans overload in AC


@pytest.mark.slow
@pytest.mark.parametrize("case_name", sorted(BUILTIN))
def test_every_limit_enforcing_command_keeps_the_limits_in_ac(case_name):
    case = load_case(case_name)
    bad = []
    for label, job in target_runs(case_name):
        r = ac_figures(case, job(case))
        if r["loading_excess"] > 1e-3 or r["voltage_excess_pu"] > 1e-3:
            bad.append((label, r))
    assert not bad


def test_opf_summary_has_linear_and_ac_out_of_sample_figures():
    case = load_case("ieee33")
    s = run_opf(case, gamma=0.0, samples=8, sample_gamma=1.0, ac_samples=2).summary
    assert s["oos_samples"] == 8 and s["oos_ac_samples"] == 2
    for p in ("oos", "oos_box"):
        rate, worst = s[f"{p}_ac_violation_rate"], s[f"{p}_ac_worst_loading_excess"]
        worst_v = s[f"{p}_ac_worst_voltage_excess_pu"]
        assert 0.0 <= rate <= 1.0
        # a draw counts as violated exactly when one of its excesses is beyond 1e-3
        assert (rate > 0) == (worst > 1e-3 or worst_v > 1e-3)
