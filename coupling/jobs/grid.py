"""Grid-only jobs: linear power flow with AC check (``evtp powerflow``) and the multi-period
OPF with DLMPs (``evtp opf``)."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd

from cases.case import Case
from coupling.output.runfolder import Run
from coupling.problems.grid import (
    AC_SAMPLES,
    build_opf,
    build_opf_distflow_engine,
    linear_powerflow,
    out_of_sample,
    solve_distflow_engine,
)
from coupling.problems.robust_grid import grid_margins
from power.ac_check import ACResult, ac_check
from power.dlmp import dlmp_arrays, tariff_table
from power.feeder import Feeder
from power.lindistflow import GridOptions
from power.results import GridState, line_loading, long_table
from power.sensitivity import sensitivities
from robust.sets import SetKind


def grid_tables(feeder: Feeder, state: GridState, ac: ACResult | None) -> dict[str, pd.DataFrame]:
    """``buses`` (bus, t, v_pu, v_pu_ac, p_net_kw) and ``lines`` (line, t, p_kw, q_kvar,
    loading, loading_ac) tables; the AC columns only when ``ac`` is given."""
    load = line_loading(state.p_kw, state.q_kvar, feeder.line_p_max_kw, feeder.line_s_max_kva)
    bcols: dict[str, np.ndarray] = {"v_pu": state.v_pu}
    lcols: dict[str, np.ndarray] = {"p_kw": state.p_kw, "q_kvar": state.q_kvar, "loading": load}
    if ac is not None:
        bcols["v_pu_ac"] = ac.v_pu
        lcols["loading_ac"] = ac.loading
    bcols["p_net_kw"] = state.p_net_kw
    return {
        "buses": long_table(feeder.bus_ids, "bus", **bcols),
        "lines": long_table(feeder.line_ids, "line", **lcols),
    }


def grid_summary(feeder: Feeder, state: GridState, ac: ACResult | None) -> dict[str, Any]:
    """Max loading, min/max voltage (linear and AC), the voltage band (pu), the largest
    voltage excess over each bus's band (pu, linear and AC) and the linear-vs-AC voltage error."""
    load = line_loading(state.p_kw, state.q_kvar, feeder.line_p_max_kw, feeder.line_s_max_kva)
    vmin = feeder.buses["v_min_pu"].to_numpy(float)[:, None]
    vmax = feeder.buses["v_max_pu"].to_numpy(float)[:, None]

    def excess(v: np.ndarray) -> float:
        return float(np.maximum(np.maximum(vmin - v, v - vmax), 0.0).max(initial=0.0))

    out: dict[str, Any] = {
        "steps": feeder.steps,
        "dt_h": feeder.dt_h,
        "max_line_loading": float(load.max()) if load.size else 0.0,
        "min_voltage_pu": float(state.v_pu.min()),
        "max_voltage_pu": float(state.v_pu.max()),
        "v_band_pu": [float(vmin.min(initial=np.inf)), float(vmax.max(initial=-np.inf))],
        "voltage_excess_pu": excess(state.v_pu),
    }
    if ac is not None:
        out |= {
            "max_line_loading_ac": float(ac.loading.max()) if ac.loading.size else 0.0,
            "min_voltage_ac_pu": float(ac.v_pu.min()),
            "max_voltage_ac_pu": float(ac.v_pu.max()),
            "voltage_excess_ac_pu": excess(ac.v_pu),
            "max_voltage_error_pu": float(np.abs(ac.v_pu - state.v_pu).max()),
        }
    return out


def run_powerflow(case: Case, *, command: str = "powerflow") -> Run:
    """Linear power flow of the case's fixed loads, checked against pandapower's AC flow."""
    f = case.feeder
    t0 = time.perf_counter()
    state = linear_powerflow(f)
    t1 = time.perf_counter()
    ac = ac_check(f, state.p_net_kw, state.q_net_kvar)
    t2 = time.perf_counter()
    summary = {
        "case": case.name,
        "command": command,
        "parameters": {},
        "objective": None,
        "status": "solved",
        "build_s": 0.0,
        "solve_s": t1 - t0,
        "ac_check_s": t2 - t1,
        "steps": f.steps,
        "buses": len(f.bus_ids),
        "lines": len(f.line_ids),
    } | grid_summary(f, state, ac)
    return Run(summary=summary, tables=grid_tables(f, state, ac))


def run_opf(
    case: Case,
    opts: GridOptions = GridOptions(),
    *,
    gamma: float | None = None,
    uncertainty_set: SetKind = "node",
    samples: int = 0,
    sample_gamma: float | None = None,
    seed: int = 0,
    ac_correction: bool = True,
    ac_samples: int | None = None,
    grid_model: str = "lindistflow",
    command: str = "opf",
) -> Run:
    """Multi-period (robust) OPF with the case's generators and import; DLMP table, AC check
    and, with ``samples > 0``, an out-of-sample evaluation of the schedule.

    ``gamma`` defaults to the case's ``[robust] gamma``; 0 is the deterministic OPF. The
    realisations are drawn in the set of ``sample_gamma`` (default ``gamma``), so a
    deterministic schedule can be tested in the robust set; the first ``ac_samples`` (default
    :data:`AC_SAMPLES`) of them also in the AC power flow. ``ac_correction`` corrects the
    linear model until the schedule keeps the limits in the AC power flow
    (:mod:`coupling.problems.ac_correction`). ``grid_model="distflow"`` solves DistFlow with losses
    (SOC relaxation, built and solved as matrix-engine sets, :mod:`power.distflow_engine`)
    instead: no correction needed, the relaxation gap is reported (``relaxation_gap`` table,
    ``relaxation_*`` in the summary).
    """
    from coupling.problems.ac_correction import solve_ac_feasible

    f = case.feeder
    gamma = case.gamma if gamma is None else gamma
    t0 = time.perf_counter()
    sens = sensitivities(f)
    margins = grid_margins(f, sens, case.uncertainty, gamma, uncertainty_set)
    extra: dict[str, Any] = {}
    if grid_model == "distflow":
        prob, sets = build_opf_distflow_engine(case, opts, margins)
        t1 = time.perf_counter()
        dfr = solve_distflow_engine(prob, sets, f)
        res, state, ac, acr = dfr.result, dfr.state, dfr.ac, dfr
        tariffs = dfr.tariffs
        extra = {"relaxation_gap": dfr.gap_table}
    else:
        m = build_opf(case, opts, margins)
        t1 = time.perf_counter()
        acr = solve_ac_feasible(
            m, m.grid, f, correct=ac_correction, margins=margins, uncertainty=case.uncertainty
        )
        res, state, ac = acr.result, acr.state, acr.ac
        tariffs = tariff_table(
            f.bus_ids, dlmp_arrays(m.grid, f, sens, res.duals, res.reduced_costs)
        )
        extra = {"ac_correction": pd.DataFrame(acr.history)}
    t2 = time.perf_counter()
    s_gamma = gamma if sample_gamma is None else sample_gamma
    oos = (
        out_of_sample(
            case,
            state,
            acr,
            sens,
            s_gamma,
            uncertainty_set,
            samples,
            seed,
            ac_samples=AC_SAMPLES if ac_samples is None else ac_samples,
        )
        if samples
        else {}
    )
    summary = (
        {
            "case": case.name,
            "command": command,
            "parameters": {
                "grid_model": grid_model,
                "thermal": opts.thermal,
                "polygon_sides": opts.polygon_sides,
                "gamma": gamma,
                "uncertainty_set": uncertainty_set,
                "samples": samples,
                "sample_gamma": s_gamma,
                "seed": seed,
            },
            "objective": res.objective,
            "status": res.status,
            "build_s": t1 - t0,
            "solve_s": sum(r["solve_s"] for r in acr.history),
            "ac_check_s": acr.ac_s,
            "reporting_s": time.perf_counter() - t2,
            "steps": f.steps,
            "buses": len(f.bus_ids),
            "lines": len(f.line_ids),
        }
        | grid_summary(f, state, ac)
        | acr.summary(ac_correction)
        | oos
    )
    tables = grid_tables(f, state, ac) | {"tariffs": tariffs} | extra
    return Run(summary=summary, tables=tables)
