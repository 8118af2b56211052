"""Robust counterparts against brute-force vertex enumeration, Gamma = 0, monotonicity and
out-of-sample feasibility."""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from cases.case import Case, TimeGrid
from coupling.jobs.grid import run_opf
from coupling.problems.grid import build_opf
from coupling.problems.robust_grid import grid_margins, uncertain_sources
from power.sensitivity import sensitivities
from power.solve import solve
from robust.sets import RobustSetError, worst_case
from robust.uncertainty import Uncertainty
from tests.conftest import three_bus


def _vertices_budget(xi, gamma):
    """All extreme points of {|d_i| <= xi_i, sum |d_i|/xi_i <= gamma} (brute force)."""
    n = len(xi)
    pts = []
    k = int(np.floor(gamma))
    frac = gamma - k
    for full in itertools.combinations(range(n), min(k, n)):
        rest = [i for i in range(n) if i not in full]
        for part in [None] + (rest if frac > 0 else []):
            for signs in itertools.product([-1, 1], repeat=n):
                d = np.zeros(n)
                for i in full:
                    d[i] = signs[i] * xi[i]
                if part is not None:
                    d[part] = signs[part] * frac * xi[part]
                pts.append(d)
    return np.array(pts)


@pytest.mark.parametrize("gamma", [0.0, 0.5, 1.0, 1.7, 3.0])
def test_budget_worst_case_equals_vertex_enumeration(gamma):
    rng = np.random.default_rng(1)
    coef = rng.normal(size=(6, 4))
    xi = rng.uniform(0.5, 2.0, 4)
    brute = (_vertices_budget(xi, gamma) @ coef.T).max(axis=0)
    assert worst_case(coef, xi, gamma, "budget") == pytest.approx(brute, abs=1e-12)


@pytest.mark.parametrize("gamma", [0.0, 0.3, 1.0])
def test_node_worst_case_equals_vertex_enumeration(gamma):
    rng = np.random.default_rng(2)
    coef = rng.normal(size=(5, 3))
    xi = rng.uniform(0.5, 2.0, 3)
    verts = np.array(list(itertools.product([-1, 1], repeat=3))) * (gamma * xi)
    assert worst_case(coef, xi, gamma, "node") == pytest.approx((verts @ coef.T).max(axis=0))


def test_gamma_out_of_range():
    with pytest.raises(RobustSetError):
        worst_case(np.ones((1, 2)), np.ones(2), 1.5, "node")


def _robust_3bus(gamma: float = 1.0) -> Case:
    """3-bus feeder with a PV unit at bus 2: load +-10 %, PV +-20 %."""
    f = three_bus(pmax=(800.0, 300.0))
    ren = pd.DataFrame({"bus": ["2"], "t": [0], "kind": ["pv"], "p_kw": [50.0]})
    f = replace(f, renewables=ren)
    unc = pd.DataFrame(
        {"bus": ["1", "2", "2"], "kind": ["load", "load", "pv"], "xi_frac": [0.1, 0.1, 0.2]}
    )
    return Case(
        name="r3",
        description="",
        time=TimeGrid(1, 1.0),
        feeder=f,
        uncertainty=Uncertainty(unc),
        gamma=gamma,
    )


def test_margins_by_hand_3bus():
    case = _robust_3bus()
    f = case.feeder
    m = grid_margins(f, sensitivities(f), case.uncertainty, 1.0, "node")
    # line a sees load 1 (20), load 2 (40), pv 2 (10); line b sees load 2 and pv 2
    assert m.flow_up_kw[:, 0] == pytest.approx([70.0, 50.0])
    # w2 margin: 2 (R21 (20 + 10 tan1) + R22 (40 + 10) + X22 * 0 ...) with tan1 = 0.5 at bus 1
    tan1 = 100 / 200
    r = np.array([[0, 0, 0], [0, 1, 1], [0, 1, 3]]) * 1e-5
    x = np.array([[0, 0, 0], [0, 1, 1], [0, 1, 2]]) * 1e-5
    w2 = 2 * (20 * (r[2, 1] + x[2, 1] * tan1) + 40 * r[2, 2] + 10 * r[2, 2])
    assert m.w_low[2, 0] == pytest.approx(w2)
    src = uncertain_sources(f, case.uncertainty)
    assert sorted(src.kind.tolist()) == ["load", "load", "pv"]


def test_gamma_zero_is_deterministic_and_cost_monotone():
    case = _robust_3bus()
    f = case.feeder
    sens = sensitivities(f)
    det = solve(build_opf(case)).objective
    costs = []
    for g in (0.0, 0.25, 0.5, 0.75, 1.0):
        m = build_opf(case, margins=grid_margins(f, sens, case.uncertainty, g))
        costs.append(solve(m).objective)
    assert costs[0] == det
    assert np.all(np.diff(costs) > 0)
    # line b limit 300 - Gamma 50 kW forces Gamma 50 kW more from the 0.3 generator (0.2 dearer)
    assert costs[-1] - costs[0] == pytest.approx(50 * 0.2, rel=1e-6)


def test_out_of_sample_hardened_vs_deterministic():
    case = _robust_3bus()
    rob = run_opf(case, gamma=1.0, samples=400, seed=3)
    det = run_opf(case, gamma=0.0, samples=400, sample_gamma=1.0, seed=3)
    # no realisation inside the set violates a hardened limit
    assert rob.summary["oos_violation_rate"] == 0.0
    assert rob.summary["oos_worst_flow_excess_kw"] <= 1e-6
    # the deterministic schedule runs line b at its 300 kW limit: every sample that raises
    # the net load at bus 2 overloads it, by up to 40 + 10 = 50 kW at a vertex
    assert 0.3 < det.summary["oos_violation_rate"] < 0.8
    assert det.summary["oos_worst_flow_excess_kw"] == pytest.approx(50.0, abs=1e-6)
    assert det.summary["objective"] < rob.summary["objective"]
