"""Matrix-native model engine: blocks declare their part of an LP/QP as sparse matrices with
named index maps (:mod:`engine.problem`), one assembler stacks them
(:mod:`engine.assemble`), HiGHS solves in one call (:mod:`engine.highs`) and one router maps
primal values and duals back to tables (:mod:`engine.router`). :func:`engine.pyomo_view.to_pyomo`
gives a Pyomo model over the same matrices for users who add their own constraints.
Second-order cones (:meth:`engine.problem.Problem.add_cones`) make it an SOCP, which
:func:`engine.clarabel_qp.solve_clarabel` solves (HiGHS and ``to_pyomo`` refuse it;
:func:`engine.router.cone_duals` reads the cone duals back).

The engine holds no physics. The blocks live with the physics they model and emit their rows
here: :mod:`traffic.dta_engine`, :mod:`power.lindistflow_engine`, :mod:`power.distflow_engine`,
:mod:`power.fleet_engine`
and the tariff's DSO/EVA problems :mod:`coupling.problems.market`.
"""
