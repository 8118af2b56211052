"""Solve a Pyomo model with HiGHS and return one typed result (status, objective, duals)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import pyomo.environ as pyo
from pyomo.contrib.solver.common.factory import SolverFactory
from pyomo.contrib.solver.common.results import SolutionStatus


class SolveError(RuntimeError):
    """The solver did not return an optimal solution."""


@dataclass
class SolveResult:
    """Outcome of one solve.

    Attributes
    ----------
    status : solver termination condition as text.
    objective : optimal objective value (model currency).
    solve_s : wall time of hand-over plus solve (s).
    duals : constraint data -> dual, d(objective)/d(rhs) (a binding ``<=`` in a minimisation
        has a non-positive dual, a binding ``>=`` a non-negative one).
    reduced_costs : variable data -> reduced cost (the dual of its active bound, same sign rule).
    """

    status: str
    objective: float
    solve_s: float
    duals: Any = field(repr=False, default=None)
    reduced_costs: Any = field(repr=False, default=None)


def solve(model: pyo.ConcreteModel, *, duals: bool = True, **options: Any) -> SolveResult:
    """Solve ``model`` with HiGHS (LP or convex QP); load the primal solution and the duals.

    Raises
    ------
    SolveError
        When HiGHS reports anything other than an optimal solution (infeasible, unbounded,
        time limit); the message names the termination condition.
    """
    opt = SolverFactory("highs")
    t0 = time.perf_counter()
    res = opt.solve(
        model,
        raise_exception_on_nonoptimal_result=False,
        load_solutions=False,
        solver_options={"output_flag": False, **options},
    )
    status = str(res.termination_condition).split(".")[-1]
    if res.solution_status != SolutionStatus.optimal:
        raise SolveError(f"HiGHS found no optimal solution (termination: {status})")
    res.solution_loader.load_vars()
    out = SolveResult(status, float(res.incumbent_objective), time.perf_counter() - t0)
    if duals:
        out.duals = res.solution_loader.get_duals()
        out.reduced_costs = res.solution_loader.get_reduced_costs()
    return out
