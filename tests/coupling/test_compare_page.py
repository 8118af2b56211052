"""compare.html: the numbers of its sentences against an independent pandas computation from
the run folders, its sections on runs without some data, and its rendering in Chromium."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from coupling.cli import main
from power.dlmp import TARIFF_VALUES
from tests.render import external_urls, render

STEPS, DT, START = 8, 0.5, "06:00"  # step t starts at 06:00 + 30 min x t


def _clock(t: float) -> str:
    minutes = int(round((6 + t * DT) * 60)) % 1440
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _run(folder: Path, tariff_bump: dict, loads: dict, shares, loading, grid=True) -> Path:
    """A run folder of two stations S1, S2 (line limits 100 / 50 kW), one OD with two paths."""
    folder.mkdir()
    summary = {
        "case": "c",
        "command": f"hand-made {folder.name}",
        "steps": STEPS,
        "dt_h": DT,
        "start": START,
        "limits": {"v_min_pu": 0.95, "v_max_pu": 1.05, "station_line_kw": {"S1": 100, "S2": 50}},
        "objective": 100.0 + sum(tariff_bump.values()),
        "travel_cost": 60.0,
        "charging_cost": 40.0 + sum(tariff_bump.values()),
    }
    (folder / "summary.json").write_text(json.dumps(summary))
    t = np.arange(STEPS)
    rows = []
    for s in ("S1", "S2"):
        p = np.asarray(loads[s], dtype=float)
        rows.append(pd.DataFrame({"station": s, "t": t, "queued": 0.0, "charging": 0.0, "p_kw": p}))
    pd.concat(rows).to_csv(folder / "stations.csv", index=False)
    pd.DataFrame(
        {
            "od": np.repeat(["o1", "o2"], 2 * STEPS),
            "path": np.repeat(["o1#0", "o1#1", "o2#0", "o2#1"], STEPS),
            "nodes": np.repeat(["A>B", "A>C>B", "D>E", "D>F>E"], STEPS),
            "t": np.tile(t, 4),
            "inflow": np.concatenate(
                [10 * shares[0] * np.ones(STEPS), 10 * (1 - shares[0]) * np.ones(STEPS)]
                + [5 * shares[1] * np.ones(STEPS), 5 * (1 - shares[1]) * np.ones(STEPS)]
            ),
        }
    ).to_csv(folder / "paths.csv", index=False)
    if grid:
        base = 0.01 + 0.001 * t
        pd.DataFrame(
            {
                "station": np.repeat(["S1", "S2"], STEPS),
                "bus": np.repeat(["b1", "b2"], STEPS),
                "t": np.tile(t, 2),
                "tariff_per_kwh": np.concatenate(
                    [
                        base + np.array([tariff_bump.get((s, i), 0.0) for i in t])
                        for s in ("S1", "S2")
                    ]
                ),
            }
            | dict.fromkeys(TARIFF_VALUES[1:], np.nan)  # the schema's DLMP parts, none here
        ).to_csv(folder / "tariffs.csv", index=False)
        pd.DataFrame({"line": "l1", "t": t, "p_kw": 1.0, "q_kvar": 0.0, "loading": loading}).to_csv(
            folder / "lines.csv", index=False
        )
        pd.DataFrame({"bus": "b1", "t": t, "v_pu": 0.99, "p_net_kw": 0.0}).to_csv(
            folder / "buses.csv", index=False
        )
    return folder


def _pair(tmp_path: Path, grid: bool = True) -> tuple[Path, Path]:
    a = _run(
        tmp_path / "a",
        {},
        {"S1": [0, 0, 40, 40, 40, 0, 0, 0], "S2": [0, 30, 30, 30, 0, 0, 0, 0]},
        (0.7, 0.5),
        [0.2, 0.5, 1.0, 1.0, 0.6, 0.2, 0.2, 0.2],
        grid,
    )
    b = _run(
        tmp_path / "b",
        {("S2", 2): 0.004, ("S2", 3): 0.0025, ("S2", 5): 0.001},  # B higher at S2, 07:00-09:00
        {"S1": [0, 0, 40, 40, 40, 20, 10, 0], "S2": [0, 30, 0, 0, 0, 0, 0, 0]},
        (0.4, 0.5),
        [0.2, 0.5, 0.9, 0.9, 0.6, 0.4, 0.3, 0.2],
        grid,
    )
    return a, b


def _page(a: Path, b: Path, out: Path) -> str:
    res = CliRunner().invoke(main, ["compare", str(a), str(b), "--out", str(out)])
    assert res.exit_code == 0, res.output
    return (out / "compare.html").read_text(encoding="utf-8")


def _sentences(page: str) -> list[str]:
    block = re.search(r"<ul id='sentences'>(.*?)</ul>", page, flags=re.DOTALL).group(1)
    return [html.unescape(s) for s in re.findall(r"<li>(.*?)</li>", block, flags=re.DOTALL)]


def _one(sentences: list[str], pattern: str) -> re.Match:
    hits = [m for s in sentences if (m := re.search(pattern, s))]
    assert len(hits) == 1, (pattern, sentences)
    return hits[0]


def test_sentence_numbers_match_pandas(tmp_path):
    a, b = _pair(tmp_path)
    page = _page(a, b, tmp_path / "cmp")
    said = _sentences(page)

    # tariffs, recomputed from the two tariffs.csv
    ta, tb = (pd.read_csv(f / "tariffs.csv") for f in (a, b))
    d = ta.merge(tb, on=["station", "t"], suffixes=("_a", "_b"))
    d["diff"] = d.tariff_per_kwh_b - d.tariff_per_kwh_a
    eps = 0.1 * d["diff"].abs().max()
    up = d[d["diff"] > eps]
    top = up.loc[up["diff"].idxmax()]
    m = _one(
        said,
        r"higher than A's at (.+) between (\d\d:\d\d) and (\d\d:\d\d), by up to ([\d.e-]+) "
        r"currency/kWh \((\S+) at (\d\d:\d\d)\)",
    )
    assert m.group(1) == ", ".join(sorted(up.station.unique()))
    assert m.group(2) == _clock(up.t.min()) and m.group(3) == _clock(up.t.max() + 1)
    assert float(m.group(4)) == pytest.approx(top["diff"], rel=1e-3)
    assert (m.group(5), m.group(6)) == (top.station, _clock(top.t))
    # by hand: S2 is 0.004 higher at step 2 (07:00) and 0.0025 at 07:30; 0.001 at step 5
    # is above a tenth of 0.004 too, so the span ends at 09:00
    assert m.groups() == ("S2", "07:00", "09:00", "0.004", "S2", "07:00")
    assert not any("lower than A's" in s for s in said)

    # energy, recomputed from the two stations.csv
    sa, sb = (pd.read_csv(f / "stations.csv") for f in (a, b))
    e = sa.merge(sb, on=["station", "t"], suffixes=("_a", "_b"))
    e["d"] = (e.p_kw_b.clip(lower=0) - e.p_kw_a.clip(lower=0)) * DT
    per = e.groupby("station").d.sum()
    m = _one(said, r"B charges ([\d.]+) kWh less at (\S+) and ([\d.]+) kWh more at (\S+) than A")
    assert float(m.group(1)) == pytest.approx(-per[per < 0].sum(), abs=0.05)
    assert float(m.group(3)) == pytest.approx(per[per > 0].sum(), abs=0.05)
    assert (m.group(2), m.group(4)) == ("S2", "S1")
    m = _one(said, r"^([\d.]+) kWh moved from S2 to S1")
    assert float(m.group(1)) == pytest.approx(
        min(-per[per < 0].sum(), per[per > 0].sum()), abs=0.05
    )
    assert float(m.group(1)) == pytest.approx(15.0)  # S1 +15 kWh (20 + 10 kW x 0.5 h)
    m = _one(said, r"([\d.]+) kWh are charged at another station or time")
    assert float(m.group(1)) == pytest.approx(e.d.abs().sum() / 2, abs=0.05)
    lo, hi = e.loc[e.d.idxmin()], e.loc[e.d.idxmax()]
    m = _one(
        said,
        r"largest fall is at (\S+) at (\d\d:\d\d) \((-[\d.]+) kWh\), the largest rise "
        r"at (\S+) at (\d\d:\d\d) \(\+([\d.]+) kWh\)",
    )
    assert m.group(1, 2) == (lo.station, _clock(lo.t))
    assert float(m.group(3)) == pytest.approx(lo.d, abs=0.05)
    assert m.group(4, 5) == (hi.station, _clock(hi.t))
    assert float(m.group(6)) == pytest.approx(hi.d, abs=0.05)

    # routing, recomputed from the two paths.csv
    pa, pb = (pd.read_csv(f / "paths.csv") for f in (a, b))
    tot = pd.concat(
        [pa.groupby(["od", "path"]).inflow.sum(), pb.groupby(["od", "path"]).inflow.sum()], axis=1
    )
    moved = (tot.iloc[:, 1] - tot.iloc[:, 0]).abs().groupby("od").sum() / 2
    m = _one(said, r"([\d.]+) vehicles changed path .* most on OD (\S+) \(([\d.]+)\)")
    assert float(m.group(1)) == pytest.approx(moved.sum(), abs=0.05)
    assert float(m.group(1)) == pytest.approx(24.0)  # 3 of 10 vehicles per step x 8 steps
    assert m.group(2) == moved.idxmax() and float(m.group(3)) == pytest.approx(moved.max())

    # grid and costs
    la, lb = (pd.read_csv(f / "lines.csv") for f in (a, b))
    m = _one(said, r"Congested line-hours .*: A ([\d.]+) h, B ([\d.]+) h")
    assert float(m.group(1)) == (la.loading >= 0.999).sum() * DT == 1.0
    assert float(m.group(2)) == (lb.loading >= 0.999).sum() * DT == 0.0
    m = _one(said, r"Objective: A ([\d.]+), B ([\d.]+) \(([+-][\d.]+) %\)")
    obj = [json.loads((f / "summary.json").read_text())["objective"] for f in (a, b)]
    assert float(m.group(1)) == pytest.approx(obj[0], abs=0.005)
    assert float(m.group(2)) == pytest.approx(obj[1], abs=0.005)
    assert float(m.group(3)) == pytest.approx((obj[1] - obj[0]) / obj[0] * 100, abs=0.005)

    # the tables beside the page hold the same numbers, with clock times
    shift = pd.read_csv(tmp_path / "cmp" / "tariff_shift.csv")
    assert shift["diff"].max() == pytest.approx(0.004)
    assert shift.clock.iloc[0] == "06:00"
    assert "S1" in page and "line limit 100 kW" not in page  # limits are in the PNG, not text


def test_page_is_self_contained_and_renders(tmp_path):
    a, b = _pair(tmp_path)
    page = _page(a, b, tmp_path / "cmp")
    assert external_urls(page) == []
    assert page.count("data:image/png;base64,") == 5  # tariff, stations, routing, energy, costs
    shown = render(tmp_path / "cmp" / "compare.html", tmp_path)
    assert shown.errors == []
    assert "Tariff difference per station and hour" in shown.dom


def test_sections_without_data_say_so(tmp_path):
    a, b = _pair(tmp_path, grid=False)  # traffic-only runs: no tariffs, lines or buses
    page = _page(a, b, tmp_path / "cmp")
    assert "No tariff comparison: runs A and B have no tariffs.csv" in page
    assert not any("tariffs are" in s for s in _sentences(page))
    assert page.count("data:image/png;base64,") == 4
    assert "Grey: the flow" not in page  # no lines table, no line flow drawn
    # fleet runs (strategy vs strategy): no stations, no paths
    for f in (a, b):
        (f / "stations.csv").unlink()
        (f / "paths.csv").unlink()
        pd.DataFrame({"ev": "e1", "t": range(STEPS), "p_kw": 3.0, "soc": 0.5}).to_csv(
            f / "fleet.csv", index=False
        )
    page = _page(a, b, tmp_path / "cmp2")
    assert "No stations in these fleet runs" in page
    assert "The fleet charges the same energy in A and B" in page
    assert "the total load of the fleet" in page and "No routing comparison" in page


def test_page_figures_in_clock_time(tmp_path, monkeypatch):
    """Every time axis of the page's figures is labelled in clock time (06:00 + 30 min x t)."""
    import coupling.studies.compare_page as page_mod
    from coupling.studies.compare import compare_runs

    a, b = _pair(tmp_path)
    figs = []
    monkeypatch.setattr(page_mod, "_png", lambda fig: figs.append(fig) or "")
    page_mod.comparison_page(compare_runs(a, b))
    assert len(figs) == 5
    timed = [ax for fig in figs for ax in fig.axes if ax.get_xlabel().startswith("clock time")]
    assert len(timed) == 5  # tariff, stations S1 and S2, routing of OD o1, energy
    for ax in timed:
        labels = [x.get_text() for x in ax.get_xticklabels()]
        assert labels and all(re.fullmatch(r"\d\d:\d\d", x) for x in labels)
        assert labels[0] == "06:00"
    assert not any(ax.get_xlabel() == "step t" for fig in figs for ax in fig.axes)
