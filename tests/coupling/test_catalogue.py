"""Catalogue of malformed case folders through the CLI: one clear line naming file, column and
element, exit code 2, no traceback, no run folder (issue 6, reliability)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from cases.builtin import load_case
from cases.folder import write_case
from coupling.cli import main


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("cat")
    return {n: write_case(load_case(n), root / n) for n in ("tn20-dn17", "hu2014-lv")}


def _csv(rel, fn):
    def edit(folder: Path) -> None:
        path = folder / rel
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
        fn(df).to_csv(path, index=False, lineterminator="\n")

    return edit


def _set(col, value, row=0):
    def fn(df):
        df.loc[row, col] = value
        return df

    return fn


def _drop_col(col):
    return lambda df: df.drop(columns=col)


def _text(rel, old, new):
    def edit(folder: Path) -> None:
        p = folder / rel
        p.write_text(p.read_text().replace(old, new, 1))

    return edit


def _remove(rel):
    return lambda folder: (folder / rel).unlink()


CATALOGUE = [
    # (base case, edit, words in the message)
    (
        "tn20-dn17",
        _csv("grid/lines.csv", _set("to_bus", "E99")),
        ["grid/lines.csv", "to_bus", "'E99'"],
    ),
    (
        "tn20-dn17",
        _csv("grid/lines.csv", _set("line", "E1-E2", 1)),
        ["grid/lines.csv", "duplicate"],
    ),
    (
        "tn20-dn17",
        _csv("grid/lines.csv", lambda d: pd.concat([d, d.iloc[[2]].assign(line="x", to_bus="E7")])),
        ["grid/lines.csv", "'x'", "radial"],
    ),
    ("tn20-dn17", _csv("grid/lines.csv", _set("r_ohm", "-1", 3)), ["r_ohm", "non-negative"]),
    ("tn20-dn17", _csv("grid/lines.csv", _set("p_max_kw", "lots", 2)), ["p_max_kw", "non-numeric"]),
    (
        "tn20-dn17",
        _csv("grid/lines.csv", _drop_col("x_ohm")),
        ["grid/lines.csv", "x_ohm", "missing"],
    ),
    (
        "tn20-dn17",
        _csv("grid/buses.csv", _set("v_min_pu", "1.2", 3)),
        ["grid/buses.csv", "v_max_pu", "'E4'"],
    ),
    (
        "tn20-dn17",
        _csv("grid/buses.csv", _set("bus", "E2", 2)),
        ["grid/buses.csv", "duplicate", "'E2'"],
    ),
    ("tn20-dn17", _csv("grid/loads.csv", _set("t", "24", 0)), ["grid/loads.csv", "column t"]),
    ("tn20-dn17", _csv("grid/loads.csv", _set("bus", "Z", 0)), ["grid/loads.csv", "'Z'"]),
    (
        "tn20-dn17",
        _csv("grid/renewables.csv", _set("kind", "solar", 0)),
        ["grid/renewables.csv", "kind"],
    ),
    (
        "tn20-dn17",
        _csv("grid/renewables.csv", _set("p_kw", "-3", 1)),
        ["grid/renewables.csv", "p_kw"],
    ),
    ("tn20-dn17", _csv("grid/prices.csv", lambda d: d.drop(index=5)), ["grid/prices.csv", "t=5"]),
    (
        "tn20-dn17",
        _csv("grid/uncertainty.csv", _set("xi_frac", "-0.1", 0)),
        ["grid/uncertainty.csv", "xi_frac"],
    ),
    ("tn20-dn17", _remove("grid/loads.csv"), ["grid/loads.csv", "missing"]),
    ("tn20-dn17", _text("case.toml", "steps = 24", 'steps = "24"'), ["case.toml", "steps"]),
    ("tn20-dn17", _text("case.toml", "[grid]", "[grid"), ["case.toml", "invalid TOML"]),
    (
        "tn20-dn17",
        _text("case.toml", 'slack_bus = "E1"', 'slack_bus = "E0"'),
        ["case.toml", "slack_bus", "'E0'"],
    ),
    (
        "tn20-dn17",
        _csv("traffic/segments.csv", _set("capacity_veh_per_step", "-5", 0)),
        ["traffic/segments.csv", "capacity_veh_per_step", "'T1-T2'"],
    ),
    (
        "tn20-dn17",
        _csv("traffic/segments.csv", _set("to_node", "T99", 0)),
        ["traffic/segments.csv", "'T99'"],
    ),
    (
        "tn20-dn17",
        _csv("traffic/segments.csv", _set("segment", "T2-T1", 0)),
        ["traffic/segments.csv", "T2-T1"],
    ),
    (
        "tn20-dn17",
        _csv("traffic/stations.csv", _set("bus", "E42", 1)),
        ["traffic/stations.csv", "bus", "'F2'"],
    ),
    (
        "tn20-dn17",
        _csv("traffic/stations.csv", _set("node", "T77", 0)),
        ["traffic/stations.csv", "'T77'"],
    ),
    ("tn20-dn17", _csv("traffic/demand.csv", _set("t", "30", 0)), ["traffic/demand.csv", "t"]),
    (
        "tn20-dn17",
        _csv("traffic/demand.csv", _set("origin", "T66", 0)),
        ["traffic/demand.csv", "origin", "'T9-T1'"],
    ),
    (
        "tn20-dn17",
        _csv("traffic/nodes.csv", lambda d: pd.concat([d, d.iloc[[0]].assign(node="T30")])),
        ["traffic/nodes.csv", "T30"],
    ),
    ("hu2014-lv", _csv("fleet/evs.csv", _set("bus", "H99", 0)), ["fleet/evs.csv", "bus", "'ev1'"]),
    (
        "hu2014-lv",
        _csv("fleet/evs.csv", _set("departure_t", "97", 2)),
        ["fleet/evs.csv", "departure_t", "'ev3'"],
    ),
    (
        "hu2014-lv",
        _csv("fleet/evs.csv", _set("soc_init", "1.5", 1)),
        ["fleet/evs.csv", "soc_init", "'ev2'"],
    ),
    (
        "hu2014-lv",
        _csv("grid/line_limits.csv", _set("line", "nope", 0)),
        ["grid/line_limits.csv", "'nope'"],
    ),
    # model scalars out of range (a negative beta made the QP non-convex: solver failure)
    ("tn20-dn17", _text("case.toml", "beta = 2e-05", "beta = -2e-05"), ["case.toml", "beta"]),
    ("tn20-dn17", _text("case.toml", "k_paths = 3", "k_paths = 0"), ["case.toml", "k_paths"]),
    (
        "tn20-dn17",
        _text("case.toml", "battery_kwh = 30.0", "battery_kwh = 0.0"),
        ["case.toml", "battery_kwh"],
    ),
]


@pytest.mark.parametrize(
    "base,edit,words", CATALOGUE, ids=[f"{c[0]}-{i}" for i, c in enumerate(CATALOGUE)]
)
def test_malformed_case_folder(folders, tmp_path, base, edit, words):
    case = tmp_path / "case"
    shutil.copytree(folders[base], case)
    edit(case)
    out = tmp_path / "run"
    result = CliRunner().invoke(main, ["powerflow", str(case), "--out", str(out)])
    assert result.exit_code == 2, result.output
    msg = result.stderr if hasattr(result, "stderr") else result.output
    lines = [x for x in msg.splitlines() if x.strip()]
    assert len(lines) == 1 and "Traceback" not in msg, msg
    for w in words:
        assert w in lines[0], (w, lines[0])
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["case"]


def test_catalogue_is_large_enough():
    assert len(CATALOGUE) >= 25


def test_infeasible_grid_is_diagnosed(folders, tmp_path):
    # the transformer capacity of hu2014-lv cut to 10 kW: the base load alone exceeds it
    case = tmp_path / "case"
    shutil.copytree(folders["hu2014-lv"], case)
    _csv("grid/line_limits.csv", lambda d: d.assign(p_max_kw="10.0"))(case)
    r = CliRunner().invoke(main, ["opf", str(case), "--out", str(tmp_path / "run")])
    assert r.exit_code == 3
    assert "line 'trafo'" in r.output and "above its limit 10.0 kW" in r.output
    assert not (tmp_path / "run").exists()


def test_unservable_demand_is_named(tmp_path):
    # tn20-dn17 with departures 12 h later (17:00-22:00): trips of 7-11 steps cannot all arrive
    # by the end of the day; the run says how many
    from dataclasses import replace

    from coupling.jobs.traffic import run_traffic

    case = load_case("tn20-dn17")
    short = replace(
        case.traffic.demand, table=case.traffic.demand.table.assign(t=lambda d: d.t + 12)
    )
    run = run_traffic(replace(case, traffic=replace(case.traffic, demand=short)))
    s = run.summary
    assert s["arrival_shortfall"] > 1000.0
    assert s["vehicles_departed"] + sum(s["unserved_vehicles_by_od"].values()) == pytest.approx(
        10000.0
    )
