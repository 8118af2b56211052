"""Matrix-native model engine: blocks declare their part of an LP/QP as sparse matrices with
named index maps (:mod:`engine.problem`), one assembler stacks them
(:mod:`engine.assemble`), HiGHS solves in one call (:mod:`engine.highs`) and one router maps
primal values and duals back to tables (:mod:`engine.router`). :func:`engine.pyomo_view.to_pyomo`
gives a Pyomo model over the same matrices for users who add their own constraints.
"""
