"""The tariff mechanism is explicit: auto picks it by the case, and a mechanism the case cannot
run is refused with one line instead of silently running another (issue 13)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from cases.builtin import load_case
from cases.case import CaseError
from coupling.cli import main
from coupling.jobs.tariff import mechanism_of


def test_auto_picks_by_the_case():
    assert mechanism_of(load_case("hu2014-lv")) == "fleet-market"
    assert mechanism_of(load_case("tn20-dn17")) == "dlmp"
    assert mechanism_of(load_case("tn20-dn17"), "subgradient") == "subgradient"
    assert mechanism_of(load_case("hu2014-lv"), "subgradient") == "fleet-market"


def test_a_mechanism_the_case_cannot_run_is_refused():
    with pytest.raises(CaseError, match="fleet-market"):
        mechanism_of(load_case("hu2014-lv"), "dlmp")
    with pytest.raises(CaseError, match="has roads"):
        mechanism_of(load_case("tn20-dn17"), "fleet-market")


@pytest.mark.parametrize(
    ("case", "mechanism", "says"),
    [("hu2014-lv", "dlmp", "--mechanism fleet-market"), ("tn20-dn17", "fleet-market", "roads")],
)
def test_cli_refuses_before_any_work(tmp_path, case, mechanism, says):
    out = tmp_path / "R"
    r = CliRunner().invoke(main, ["tariff", case, "--mechanism", mechanism, "--out", str(out)])
    assert r.exit_code == 2 and says in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not out.exists()


def test_subgradient_mechanism_converges_on_tn20_dn17_and_keeps_the_limits_in_ac():
    """From zero prices a constant step of 1e-3 oscillated (loading 3.61 after 30 iterations);
    the case's diminishing step converges (issue 12: both mechanisms AC-feasible)."""
    from coupling.jobs.tariff import TariffOptions, loop_options, run_tariff

    case = load_case("tn20-dn17")
    opts = loop_options(case)
    assert (opts.step_rule, opts.step_kw, opts.max_iter) == ("diminishing", 1e-4, 100)
    s = run_tariff(case, TariffOptions(mechanism="subgradient", loop=opts)).summary
    assert s.loop.converged and s.loop.iterations < opts.max_iter
    assert s.grid.max_line_loading_ac <= 1.0 + 1e-3
    assert s.grid.voltage_excess_ac_pu <= 1e-3
