"""The tariff loop's AC acceptance test (``LoopAC``) on tn20-dn17's feeder: a schedule that
still exceeds a limit in AC when the cap of corrections is reached is accepted, so that the
loop ends, but said to be AC-infeasible (row, summary key, pass/fail line, CLI warning); a
schedule that keeps the limits in AC is said to be feasible."""

from __future__ import annotations

import numpy as np
import pytest

from cases.builtin import load_case
from coupling.cli import _warn_loop_ac
from coupling.output.summary import RunSummary
from coupling.output.summary_view import console_lines, limit_checks
from coupling.problems.ac_correction import LoopAC
from coupling.problems.loop import LimitPrices, LoopOptions, run_loop
from power.correction import TOL_LOADING
from power.limits import LinearGrid, effective_limits, fixed_q_flows, net_load


@pytest.fixture(scope="module")
def feeder():
    return load_case("tn20-dn17").feeder


def _accept(f, max_corrections: int) -> LoopAC:
    return LoopAC(f, fixed_q_flows(f), None, LinearGrid(f), max_corrections=max_corrections)


def _leaf(f) -> int:
    """Position of the bus farthest from the slack (most lines upstream)."""
    grid, lim = LinearGrid(f), effective_limits(f, fixed_q_flows(f))
    base = grid.evaluate(*net_load(f), lim).flow_kw
    n_up = []
    for j in range(len(f.bus_ids)):
        ev = np.zeros((len(f.bus_ids), f.steps))
        ev[j] = 1.0
        flow = grid.evaluate(*net_load(f, ev), lim).flow_kw
        n_up.append(int((flow[:, 0] - base[:, 0] > 0.5).sum()))
    return int(np.argmax(n_up))


def _at_the_linear_limit(f, below_kw: float) -> np.ndarray:
    """EV load (buses x steps, kW) at the leaf bus that brings the linear model's tightest limit
    upstream of it to ``below_kw`` under its limit at every step (lossless: the AC flow,
    carrying the line losses, is higher)."""
    grid, lim = LinearGrid(f), effective_limits(f, fixed_q_flows(f))
    j = _leaf(f)
    zero = np.zeros((len(f.bus_ids), f.steps))
    unit = zero.copy()
    unit[j] = 1.0
    e0 = grid.evaluate(*net_load(f, zero), lim)
    e1 = grid.evaluate(*net_load(f, unit), lim)
    d = e1.ex_up - e0.ex_up  # kW of flow per kW of load at the leaf
    room = np.where(d > 0.5, -e0.ex_up / np.where(d > 0.5, d, 1.0), np.inf).min(axis=0)
    limited = np.isfinite(e0.ex_low)  # buses with a lower voltage limit
    dw = np.where(limited, e0.ex_low - np.where(limited, e1.ex_low, 0.0), 0.0)  # pu^2 per kW
    ok = limited & (dw > 0)
    room_v = np.where(ok, -e0.ex_low / np.where(ok, dw, 1.0), np.inf).min(axis=0)
    out = zero.copy()
    out[j] = np.minimum(room - below_kw, room_v)
    assert (out[j] > 0).all()
    return out


def test_at_the_cap_an_ac_overload_is_accepted_and_said_to_be_infeasible(feeder, capsys):
    f = feeder
    ev = 1.1 * _at_the_linear_limit(f, 0.0)  # 10 % over the tightest limit upstream
    accept = _accept(f, max_corrections=0)
    ok, _, _, row = accept(*net_load(f, ev))
    assert ok  # the cap: accepted, so that the loop ends
    assert row["ac_accepted_at_cap"] and not row["ac_corrected"]
    assert row["ac_excess_loading"] > TOL_LOADING
    s = accept.summary()
    assert s["loop_ac_feasible"] is False
    ex = s["loop_ac_excess"]
    assert ex["kind"] == "loading" and ex["amount"] == pytest.approx(row["ac_excess_loading"])
    line = ex["element"].removeprefix("line ").strip("'")
    i = list(f.line_ids).index(line)
    assert accept.last_ac.loading[i, ex["t"]] > 1 + TOL_LOADING
    assert f"line {line!r} at t={ex['t']}" in ex["text"]

    summary = RunSummary({"converged": True, "iterations": 1, "ac_loop_corrections": 0} | s)
    checks = {(w, m): (ok, d) for w, m, ok, d in limit_checks(summary)}
    assert checks[("tariff loop", "linear")][0] is True
    assert checks[("tariff loop", "AC")] == (
        False,
        f"accepted at the cap of 0 AC correction(s): {ex['text']}",
    )
    assert any(x.startswith("  FAIL  tariff loop (AC)") for x in console_lines(summary))
    _warn_loop_ac(summary)
    err = capsys.readouterr().err
    assert err.startswith("warning: the tariff loop accepted its schedule at its cap of 0 AC")
    assert "AC loading excess" in err and ex["text"] in err and "not AC-feasible" in err


def test_below_the_cap_the_overload_is_corrected_not_accepted(feeder):
    f = feeder
    ev = 1.1 * _at_the_linear_limit(f, 0.0)
    accept = _accept(f, max_corrections=1)
    ok, _, lim, row = accept(*net_load(f, ev))
    assert not ok and row["ac_corrected"] and not row["ac_accepted_at_cap"]
    assert accept.corrections == 1 and accept.summary()["loop_ac_feasible"] is None
    # the second time the cap is reached: accepted, and said to be AC-infeasible
    ok, _, _, row = accept(*net_load(f, ev))
    assert ok and row["ac_accepted_at_cap"] and accept.summary()["loop_ac_feasible"] is False


def test_a_schedule_within_the_limits_in_ac_is_accepted_as_feasible(feeder, capsys):
    f = feeder
    ev = 0.5 * _at_the_linear_limit(f, 0.0)
    accept = _accept(f, max_corrections=0)
    ok, _, _, row = accept(*net_load(f, ev))
    assert ok and not row["ac_accepted_at_cap"] and not row["ac_corrected"]
    assert accept.summary() == {"loop_ac_feasible": True, "loop_ac_excess": None}
    summary = RunSummary({"ac_loop_corrections": 0} | accept.summary())
    assert ("tariff loop", "AC", True, "after 0 AC correction(s)") in limit_checks(summary)
    _warn_loop_ac(summary)
    assert capsys.readouterr().err == ""


def test_the_loop_converges_at_the_cap_but_the_flag_says_ac_infeasible(feeder):
    """Aggregators that load the leaf to 0.1 kW under the linear limits: the linear model
    passes, the AC flow (with the losses) does not; with no correction allowed the loop ends
    converged, and the flag and the loop table say that the schedule breaks a limit in AC."""
    f = feeder
    ev = _at_the_linear_limit(f, 0.1)
    grid, lim = LinearGrid(f), effective_limits(f, fixed_q_flows(f))
    prices = LimitPrices.zeros(len(f.line_ids), len(f.bus_ids), f.steps)
    opts = LoopOptions(max_iter=3)
    accept = _accept(f, max_corrections=0)
    loop = run_loop(f, grid, lim, prices, lambda _: (ev, {}), opts, ac_accept=accept)
    assert loop.converged and len(loop.history) == 1
    assert loop.history[-1]["ac_accepted_at_cap"] is True
    assert accept.summary()["loop_ac_feasible"] is False
    # with corrections allowed the corrected model rejects the same (unchanging) schedule:
    # the loop accepts none and the flag is null, not true
    accept = _accept(f, max_corrections=3)
    loop = run_loop(f, grid, lim, prices, lambda _: (ev, {}), opts, ac_accept=accept)
    assert not loop.converged and accept.summary()["loop_ac_feasible"] is None
