"""Dask sweeps: parameter parsing and results identical to serial runs."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from cases.builtin import load_case
from cases.case import CaseError
from coupling.loop import LoopOptions
from coupling.sweep import SweepError, parse_param, run_point, run_sweep, with_param
from coupling.tariff_job import TariffOptions, run_tariff


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
    table = run_sweep("tn20-dn17", "gamma=0:1:0.5", tmp_path / "sw", workers=2)
    assert list(table.gamma) == [0.0, 0.5, 1.0]
    case = load_case("tn20-dn17")
    for g, obj in zip(table.gamma, table.objective):
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
    assert [p.name for p in tmp_path.iterdir()] == ["sw"]


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
