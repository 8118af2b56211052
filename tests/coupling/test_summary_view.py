"""The grouped summary: every key in the glossary, pass/fail lines against hand-made figures,
the voltage excess against the run's own bus table."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from cases.builtin import load_case
from coupling.cli import main
from coupling.output.summary_view import (
    KEYS,
    TOL_LOADING,
    console_lines,
    glossary_markdown,
    grouped,
    limit_checks,
)

GLOSSARY = Path(__file__).resolve().parents[2] / "docs" / "glossary.md"


def test_glossary_page_is_generated_from_the_code():
    assert GLOSSARY.read_text() == glossary_markdown(), "run python -m coupling.output.summary_view"


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("runs")
    commands = {
        "pf": ["powerflow", "ieee33"],
        "opf": ["opf", "ieee33"],
        "unc": ["strategy", "cigre-mv-ev", "--strategy", "uncoordinated"],
        "tariff": ["tariff", "--samples", "20"],
        "fleet": ["tariff", "hu2014-lv"],
    }
    out = {}
    for name, args in commands.items():
        r = CliRunner().invoke(main, [*args, "--out", str(base / name)])
        assert r.exit_code == 0, r.output
        out[name] = base / name
    return out


def test_every_summary_key_is_in_the_glossary(runs):
    for run in runs.values():
        summary = json.loads((run / "summary.json").read_text())
        unknown = sorted(set(summary) - set(KEYS))
        assert not unknown, f"{run.name}: add {unknown} to coupling/summary_view.KEYS"
        sections = [s for s, _ in grouped(summary)]
        assert "Other" not in sections


def test_voltage_excess_matches_the_bus_table(runs):
    run = runs["unc"]
    s = json.loads((run / "summary.json").read_text())
    buses = pd.read_csv(run / "buses.csv", dtype={"bus": str})
    band = load_case("cigre-mv-ev").feeder.buses.set_index("bus")[["v_min_pu", "v_max_pu"]]
    b = buses.join(band, on="bus")
    for col, key in (("v_pu", "voltage_excess_pu"), ("v_pu_ac", "voltage_excess_ac_pu")):
        low = (b.v_min_pu - b[col]).max()
        high = (b[col] - b.v_max_pu).max()
        assert s[key] == pytest.approx(max(low, high, 0.0), abs=1e-8)
    # the uncoordinated run breaks the band in AC (its point): the check says FAIL
    checks = {(w, m): ok for w, m, ok, _ in limit_checks(s)}
    assert s["voltage_excess_ac_pu"] > 1e-3 and checks[("bus voltage", "AC")] is False
    assert any(line.startswith("  FAIL  bus voltage (AC)") for line in console_lines(s))


def test_pass_fail_at_the_tolerance():
    def verdict(loading: float) -> bool:
        return limit_checks({"max_line_loading_ac": loading})[0][2]

    assert verdict(1.0) and verdict(1 + 0.5 * TOL_LOADING)
    assert not verdict(1 + 2 * TOL_LOADING)
    s = {"converged": True, "iterations": 4, "limit_excess": None, "unserved_kwh": 0.5}
    checks = {w: (ok, d) for w, _, ok, d in limit_checks(s)}
    assert checks["tariff loop"] == (True, "after 4 iteration(s)")
    assert checks["EV energy targets met"][0] is False


def test_report_opens_with_the_limit_lines(runs):
    run = runs["tariff"]
    assert CliRunner().invoke(main, ["report", str(run)]).exit_code == 0
    page = (run / "report.html").read_text()
    assert page.index("<h2>Limits</h2>") < page.index("<h2>Costs</h2>") < page.index("<img")
    s = json.loads((run / "summary.json").read_text())
    checks = limit_checks(s)
    assert len(checks) >= 5  # loading and voltage, linear and AC; the loop; the demand
    assert page.count(">pass</b>") == sum(ok for _, _, ok, _ in checks)
    assert page.count(">FAIL</b>") == sum(not ok for _, _, ok, _ in checks)


def test_tariff_runs_say_whether_the_loop_schedule_keeps_the_limits_in_ac(runs):
    for name in ("tariff", "fleet"):
        s = json.loads((runs[name] / "summary.json").read_text())
        assert s["loop_ac_feasible"] is True and s["loop_ac_excess"] is None
        checks = {(w, m): ok for w, m, ok, _ in limit_checks(s)}
        assert checks[("tariff loop", "AC")] is True
        assert any(line.startswith("  pass  tariff loop (AC)") for line in console_lines(s))
