"""Identical inputs give byte-identical tables; an interrupted run leaves no run folder."""

from __future__ import annotations

import filecmp
import json

import pandas as pd
from click.testing import CliRunner

import coupling.output.runfolder as rf
from coupling.cli import main


def test_identical_inputs_identical_tables(tmp_path):
    runner = CliRunner()
    for name in ("a", "b"):
        r = runner.invoke(main, ["tariff", "--samples", "50", "--out", str(tmp_path / name)])
        assert r.exit_code == 0, r.output
    tables = sorted(p.name for p in (tmp_path / "a").glob("*.csv"))
    assert {
        "tariffs.csv",
        "lines.csv",
        "buses.csv",
        "stations.csv",
        "paths.csv",
        "loop.csv",
    } <= set(tables)
    for t in tables:  # every table, the loop's and the AC correction's included: their
        # wall-clock columns are in summary.json
        assert filecmp.cmp(tmp_path / "a" / t, tmp_path / "b" / t, shallow=False), t
    loop = pd.read_csv(tmp_path / "a" / "loop.csv")
    assert not [c for c in loop.columns if c.endswith("_s")]
    timings = json.loads((tmp_path / "a" / "summary.json").read_text())["timings_s"]["loop"]
    assert set(timings) == {"eva_s", "wall_s"}
    assert len(timings["eva_s"]) == len(loop) >= 1
    assert all(0 < e <= w for e, w in zip(timings["eva_s"], timings["wall_s"]))


def test_interrupted_run_leaves_nothing(tmp_path, monkeypatch):
    def interrupted(path):
        raise KeyboardInterrupt

    monkeypatch.setattr(rf, "_clean", lambda x: interrupted(x))
    # Ctrl-C while the run folder is being written: click aborts, nothing is left behind
    r = CliRunner().invoke(main, ["powerflow", "ieee33", "--out", str(tmp_path / "run")])
    assert r.exit_code != 0 and "Aborted" in r.output
    assert list(tmp_path.iterdir()) == []
