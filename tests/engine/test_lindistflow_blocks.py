"""The LinDistFlow engine block's builders one by one (issue 13: declare_* blocks that can be
tested alone), against hand calculations on the three-bus feeder of tests/conftest.py."""

from __future__ import annotations

import numpy as np
import pytest

from engine.assemble import assemble
from engine.highs import solve_highs
from engine.problem import Problem
from engine.router import values
from power.lindistflow_engine import declare_limits, declare_p_balance, declare_v_drop
from tests.conftest import three_bus


def test_balance_alone_routes_the_loads_down_the_tree():
    f = three_bus(gen_cost=None)  # loads 200 kW at bus 1 and 400 kW at bus 2, no generator
    prob = Problem()
    declare_limits(prob, f, enforce_limits=False)
    declare_p_balance(prob, f)
    assert set(prob.rows) == {"p_bal"}
    sol = solve_highs(assemble(prob))
    np.testing.assert_allclose(values(sol, "p").ravel(), [600.0, 400.0], atol=1e-9)
    assert values(sol, "p_import").item() == pytest.approx(600.0)
    assert sol.objective == pytest.approx(0.1 * 600.0)  # price 0.1 per kWh, one step of 1 h


def test_voltage_drop_rows_give_the_hand_calculated_voltages():
    # 10 kV: 1 ohm x 1 kW moves w by 2e-5 pu^2; line a: r = x = 1 ohm, P 600 kW, Q 100 kvar;
    # line b: r = 2, x = 1 ohm, P 400 kW, Q 0
    f = three_bus(gen_cost=None)
    prob = Problem()
    declare_limits(prob, f, enforce_limits=False)
    declare_p_balance(prob, f)
    declare_v_drop(prob, f)
    w = values(solve_highs(assemble(prob)), "w").ravel()
    w1 = 1.0 - 2e-5 * (600.0 + 100.0)
    w2 = w1 - 2e-5 * (2 * 400.0)
    np.testing.assert_allclose(w, [1.0, w1, w2], atol=1e-12)
