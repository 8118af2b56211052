"""Clean numbers (issue 14, item 3): solver round-off below ``ZERO_TOL`` is written as 0 in
every table, the tolerance is stated in summary.json, stations that do not charge have no
charging time, and all-zero figure panels say so."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from coupling.cli import main
from coupling.output.clean import ZERO_TOL, clean_table, zero_small
from coupling.output.figures import _heat, _shared_limits
from coupling.studies.compare import compare_runs, write_comparison

# ---------------------------------------------------------------- the cleaning function


def test_zero_small_by_hand():
    x = np.array([1e-10, -1e-10, -0.0, 0.0, 1e-9, -2e-9, 0.08, np.nan, np.inf, -np.inf])
    y = zero_small(x)
    assert ZERO_TOL == 1e-9
    np.testing.assert_array_equal(
        y, [0.0, 0.0, 0.0, 0.0, 1e-9, -2e-9, 0.08, np.nan, np.inf, -np.inf]
    )
    assert not np.signbit(y[:4]).any()  # -0.0 written as +0.0, not "-0"
    assert zero_small(np.array([5e-4]), tol=1e-3)[0] == 0.0  # the tolerance is a parameter


def test_clean_table_touches_float_columns_only():
    df = pd.DataFrame(
        {
            "station": ["F1", "F2", "F3"],
            "t": [0, 1, 2],  # step index (int)
            "bus": [1, 2, 3],
            "gamma": [1e-12, 0.5, 1.0],  # an input column kept as given
            "congestion": [8.6e-13, -3e-10, 0.0122],
            "v": [-0.0, 1.0, np.nan],
        }
    )
    before = df.copy()
    out = clean_table(df, keep=("gamma",))
    pd.testing.assert_frame_equal(df, before)  # the input is not changed
    assert out.congestion.tolist() == [0.0, 0.0, 0.0122]
    assert not np.signbit(out.v.iloc[0]) and np.isnan(out.v.iloc[2])
    assert out.gamma.iloc[0] == 1e-12
    assert out.station.tolist() == ["F1", "F2", "F3"] and out.t.dtype == df.t.dtype
    assert out.bus.dtype == df.bus.dtype


# ---------------------------------------------------------------- every table of real runs


def _small_values(folder: Path) -> list[str]:
    """'file:column=value' for every CSV value with 0 < |x| < ZERO_TOL or written -0."""
    bad = []
    for csv in sorted(folder.rglob("*.csv")):
        if not csv.read_text().strip():
            continue  # an empty table (e.g. no routing in a stations-only comparison)
        df = pd.read_csv(csv)
        for c in df.select_dtypes("number").columns:
            a = df[c].to_numpy(dtype=float)
            hit = ((np.abs(a) > 0) & (np.abs(a) < ZERO_TOL)) | ((a == 0) & np.signbit(a))
            bad += [f"{csv.name}:{c}={v!r}" for v in a[hit][:3]]
    return bad


COMMANDS = {
    "powerflow": ["powerflow", "ieee33"],
    "opf": ["opf", "ieee33"],
    "tariff": ["tariff"],  # default case tn20-dn17, ~10 s
}
_RUNS: dict[str, Path] = {}


def _run_once(command: str, base: Path) -> Path:
    """Run folder of ``evtp COMMAND ... --out`` (run once per test session)."""
    if command not in _RUNS:
        folder = base / command
        r = CliRunner().invoke(main, [*COMMANDS[command], "--out", str(folder)])
        assert r.exit_code == 0, r.output
        _RUNS[command] = folder
    return _RUNS[command]


@pytest.mark.parametrize(
    "command", ["powerflow", pytest.param("opf", marks=pytest.mark.slow), "tariff"]
)
def test_no_round_off_in_tables(command, tmp_path_factory):
    folder = _run_once(command, tmp_path_factory.getbasetemp())
    assert list(folder.glob("*.csv"))
    assert _small_values(folder) == []
    assert json.loads((folder / "summary.json").read_text())["zero_tol"] == ZERO_TOL


def test_tariff_adders_written_as_zero(tmp_path_factory):
    """tn20-dn17's tariff parts are ~1e-12 round-off where nothing binds (8.6e-13 before the
    fix): written as exact zeros, and dlmp = energy + loss + congestion + voltage still holds."""
    t = pd.read_csv(_run_once("tariff", tmp_path_factory.getbasetemp()) / "tariffs.csv")
    assert (t.voltage_per_kwh == 0).mean() > 0.5 and (t.congestion_per_kwh == 0).mean() > 0.5
    parts = t.energy_per_kwh + t.loss_per_kwh + t.congestion_per_kwh + t.voltage_per_kwh
    np.testing.assert_allclose(t.dlmp_per_kwh, parts, atol=10 * ZERO_TOL)  # with the loss part


# ---------------------------------------------------------------- compare: no charging time


def _station_run(folder: Path, loads: dict[str, list[float]]) -> Path:
    folder.mkdir()
    summary = {"case": "c", "command": "x", "dt_h": 1.0, "steps": 4}
    (folder / "summary.json").write_text(json.dumps(summary))
    pd.concat(
        pd.DataFrame({"station": s, "t": range(4), "queued": 0.0, "charging": 0.0, "p_kw": p})
        for s, p in loads.items()
    ).to_csv(folder / "stations.csv", index=False)
    return folder


def test_station_without_charging_has_no_charging_time(tmp_path):
    # Z "charges" 1.2e-6 kWh of solver noise: before, a mean time of
    # (1e-6 x 1.5 + 2e-7 x 2.5) / 1.2e-6 = 1.67 h was reported for it
    noise = [0.0, 1e-6, 2e-7, 0.0]
    a = _station_run(tmp_path / "a", {"S": [0.0, 10.0, 0.0, 0.0], "Z": noise})
    b = _station_run(tmp_path / "b", {"S": [0.0, 2.0, 8.0, 0.0], "Z": [0.0] * 4})
    ch = compare_runs(a, b).charging.set_index("where")
    assert ch.loc["S", "mean_time_h_a"] == pytest.approx(1.5)
    assert ch.loc["S", "mean_time_h_b"] == pytest.approx(2.3)  # (2 x 1.5 + 8 x 2.5) / 10
    assert ch.loc["Z", "energy_kwh_a"] == 0.0 and ch.loc["Z", "energy_kwh_b"] == 0.0
    assert np.isnan(ch.loc["Z", "mean_time_h_a"]) and np.isnan(ch.loc["Z", "mean_time_h_b"])
    out = write_comparison(compare_runs(a, b), tmp_path / "cmp")
    written = pd.read_csv(out / "charging.csv").set_index("where")
    assert written.loc["Z", ["mean_time_h_a", "mean_time_h_b"]].isna().all()
    assert _small_values(out) == []


# ---------------------------------------------------------------- figures


def test_all_zero_panel_says_so():
    noise = pd.DataFrame({"line": ["a", "a", "b", "b"], "t": [0, 1, 0, 1]})
    fig, ax = plt.subplots()
    try:
        im = _heat(ax, noise.assign(loading=[0.0, 3e-12, -1e-12, 0.0]), "line", "loading", "x")
        assert im is None and [t.get_text() for t in ax.texts] == ["all zero"]
        assert not ax.images
        ax.clear()
        im = _heat(ax, noise.assign(loading=[0.0, 0.3, 0.1, 0.0]), "line", "loading", "x")
        assert im is not None and not ax.texts
    finally:
        plt.close(fig)


def test_compared_heat_maps_share_one_scale():
    df = pd.DataFrame(
        {"station": ["F1", "F1"], "t": [0, 1], "dlmp": [0.08, 0.2], "tariff": [0.05, 0.1]}
    )
    assert _shared_limits(df, "station", ["dlmp", "tariff"]) == (0.05, 0.2)
    zero = df.assign(dlmp=[1e-12, 0.0], tariff=[0.0, -1e-13])
    assert _shared_limits(zero, "station", ["dlmp", "tariff"]) is None
    fig, axes = plt.subplots(2)
    try:
        lim = _shared_limits(df, "station", ["dlmp", "tariff"])
        clims = [
            _heat(ax, df, "station", c, c, vlim=lim).get_clim()
            for ax, c in zip(axes, ["dlmp", "tariff"])
        ]
    finally:
        plt.close(fig)
    assert clims[0] == clims[1] == (0.05, 0.2)
