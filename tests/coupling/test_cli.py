"""The evtp command line: run folders, exit codes and error lines."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pandas as pd
import pytest

EVTP = [sys.executable, "-m", "coupling.cli"]


def run(*args, cwd=None):
    return subprocess.run([*EVTP, *args], capture_output=True, text=True, cwd=cwd)


def test_cases_lists_the_builtins():
    r = run("cases")
    names = [line.split()[0] for line in r.stdout.splitlines()]
    assert r.returncode == 0
    assert names == ["cigre-mv-ev", "feeder1000-ev", "hu2014-lv", "ieee33", "tn20-dn17"]


def test_powerflow_run_folder(tmp_path):
    out = tmp_path / "R"
    r = run("powerflow", "ieee33", "--out", str(out))
    assert r.returncode == 0, r.stderr
    s = json.loads((out / "summary.json").read_text())
    for key in (
        "command",
        "parameters",
        "objective",
        "build_s",
        "solve_s",
        "status",
        "max_line_loading",
        "min_voltage_pu",
        "max_voltage_pu",
        "min_voltage_ac_pu",
        "max_voltage_ac_pu",
    ):
        assert key in s
    assert s["min_voltage_ac_pu"] == pytest.approx(0.91309, abs=1e-4)
    assert s["max_voltage_error_pu"] <= 0.015
    buses = pd.read_csv(out / "buses.csv")
    assert list(buses.columns[:4]) == ["bus", "t", "v_pu", "v_pu_ac"]
    assert len(buses) == 33 * 24
    lines = pd.read_csv(out / "lines.csv")
    assert list(lines.columns) == ["line", "t", "p_kw", "q_kvar", "loading", "loading_ac"]
    # the first line carries the whole load at the peak: 3715 kW
    assert lines.query("line == 'l0' and t == 18").p_kw.item() == pytest.approx(3715.0)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_opf_tariffs_table(tmp_path):
    out = tmp_path / "O"
    r = run("opf", "ieee33", "--out", str(out))
    assert r.returncode == 0, r.stderr
    tar = pd.read_csv(out / "tariffs.csv", dtype={"bus": str})
    assert list(tar.columns) == [
        "bus",
        "t",
        "tariff_per_kwh",
        "dlmp_per_kwh",
        "energy_per_kwh",
        "loss_per_kwh",
        "congestion_per_kwh",
        "voltage_per_kwh",
    ]
    # uncongested and AC-feasible at once (no correction, no loss part): every DLMP equals the
    # import price of its hour (0.175 at 18:00)
    assert tar.query("t == 18").dlmp_per_kwh.to_numpy() == pytest.approx(0.175)
    assert (tar.loss_per_kwh == 0.0).all() and (tar.tariff_per_kwh == 0.0).all()


def test_bad_input_one_line_exit_2_no_run_folder(tmp_path):
    case = tmp_path / "c"
    assert run("build", "ieee33", "--out", str(case)).returncode == 0
    lines = case / "grid" / "lines.csv"
    lines.write_text(lines.read_text().replace("l3,3,4", "l3,3,44"))
    out = tmp_path / "R"
    r = run("powerflow", str(case), "--out", str(out))
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    assert "grid/lines.csv" in r.stderr and "'l3'" in r.stderr and "'44'" in r.stderr
    assert not out.exists()
    shutil.rmtree(case)
    r = run("check", "no-such-case")
    assert r.returncode == 2 and "no-such-case" in r.stderr


def test_build_twice_identical(tmp_path):
    assert run("build", "ieee33", "--out", str(tmp_path / "D")).returncode == 0
    assert run("build", str(tmp_path / "D"), "--out", str(tmp_path / "D2")).returncode == 0
    r = subprocess.run(
        ["diff", "-r", str(tmp_path / "D"), str(tmp_path / "D2")], capture_output=True
    )
    assert r.returncode == 0
