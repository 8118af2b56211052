"""Seed 001's ordering of hosting capacity on feeder1000-ev (slow: ~2 min)."""

from __future__ import annotations

import pytest

from cases.builtin import load_case
from coupling.strategy_job import hosting_capacity, run_strategy

SHARES = [0.2, 0.4, 0.6, 0.7, 0.8, 0.9, 1.0]


@pytest.mark.slow
def test_hosting_capacity_ordering():
    case = load_case("feeder1000-ev")
    assert 1000 <= case.fleet.n <= 1200 and 850 <= len(case.feeder.bus_ids) <= 1100
    unc, _ = hosting_capacity(case, "uncoordinated", SHARES)
    price, _ = hosting_capacity(case, "price", SHARES)
    grid, _ = hosting_capacity(case, "grid", SHARES)
    assert unc < price <= grid
    assert grid == 1.0
    s = run_strategy(case, "grid").summary
    assert s["unserved_kwh"] == pytest.approx(0.0, abs=1e-3)
    assert s["max_line_loading"] <= 1.0 + 1e-6


def test_feeder1000_case():
    # seed 001 analogue: ~1000 buses, ~850 households at 1.3 EVs each, 96 x 15 min from noon
    case = load_case("feeder1000-ev")
    f = case.feeder
    assert len(f.bus_ids) == 889 and f.steps == 96 and f.dt_h == 0.25
    households = case.fleet.evs.bus.nunique()
    assert 840 <= households <= 860  # 851 load connections
    assert case.fleet.n / households == pytest.approx(1.3, abs=0.03)
    assert set(case.fleet.evs.p_max_kw) == {2.3, 3.7, 11.0}
