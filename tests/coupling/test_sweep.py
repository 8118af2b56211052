"""Dask sweeps: parameter parsing and results identical to serial runs."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from cases.builtin import load_case
from cases.case import CaseError
from coupling.jobs.tariff import TariffOptions, run_tariff
from coupling.problems.loop import LoopOptions
from coupling.studies.sweep import SweepError, parse_param, run_point, run_sweep, with_param
from coupling.studies.sweep_report import read_sweep, sweep_figure


def test_parse_param():
    assert parse_param("gamma=0:1:0.25") == ("gamma", [0.0, 0.25, 0.5, 0.75, 1.0])
    assert parse_param("beta=1e-5,2e-5") == ("beta", [1e-5, 2e-5])
    for bad in ("gamma", "gamma=1:0:0.1", "gamma=0:1:0", "gamma=a:b:c"):
        with pytest.raises(CaseError):
            parse_param(bad)
    with pytest.raises(CaseError, match="not a parameter"):
        with_param(load_case("tn20-dn17"), "nope", 1.0)


def test_sweep_with_a_bad_value_fails_before_any_run(tmp_path):
    for spec, words in (("gamma=0,1.5", "gamma=1.5"), ("beta=1e-5,-1", "beta must be >= 0")):
        with pytest.raises(CaseError, match=words):
            run_sweep("tn20-dn17", spec, tmp_path / "sw", workers=1)
    assert not list(tmp_path.iterdir())


def test_sweep_without_workers_is_refused(tmp_path):
    with pytest.raises(SweepError, match="at least 1 worker"):
        run_sweep("tn20-dn17", "gamma=1", tmp_path / "sw", workers=0)
    assert not list(tmp_path.iterdir())


def test_sweep_equals_serial_runs(tmp_path):
    table = run_sweep("tn20-dn17", "gamma=0:1:0.5", tmp_path / "sw", workers=2, samples=20)
    assert list(table.gamma) == [0.0, 0.5, 1.0]
    case = load_case("tn20-dn17")
    for g, obj in zip(table.gamma[1:], table.objective[1:]):  # the robust points (time budget)
        serial = run_tariff(case, TariffOptions(gamma=g))
        assert obj == pytest.approx(serial.summary["objective"], rel=1e-12)
        point = tmp_path / "sw" / f"gamma={g:g}"
        assert (point / "summary.json").is_file()
        assert sorted(p.name for p in (point / "figures").iterdir())  # a run folder: figures
        # the two stages ran as separate Dask tasks: same tables as the serial run
        for name in ("tariffs", "stations", "lines"):
            on_disk = pd.read_csv(point / f"{name}.csv")
            ref = serial.tables[name]
            num = ref.select_dtypes("number").columns
            assert list(on_disk.columns) == list(ref.columns)
            assert on_disk[num].to_numpy() == pytest.approx(ref[num].to_numpy(), abs=1e-6)
    on_disk = pd.read_csv(tmp_path / "sw" / "sweep.csv")
    assert on_disk.objective.to_numpy() == pytest.approx(table.objective.to_numpy(), rel=1e-9)
    # results only in sweep.csv; the timings are in sweep.json
    assert not [c for c in on_disk.columns if c.endswith("_s")]
    info = json.loads((tmp_path / "sw" / "sweep.json").read_text())
    assert info["param"] == "gamma" and info["wall_s"] == table.attrs["sweep_wall_s"] > 0
    assert set(info["points"]) == {"gamma=0", "gamma=0.5", "gamma=1"}
    assert info["job"] == "tariff"
    assert [p.name for p in tmp_path.iterdir()] == ["sw"]
    _check_tariff_sweep_report(tmp_path / "sw")


def _lines(ax) -> dict[str, np.ndarray]:
    """The plotted points of an axes, by line label."""
    return {ln.get_label(): ln.get_xydata() for ln in ax.lines}


def _check_tariff_sweep_report(folder):
    """evtp report SWEEP_DIR: cost and out-of-sample violations against gamma and the
    robustness-price curve; every plotted point is a sweep.csv value."""
    csv = pd.read_csv(folder / "sweep.csv")
    info = json.loads((folder / "sweep.json").read_text())
    assert csv.oos_box_violation_rate.notna().all()  # the sweep drew out-of-sample samples
    fig = sweep_figure(*read_sweep(folder))
    cost, viol, curve = fig.axes
    x = csv.gamma.to_numpy()
    assert list(x) == info["values"] == [0.0, 0.5, 1.0]
    costs = ["objective", "charging_cost", "travel_cost"]
    assert list(_lines(cost)) == costs  # the increase over gamma = 0: the robust premium
    for c in costs:
        np.testing.assert_array_equal(_lines(cost)[c], np.column_stack([x, csv[c] - csv[c][0]]))
    assert _lines(cost)["objective"][-1, 1] > 0
    viols = ["oos_violation_rate", "oos_box_violation_rate"]
    assert list(_lines(viol)) == viols
    for c in viols:
        np.testing.assert_array_equal(_lines(viol)[c], np.column_stack([x, csv[c]]))
    np.testing.assert_array_equal(
        _lines(curve)["objective"], csv[["oos_box_violation_rate", "objective"]].to_numpy()
    )
    # the robust budget buys robustness: box-set violations do not grow with gamma
    assert np.all(np.diff(csv.oos_box_violation_rate) <= 0)
    r = _evtp("report", str(folder))
    assert r.exit_code == 0, r.stderr
    page = (folder / "report.html").read_text()
    assert page.count("<tr") == len(csv) + 1 and f"{csv.objective[0]:.6g}" in page
    r = _evtp("report", str(folder))
    assert r.exit_code == 2 and "--force" in r.stderr and len(r.stderr.splitlines()) == 1
    assert _evtp("report", str(folder), "--force").exit_code == 0


def _evtp(*args: str):
    """evtp ARGS in this process (click's runner): exit_code, stdout, stderr."""
    from click.testing import CliRunner

    from coupling.cli import main

    return CliRunner().invoke(main, list(args))


@pytest.fixture(scope="module")
def strategy_sweep(tmp_path_factory):
    """evtp sweep hu2014-lv --strategy price --param ev_share=0.5,1 (one worker)."""
    folder = tmp_path_factory.mktemp("strategy") / "sw"
    r = _evtp(
        "sweep",
        "hu2014-lv",
        "--strategy",
        "price",
        "--param",
        "ev_share=0.5,1",
        "--workers",
        "1",
        "--out",
        str(folder),
    )
    assert r.exit_code == 0, r.stderr
    return folder


def test_strategy_sweep_points_are_hosting_rows(strategy_sweep):
    """A strategy sweep's point table is hosting.csv's: the same judged runs."""
    from coupling.studies.hosting import POINT_COLUMNS, hosting_study

    csv = pd.read_csv(strategy_sweep / "sweep.csv")
    assert list(csv.columns) == ["ev_share", *POINT_COLUMNS]
    info = json.loads((strategy_sweep / "sweep.json").read_text())
    assert info["job"] == "strategy" and info["strategy"] == "price"
    ref = hosting_study(load_case("hu2014-lv"), ["price"], [0.5, 1.0]).table
    assert csv.passed.tolist() == ref.passed.tolist() == [True, False]
    for c in POINT_COLUMNS[:-1]:
        assert csv[c].to_numpy(float) == pytest.approx(ref[c].to_numpy(float), rel=1e-9, abs=1e-9)
    point = strategy_sweep / "ev_share=0.5"
    summary = json.loads((point / "summary.json").read_text())
    assert summary["parameters"] == {
        "strategy": "price",
        "ev_share": 0.5,
        "seed": 0,
        "grid_model": "lindistflow",
    }
    assert summary["passed"] is True and (point / "fleet.csv").is_file()


def test_report_of_a_strategy_sweep(strategy_sweep):
    csv = pd.read_csv(strategy_sweep / "sweep.csv")
    fig = sweep_figure(*read_sweep(strategy_sweep))
    assert len(fig.axes) == 2  # no out-of-sample draws: no robustness-price curve
    cost, viol = fig.axes
    x = csv.ev_share.to_numpy()
    for ax, cols in (
        (cost, ["energy_cost", "objective"]),
        (viol, ["line_violations", "voltage_violations"]),
    ):
        lines = _lines(ax)
        assert list(lines) == cols
        for c in cols:
            np.testing.assert_array_equal(lines[c], np.column_stack([x, csv[c]]))
    assert _lines(viol)["line_violations"][:, 1].tolist() == [0, 4]
    r = _evtp("report", str(strategy_sweep), "--force")
    assert r.exit_code == 0, r.stderr
    assert "sweep of price over ev_share" in (strategy_sweep / "report.html").read_text()


def test_strategy_sweep_bad_input_fails_before_any_run(tmp_path):
    for case, spec, words in (
        ("hu2014-lv", "gamma=0,1", "a strategy sweep sweeps ev_share"),
        ("hu2014-lv", "ev_share=0.5,1.5", "EV share 1.5 is outside (0, 1]"),
        ("tn20-dn17", "ev_share=0.5", "has no stationary fleet"),
    ):
        out = str(tmp_path / "s")
        r = _evtp("sweep", case, "--strategy", "grid", "--param", spec, "--out", out)
        assert r.exit_code == 2 and words in r.stderr, r.stderr
        assert len(r.stderr.strip().splitlines()) == 1
    assert not list(tmp_path.iterdir())


def test_report_refuses_a_damaged_sweep_folder(tmp_path):
    folder = tmp_path / "sw"
    folder.mkdir()
    (folder / "sweep.json").write_text('{"param": "gamma", "values": [0, 1]}')
    (folder / "sweep.csv").write_text("gamma,objective\n0,1\n")
    r = _evtp("report", str(folder))
    assert r.exit_code == 2 and "differ from sweep.json" in r.stderr, r.stderr
    (folder / "sweep.csv").write_text("beta,objective\n0,1\n1,2\n")
    r = _evtp("report", str(folder))
    assert r.exit_code == 2 and "no column 'gamma'" in r.stderr, r.stderr
    (folder / "sweep.json").write_text("{")
    r = _evtp("report", str(folder))
    assert r.exit_code == 2 and "sweep.json: cannot be read" in r.stderr, r.stderr
    assert not (folder / "report.html").exists()


@pytest.mark.parametrize("step_kw", [0.004, 0.002])
def test_sweep_point_runs_the_loop_of_evtp_tariff(tmp_path, step_kw):
    """A point takes the case's loop options like ``evtp tariff CASE`` (hu2014-lv's step_kw,
    0.004, not the library default 0.001), and a swept step_kw reaches the loop."""
    row = run_point("hu2014-lv", "step_kw", step_kw, str(tmp_path), 0)
    summary = json.loads((tmp_path / f"step_kw={step_kw:g}" / "summary.json").read_text())
    assert summary["parameters"]["step_kw"] == step_kw
    case = with_param(load_case("hu2014-lv"), "step_kw", step_kw)
    ref = run_tariff(case, TariffOptions(loop=LoopOptions(step_kw=step_kw))).summary
    # paper: 5 market rounds; the AC acceptance test may continue the market after each of at
    # most 3 corrections of the linear model
    assert row["iterations"] == ref["iterations"] <= 14
    assert row["objective"] == pytest.approx(ref["objective"], rel=1e-9)


def test_sweep_on_a_running_scheduler(tmp_path):
    """--scheduler ADDRESS: the points run on an existing cluster, which stays up."""
    from dask.distributed import LocalCluster

    with LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        table = run_sweep(
            "tn20-dn17", "gamma=1", tmp_path / "sw", scheduler=cluster.scheduler_address
        )
        assert cluster.scheduler.workers  # not shut down by the sweep
    ref = run_tariff(load_case("tn20-dn17"), TariffOptions(gamma=1.0)).summary
    assert table.objective.iloc[0] == pytest.approx(ref["objective"], rel=1e-12)
    assert (tmp_path / "sw" / "gamma=1" / "figures" / "tariffs.png").is_file()


def test_sweep_points_carry_the_clock_and_limits_of_their_figures(strategy_sweep):
    """Point figures are drawn in clock time with limit lines, like evtp strategy's: the point
    summary holds the case's start and voltage band (coupling.output.figures.figure_context)."""
    case = load_case("hu2014-lv")
    summary = json.loads((strategy_sweep / "ev_share=0.5" / "summary.json").read_text())
    assert summary["start"] == case.time.start
    band = case.feeder.buses[case.feeder.buses.bus != case.feeder.slack_bus]
    assert summary["limits"]["v_min_pu"] == pytest.approx(band.v_min_pu.min())
    assert (strategy_sweep / "ev_share=0.5" / "figures").is_dir()
