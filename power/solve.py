"""Solve a Pyomo model (LPs with HiGHS, convex QPs with Clarabel) and return one typed result
(status, objective, duals).

Two hand-over paths, same results:

* ``"direct"`` (LPs, default): Pyomo's ``LinearStandardFormCompiler`` turns the model into
  sparse matrices that are passed to ``highspy`` in one call; primal values are written into
  the Pyomo variables (garbage collector paused), row and column duals stay the solver's
  arrays behind a mapping by component (:class:`~power.component_values.ComponentValues`).
  At 1000 buses x 96 steps this is about 5x faster than the generic interface (see
  benchmarks/).
* ``"qp"`` (convex QPs, default for them): the same compiled constraint matrices plus the
  objective's Hessian, solved by the interior-point solver Clarabel. HiGHS' active-set QP
  solver stalls on the degenerate traffic-assignment QPs of evtp (it cycles and reports
  "Solve error"), so QPs do not go to HiGHS.
* ``"pyomo"`` (fallback): ``pyomo.contrib.solver`` 'highs'.

Dual convention (both paths): d(objective)/d(rhs) — a binding ``<=`` in a minimisation has a
non-positive dual, a binding ``>=`` a non-negative one; a variable's reduced cost is the dual
of its active bound with the same sign rule.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Literal

import clarabel
import highspy
import numpy as np
import pyomo.environ as pyo
import scipy.sparse as sp
from pyomo.common.gc_manager import PauseGC
from pyomo.contrib.solver.common.factory import SolverFactory
from pyomo.contrib.solver.common.results import SolutionStatus
from pyomo.repn import generate_standard_repn
from pyomo.repn.plugins.standard_form import LinearStandardFormCompiler

from common.progress import phase
from engine.highs import silence_banner
from power.component_values import ComponentValues


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
    handover_s : part of ``solve_s`` spent compiling and passing the model (s).
    readback_s : part of ``solve_s`` spent writing the solution back and collecting duals
        (s; direct and QP paths).
    duals : constraint data -> dual, d(objective)/d(rhs) (a read-only mapping; on the direct
        and QP paths a :class:`~power.component_values.ComponentValues` over the solver's
        arrays).
    reduced_costs : variable data -> reduced cost (likewise).
    """

    status: str
    objective: float
    solve_s: float
    handover_s: float = 0.0
    readback_s: float = 0.0
    duals: Any = field(repr=False, default=None)
    reduced_costs: Any = field(repr=False, default=None)
    kept: KeptLP | None = field(repr=False, default=None)


@dataclass
class KeptLP:
    """The HiGHS instance and compiled standard form of an LP solved with ``keep=True``.

    Invalidation rule: it stands for the model's columns and rows as they were compiled. Bounds,
    right-hand sides and matrix coefficients are changed on ``highs`` in place (positions from
    ``info``) and re-solved with :meth:`resolve`; adding or removing variables or constraints
    on the Pyomo model makes it stale (solve the model again)."""

    highs: highspy.Highs
    info: Any

    def resolve(self, duals: bool = True, presolve: bool = False) -> SolveResult:
        """Re-solve from the last basis (warm start) after in-place changes; load the primal
        solution into the model and read the duals as :func:`solve` does.

        ``presolve=False`` suits changes of bounds and right-hand sides (the basis stays dual
        feasible: a few dual simplex iterations, where presolve would cost more than the whole
        re-solve); after changes of matrix coefficients the basis is far from optimal and
        presolve pays (feeder1000-ev: ~15 s with it, several times more without)."""
        self.highs.setOptionValue("presolve", "on" if presolve else "off")
        return _run_highs(self.highs, self.info, duals, time.perf_counter())


@dataclass
class CompiledQP:
    """The compiled constraint rows of a QP model, for re-solves in which only the objective
    changes (e.g. the mutable tariff parameters of an aggregator's problem).

    Invalidation rule: valid while the model's constraints and variable bounds are those it
    was compiled from. Bounds are compared at every reuse and a change recompiles; adding or
    removing constraints is not detected (build a new ``CompiledQP``)."""

    info: Any = None
    bounds: tuple[np.ndarray, np.ndarray] | None = None

    def standard_form(self, model: pyo.ConcreteModel, obj: Any, qvars: list) -> Any:
        """The compiled form of ``model``: the cached one while bounds are unchanged."""
        if self.info is not None:
            if all(np.array_equal(a, b) for a, b in zip(_bounds(self.info.columns), self.bounds)):
                return self.info
        self.info = _compile_constraints(model, obj, qvars)
        self.bounds = _bounds(self.info.columns)
        return self.info


def _bounds(cols: list) -> tuple[np.ndarray, np.ndarray]:
    lb = np.array([-np.inf if v.lb is None else v.lb for v in cols], dtype=float)
    ub = np.array([np.inf if v.ub is None else v.ub for v in cols], dtype=float)
    return lb, ub


def _is_linear(model: pyo.ConcreteModel) -> bool:
    objs = list(model.component_data_objects(pyo.Objective, active=True))
    return len(objs) == 1 and objs[0].expr.polynomial_degree() in (0, 1)


def solve(
    model: pyo.ConcreteModel,
    *,
    duals: bool = True,
    method: Literal["auto", "direct", "qp", "pyomo"] = "auto",
    compiled: CompiledQP | None = None,
    keep: bool = False,
    **options: Any,
) -> SolveResult:
    """Solve ``model`` (LP: HiGHS; convex QP: Clarabel); load the primal solution and duals.

    ``compiled`` (QP path): a :class:`CompiledQP` the caller keeps between re-solves of the
    same model in which only the objective changes (the tariff loop); the constraint matrices
    are compiled once and only the objective is re-read.

    ``keep=True`` (direct path): the result's ``kept`` is a :class:`KeptLP` for warm re-solves
    after changing bounds, coefficients or right-hand sides in place.

    Raises
    ------
    SolveError
        When HiGHS reports anything other than an optimal solution (infeasible, unbounded,
        time limit); the message names the termination condition.
    """
    if method == "auto":
        method = "direct" if _is_linear(model) else "qp"
    silence_banner()
    with phase("solving QP" if method == "qp" else "solving LP (HiGHS)"):
        if method == "direct":
            return _solve_direct(model, duals, options, keep)
        if method == "qp":
            return _solve_qp(model, duals, compiled)
        return _solve_pyomo(model, duals, options)


def _solve_pyomo(model: pyo.ConcreteModel, duals: bool, options: dict) -> SolveResult:
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


def _solve_direct(
    model: pyo.ConcreteModel, duals: bool, options: dict, keep: bool = False
) -> SolveResult:
    t0 = time.perf_counter()
    info = LinearStandardFormCompiler().write(model, mixed_form=True)
    h = highs_model(info, options)
    out = _run_highs(h, info, duals, t0)
    if keep:
        out.kept = KeptLP(h, info)
    return out


def highs_model(info: Any, options: dict) -> highspy.Highs:
    """A HiGHS instance holding the compiled LP ``info`` (Pyomo's standard form, mixed),
    passed in one call, with ``options`` set and the log off."""
    lb, ub = _bounds(info.columns)
    rhs = np.asarray(info.rhs, dtype=float)
    kind = np.array([r.bound_type for r in info.rows], dtype=int)
    a = info.A.tocsc()
    n = len(info.columns)
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = n, len(info.rows)
    lp.col_cost_ = np.asarray(info.c.toarray()).ravel() if n else np.zeros(0)
    lp.col_lower_, lp.col_upper_ = lb, ub
    lp.row_lower_ = np.where(kind <= 0, rhs, -np.inf)
    lp.row_upper_ = np.where(kind >= 0, rhs, np.inf)
    lp.offset_ = float(info.c_offset[0]) if len(info.c_offset) else 0.0
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = a.indptr
    lp.a_matrix_.index_ = a.indices
    lp.a_matrix_.value_ = a.data
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    for k, v in options.items():
        h.setOptionValue(k, v)
    h.passModel(lp)
    return h


def objective_of(model: pyo.ConcreteModel) -> tuple[pyo.Objective, float, Any, list]:
    """The active objective, its sign (+1 minimise, -1 maximise), its quadratic standard repn
    and its variables (each once)."""
    (obj,) = list(model.component_data_objects(pyo.Objective, active=True))
    sign = 1.0 if obj.sense == pyo.minimize else -1.0
    repn = generate_standard_repn(obj.expr, quadratic=True, compute_values=True)
    qvars = list(
        {
            id(v): v for v in list(repn.linear_vars) + [v for p in repn.quadratic_vars for v in p]
        }.values()
    )
    return obj, sign, repn, qvars


@dataclass
class ConicForm:
    """A compiled model as Clarabel takes it: ``min 1/2 x'Px + c'x`` s.t. ``A x + s = b``, ``s``
    in (zero cone: equality rows; non-negative cone: ``<=`` rows, ``>=`` rows negated, upper
    then lower bounds; second-order cones of ``extra`` rows), minimising ``sign * objective``.

    Attributes: ``info`` (Pyomo's standard form), ``sign``, ``c``, ``hess`` (upper triangle
    of P, CSC), ``a`` (CSC), ``b``, ``cones``; masks ``eq``, ``le``, ``ge`` over the rows of
    ``info``; ``hu``, ``hl`` the columns with finite upper and lower bounds; ``n_eq``, ``n_nn``
    the sizes of the zero and non-negative cones."""

    info: Any
    sign: float
    c: np.ndarray
    hess: sp.csc_matrix
    a: sp.csc_matrix
    b: np.ndarray
    cones: list
    eq: np.ndarray
    le: np.ndarray
    ge: np.ndarray
    hu: np.ndarray
    hl: np.ndarray
    n_eq: int
    n_nn: int

    @classmethod
    def build(
        cls,
        info: Any,
        sign: float,
        repn: Any,
        extra: tuple[sp.csr_matrix, np.ndarray, list[int]] | None = None,
    ) -> ConicForm:
        """From the compiled constraints ``info`` and the objective's ``repn``; ``extra`` =
        (rows ``-G``, ``b``, dimensions) of second-order cones appended last."""
        cols = info.columns
        pos = {id(v): i for i, v in enumerate(cols)}
        n = len(cols)
        c = np.zeros(n)
        for v, k in zip(repn.linear_vars, repn.linear_coefs):
            c[pos[id(v)]] += sign * k
        qi, qj, qv = [], [], []
        for (x, y), k in zip(repn.quadratic_vars, repn.quadratic_coefs):
            i, j = sorted((pos[id(x)], pos[id(y)]))
            qi.append(i)
            qj.append(j)
            qv.append(sign * k * (2.0 if i == j else 1.0))
        hess = sp.csc_matrix((qv, (qi, qj)), shape=(n, n))
        a = info.A.tocsr()
        rhs = np.asarray(info.rhs, dtype=float)
        kind = np.array([r.bound_type for r in info.rows], dtype=int)
        eq, le, ge = kind == 0, kind == 1, kind == -1
        lb, ub = _bounds(cols)
        hu, hl = np.flatnonzero(np.isfinite(ub)), np.flatnonzero(np.isfinite(lb))
        eye = sp.identity(n, format="csr")
        blocks = [a[eq], a[le], -a[ge], eye[hu], -eye[hl]]
        b = [rhs[eq], rhs[le], -rhs[ge], ub[hu], -lb[hl]]
        dims: list[int] = []
        if extra is not None:
            blocks.append(extra[0])
            b.append(extra[1])
            dims = list(extra[2])
        big = sp.vstack(blocks, format="csc") if n else sp.csc_matrix((0, 0))
        n_eq = int(eq.sum())
        n_nn = int(le.sum() + ge.sum()) + len(hu) + len(hl)
        cones: list = [clarabel.ZeroConeT(n_eq)] if n_eq else []
        if n_nn:
            cones.append(clarabel.NonnegativeConeT(n_nn))
        cones += [clarabel.SecondOrderConeT(d) for d in dims]
        return cls(
            info, sign, c, hess, big, np.concatenate(b), cones, eq, le, ge, hu, hl, n_eq, n_nn
        )

    def solve(self, tol: float = 1e-10, regularisation: float | None = None) -> Any:
        """Clarabel's solution at gap and feasibility tolerance ``tol``."""
        settings = clarabel.DefaultSettings()
        settings.verbose = False
        settings.tol_gap_abs = settings.tol_gap_rel = settings.tol_feas = tol
        if regularisation is not None:
            settings.static_regularization_constant = regularisation
        return clarabel.DefaultSolver(
            self.hess, self.c, self.a, self.b, self.cones, settings
        ).solve()

    def solve_stable(self) -> Any:
        """Clarabel's solution at tolerance 1e-10; when that stalls numerically (the smart
        strategies' SOC objective: coefficients from 1e-7 to 3e3), once more at 1e-8 with ten
        times the static regularisation. Clarabel may then end "AlmostSolved" (its reduced
        tolerances), which the caller's status reports."""
        for tol, reg in ((1e-10, 1e-8), (1e-8, 1e-7)):
            sol = self.solve(tol, reg)
            status = str(sol.status)
            if "NumericalError" not in status and "InsufficientProgress" not in status:
                break
        return sol

    def duals(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(row duals over the rows of ``info``, reduced costs over its columns) from
        Clarabel's ``z``, in the convention of this module (d objective / d rhs)."""
        k_le = self.n_eq + int(self.le.sum())
        k_ge = k_le + int(self.ge.sum())
        row_dual = np.zeros(len(self.eq))
        row_dual[self.eq] = -z[: self.n_eq]
        row_dual[self.le] = -z[self.n_eq : k_le]
        row_dual[self.ge] = z[k_le:k_ge]
        k_hu = k_ge + len(self.hu)
        rc = np.zeros(len(self.c))
        np.add.at(rc, self.hu, -z[k_ge:k_hu])
        np.add.at(rc, self.hl, z[k_hu : k_hu + len(self.hl)])
        return self.sign * row_dual, self.sign * rc


def _run_highs(h: highspy.Highs, info: Any, duals: bool, t0: float) -> SolveResult:
    t1 = time.perf_counter()
    h.run()
    t2 = time.perf_counter()
    status = h.modelStatusToString(h.getModelStatus())
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        raise SolveError(f"HiGHS found no optimal solution (termination: {status})")
    sol = h.getSolution()
    _load_primal(info, np.asarray(sol.col_value))
    out = SolveResult(status, float(h.getInfo().objective_function_value), 0.0, t1 - t0)
    if duals:
        out.duals = _row_duals(info.rows, np.asarray(sol.row_dual))
        out.reduced_costs = ComponentValues(info.columns, np.asarray(sol.col_dual))
    t3 = time.perf_counter()
    out.solve_s, out.readback_s = t3 - t0, t3 - t2
    return out


def _load_primal(info: Any, x: np.ndarray) -> None:
    """Write the solver's primal vector into the model's variables (column order of the
    compiled standard form; eliminated variables from their defining expressions)."""
    with PauseGC():  # collections over the whole model would cost more than the loop
        for v, val in zip(info.columns, x.tolist(), strict=True):
            v.set_value(val, skip_validation=True)
        for v, expr in info.eliminated_vars:
            v.set_value(pyo.value(expr), skip_validation=True)


def _row_duals(rows: list, row_dual: np.ndarray) -> ComponentValues:
    """One dual per constraint: the sum over its rows (a ranged constraint has two, adjacent
    in the compiled standard form)."""
    keys: list = []
    starts: list[int] = []
    prev = None
    for i, r in enumerate(rows):
        c = r.constraint
        if c is not prev:
            keys.append(c)
            starts.append(i)
            prev = c
    vals = np.add.reduceat(row_dual, starts) if starts else np.zeros(0)
    return ComponentValues(keys, vals)


def _compile_constraints(model: pyo.ConcreteModel, obj: pyo.Objective, qvars: list) -> Any:
    """Standard form of the constraints with every objective variable as a column."""
    obj.deactivate()
    tmp = pyo.Objective(expr=sum(qvars) if qvars else 0.0)
    model.add_component("compile_objective_", tmp)  # removed below
    try:
        return LinearStandardFormCompiler().write(model, mixed_form=True)
    finally:
        model.del_component(tmp)
        obj.activate()


def _solve_qp(
    model: pyo.ConcreteModel, duals: bool, compiled: CompiledQP | None = None
) -> SolveResult:
    """Convex QP: min 1/2 x'Px + c'x s.t. rows and bounds, by Clarabel (interior point)."""
    t0 = time.perf_counter()
    obj, sign, repn, qvars = objective_of(model)
    if compiled is not None:
        info = compiled.standard_form(model, obj, qvars)
    else:
        info = _compile_constraints(model, obj, qvars)
    form = ConicForm.build(info, sign, repn)
    t1 = time.perf_counter()
    sol = form.solve_stable()
    t2 = time.perf_counter()
    status = str(sol.status)
    if "Solved" not in status:
        raise SolveError(f"Clarabel found no optimal solution (status: {status})")
    _load_primal(info, np.asarray(sol.x))
    out = SolveResult(status, float(pyo.value(obj.expr)), 0.0, t1 - t0)
    if duals:
        row_dual, rc = form.duals(np.asarray(sol.z))
        out.duals = _row_duals(info.rows, row_dual)
        out.reduced_costs = ComponentValues(info.columns, rc)
    t3 = time.perf_counter()
    out.solve_s, out.readback_s = t3 - t0, t3 - t2
    return out
