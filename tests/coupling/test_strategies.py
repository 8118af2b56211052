"""Seed 002's findings on cigre-mv-ev, as configurations of the fleet and LinDistFlow blocks."""

from __future__ import annotations

import pytest

from cases.builtin import load_case
from coupling.jobs.strategy import run_strategy

V_MIN = 0.97  # seed 002: 1 pu - 3 %
AC_TOL = 1e-3  # the AC correction's tolerance (pu, fraction of a line rating)


class _Runs(dict):
    """Strategy summaries on cigre-mv-ev, each run when a test first asks for it (v2g and
    smart-q take about a minute together: their tests are marked slow)."""

    def __missing__(self, strategy: str):
        self[strategy] = run_strategy(load_case("cigre-mv-ev"), strategy).summary
        return self[strategy]


SLOW = pytest.mark.slow


@pytest.fixture(scope="module")
def runs():
    return _Runs()


def test_case_is_table_one(runs):
    case = load_case("cigre-mv-ev")
    assert case.fleet.n == 878
    counts = case.fleet.evs.bus.value_counts()
    assert counts["5"] == 178 and counts["14"] == 51


def test_uncoordinated_breaks_the_voltage_limit(runs):
    assert runs["uncoordinated"]["min_voltage_ac_pu"] < V_MIN - 0.01


@pytest.mark.parametrize(
    "strategy",
    ["grid", "smart", pytest.param("v2g", marks=SLOW), pytest.param("smart-q", marks=SLOW)],
)
def test_constrained_strategies_keep_it(runs, strategy):
    # corrected by the AC power flow: the limits hold in AC, not only in the linear model
    s = runs[strategy]
    assert s["ac_feasible"]
    assert s["min_voltage_pu"] >= V_MIN - 1e-6
    assert s["min_voltage_ac_pu"] >= V_MIN - AC_TOL
    assert s["max_line_loading_ac"] <= 1.0 + AC_TOL
    assert s["max_line_loading"] <= 1.0 + 1e-6


def test_smart_uncorrected_breaks_it_in_ac():
    # the lossless schedule keeps 0.97 pu in the linear model only (issue 12: 0.9637 in AC)
    s = run_strategy(load_case("cigre-mv-ev"), "smart", ac_correction=False).summary
    assert s["min_voltage_pu"] >= V_MIN - 1e-6
    assert s["min_voltage_ac_pu"] < V_MIN - 0.005
    assert not s["ac_feasible"] and s["ac_resolves"] == 0


@pytest.mark.parametrize(
    "strategy",
    ["grid", "smart", pytest.param("v2g", marks=SLOW), pytest.param("smart-q", marks=SLOW)],
)
def test_same_energy_delivered(runs, strategy):
    # every strategy reaches the same targets (the same EVs cannot: windows too short)
    ref = runs["uncoordinated"]
    assert runs[strategy]["unserved_kwh"] == pytest.approx(ref["unserved_kwh"], abs=0.5)


@SLOW
def test_v2g_discharge_negligible(runs):
    assert runs["v2g"]["discharged_kwh"] <= 1e-3 * runs["v2g"]["charged_kwh"]


@SLOW
def test_reactive_support_charges_no_slower(runs):
    # seed 002 eq. 11: a lower sum of (SOC - SOC*)^2 means EVs reach their target earlier
    assert runs["smart-q"]["objective"] <= runs["smart"]["objective"] + 1e-6
