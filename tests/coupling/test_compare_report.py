"""evtp compare and evtp report on hand-made run folders and on real tariff runs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from coupling.cli import main
from coupling.studies.compare import CompareError, compare_runs
from tests.render import external_urls


def _run(folder: Path, shares: tuple[float, float], loads: list[float], loading: float, case="c"):
    folder.mkdir()
    summary = {"case": case, "command": "x", "dt_h": 1.0, "steps": 4}
    (folder / "summary.json").write_text(json.dumps(summary))
    pd.DataFrame(
        {
            "od": "o",
            "path": ["o#0", "o#1"],
            "nodes": ["A>B", "A>C>B"],
            "t": 0,
            "inflow": [100 * shares[0], 100 * shares[1]],
        }
    ).to_csv(folder / "paths.csv", index=False)
    pd.DataFrame(
        {"station": "S", "t": range(4), "queued": 0.0, "charging": 0.0, "p_kw": loads}
    ).to_csv(folder / "stations.csv", index=False)
    pd.DataFrame(
        {
            "line": "l",
            "t": range(4),
            "p_kw": 1.0,
            "q_kvar": 0.0,
            "loading": [0.5, loading, 0.5, 0.5],
        }
    ).to_csv(folder / "lines.csv", index=False)
    pd.DataFrame(
        {"bus": "1", "t": range(4), "v_pu": [1.0, 0.97, 0.99, 1.0], "p_net_kw": 0.0}
    ).to_csv(folder / "buses.csv", index=False)
    return folder


def test_compare_by_hand(tmp_path):
    a = _run(tmp_path / "a", (0.6, 0.4), [0.0, 10.0, 0.0, 0.0], 1.0)
    b = _run(tmp_path / "b", (0.2, 0.8), [0.0, 2.0, 8.0, 0.0], 0.8)
    c = compare_runs(a, b)
    r = c.routing.set_index("path")
    assert r.loc["o#0", "share_a"] == pytest.approx(0.6) and r.loc[
        "o#0", "share_b"
    ] == pytest.approx(0.2)
    # 40 of 100 vehicles moved from path 0 to path 1
    assert c.scalars["vehicles_moved_between_paths"] == pytest.approx(40.0)
    ch = c.charging.set_index("where")
    assert ch.loc["S", "energy_kwh_a"] == pytest.approx(10.0)
    # energy-weighted mean time, step mid-points: A 1.5 h; B (2 x 1.5 + 8 x 2.5) / 10 = 2.3 h
    assert ch.loc["S", "mean_time_h_a"] == pytest.approx(1.5)
    assert ch.loc["S", "mean_time_h_b"] == pytest.approx(2.3)
    # step 1 is congested in A (loading 1.0): B moved 8 of A's 10 kWh out of it
    assert c.scalars["share_moved_out_of_congested_hours"] == pytest.approx(0.8)
    g = c.grid.set_index("run")
    assert g.loc["A", "congested_line_hours"] == 1.0 and g.loc["B", "congested_line_hours"] == 0.0


def test_not_comparable(tmp_path):
    a = _run(tmp_path / "a", (0.5, 0.5), [0, 1, 0, 0], 0.5, case="x")
    b = _run(tmp_path / "b", (0.5, 0.5), [0, 1, 0, 0], 0.5, case="y")
    with pytest.raises(CompareError, match="different cases"):
        compare_runs(a, b)
    r = CliRunner().invoke(main, ["compare", str(a), str(b)])
    assert r.exit_code == 2


def test_compare_and_report_on_tariff_runs(tmp_path):
    runner = CliRunner()
    for g, name in (("0", "det"), ("1", "rob")):
        res = runner.invoke(
            main, ["tariff", "--gamma", g, "--samples", "0", "--out", str(tmp_path / name)]
        )
        assert res.exit_code == 0, res.output
    res = runner.invoke(
        main,
        ["compare", str(tmp_path / "det"), str(tmp_path / "rob"), "--out", str(tmp_path / "cmp")],
    )
    assert res.exit_code == 0, res.output
    assert "Charging shift" in res.output
    grid = pd.read_csv(tmp_path / "cmp" / "grid.csv")
    # the robust run keeps the station lines further from their limits: fewer congested hours
    assert grid.congested_line_hours[1] < grid.congested_line_hours[0]
    # compare.html, the headline case: robust (B) tariffs are higher, never lower, in clock time
    page = (tmp_path / "cmp" / "compare.html").read_text()
    shift = pd.read_csv(tmp_path / "cmp" / "tariff_shift.csv")
    top = shift.loc[shift["diff"].idxmax()]
    assert top["diff"] > 1e-3 and shift["diff"].min() > -1e-6
    said = re.search(r"B&#x27;s tariffs are higher than A&#x27;s at ([^<]*)", page).group(1)
    assert f"by up to {top['diff']:.4g} currency/kWh ({top['where']} at {top.clock})" in said
    assert "lower than A" not in page and external_urls(page) == []
    assert "No station loads" not in page and "record no station line limits" not in page
    assert page.count("data:image/png;base64,") == 5
    res = runner.invoke(main, ["report", str(tmp_path / "rob")])
    assert res.exit_code == 0, res.output
    page = (tmp_path / "rob" / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 4  # tariffs, loading, voltages, stations
    assert "decentralised_objective" in page


def test_compare_traffic_only_runs(tmp_path):
    a = _run(tmp_path / "a", (1.0, 0.0), [0.0, 4.0, 0.0, 0.0], 0.5)
    b = _run(tmp_path / "b", (0.5, 0.5), [0.0, 0.0, 4.0, 0.0], 0.5)
    for f in (a, b):
        (f / "lines.csv").unlink()
        (f / "buses.csv").unlink()
    c = compare_runs(a, b)
    assert c.scalars["vehicles_moved_between_paths"] == pytest.approx(50.0)
    assert c.charging.set_index("where").loc["S", "mean_time_h_b"] == pytest.approx(2.5)
    assert c.grid.empty
    (b / "lines.csv").write_text("line,t,p_kw,q_kvar,loading\nl,0,1,0,0.5\n")
    with pytest.raises(CompareError, match="grid results"):
        compare_runs(a, b)


CHROMIUM = "/usr/bin/chromium"


def test_report_renders_in_headless_chromium(tmp_path):
    import os
    import subprocess

    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} not installed (Debian package chromium); optional render test")
    run = tmp_path / "run"
    assert CliRunner().invoke(main, ["tariff", "--samples", "0", "--out", str(run)]).exit_code == 0
    assert CliRunner().invoke(main, ["report", str(run)]).exit_code == 0
    shot = tmp_path / "shot.png"
    subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--no-first-run",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--window-size=1000,3000",
            f"--screenshot={shot}",
            (run / "report.html").as_uri(),
        ],
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert shot.is_file() and shot.stat().st_size > 20_000  # a page with rendered figures
