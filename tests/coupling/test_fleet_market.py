"""Seed 000's capacity market on hu2014-lv: convergence, feasibility, shadow prices."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from cases.builtin import load_case
from coupling.jobs.fleet_market import run_fleet_market
from coupling.jobs.tariff import loop_options
from coupling.problems.loop import LoopOptions


def _run(case):
    return run_fleet_market(case, loop_options(case))


@pytest.fixture(scope="module")
def base():
    return _run(load_case("hu2014-lv"))


def test_case_matches_paper(base):
    case = load_case("hu2014-lv")
    evs = case.fleet.evs
    assert len(evs) == 36 and evs.aggregator.value_counts().tolist() == [18, 18]
    assert set(evs.battery_kwh) == {20.0} and set(evs.p_max_kw) == {2.3}
    assert len(case.feeder.loads.bus.unique()) == 60


def test_converges_in_a_handful_of_rounds_without_violation(base):
    s, loop = base.summary, base.tables["loop"]
    assert loop.max_violation.iloc[0] > 5.0  # the FOs' preferred plans overload the transformer
    assert s["converged"] and 2 <= s["iterations"] <= 8  # paper: 5 rounds
    assert loop.max_violation.iloc[-1] <= LoopOptions().tol_kw
    assert s["unserved_kwh"] == pytest.approx(0.0, abs=1e-3)
    # the final schedule respects the time-varying capacity in the linear model
    lines = base.tables["lines"].query("line == 'trafo'")
    assert (lines.loading <= 1.0 + 0.5 / 70).all()


def test_lower_capacity_higher_shadow_price(base):
    case = load_case("hu2014-lv")
    f = case.feeder
    lower = f.line_limits.assign(p_max_kw=f.line_limits.p_max_kw - 5.0)
    tight = _run(replace(case, feeder=replace(f, line_limits=lower)))
    assert tight.summary["converged"]

    def peak(run):
        sp = run.tables["shadow_prices"].query("line == 'trafo'")
        return sp.shadow_price.max()

    assert peak(tight) > peak(base) > 0.0
    # shadow prices are non-negative (projected subgradient) and only where capacity binds
    assert np.all(base.tables["shadow_prices"].shadow_price >= 0.0)


def test_the_tariff_is_the_capacity_price_without_a_loss_part(base):
    """Every FO on hu2014-lv is downstream of the transformer. After the AC correction the
    linear model has losses, so a kW at a bus moves the transformer flow by a little more than
    1 kW and the tariff is the shadow price times that sensitivity; but there is no loss part
    c_t (F - 1): where no limit is priced the tariff is 0 (the table keeps non-zero rows)."""
    assert base.summary["ac_loop_corrections"] >= 1  # the model the tariff is made on has losses
    sp = base.tables["shadow_prices"].groupby("t").shadow_price.max()
    tariffs = base.tables["tariffs"]
    assert len(tariffs) > 0 and (sp > 0).sum() < len(sp)  # some steps carry no price
    ratio = tariffs.tariff_per_kwh.to_numpy() / sp.reindex(tariffs.t).to_numpy()
    assert np.all(ratio >= 1.0) and np.all(ratio < 1.05)  # 1 + marginal losses, finite
    assert tariffs[["loss_per_kwh", "dlmp_per_kwh"]].isna().all().all()


def test_the_summary_gives_the_voltage_step_the_loop_ran_with(monkeypatch):
    """The market's loop prices the voltage limits with ``step_w`` (loop._next_prices), so the
    summary's parameters carry it, as the tariff job's do: the value the loop ran with."""
    import coupling.jobs.fleet_market as fm

    used = []

    def spy(*args, **kw):
        used.append(args[5].step_w)  # run_loop(feeder, grid, lim, prices, respond, opts, ...)
        return real(*args, **kw)

    real = fm.run_loop
    monkeypatch.setattr(fm, "run_loop", spy)
    case = load_case("hu2014-lv")
    s = run_fleet_market(case, replace(loop_options(case), step_w=7.0)).summary
    assert used == [7.0] and s["parameters"]["step_w"] == 7.0


def test_the_accepted_schedule_is_said_to_keep_the_limits_in_ac(base):
    s = base.summary
    assert s["ac_loop_corrections"] >= 1  # the loop's model was corrected on the way
    assert s["loop_ac_feasible"] is True and s["loop_ac_excess"] is None
    assert s["max_line_loading_ac"] <= 1 + 1e-3
    assert not base.tables["loop"].ac_accepted_at_cap.any()
