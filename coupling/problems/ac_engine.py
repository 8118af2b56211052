"""AC-feasible schedules for problems built in the matrix engine.

The correction of :func:`coupling.problems.ac_correction.solve_ac_feasible` (see there for
the maths) for a problem that is re-declared rather than edited in place: ``build(limits,
losses)`` declares and assembles it with the given limits and linearised losses, ``solve``
solves it, and ``ev_bus`` reads the EV load per bus and step (kW) from the solution. The
parts of the problem that do not touch the grid are solved once and kept
(:class:`engine.split.PartCache`), so a re-solve costs the grid-coupled part only.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from coupling.problems.ac_correction import ACCorrected, Correction, history_row
from coupling.problems.grid import schedule_state
from engine.assemble import Assembled
from engine.highs import Solved
from power.correction import (
    TOL_LOADING,
    TOL_V_PU,
)
from power.feeder import Feeder
from power.limits import (
    Limits,
    LinearGrid,
    Tightening,
    effective_limits,
    flow_rating_kw,
    net_load,
)

MAX_RESOLVES = 3


def solve_ac_feasible_engine(
    feeder: Feeder,
    build: Callable[[Limits, LinearGrid | None], Assembled],
    solve: Callable[[Assembled], Solved],
    ev_bus: Callable[[Solved], np.ndarray],
    *,
    q_fixed_kvar: np.ndarray | None,
    margins: Tightening | None,
    correct: bool = True,
    max_resolves: int = MAX_RESOLVES,
    tol_loading: float = TOL_LOADING,
    tol_v_pu: float = TOL_V_PU,
) -> ACCorrected:
    """Solve, AC-check and, with ``correct``, correct the losses and limits and re-solve until
    no limit (robust margins included) is exceeded in AC beyond the tolerances, at most
    ``max_resolves`` times. ``result`` of the outcome is the last :class:`Solved`."""
    f = feeder
    cor = Correction(f, flow_rating_kw(f, q_fixed_kvar), effective_limits(f, q_fixed_kvar, margins))
    lim, grid = cor.lim_m, LinearGrid(f)
    history: list[dict] = []
    for k in range(max_resolves + 1):
        sol = solve(build(lim, grid if grid.has_losses else None))
        p_net, q_net = net_load(f, ev_bus(sol))
        state = schedule_state(f, grid, p_net, q_net)
        ac, ex = cor.check(p_net, q_net)
        history.append(history_row(k, f, sol, state, ac, ex))
        feasible = ex.ok(tol_loading, tol_v_pu)
        if feasible or not correct or k == max_resolves:
            break
        grid = cor.next_grid(k == 0)
        lim = effective_limits(f, q_fixed_kvar, margins, cor.tight)
    return ACCorrected(
        result=sol,  # type: ignore[arg-type]  # a Solved: objective, status, solve_s
        state=state,
        ac=ac,
        history=history,
        grid=grid,
        limits=lim,
        tightening=cor.tight,
        feasible=feasible,
        ac_s=cor.ac_s,
    )
