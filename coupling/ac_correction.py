"""AC-feasible LinDistFlow: solve, AC-check, correct the linear model, re-solve.

Every command that schedules with grid limits runs its model through :func:`solve_ac_feasible`
(``--no-ac-correction`` turns the correction off and leaves one solve and one AC check):

1. solve the model; AC power flow (pandapower) at the schedule's net loads;
2. stop when no limit (with the robust margins) is exceeded in AC beyond ``1e-3`` of a line's
   rating and ``1e-3`` pu of voltage, or after ``max_resolves`` re-solves (default 3);
3. otherwise correct the block by what it got wrong at this schedule, per line, bus and step
   (:mod:`power.correction`): the linearised line losses as extra load at each line's
   downstream bus, and the limits tightened by the remaining AC - linear gaps; re-solve; 1.

The history (one row per solve with its linear and AC figures) is the run's
``ac_correction`` table and the summary's ``ac_correction_iterations``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyomo.environ as pyo

from power.ac_check import ACResult, ac_check
from power.correction import (
    TOL_LOADING,
    TOL_V_PU,
    ACExcess,
    ACTightening,
    ac_excess,
    line_ends,
    linearised_losses,
    measured_gaps,
    peak_flow_kw,
)
from power.feeder import Feeder
from power.limits import Limits, LinearGrid, effective_limits, flow_rating_kw
from power.lindistflow import block_limits, set_bounds, set_losses
from power.results import GridState, grid_state, line_loading
from power.solve import SolveResult

MAX_RESOLVES = 3


@dataclass
class ACCorrected:
    """Outcome of :func:`solve_ac_feasible`.

    result : the last solve. state, ac : its linear and AC grid state. history : one row per
    solve (see :func:`history_row`). grid : the linear model (with losses when corrected).
    limits : the block's final limits (robust margins and AC tightening). tightening : the
    AC tightening (None when not corrected). feasible : no AC excess beyond the tolerances.
    ac_s : wall time of the AC checks (s).
    """

    result: SolveResult
    state: GridState
    ac: ACResult
    history: list[dict] = field(default_factory=list)
    grid: LinearGrid | None = None
    limits: Limits | None = None
    tightening: ACTightening | None = None
    feasible: bool = False
    ac_s: float = 0.0

    @property
    def resolves(self) -> int:
        return len(self.history) - 1

    def summary(self, enabled: bool) -> dict[str, Any]:
        """Summary entries: whether the correction ran, re-solves, final AC feasibility and
        each iteration's figures."""
        return {
            "ac_correction": enabled,
            "ac_resolves": self.resolves,
            "ac_feasible": self.feasible,
            "ac_correction_iterations": self.history,
        }


def history_row(
    k: int, feeder: Feeder, res: SolveResult | None, state: GridState, ac: ACResult, ex: ACExcess
) -> dict[str, Any]:
    """Figures of one solve: objective, linear and AC loading and voltages, the AC excess
    over the limits (loading fraction, pu), the AC line losses (kWh), solve time."""
    load = line_loading(state.p_kw, state.q_kvar, feeder.line_p_max_kw, feeder.line_s_max_kva)
    losses = line_ends(feeder, ac).loss_kw.sum() * feeder.dt_h
    return {
        "iteration": k,
        "objective": None if res is None else res.objective,
        "max_line_loading": float(load.max(initial=0.0)),
        "max_line_loading_ac": float(ac.loading.max(initial=0.0)),
        "min_voltage_pu": float(state.v_pu.min()),
        "min_voltage_ac_pu": float(ac.v_pu.min()),
        "max_voltage_ac_pu": float(ac.v_pu.max()),
        "ac_excess_loading": ex.max_loading,
        "ac_excess_voltage_pu": ex.max_voltage_pu,
        "ac_losses_kwh": float(losses),
        "solve_s": 0.0 if res is None else res.solve_s,
        "ac_feasible": ex.ok(),
    }


def solve_ac_feasible(
    m: pyo.ConcreteModel,
    blk: pyo.Block,
    feeder: Feeder,
    *,
    correct: bool = True,
    max_resolves: int = MAX_RESOLVES,
    tol_loading: float = TOL_LOADING,
    tol_v_pu: float = TOL_V_PU,
    **solve_kw: Any,
) -> ACCorrected:
    """Solve ``m`` (LinDistFlow block ``blk``), AC-check and, with ``correct``, correct and
    re-solve until AC-feasible (module docstring)."""
    from coupling.grid_jobs import solve_grid_model

    res = solve_grid_model(m, feeder, **solve_kw)
    rating = flow_rating_kw(feeder, blk.q_fixed_kvar)
    lim_m = block_limits(blk, feeder)  # robust margins, no AC tightening
    tight: ACTightening | None = None
    peak = None
    history: list[dict] = []
    ac_s = 0.0
    for k in range(max_resolves + 1):
        state = grid_state(blk, feeder)
        t0 = time.perf_counter()
        ac = ac_check(feeder, state.p_net_kw, state.q_net_kvar)
        ac_s += time.perf_counter() - t0
        ex = ac_excess(feeder, ac, rating, lim_m)
        history.append(history_row(k, feeder, res, state, ac, ex))
        feasible = ex.ok(tol_loading, tol_v_pu)
        if feasible or not correct or not blk.limits_on or k == max_resolves:
            break
        peak = peak_flow_kw(feeder, ac, peak)
        grid = linearised_losses(feeder, ac, peak)
        gaps = measured_gaps(feeder, ac, grid, rating, state.p_net_kw, state.q_net_kvar)
        tight = gaps if tight is None else tight.combine(gaps)
        set_losses(blk, grid)
        set_bounds(blk, feeder, block_limits(blk, feeder, tight))
        res = solve_grid_model(m, feeder, **solve_kw)
    return ACCorrected(
        result=res,
        state=state,
        ac=ac,
        history=history,
        grid=blk.linear_grid,
        limits=block_limits(blk, feeder, tight),
        tightening=tight,
        feasible=feasible,
        ac_s=ac_s,
    )


def correct_schedule(
    feeder: Feeder,
    grid: LinearGrid,
    p_net_kw: np.ndarray,
    q_net_kvar: np.ndarray,
    rating_kw: np.ndarray,
    lim_m: Limits,
    tight: ACTightening | None,
    *,
    peak_kw: np.ndarray | None = None,
    tol_loading: float = TOL_LOADING,
    tol_v_pu: float = TOL_V_PU,
) -> tuple[ACResult, ACExcess, LinearGrid, ACTightening | None]:
    """AC check of a net-load schedule (no model): the AC result, its excess over ``lim_m``
    and, when it is not AC-feasible, the corrected linear grid and tightening (else the
    given ones); ``peak_kw`` the lines' peak flows of earlier linearisations. Used by the
    tariff loop's acceptance test."""
    ac = ac_check(feeder, p_net_kw, q_net_kvar)
    ex = ac_excess(feeder, ac, rating_kw, lim_m)
    if ex.ok(tol_loading, tol_v_pu):
        return ac, ex, grid, tight
    new = linearised_losses(feeder, ac, peak_flow_kw(feeder, ac, peak_kw))
    gaps = measured_gaps(feeder, ac, new, rating_kw, p_net_kw, q_net_kvar)
    return ac, ex, new, gaps if tight is None else tight.combine(gaps)


@dataclass
class LoopAC:
    """The tariff loop's AC acceptance test (:data:`coupling.loop.ACAccept`): AC-check the
    aggregators' summed loads; when a limit (robust margins included) is exceeded beyond the
    tolerances, return the linear model and limits corrected at those loads (at most
    ``max_corrections`` times; then the schedule is accepted as it is).

    ``grid``, ``tightening`` : the linear model and AC tightening to start from (e.g. the DSO
    stage's). ``q_fixed_kvar``, ``margins`` : as in the LinDistFlow block.
    """

    feeder: Feeder
    q_fixed_kvar: np.ndarray | None
    margins: Any
    grid: LinearGrid
    tightening: ACTightening | None = None
    max_corrections: int = MAX_RESOLVES
    corrections: int = 0
    last_ac: ACResult | None = None
    peak: np.ndarray | None = None

    def __call__(
        self, p_net_kw: np.ndarray, q_net_kvar: np.ndarray
    ) -> tuple[bool, LinearGrid, Limits, dict]:
        f = self.feeder
        rating = flow_rating_kw(f, self.q_fixed_kvar)
        lim_m = effective_limits(f, self.q_fixed_kvar, self.margins)
        ac, ex, grid, tight = correct_schedule(
            f, self.grid, p_net_kw, q_net_kvar, rating, lim_m, self.tightening, peak_kw=self.peak
        )
        self.last_ac = ac
        row = {
            "max_line_loading_ac": float(ac.loading.max(initial=0.0)),
            "min_voltage_ac_pu": float(ac.v_pu.min()),
            "ac_excess_loading": ex.max_loading,
            "ac_excess_voltage_pu": ex.max_voltage_pu,
        }
        ok = ex.ok() or self.corrections >= self.max_corrections
        if not ok:
            self.corrections += 1
            self.grid, self.tightening = grid, tight
            self.peak = peak_flow_kw(f, ac, self.peak)
        row["ac_corrected"] = not ok
        lim = effective_limits(f, self.q_fixed_kvar, self.margins, self.tightening)
        return ok, self.grid, lim, row
