"""The case-level grid problems: the OPF (LinDistFlow or DistFlow), the state of a schedule, the
solve with AC check, and the robust out-of-sample evaluation (linear and AC)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyomo.environ as pyo

from cases.case import Case
from coupling.problems.robust_grid import uncertain_sources
from power.ac_check import ACResult, ac_check
from power.feeder import Feeder
from power.limits import LinearGrid, effective_limits, fixed_q_flows, net_load
from power.lindistflow import GridOptions, Margins, add_lindistflow
from power.results import GridState, long_table
from power.sensitivity import Sensitivities
from power.solve import SolveError, solve
from robust.sets import OutOfSample, SetKind, evaluate_out_of_sample, sample_deviations
from robust.uncertainty import Uncertainty


def linear_powerflow(feeder: Feeder) -> GridState:
    """LinDistFlow power flow with the fixed loads and renewables (the linear evaluator).

    Generators are not dispatched (0 kW); the slack bus supplies the balance.
    """
    return schedule_state(feeder, LinearGrid(feeder), *net_load(feeder))


def schedule_state(
    feeder: Feeder, grid: LinearGrid, p_net_kw: np.ndarray, q_net_kvar: np.ndarray
) -> GridState:
    """Linear grid state (stored-direction flows, voltages) of a net-load schedule."""
    flow = grid.flows(p_net_kw)
    q = np.asarray(grid.downstream @ q_net_kvar)
    w = grid.squared_voltages(flow, q)
    sign = feeder.tree.sign[:, None]
    return GridState(
        p_kw=sign * flow,
        q_kvar=sign * q,
        v_pu=np.sqrt(np.maximum(w, 0.0)),
        p_net_kw=p_net_kw,
        q_net_kvar=q_net_kvar,
    )


def build_opf(
    case: Case, opts: GridOptions = GridOptions(), margins: Margins | None = None
) -> pyo.ConcreteModel:
    """Multi-period OPF: LinDistFlow block ``m.grid`` (robust when ``margins`` are given) and
    objective = grid cost."""
    m = pyo.ConcreteModel(name=f"opf-{case.name}")
    m.grid = pyo.Block()
    add_lindistflow(m.grid, case.feeder, opts, margins=margins)
    m.obj = pyo.Objective(expr=m.grid.cost, sense=pyo.minimize)
    return m


AC_SAMPLES = 20  # out-of-sample draws also checked with the AC power flow


def build_opf_distflow(
    case: Case, opts: GridOptions = GridOptions(), margins: Margins | None = None
) -> pyo.ConcreteModel:
    """Multi-period OPF on DistFlow with losses (block ``m.grid``, :mod:`power.distflow`);
    the S-rating is a cone, so ``opts.thermal`` does not apply."""
    from power.distflow import DistFlowOptions, add_distflow

    m = pyo.ConcreteModel(name=f"opf-distflow-{case.name}")
    m.grid = pyo.Block()
    dopts = DistFlowOptions(limits=opts.limits, allow_export=opts.allow_export)
    add_distflow(m.grid, case.feeder, dopts, margins=margins)
    m.obj = pyo.Objective(expr=m.grid.cost, sense=pyo.minimize)
    return m


@dataclass
class DistFlowSolved:
    """Outcome of :func:`solve_distflow`: the conic result, the grid state, its AC check,
    the DLMP table, the relaxation gap (lines x steps) and the DLMP decomposition residual;
    ``history`` one row like the AC correction's, for the same summary and timing keys."""

    result: Any
    state: GridState
    ac: ACResult
    tariffs: pd.DataFrame
    gap: np.ndarray
    gap_table: pd.DataFrame
    residual: float
    history: list[dict]
    ac_s: float

    def summary(self, _enabled: bool = False) -> dict[str, Any]:
        from power.distflow import gap_summary

        return {
            "grid_model": "distflow",
            "ac_correction": False,
            "ac_feasible": bool(self.history[-1]["ac_feasible"]),
            "dlmp_residual": self.residual,
        } | gap_summary(self.gap, self.ac_line_ids)

    ac_line_ids: list = field(default_factory=list)
    # the DLMP's parts (buses x steps, currency/kWh) and ``flow_rc`` (lines x steps), as
    # :func:`power.dlmp.distflow_dlmp_arrays` gives them; empty without duals
    dlmp_parts: dict = field(default_factory=dict)


def solve_distflow(
    m: pyo.ConcreteModel, blk: pyo.Block, feeder: Feeder, *, duals: bool = True
) -> DistFlowSolved:
    """Solve a model holding a DistFlow block ``blk`` (SOCP, Clarabel), AC-check the schedule,
    DLMPs (when ``duals``) and the relaxation gap."""
    from power.distflow import distflow_state, relaxation_gap, solve_socp
    from power.dlmp import distflow_dlmp_arrays

    res = solve_socp(m, blk.socs, duals=duals)
    state = distflow_state(blk, feeder)
    lim = effective_limits(feeder, None, blk.margins)
    arr = distflow_dlmp_arrays(blk, feeder, res) if duals else None
    return _distflow_solved(res, state, relaxation_gap(blk, feeder), arr, feeder, lim)


@dataclass(frozen=True)
class EngineResult:
    """An engine solve as :func:`solve_distflow_engine` reports it: ``objective``
    (currency), Clarabel's ``status``, ``solve_s`` (assembly, hand-over and solve, s) and the
    :class:`engine.highs.Solved` itself."""

    objective: float
    status: str
    solve_s: float
    solved: Any


def build_opf_distflow_engine(
    case: Case, opts: GridOptions = GridOptions(), margins: Margins | None = None
) -> tuple[Any, Any]:
    """The OPF of :func:`build_opf_distflow` as matrix-engine sets: (the
    :class:`engine.problem.Problem`, the :class:`power.distflow_engine.DistFlowSets`); EV
    load can be added to its ``p_bal``/``q_bal`` rows before :func:`solve_distflow_engine`."""
    from engine.problem import Problem
    from power.distflow_engine import declare_distflow

    prob = Problem()
    sets = declare_distflow(
        prob,
        case.feeder,
        margins=margins,
        enforce_limits=opts.limits,
        allow_export=opts.allow_export,
    )
    return prob, sets


def solve_distflow_engine(
    prob: Any, sets: Any, feeder: Feeder, *, duals: bool = True
) -> DistFlowSolved:
    """:func:`solve_distflow` for the engine sets of :func:`build_opf_distflow_engine`:
    assemble, Clarabel (with the fallback of :func:`engine.clarabel_qp.solve_clarabel_stable`),
    AC check, DLMPs (when ``duals``, :mod:`power.distflow_engine_dlmp`)
    and the relaxation gap; the same :class:`DistFlowSolved`."""
    from engine.assemble import assemble
    from engine.clarabel_qp import solve_clarabel_stable
    from power.distflow_engine import grid_state, relaxation_gap
    from power.distflow_engine_dlmp import distflow_dlmp_parts

    t0 = time.perf_counter()
    sol = solve_clarabel_stable(assemble(prob))
    res = EngineResult(sol.objective, sol.status, time.perf_counter() - t0, sol)
    state = grid_state(sol, feeder, sets)
    arr = distflow_dlmp_parts(sol, feeder) if duals else None
    gap = relaxation_gap(sol, feeder, sets)
    return _distflow_solved(res, state, gap, arr, feeder, sets.limits)


def _distflow_solved(
    res: Any,
    state: GridState,
    gap: np.ndarray,
    arr: dict[str, np.ndarray] | None,
    feeder: Feeder,
    lim: Any,
) -> DistFlowSolved:
    """AC check of a solved DistFlow state, its history row, DLMP table (``arr`` the DLMP
    parts, None: no duals) and relaxation gap table."""
    from coupling.problems.ac_correction import history_row
    from power.correction import ac_excess
    from power.dlmp import tariff_table

    t0 = time.perf_counter()
    ac = ac_check(feeder, state.p_net_kw, state.q_net_kvar)
    ac_s = time.perf_counter() - t0
    ex = ac_excess(feeder, ac, effective_limits(feeder, None).flow_up_kw, lim)
    row = history_row(0, feeder, res, state, ac, ex)
    tariffs, resid = pd.DataFrame(), 0.0
    if arr is not None:
        resid = float(np.abs(arr["residual"]).max(initial=0.0))
        prices = {k: v for k, v in arr.items() if k not in ("residual", "flow_rc")}
        tariffs = tariff_table(feeder.bus_ids, prices)
    return DistFlowSolved(
        result=res,
        state=state,
        ac=ac,
        tariffs=tariffs,
        gap=gap,
        gap_table=long_table(feeder.line_ids, "line", gap=gap),
        residual=resid,
        history=[row],
        ac_s=ac_s,
        ac_line_ids=feeder.line_ids,
        dlmp_parts=arr or {},
    )


def out_of_sample(
    case: Case,
    state: GridState,
    model: Any,
    sens: Sensitivities,
    gamma: float,
    kind: SetKind,
    samples: int,
    seed: int,
    tol_kw: float = 1e-3,
    ac_samples: int = AC_SAMPLES,
) -> dict[str, Any]:
    """Violation rate and worst excess of the fixed schedule over ``samples`` realisations;
    a flow limit counts as violated when exceeded by more than ``tol_kw`` (kW).

    ``model`` gives the linear model the schedule was accepted with: ``grid`` (a
    :class:`power.limits.LinearGrid`, with losses when AC-corrected) and ``tightening`` (the
    AC tightening or None); the draws are tested against the nominal limits of
    :func:`power.limits.effective_limits` (fixed Q) less that AC tightening.

    ``oos_*``: realisations inside the run's own set (``gamma``, ``kind``) — the guarantee
    check, 0 for a hardened schedule. ``oos_box_*``: realisations anywhere in the full
    forecast-error box ``|delta| <= xi`` of every source — the exposure that a budget below 1
    (or Γ = 0, the deterministic schedule) leaves unprotected.

    ``oos_ac_*``, ``oos_box_ac_*``: the first ``ac_samples`` of the same draws run through the
    AC power flow (:func:`ac_out_of_sample`), a limit exceeded beyond the AC correction's
    tolerances (1e-3 of a rating, 1e-3 pu).
    """
    f = case.feeder
    src = uncertain_sources(f, case.uncertainty)
    grid = getattr(model, "grid", None) or LinearGrid(f)
    lim = effective_limits(f, fixed_q_flows(f), getattr(model, "tightening", None))
    ev = grid.evaluate(state.p_net_kw, state.q_net_kvar, lim)

    def draws_in(g: float, k: SetKind) -> tuple[OutOfSample, dict[str, Any]]:
        deltas = sample_deviations(src, g, k, samples, seed)
        lin = evaluate_out_of_sample(
            ev.flow_kw,
            ev.w,
            lim,
            sens.downstream,
            sens.r_shared,
            sens.x_shared,
            src,
            deltas,
            tol_kw=tol_kw,
        )
        return lin, ac_out_of_sample(f, state, src, deltas[:ac_samples])

    out: dict[str, Any] = {"oos_tol_kw": tol_kw}
    in_set = draws_in(gamma, kind)
    full = in_set if kind == "node" and gamma == 1.0 else draws_in(1.0, "node")
    for prefix, (res, ac) in (("oos", in_set), ("oos_box", full)):
        out |= {
            f"{prefix}_samples": res.n_samples,
            f"{prefix}_violation_rate": res.violation_rate,
            f"{prefix}_worst_flow_excess_kw": res.worst_flow_excess_kw,
            f"{prefix}_worst_voltage_excess_pu": res.worst_voltage_excess_pu,
        }
        out |= {f"{prefix}_{k}": v for k, v in ac.items()}
    return out


def ac_out_of_sample(
    feeder: Feeder, state: GridState, src: Any, deltas: np.ndarray
) -> dict[str, Any]:
    """AC power flow of the fixed schedule under each realisation ``deltas`` (draws x sources
    x steps, kW, consumption-positive times the source's sign, as from
    :func:`robust.sets.sample_deviations`): share of draws in which a limit is exceeded in AC
    beyond 1e-3 of a rating or 1e-3 pu (nominal limits, S-ratings included), and the worst
    loading (fraction of the rating) and voltage (pu) excess."""
    from power.correction import TOL_LOADING, TOL_V_PU, ac_excess
    from power.limits import flow_rating_kw

    q_fixed = fixed_q_flows(feeder)
    lim = effective_limits(feeder, q_fixed)
    rating = flow_rating_kw(feeder, q_fixed)
    nb = len(feeder.bus_ids)
    worst_l = worst_v = 0.0
    violated = 0
    for delta in deltas:
        dp = np.zeros((nb, delta.shape[1]))
        dq = np.zeros_like(dp)
        np.add.at(dp, src.bus, src.sign[:, None] * delta)
        np.add.at(dq, src.bus, src.sign[:, None] * delta * src.tan_phi)
        ac = ac_check(feeder, state.p_net_kw + dp, state.q_net_kvar + dq)
        ex = ac_excess(feeder, ac, rating, lim)
        worst_l = max(worst_l, ex.max_loading)
        worst_v = max(worst_v, ex.max_voltage_pu)
        violated += not ex.ok(TOL_LOADING, TOL_V_PU)
    n = len(deltas)
    return {
        "ac_samples": n,
        "ac_violation_rate": violated / n if n else 0.0,
        "ac_worst_loading_excess": worst_l,
        "ac_worst_voltage_excess_pu": worst_v,
    }


def solve_grid_model(
    m: pyo.ConcreteModel,
    feeder: Feeder,
    margins: Margins | None = None,
    uncertainty: Uncertainty | None = None,
    **kw: Any,
):
    """:func:`power.solve.solve`, with a diagnosis of the grid when it is infeasible (the
    base load, the generators' minimum outputs, the robust ``margins`` of ``uncertainty``)."""
    from coupling.problems.diagnose import base_load_violation

    try:
        return solve(m, **kw)
    except SolveError as exc:
        why = base_load_violation(feeder, margins, uncertainty)
        if why is None:
            raise
        raise SolveError(f"{exc}: {why}") from None
