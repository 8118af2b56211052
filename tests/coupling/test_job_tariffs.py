"""Every job's ``tariffs`` table holds DLMPs in currency/kWh: the marginal system cost of one
more kWh consumed at a bus and step, checked by finite differences of the job's optimal system
cost on the table it writes (issue 13): opf, the tariff job's DSO problem and the grid strategy
(DistFlow: tests/power/test_distflow.py). The smart family, whose objective is not money,
writes shadow prices instead; the fleet market solves no DSO problem, so its DLMP columns are
empty."""

from __future__ import annotations

import numpy as np
import pytest

from cases.builtin import load_case
from cases.case import Case, TimeGrid
from coupling.jobs.grid import run_opf
from coupling.jobs.strategy import base_energy_cost, run_strategy
from coupling.jobs.tariff import TariffOptions, run_tariff
from power.dlmp import PARTS, TARIFF_VALUES
from tests.conftest import three_bus, with_extra_load
from tests.coupling.tiny import tiny_case

H_KW = 0.5  # finite-difference step


def _fd(cost, case, bus: str, t: int) -> float:
    """Central difference of ``cost(case)`` for one more kWh at (bus, t) (currency/kWh)."""
    up = cost(with_extra_load(case, bus, t, H_KW))
    dn = cost(with_extra_load(case, bus, t, -H_KW))
    return (up - dn) / (2 * H_KW * case.feeder.dt_h)


def _check_schema(tar, per_station: bool) -> None:
    assert list(tar.columns) == ["station"] * per_station + ["bus", "t", *TARIFF_VALUES]
    parts = tar[[f"{p}_per_kwh" for p in PARTS[1:]]].sum(axis=1)
    np.testing.assert_allclose(tar.dlmp_per_kwh.to_numpy(), parts.to_numpy(), atol=1e-6)
    network = (tar.dlmp_per_kwh - tar.energy_per_kwh).to_numpy()
    np.testing.assert_allclose(tar.tariff_per_kwh.to_numpy(), network, atol=1e-6)


def test_opf_tariffs_are_dlmps_by_finite_differences():
    # line b (300 kW) binds and the generator at bus 2 is dearer than the import
    f = three_bus(load2=(450.0, 0.0), gen_cost=0.3)
    case = Case(name="t", description="", time=TimeGrid(f.steps, f.dt_h), feeder=f)

    def cost(c) -> float:
        return run_opf(c, ac_correction=False).summary["objective"]

    tar = run_opf(case, ac_correction=False).tables["tariffs"]
    _check_schema(tar, per_station=False)
    at = tar.set_index("bus")
    assert at.loc["2", "congestion_per_kwh"] > 0.1  # the generator sets bus 2's price
    for bus in ("1", "2"):
        assert _fd(cost, case, bus, 0) == pytest.approx(at.loc[bus, "dlmp_per_kwh"], rel=0.01)


def test_tariff_job_tariffs_are_dso_dlmps_by_finite_differences():
    case = tiny_case()  # line b to station SB's bus binds
    opts = TariffOptions(ac_correction=False, samples=0)

    def cost(c) -> float:
        return run_tariff(c, opts).summary["dso_objective"]

    tar = run_tariff(case, opts).tables["tariffs"]
    _check_schema(tar, per_station=True)
    tar = tar.set_index(["station", "t"])
    assert tar.congestion_per_kwh.max() > 1e-3
    for station, bus, t in (("SB", "2", 1), ("SA", "1", 1)):
        fd = _fd(cost, case, bus, t)
        assert fd == pytest.approx(tar.loc[(station, t), "dlmp_per_kwh"], rel=0.01, abs=1e-5)


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
    _check_schema(tar, per_station=False)
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
