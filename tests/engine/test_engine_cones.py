"""Second-order cones in the matrix engine (Problem.add_cones, assemble, solve_clarabel,
router.cone_duals) on problems solvable by hand; HiGHS refuses them."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from engine.assemble import assemble
from engine.clarabel_qp import solve_clarabel
from engine.highs import EngineSolveError, solve_highs
from engine.problem import Problem, ProblemError, index
from engine.router import cone_duals, cone_values, values


def _disc(radius: np.ndarray, centre: np.ndarray) -> Problem:
    """min sum_k (x_k + y_k) s.t. ||(x_k - cx_k, y_k - cy_k)|| <= r_k, k = 0..n-1."""
    n = len(radius)
    prob = Problem()
    prob.add_vars("x", index(k=range(n)), cost=1.0)
    prob.add_vars("y", index(k=range(n)), cost=1.0)
    eye = sp.identity(n, format="csr")
    prob.add_cones(
        "disc",
        index(k=range(n)),
        [{}, {"x": eye}, {"y": eye}],
        [radius, -centre[:, 0], -centre[:, 1]],
    )
    return prob


def test_vectorised_discs_give_the_hand_solution_and_its_duals():
    r = np.array([1.0, 2.0, 0.5])
    c = np.array([[0.0, 0.0], [1.0, -1.0], [3.0, 2.0]])
    sol = solve_clarabel(assemble(_disc(r, c)))
    # optimum at centre - r (1, 1)/sqrt(2); objective sum(cx + cy) - sqrt(2) sum(r)
    s = r / np.sqrt(2)
    np.testing.assert_allclose(values(sol, "x"), c[:, 0] - s, atol=1e-8)
    np.testing.assert_allclose(values(sol, "y"), c[:, 1] - s, atol=1e-8)
    assert sol.objective == pytest.approx(c.sum() - np.sqrt(2) * r.sum(), abs=1e-8)
    z = cone_duals(sol, "disc")
    assert z.shape == (3, 3)
    # d objective / d radius = -z_0 = -sqrt(2); the components point against the cost (1, 1)
    np.testing.assert_allclose(z[:, 0], np.sqrt(2), atol=1e-7)
    np.testing.assert_allclose(z[:, 1:], 1.0, atol=1e-7)
    u = cone_values(sol, "disc")
    np.testing.assert_allclose(u[:, 0], r, atol=1e-12)
    np.testing.assert_allclose(np.hypot(u[:, 1], u[:, 2]), r, atol=1e-7)


def test_cone_dual_is_the_derivative_of_the_objective():
    r, c = np.array([1.0]), np.zeros((1, 2))
    h = 1e-4
    base = solve_clarabel(assemble(_disc(r, c)))
    up = solve_clarabel(assemble(_disc(r + h, c))).objective
    dn = solve_clarabel(assemble(_disc(r - h, c))).objective
    assert (up - dn) / (2 * h) == pytest.approx(-cone_duals(base, "disc")[0, 0], rel=1e-6)


def test_cones_beside_rows_and_bounds():
    # min -x - y, x + y <= 1.5 (row), y <= 0.6 (bound), ||(x, y)|| <= 1: optimum on the row
    prob = Problem()
    prob.add_vars("x", index(i=[0]), cost=-1.0)
    prob.add_vars("y", index(i=[0]), ub=0.6, cost=-1.0)
    one = sp.identity(1, format="csr")
    prob.add_rows("sum", index(i=[0]), {"x": one, "y": one}, -np.inf, 1.2)
    prob.add_cones("unit", index(i=[0]), [{}, {"x": one}, {"y": one}], [1.0, 0.0, 0.0])
    sol = solve_clarabel(assemble(prob))
    assert sol.objective == pytest.approx(-1.2, abs=1e-8)
    assert values(sol, "x").item() + values(sol, "y").item() == pytest.approx(1.2, abs=1e-8)
    assert np.hypot(values(sol, "x").item(), values(sol, "y").item()) <= 1.0 + 1e-8


def test_without_cones_nothing_changes_in_the_assembly():
    prob = Problem()
    prob.add_vars("x", index(i=range(2)), 0.0, 1.0, -1.0)
    asm = assemble(prob)
    assert not asm.has_cones and asm.cone_a is None and asm.cone_dims == ()


def test_highs_refuses_cones_with_a_clear_error():
    with pytest.raises(EngineSolveError, match="second-order cones.*disc.*solve_clarabel"):
        solve_highs(assemble(_disc(np.ones(1), np.zeros((1, 2)))))


def test_inconsistent_cone_declarations_are_refused():
    prob = Problem()
    prob.add_vars("x", index(i=range(2)))
    eye = sp.identity(2, format="csr")
    with pytest.raises(ProblemError, match="component 1"):
        prob.add_cones("c", index(k=range(3)), [{}, {"x": eye}], 1.0)
    with pytest.raises(ProblemError, match="3 constants for 2"):
        prob.add_cones("c", index(k=range(2)), [{}, {"x": eye}], [1.0, 0.0, 0.0])


def test_fixed_column_in_a_cone_problem_has_its_reduced_cost():
    # min x + y, x fixed at 0.5, ||(x, y)|| <= 1: y = -sqrt(0.75); d objective / d x = 1 + x/|y|
    from engine.router import reduced_costs

    prob = Problem()
    prob.add_vars("x", index(i=[0]), 0.5, 0.5, 1.0)
    prob.add_vars("y", index(i=[0]), cost=1.0)
    one = sp.identity(1, format="csr")
    prob.add_cones("unit", index(i=[0]), [{}, {"x": one}, {"y": one}], [1.0, 0.0, 0.0])
    sol = solve_clarabel(assemble(prob))
    assert values(sol, "y").item() == pytest.approx(-np.sqrt(0.75), abs=1e-8)
    # to the interior point's dual accuracy (5e-6 here); a wrong sign would give 1 - 0.58
    assert reduced_costs(sol, "x").item() == pytest.approx(1 + 0.5 / np.sqrt(0.75), rel=1e-5)


def test_split_and_pyomo_view_leave_cones_to_clarabel():
    from engine.pyomo_view import to_pyomo
    from engine.split import solve_split

    asm = assemble(_disc(np.array([1.0, 2.0]), np.zeros((2, 2))))  # two independent parts
    seen = []

    def coupled(a):
        seen.append(a)
        return solve_clarabel(a)

    sol = solve_split(asm, coupled, min_parts=1)
    assert len(seen) == 1 and seen[0] is asm
    assert sol.objective == pytest.approx(-np.sqrt(2) * 3.0, abs=1e-8)
    with pytest.raises(ValueError, match="second-order cones"):
        to_pyomo(asm)


def test_stable_solve_retries_numerical_errors_only(monkeypatch):
    import engine.clarabel_qp as cq

    asm = assemble(_disc(np.ones(1), np.zeros((1, 2))))
    calls = []
    real = cq.solve_clarabel

    def flaky(a, tol=1e-10, threads=1, regularisation=None):
        calls.append((tol, regularisation))
        if len(calls) == 1:
            raise EngineSolveError("Clarabel found no optimal solution (status: NumericalError)")
        return real(a, tol, threads, regularisation)

    monkeypatch.setattr(cq, "solve_clarabel", flaky)
    sol = cq.solve_clarabel_stable(asm)
    assert calls == [(1e-10, None), (1e-8, 1e-7)]
    assert sol.objective == pytest.approx(-np.sqrt(2), abs=1e-7)
    # an infeasible problem is not retried
    bad = Problem()
    bad.add_vars("x", index(i=[0]), 2.0, 3.0)
    one = sp.identity(1, format="csr")
    bad.add_cones("unit", index(i=[0]), [{}, {"x": one}], [1.0, 0.0])
    monkeypatch.setattr(cq, "solve_clarabel", real)
    with pytest.raises(EngineSolveError, match="Infeasible"):
        cq.solve_clarabel_stable(assemble(bad))
