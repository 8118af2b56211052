"""The DistFlow engine block (power/distflow_engine.py) against the Pyomo reference
(coupling.problems.grid.build_opf_distflow + power.distflow.solve_socp): the same objective,
DLMP (p_bal duals / dt, currency/kWh) and relaxation gap on built-in feeders, and on ieee33
stressed so that every limit family binds (upstream-end flow bound, downstream-end row, both
S cones, voltage bound), nominal and with robust margins. Mutated engine models (a dropped
cone, a flipped loss sign) must fail the same comparison."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cache

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from cases.builtin import load_case
from cases.case import Case
from coupling.problems.grid import build_opf_distflow
from coupling.problems.robust_grid import grid_margins
from engine.assemble import assemble
from engine.clarabel_qp import solve_clarabel
from engine.highs import Solved
from engine.problem import Problem, index
from engine.router import cone_duals, duals, reduced_costs
from power import distflow_engine as de
from power.distflow import relaxation_gap, solve_socp
from power.dlmp import distflow_dlmp_arrays
from power.sensitivity import sensitivities
from tests.conftest import with_extra_load

OBJ_REL, DLMP_ABS, GAP_ABS = 1e-7, 1e-6, 1e-7


def stressed_ieee33(v_min_pu: float, s24_kva: float) -> Case:
    """ieee33 with two generators (bus 17: 600 kW at 0.03/kWh, exporting; bus 32: 700 kW at
    0.3/kWh, above every price, so it runs only where a limit forces it), line l14 limited to
    250 kW (reverse flow: the downstream-end row binds), l16 to 320 kVA (reverse: s_recv),
    l24 to 800 kW and ``s24_kva`` (forward: bound or s_send) and ``v_min_pu`` everywhere.

    The other lines get 10 MW / 10 MVA instead of the case's 2.2e9 ("no rating"): Clarabel's
    feasibility tolerance is relative to the bounds' norm, so with 2.2e9 in them two equally
    "Solved" answers differed by 2.5e-6 of the cost (1.3e-6 kW row residuals)."""
    case = load_case("ieee33")
    f = case.feeder
    lines = f.lines.copy()
    lines[["p_max_kw", "s_max_kva"]] = 10_000.0
    for line, p_max, s_max in (("l14", 250.0, 1000.0), ("l16", 1000.0, 320.0)) + (
        ("l24", 800.0, s24_kva),
    ):
        lines.loc[lines.line == line, ["p_max_kw", "s_max_kva"]] = [p_max, s_max]
    buses = f.buses.copy()
    buses.loc[buses.bus != f.slack_bus, "v_min_pu"] = v_min_pu
    gens = pd.DataFrame(
        {
            "gen": ["gA", "gB"],
            "bus": ["17", "32"],
            "p_min_kw": [0.0, 0.0],
            "p_max_kw": [600.0, 700.0],
            "cost_per_kwh": [0.03, 0.3],
        }
    )
    return replace(case, feeder=replace(f, lines=lines, buses=buses, generators=gens))


# name -> (case builder, gamma of the robust margins; 0 = nominal)
CASES: dict[str, tuple[Callable[[], Case], float]] = {
    "ieee33": (lambda: load_case("ieee33"), 0.0),
    "cigre-mv-ev": (lambda: load_case("cigre-mv-ev"), 0.0),
    "ieee33-stressed": (lambda: stressed_ieee33(0.94, 1100.0), 0.0),
    "ieee33-stressed-robust": (lambda: stressed_ieee33(0.93, 1150.0), 1.0),
}


@dataclass(frozen=True)
class Outcome:
    objective: float
    dlmp: np.ndarray  # buses x steps, currency/kWh
    gap: np.ndarray  # lines x steps


@cache
def _setup(name: str):
    build, gamma = CASES[name]
    case = build()
    f = case.feeder
    margins = grid_margins(f, sensitivities(f), case.uncertainty, gamma) if gamma else None
    return case, margins


@cache
def _reference(name: str) -> Outcome:
    case, margins = _setup(name)
    m = build_opf_distflow(case, margins=margins)
    res = solve_socp(m, m.grid.socs)
    dlmp = distflow_dlmp_arrays(m.grid, case.feeder, res)["dlmp"]
    return Outcome(res.objective, dlmp, relaxation_gap(m.grid, case.feeder))


def _engine(
    case: Case, margins=None, mutate: Callable[[Problem], None] | None = None
) -> tuple[Outcome, Solved, Problem]:
    f = case.feeder
    prob = Problem()
    sets = de.declare_distflow(prob, f, margins=margins)
    if mutate is not None:
        mutate(prob)
    sol = solve_clarabel(assemble(prob))
    out = Outcome(sol.objective, de.dlmp_per_kwh(sol, f), de.relaxation_gap(sol, f, sets))
    return out, sol, prob


@cache
def _engine_named(name: str) -> tuple[Outcome, Solved, Problem]:
    return _engine(*_setup(name))


def _differences(ref: Outcome, got: Outcome) -> tuple[float, float, float]:
    """(objective relative difference, max |DLMP difference|, max |gap difference|)."""
    return (
        abs(got.objective - ref.objective) / abs(ref.objective),
        float(np.abs(got.dlmp - ref.dlmp).max()),
        float(np.abs(got.gap - ref.gap).max()),
    )


def _agrees(ref: Outcome, got: Outcome) -> bool:
    d_obj, d_dlmp, d_gap = _differences(ref, got)
    return d_obj <= OBJ_REL and d_dlmp <= DLMP_ABS and d_gap <= GAP_ABS


@pytest.mark.parametrize("name", list(CASES))
def test_engine_distflow_equals_the_pyomo_reference(name):
    ref, (got, sol, _) = _reference(name), _engine_named(name)
    assert "Solved" in sol.status
    assert got.dlmp.shape == ref.dlmp.shape and got.gap.shape == ref.gap.shape
    d_obj, d_dlmp, d_gap = _differences(ref, got)
    assert d_obj <= OBJ_REL, d_obj
    assert d_dlmp <= DLMP_ABS, d_dlmp
    assert d_gap <= GAP_ABS, d_gap
    # the relaxation is tight on every case (DistFlow is then the AC power flow)
    assert ref.gap.max() <= 1e-6 and got.gap.max() <= 1e-6
    # a real price signal, not all-equal duals: the DLMPs spread (losses at least)
    assert got.dlmp.max() - got.dlmp.min() > 0.01


def _binding(sol: Solved, prob: Problem, steps: int) -> dict[str, int]:
    """Number of binding limits per family (multiplier above 1e-6)."""
    out = {
        "p_ub": int((reduced_costs(sol, "p") < -1e-6).sum()),
        "p_recv_lo": int((duals(sol, "p_recv_lo") > 1e-6).sum()),
        # the slack's fixed w always has a multiplier: count the other buses
        "w": int((np.abs(reduced_costs(sol, "w")) > 1e-6).sum()) - steps,
        "branch": int((cone_duals(sol, "branch")[..., 0] > 1e-6).sum()),
    }
    for c in ("s_send", "s_recv"):
        out[c] = int((cone_duals(sol, c)[..., 0] > 1e-6).sum()) if c in prob.cones else 0
    return out


def test_the_stressed_cases_bind_every_limit_family():
    """Without binding limits the comparison would test the physics alone: the two stressed
    cases together make every limit family bind, with a price difference of a limit."""
    total = dict.fromkeys(("p_ub", "p_recv_lo", "w", "branch", "s_send", "s_recv"), 0)
    for name in ("ieee33-stressed", "ieee33-stressed-robust"):
        _, sol, prob = _engine_named(name)
        steps = _setup(name)[0].feeder.steps
        for k, v in _binding(sol, prob, steps).items():
            total[k] += v
        assert _engine_named(name)[0].dlmp.max() > 0.29  # the 0.3/kWh generator sets a price
    assert all(v > 0 for v in total.values()), total
    _, sol, prob = _engine_named("ieee33-stressed")
    lines, steps = len(_setup("ieee33-stressed")[0].feeder.line_ids), 24
    assert _binding(sol, prob, steps)["branch"] == lines * steps  # losses are priced


def _loosen(cone: str) -> Callable[[Problem], None]:
    def mutate(prob: Problem) -> None:
        prob.cones[cone].const[:, 0] += 1e3  # radius + 1e3 pu: the cone never binds

    return mutate


def _flip_loss(prob: Problem) -> None:
    prob.rows["p_bal"].terms["l"] = -prob.rows["p_bal"].terms["l"]


def _free_recv(prob: Problem) -> None:
    prob.rows["p_recv_lo"].lo[:] = -np.inf


def _flip_drop(prob: Problem) -> None:
    prob.rows["v_drop"].terms["q"] = -prob.rows["v_drop"].terms["q"]


@pytest.mark.parametrize(
    "mutate",
    [_loosen("s_send"), _loosen("s_recv"), _free_recv, _flip_loss, _flip_drop],
    ids=["no-s_send", "no-s_recv", "no-p_recv_lo", "loss-sign", "v_drop-q-sign"],
)
@pytest.mark.parametrize("name", ["ieee33-stressed", "ieee33-stressed-robust"])
def test_a_wrong_sign_or_a_missing_part_fails_the_comparison(mutate, name):
    case, margins = _setup(name)
    got, _, _ = _engine(case, margins, mutate)
    # measured: each mutant moves the cost by 1e-4 .. 4 relative, 1e3 times the tolerance
    assert not _agrees(_reference(name), got)


def test_the_branch_cone_is_needed():
    """Without the current's cone l drops to 0: no losses, a lower cost."""
    case, _ = _setup("ieee33")

    def drop_branch(prob: Problem) -> None:
        prob.cones["branch"].const[:, 0] += 1e3

    got, _, _ = _engine(case, None, drop_branch)
    assert got.objective < _reference("ieee33").objective * (1 - 1e-3)


def test_ev_load_added_to_p_bal_equals_the_same_load_in_the_feeder():
    """A fixed 150 kW column added to p_bal at (bus 17, step 18) with add_to_rows(-M), as
    power.fleet_engine.connect_fleet does, costs what the Pyomo model with that load costs."""
    case = load_case("ieee33")
    f = case.feeder
    prob = Problem()
    de.declare_distflow(prob, f)
    prob.add_vars("ev", index(k=[0]), 150.0, 150.0)
    row = f.bus_pos["17"] * f.steps + 18
    m = sp.csr_matrix(([1.0], ([row], [0])), shape=(len(f.bus_ids) * f.steps, 1))
    prob.add_to_rows("p_bal", "ev", -m)
    got = solve_clarabel(assemble(prob)).objective
    ref_case = with_extra_load(case, "17", 18, 150.0)
    mm = build_opf_distflow(ref_case)
    ref = solve_socp(mm, mm.grid.socs, duals=False).objective
    assert got == pytest.approx(ref, rel=OBJ_REL)
    assert got > _reference("ieee33").objective + 150.0 * f.price_per_kwh[18] * f.dt_h


@pytest.mark.parametrize("name", list(CASES))
def test_dlmp_parts_equal_the_pyomo_decomposition(name):
    """power.distflow_engine_dlmp against power.dlmp.distflow_dlmp_arrays: every part (and the
    flow duals) to 1e-6 currency/kWh; on the stressed case congestion and voltage are real."""
    from power.distflow_engine_dlmp import distflow_dlmp_parts

    case, margins = _setup(name)
    m = build_opf_distflow(case, margins=margins)
    ref = distflow_dlmp_arrays(m.grid, case.feeder, solve_socp(m, m.grid.socs))
    got = distflow_dlmp_parts(_engine_named(name)[1], case.feeder)
    for k in ref:
        assert got[k].shape == ref[k].shape, k
        assert np.abs(got[k] - ref[k]).max() <= DLMP_ABS, k
    assert np.abs(got["residual"]).max() <= 1e-6
    if name == "ieee33-stressed":
        assert got["congestion"].max() > 0.1 and got["voltage"].max() > 0.1


@pytest.mark.parametrize("name", ["cigre-mv-ev", "ieee33-stressed-robust"])
def test_grid_job_engine_path_equals_the_pyomo_path(name):
    """coupling.problems.grid: solve_distflow_engine (the OPF job's path since the engine
    block) and solve_distflow give the same tables, history keys and summary."""
    from coupling.problems.grid import (
        build_opf_distflow_engine,
        solve_distflow,
        solve_distflow_engine,
    )

    case, margins = _setup(name)
    f = case.feeder
    m = build_opf_distflow(case, margins=margins)
    ref = solve_distflow(m, m.grid, f)
    got = solve_distflow_engine(*build_opf_distflow_engine(case, margins=margins), f)
    assert got.result.objective == pytest.approx(ref.result.objective, rel=OBJ_REL)
    assert got.result.status == ref.result.status
    assert list(got.tariffs.columns) == list(ref.tariffs.columns)
    assert (got.tariffs["bus"] == ref.tariffs["bus"]).all()
    values = [c for c in ref.tariffs.columns if c.endswith("_per_kwh")]
    diff = np.abs(got.tariffs[values].to_numpy() - ref.tariffs[values].to_numpy()).max()
    assert diff <= DLMP_ABS
    assert list(got.history[0]) == list(ref.history[0])
    assert got.summary().keys() == ref.summary().keys()
    assert (
        got.summary()["relaxation_tight"]
        and got.summary()["ac_feasible"] == ref.summary()["ac_feasible"]
    )
    # measured 1.7e-6 pu on cigre-mv-ev (each path within 2e-6 pu of pandapower's AC flow)
    np.testing.assert_allclose(got.state.v_pu, ref.state.v_pu, rtol=0, atol=5e-6)
    np.testing.assert_allclose(got.state.p_kw, ref.state.p_kw, rtol=0, atol=1e-4)
    assert got.residual <= 1e-6
