"""The loop's adaptive step rule settles where one constant step herds the load (issue 12).

An aggregator of EVs at bus 2 of the three-bus feeder must charge 560 kWh over two steps of
1 h, at most 400 kW per step, on prices 0.1 and 0.1001 currency/kWh with a small quadratic
term eps p^2 (eps = 1e-6 currency/kWh per kW). Its response to tariffs tau_0, tau_1 is, by
hand (stationarity of the two-step QP, inside the bounds):

    p_0 - p_1 = (1e-4 + tau_1 - tau_0) / (2 eps),  p_0 + p_1 = 560

so untaxed it charges 305 / 255 kW and line b (300 kW) is exceeded by 5 kW at step 0. Any
tariff difference tau_0 - tau_1 in [1e-4 - 82 eps, 1e-4 + 82 eps] = [1.8e-5, 1.82e-4]
currency/kWh keeps both steps within 300.5 kW (|p_0 - p_1| <= 41 kW); a tariff step of
1e-3 x 5 kW already moves the whole load to step 1 (herding).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from coupling.problems.loop import GROW, SHRINK, LimitPrices, LoopOptions, StepScales, run_loop
from power.feeder import Feeder
from power.limits import LinearGrid, effective_limits, fixed_q_flows
from tests.conftest import three_bus

ENERGY, P_MAX, EPS, PRICE = 560.0, 400.0, 1e-6, np.array([0.1, 0.1001])


def two_steps() -> Feeder:
    f = three_bus(load2=(0.0, 0.0), gen_cost=None)
    loads = pd.concat([f.loads.assign(t=t) for t in (0, 1)], ignore_index=True)
    prices = pd.DataFrame({"t": [0, 1], "price_per_kwh": PRICE})
    return Feeder(f.buses, f.lines, loads, prices, f.slack_bus, steps=2, dt_h=1.0)


def respond(tariff: np.ndarray) -> tuple[np.ndarray, dict]:
    """The aggregator's optimum at bus 2 (position 2) for tariffs (buses x steps)."""
    d = (PRICE[1] + tariff[2, 1] - PRICE[0] - tariff[2, 0]) / (2 * EPS)
    p0 = np.clip((ENERGY + d) / 2, ENERGY - P_MAX, P_MAX)
    ev = np.zeros((3, 2))
    ev[2] = [p0, ENERGY - p0]
    return ev, {}


def run(rule: str):
    f = two_steps()
    lim = effective_limits(f, fixed_q_flows(f))
    opts = LoopOptions(step_kw=1e-3, step_rule=rule, max_iter=60)  # type: ignore[arg-type]
    return run_loop(f, LinearGrid(f), lim, LimitPrices.zeros(2, 3, 2), respond, opts)


def test_the_untaxed_response_exceeds_line_b_by_5_kw():
    ev, _ = respond(np.zeros((3, 2)))
    np.testing.assert_allclose(ev[2], [305.0, 255.0])


@pytest.mark.parametrize("rule", ["constant", "diminishing"])
def test_one_step_size_herds_the_load_between_the_two_steps(rule):
    loop = run(rule)
    assert not loop.converged
    assert min(h["max_violation"] for h in loop.history[1:]) > 50.0  # never near the window


def test_the_adaptive_rule_settles_on_a_tariff_difference_inside_the_window():
    loop = run("adaptive")
    assert loop.converged
    ev, _ = respond(loop.bus_tariff)
    assert ev[2].max() <= 300.5
    spread = loop.bus_tariff[2, 0] - loop.bus_tariff[2, 1]
    half = 2 * EPS * (2 * 300.5 - ENERGY)  # |p_0 - p_1| <= 41 kW
    assert PRICE[1] - PRICE[0] - half - 1e-12 <= spread <= PRICE[1] - PRICE[0] + half + 1e-12
    assert len(loop.history) < 40


def test_step_scales_halve_when_the_excess_turns_and_grow_back_to_one_while_it_is_kept():
    scales, mu = StepScales(), [np.zeros(3)]
    # full step alpha x excess; a slack limit at price 0 does not move
    mu = scales.move(mu, [np.array([2.0, 4.0, -1.0])], [0.5])
    np.testing.assert_allclose(mu[0], [1.0, 2.0, 0.0])
    mu = scales.move(mu, [np.array([3.0, -7.0, -1.0])], [0.5])  # kept: scale stays 1; turned
    np.testing.assert_allclose(mu[0], [1.0 + 0.5 * 3.0, 2.0 - 0.5 * SHRINK * 7.0, 0.0])
    mu = scales.move(mu, [np.array([-1.0, -1.0, -1.0])], [0.5])  # turned; kept: grows back
    row1 = 2.0 - 0.5 * SHRINK * 7.0 - 0.5 * min(1.0, SHRINK * GROW) * 1.0
    np.testing.assert_allclose(mu[0], [2.5 - 0.5 * SHRINK, max(row1, 0.0), 0.0])
    np.testing.assert_allclose(scales.scale[0], [SHRINK, min(1.0, SHRINK * GROW), 1.0])
