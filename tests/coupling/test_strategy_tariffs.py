"""The grid strategy's tariffs are DLMPs in currency/kWh: the marginal system cost of one more
kWh consumed at a bus and step, checked by finite differences of the optimal system cost
(issue 13); the smart family, whose objective is not money, writes shadow prices instead."""

from __future__ import annotations

import numpy as np
import pytest

from cases.builtin import load_case
from coupling.jobs.strategy import base_energy_cost, run_strategy
from tests.conftest import with_extra_load


def _system_cost(case, bus=None, t=None, dp_kw=0.0) -> float:
    """Optimal system cost (currency): the grid strategy's objective plus the base load's
    constant cost, with ``dp_kw`` more load at (bus, t)."""
    if dp_kw:
        case = with_extra_load(case, bus, t, dp_kw)
    run = run_strategy(case, "grid", ac_correction=False)
    return run.summary["objective"] + base_energy_cost(case.feeder)


@pytest.fixture(scope="module")
def grid_run():
    case = load_case("hu2014-lv")  # its transformer binds (seed 000)
    return case, run_strategy(case, "grid", ac_correction=False)


def test_grid_tariffs_are_dlmps_by_finite_differences(grid_run):
    case, run = grid_run
    tar = run.tables["tariffs"]
    f = case.feeder
    # the energy part is the slack price, not 0 (the import is priced)
    price = f.price_per_kwh[tar.t.to_numpy()]
    np.testing.assert_allclose(tar.energy_per_kwh.to_numpy(), price, rtol=1e-9)
    parts = tar[[f"{p}_per_kwh" for p in ("energy", "loss", "congestion", "voltage")]].sum(axis=1)
    np.testing.assert_allclose(tar.dlmp_per_kwh.to_numpy(), parts.to_numpy(), atol=1e-9)
    # a bus and step where a limit binds, and one where only energy counts
    limit = (tar.congestion_per_kwh + tar.voltage_per_kwh).abs()
    assert limit.max() > 1e-3, "hu2014-lv's grid strategy should bind its transformer"
    binding = tar.loc[limit.idxmax()]
    free = tar[(limit < 1e-9) & (tar.bus != f.slack_bus)].iloc[0]
    h = 0.5  # kW
    for row in (binding, free):
        up = _system_cost(case, row.bus, int(row.t), h)
        dn = _system_cost(case, row.bus, int(row.t), -h)
        fd = (up - dn) / (2 * h * f.dt_h)
        assert fd == pytest.approx(row.dlmp_per_kwh, rel=0.01), (row.bus, row.t)


def test_smart_writes_shadow_prices_not_tariffs():
    run = run_strategy(load_case("hu2014-lv"), "smart", ac_correction=False)
    assert "tariffs" not in run.tables
    sp = run.tables["shadow_prices"]
    assert list(sp.columns) == ["bus", "t", "shadow_price"] and sp.shadow_price.abs().max() > 0
