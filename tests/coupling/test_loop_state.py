"""The DSO-aggregator loop returns new prices and leaves the caller's untouched (issue 13)."""

from __future__ import annotations

import numpy as np
import pytest

from coupling.problems.loop import LimitPrices, LoopOptions, run_loop
from power.limits import LinearGrid, effective_limits, fixed_q_flows
from tests.conftest import three_bus


def test_run_loop_leaves_the_callers_prices_alone():
    f = three_bus()  # line b: 300 kW; base load 400 kW at bus 2 exceeds it by 100 kW
    lim = effective_limits(f, fixed_q_flows(f))
    start = LimitPrices.zeros(2, 3, 1)
    before = {k: v.copy() for k, v in vars(start).items() if v is not None}
    loop = run_loop(
        f,
        LinearGrid(f),
        lim,
        start,
        lambda _: (np.zeros((3, 1)), {}),
        LoopOptions(max_iter=2, step_kw=0.01),
    )
    for k, v in before.items():
        np.testing.assert_array_equal(getattr(start, k), v)
    # one subgradient step: mu_up of line b = step_kw x its excess (100 kW), the rest 0
    assert loop.prices is not start
    assert loop.prices.mu_up[1, 0] == pytest.approx(0.01 * 100.0, rel=1e-9)
    assert loop.prices.mu_up[0, 0] == 0.0 and not loop.converged
