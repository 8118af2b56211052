"""AC-feasible LinDistFlow: solve, AC-check, correct the linear model, re-solve.

Every command that schedules with grid limits runs its model through :func:`solve_ac_feasible`
(``--no-ac-correction`` turns the correction off and leaves one solve and one AC check):

1. solve the model; AC power flow (pandapower) at the schedule's net loads;
2. stop when no limit (with the robust margins) is exceeded in AC beyond ``1e-3`` of a line's
   rating and ``1e-3`` pu of voltage, or after ``max_resolves`` re-solves (default 3);
3. otherwise correct the block by what it got wrong at this schedule, per line, bus and step
   (:mod:`power.correction`): the linearised line losses as extra load at each line's
   downstream bus, and the limits tightened by the remaining AC - linear gaps (plus their
   growth since the previous measurement, and at least the previous tightening plus the AC
   excess left after a loss-aware solve: :func:`next_tightening`); re-solve; 1.

An LP solved on the direct path is re-solved warm (:class:`KeptBlock`): the kept HiGHS
instance gets the new bounds and right-hand sides in place (the loss slopes only at the first
correction; later linearisations keep them, :func:`power.correction.with_slope`) and starts
from its last basis; the AC check re-runs only the steps whose net loads moved.

The history (one row per solve with its linear and AC figures) is the run's
``ac_correction`` table and the summary's ``ac_correction_iterations``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyomo.environ as pyo
from pyomo.common.gc_manager import PauseGC

from coupling.problems.diagnose import worst_ac_excess
from power.ac_check import ACResult, ac_check
from power.correction import (
    TOL_LOADING,
    TOL_V_PU,
    ACExcess,
    ACTightening,
    ac_excess,
    excess_tightening,
    line_ends,
    linearised_losses,
    measured_gaps,
    peak_flow_kw,
    with_slope,
)
from power.feeder import Feeder
from power.limits import Limits, LinearGrid, effective_limits, flow_rating_kw
from power.lindistflow import block_limits, set_bounds, set_losses
from power.results import GridState, grid_state, line_loading
from power.solve import KeptLP, SolveResult

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


@dataclass
class Correction:
    """The correction's state between solves (module docstring), shared by the in-place loop
    here and the re-declaring one of :mod:`coupling.problems.ac_engine`.

    feeder, rating (kW, lines x steps), lim_m : the feeder, its flow ratings and its limits
    with the robust margins (no AC tightening). ac, p, q : the last AC check and the net loads
    it ran at; peak : the lines' peak flows of the linearisations so far; tight : the AC
    tightening; gaps_prev : the last measured gaps; ac_s : time in AC checks (s).
    """

    feeder: Feeder
    rating: np.ndarray
    lim_m: Limits
    ac: ACResult | None = None
    p: np.ndarray | None = None
    q: np.ndarray | None = None
    peak: np.ndarray | None = None
    tight: ACTightening | None = None
    gaps_prev: ACTightening | None = None
    ac_s: float = 0.0

    def check(self, p_net_kw: np.ndarray, q_net_kvar: np.ndarray) -> tuple[ACResult, ACExcess]:
        """AC check of the net loads (only the steps that moved since the last check) and its
        excess over ``lim_m``."""
        t0 = time.perf_counter()
        changed = None
        if self.ac is not None:
            d = np.abs(p_net_kw - self.p) + np.abs(q_net_kvar - self.q)
            changed = np.flatnonzero(d.max(axis=0) > 1e-6)
        f = self.feeder
        self.ac = ac_check(f, p_net_kw, q_net_kvar, previous=self.ac, steps=changed)
        self.p, self.q = p_net_kw, q_net_kvar
        self.ac_s += time.perf_counter() - t0
        return self.ac, ac_excess(f, self.ac, self.rating, self.lim_m)

    def next_grid(self, first: bool, slope: np.ndarray | None = None) -> LinearGrid:
        """The linear grid corrected at the last check (losses linearised there, with the
        slopes ``slope`` when given: a warm re-solve stays cheap) and the next tightening
        (:func:`next_tightening`; the excess left only after a loss-aware solve, not
        ``first``)."""
        f, ac = self.feeder, self.ac
        assert ac is not None
        self.peak = peak_flow_kw(f, ac, self.peak)
        grid = linearised_losses(f, ac, self.peak)
        if slope is not None:
            grid = with_slope(grid, slope, line_ends(f, ac).p_up)
        gaps = measured_gaps(f, ac, grid, self.rating, self.p, self.q)
        left = None if first else excess_tightening(f, ac, self.rating, self.lim_m)
        self.tight = next_tightening(self.tight, gaps, self.gaps_prev, left)
        self.gaps_prev = gaps
        return grid


class KeptBlock:
    """In-place updates of a LinDistFlow block's compiled LP kept in HiGHS
    (``solve(m, keep=True)``): its flow and voltage bounds and the linearised losses of its
    active balance rows, for warm re-solves (no recompilation, the last basis as start).

    The Pyomo block follows: its bounds at once, its balance rows (rebuilt in place, the same
    constraint objects, so the duals stay keyed by them) in :meth:`sync`.
    """

    def __init__(self, lp: KeptLP, blk: pyo.Block, feeder: Feeder) -> None:
        h, info = lp.highs, lp.info
        self.lp, self.blk, self.feeder, self.h = lp, blk, feeder, h
        tree, lines, buses = feeder.tree, feeder.line_ids, feeder.bus_ids
        steps = range(feeder.steps)
        col = {id(v): i for i, v in enumerate(info.columns)}
        row = {id(r.constraint): i for i, r in enumerate(info.rows)}
        self.p_col = np.array([[col[id(blk.p[ln, t])] for t in steps] for ln in lines])
        w_pos = [(feeder.bus_pos[b], t) for (b, t), v in blk.w.items() if not v.fixed]
        self.w_pos = (np.array([i for i, _ in w_pos]), np.array([t for _, t in w_pos]))
        self.w_col = np.array([col[id(blk.w[buses[i], t])] for i, t in w_pos])
        # balance row of each line's downstream bus and the coefficient of the line's flow
        child = [buses[c] for c in tree.child_bus]
        self.bal_row = np.array(
            [[row[id(blk.p_bal[child[i], t])] for t in steps] for i in range(len(lines))]
        )
        a = info.A.tocsr()
        coef = np.asarray(a[self.bal_row.ravel(), self.p_col.ravel()]).reshape(self.p_col.shape)
        g = blk.linear_grid
        b0 = g.loss_b if g.has_losses else np.zeros(self.p_col.shape)
        a0 = g.loss_a_kw if g.has_losses else np.zeros(self.p_col.shape)
        self.sign = coef / (1.0 - b0)  # +-1: the compiler may have negated a row
        self.rhs = np.asarray(info.rhs, dtype=float)[self.bal_row] - self.sign * a0
        self.synced = True
        self.slope = g.loss_b if g.has_losses else None
        self.coefs_changed = False

    def set_bounds(self, lim: Limits) -> None:
        """Flow and voltage bounds to ``lim`` (HiGHS and Pyomo)."""
        pc = self.p_col.ravel()
        self.h.changeColsBounds(len(pc), pc, -lim.flow_down_kw.ravel(), lim.flow_up_kw.ravel())
        i, t = self.w_pos
        self.h.changeColsBounds(len(self.w_col), self.w_col, lim.w_min[i, t], lim.w_max[i, t])
        set_bounds(self.blk, self.feeder, lim)

    def set_losses(self, grid: LinearGrid) -> None:
        """Linearised losses of ``grid`` in the balance rows (HiGHS now, Pyomo in sync);
        the matrix coefficients only when the slopes differ from the current ones."""
        h = self.h
        if self.slope is None or not np.array_equal(grid.loss_b, self.slope):
            coef = (self.sign * (1.0 - grid.loss_b)).ravel().tolist()
            rows, cols = self.bal_row.ravel().tolist(), self.p_col.ravel().tolist()
            for r, c, v in zip(rows, cols, coef):
                h.changeCoeff(r, c, v)
            self.slope = grid.loss_b
            self.coefs_changed = True
        rhs = (self.rhs + self.sign * grid.loss_a_kw).ravel()
        h.changeRowsBounds(len(rhs), self.bal_row.ravel(), rhs, rhs)
        self.blk.linear_grid = grid
        self.synced = False

    def solve(self, duals: bool = True) -> SolveResult:
        """Warm re-solve (presolve only after coefficient changes)."""
        res = self.lp.resolve(duals, presolve=self.coefs_changed)
        self.coefs_changed = False
        return res

    def sync(self) -> None:
        """Rebuild the Pyomo balance rows in place with the block's linear grid's losses."""
        if self.synced:
            return
        rule = self.blk.p_bal_rule(self.blk.linear_grid)
        with PauseGC():
            for (bus, t), con in self.blk.p_bal.items():
                con.set_value(rule(self.blk, bus, t))
        self.synced = True

    def release(self) -> None:
        """Sync the Pyomo block and drop the kept HiGHS instance."""
        self.sync()
        self.lp = self.h = None  # type: ignore[assignment]


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
    from coupling.problems.grid import solve_grid_model

    keep = correct and blk.limits_on and max_resolves > 0
    res = solve_grid_model(m, feeder, keep=keep, **solve_kw)
    kept = KeptBlock(res.kept, blk, feeder) if keep and res.kept is not None else None
    # robust margins, no AC tightening
    cor = Correction(feeder, flow_rating_kw(feeder, blk.q_fixed_kvar), block_limits(blk, feeder))
    history: list[dict] = []
    try:
        for k in range(max_resolves + 1):
            state = grid_state(blk, feeder)
            ac, ex = cor.check(state.p_net_kw, state.q_net_kvar)
            history.append(history_row(k, feeder, res, state, ac, ex))
            feasible = ex.ok(tol_loading, tol_v_pu)
            if feasible or not correct or not blk.limits_on or k == max_resolves:
                break
            # the slopes of the first correction keep a warm re-solve cheap
            grid = cor.next_grid(k == 0, kept.slope if kept is not None else None)
            lim = block_limits(blk, feeder, cor.tight)
            if kept is not None:
                kept.set_losses(grid)
                kept.set_bounds(lim)
                res = kept.solve(solve_kw.get("duals", True))
            else:
                set_losses(blk, grid)
                set_bounds(blk, feeder, lim)
                res = solve_grid_model(m, feeder, **solve_kw)
    finally:
        if kept is not None:
            kept.release()
    return ACCorrected(
        result=res,
        state=state,
        ac=ac,
        history=history,
        grid=blk.linear_grid,
        limits=block_limits(blk, feeder, cor.tight),
        tightening=cor.tight,
        feasible=feasible,
        ac_s=cor.ac_s,
    )


def next_tightening(
    tight: ACTightening | None,
    gaps: ACTightening,
    gaps_prev: ACTightening | None = None,
    left: ACTightening | None = None,
) -> ACTightening:
    """The AC tightening for the next solve, never below the previous one ``tight``:

    * the measured ``gaps`` of the re-linearised model, plus their growth since the previous
      measurement ``gaps_prev`` (a gap that grew as the schedule moved is expected to grow
      again by about as much);
    * at least ``tight`` plus the AC excess ``left`` over the limits after a solve with a
      loss-aware model (the gap not yet tightened away: integral action, which drives the
      excess to zero where the gaps alone converge slowly).
    """
    if gaps_prev is not None:
        gaps = gaps.extrapolate(gaps_prev)
    if tight is None:
        return gaps
    out = tight.combine(gaps)
    return out if left is None else out.combine(tight.plus(left))


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
    """The tariff loop's AC acceptance test (:data:`coupling.problems.loop.ACAccept`): AC-check the
    aggregators' summed loads; when a limit (robust margins included) is exceeded beyond the
    tolerances, return the linear model and limits corrected at those loads (at most
    ``max_corrections`` times; then the schedule is accepted as it is, so that the loop ends,
    and said so: ``feasible`` False, ``excess`` naming the limit, the row's
    ``ac_accepted_at_cap``).

    ``grid``, ``tightening`` : the linear model and AC tightening to start from (e.g. the DSO
    stage's). ``q_fixed_kvar``, ``margins`` : as in the LinDistFlow block.
    ``feasible`` : None until a schedule is accepted, then whether it keeps every limit in AC
    (False: accepted at the cap with an AC excess); ``excess`` : that schedule's worst AC
    excess (:func:`coupling.problems.diagnose.worst_ac_excess`), None when feasible.

    The tightening grows by the measured gaps only (:func:`correct_schedule`), not by
    :func:`next_tightening`'s extrapolation and integral action: those assume a re-solve to
    the tightened limits, while the loop's prices move on from where they are. With them the
    subgradient loop on tn20-dn17 no longer settled in 100 iterations (0.64 kW above a limit);
    with the gaps alone it settles in 79 at AC loading 1.0006.
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
    feasible: bool | None = None
    excess: dict[str, Any] | None = None

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
        feasible = ex.ok()
        ok = feasible or self.corrections >= self.max_corrections
        if not ok:
            self.corrections += 1
            self.grid, self.tightening = grid, tight
            self.peak = peak_flow_kw(f, ac, self.peak)
        # a rejected schedule is not the loop's: only an accepted one sets the verdict
        self.feasible = feasible if ok else None
        self.excess = None
        if ok and not feasible:
            self.excess = worst_ac_excess(f, ac, ex, lim_m, TOL_LOADING, TOL_V_PU)
        row["ac_corrected"] = not ok
        row["ac_accepted_at_cap"] = ok and not feasible
        lim = effective_limits(f, self.q_fixed_kvar, self.margins, self.tightening)
        return ok, self.grid, lim, row

    def summary(self) -> dict[str, Any]:
        """Summary entries: whether the schedule the loop accepted keeps every limit in AC
        (None: the loop accepted none) and, when it was accepted at the cap with an AC excess,
        that excess."""
        return {"loop_ac_feasible": self.feasible, "loop_ac_excess": self.excess}
