"""A coupled case built from a city's TNTP files charges, and its build states what it did."""

from __future__ import annotations

import json
import tomllib

import pandas as pd
import pytest
from click.testing import CliRunner

from coupling.cli import main
from traffic.grid_city import write_grid_city


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    folder = tmp_path_factory.mktemp("city")
    files = write_grid_city(folder, n=5, zones=8, trips_total=20_000.0, seed=1)
    return files


def build(city, out, *extra):
    args = ["build", "--tntp", city["net"], "--trips", city["trips"], "--nodes", city["nodes"]]
    args += ["--feeder", "ieee33", "--stations", "2", "--ev-share", "0.03", *extra, "--out", out]
    return CliRunner().invoke(main, [str(a) for a in args])


def test_city_case_builds_charges_and_binds(city, tmp_path):
    case = tmp_path / "case"
    r = build(city, case)
    assert r.exit_code == 0, r.output
    assert "lengths in km (file header)" in r.output
    assert "rated at 1.5 x their base-load peak flow" in r.output
    doc = tomllib.loads((case / "case.toml").read_text())
    assert doc["parameters"]["path_stops"] == "needed"
    rec = doc["build"]
    dem = pd.read_csv(case / "traffic" / "demand.csv")
    # vehicles conserved from the trip table through the demand model and aggregation
    assert dem["vehicles"].sum() == pytest.approx(600.0)
    assert rec["aggregation"]["vehicles_total"] == pytest.approx(600.0)
    assert rec["aggregation"]["ods_after"] == dem["od"].nunique() < rec["aggregation"]["ods_before"]
    r = CliRunner().invoke(main, ["check", str(case)])
    assert r.exit_code == 0 and "limits that can bind: line" in r.output

    run = tmp_path / "run"
    r = CliRunner().invoke(main, ["traffic", str(case), "--out", str(run)])
    assert r.exit_code == 0, r.output
    s = json.loads((run / "summary.json").read_text())
    # EVs arrive: a few intenders bound for a station's own node find no station on the way
    assert s["vehicles_arrived"] > 0.99 * 600.0
    st = pd.read_csv(run / "stations.csv")
    kwh = float(st["p_kw"].sum()) * 1.0  # 1 h steps
    # about the charge the demand model says must happen (a lower bound for the vehicles
    # that depart; battery side = 0.95 x grid side), and a visible share of the feeder
    assert 0.95 * kwh >= 0.9 * rec["demand"]["min_charge_kwh"] > 0
    assert kwh / 62672.05 > 0.01  # ieee33 serves 62,672 kWh a day


def test_city_on_a_feeder_with_a_fleet_and_its_own_time_grid(city, tmp_path):
    """feeder1000-ev runs on 96 x 15 min and has a stationary fleet: the coupled case takes
    the feeder onto 24 x 1 h and leaves the fleet out, saying so (the build failed on the
    time grids before)."""
    case = tmp_path / "case"
    r = build(city, case, "--feeder", "feeder1000-ev", "--steps", "24", "--dt-h", "1")
    assert r.exit_code == 0, r.output
    assert "stationary fleet (1093 EVs) is left out" in r.output
    doc = tomllib.loads((case / "case.toml").read_text())
    assert doc["build"]["fleet_left_out"] == 1093
    assert not (case / "fleet").exists()
    r = CliRunner().invoke(main, ["check", str(case)])
    assert r.exit_code == 0, r.output


def test_bad_units_and_options_are_one_line(city, tmp_path):
    r = build(city, tmp_path / "a", "--length-unit", "ft")
    assert r.exit_code == 0  # feet are short: plausible, the km header is overridden
    r = build(city, tmp_path / "b", "--length-unit", "mi", "--time-unit", "s")
    assert r.exit_code == 2 and "km/h" in r.output and "--length-unit" in r.output
    r = build(city, tmp_path / "c", "--charge-share", "2")
    assert r.exit_code == 2 and "--charge-share" in r.output
    assert not any((tmp_path / x).exists() for x in ("b", "c"))


@pytest.mark.slow
def test_anaheim_case_evs_arrive(tmp_path):
    """Anaheim in feet: plausible lengths, and its EVs reach their destinations."""
    from pathlib import Path

    data = Path(__file__).resolve().parents[3] / "shared" / "data" / "transportation-networks"
    an = data / "Anaheim"
    if not an.is_dir():
        pytest.skip(f"shared TNTP data not found at {an}")
    case = tmp_path / "an"
    args = ["build", "--tntp", an / "Anaheim_net.tntp", "--trips", an / "Anaheim_trips.tntp"]
    args += ["--nodes", an / "anaheim_nodes.geojson", "--feeder", "ieee33", "--stations", "6"]
    args += ["--max-ods", "60", "--out", case]
    r = CliRunner().invoke(main, [str(a) for a in args])
    assert r.exit_code == 0, r.output
    assert "lengths in ft (file header)" in r.output
    seg = pd.read_csv(case / "traffic" / "segments.csv")
    assert seg["length_km"].max() < 3.0
    run = tmp_path / "run"
    r = CliRunner().invoke(main, ["traffic", str(case), "--out", str(run)])
    assert r.exit_code == 0, r.output
    s = json.loads((run / "summary.json").read_text())
    departed = pd.read_csv(case / "traffic" / "demand.csv")["vehicles"].sum()
    assert s["vehicles_arrived"] > 0.98 * departed
