"""evtp build --tntp and evtp traffic through the command line (Braess, shared data)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "transportation-networks"
EVTP = [sys.executable, "-m", "coupling.cli"]


@pytest.fixture
def braess() -> Path:
    folder = DATA / "Braess-Example"
    if not folder.is_dir():
        pytest.skip(f"shared TNTP data not found at {folder}")
    return folder


def run(*args):
    return subprocess.run([*EVTP, *map(str, args)], capture_output=True, text=True)


def test_build_tntp_and_traffic(braess, tmp_path):
    case = tmp_path / "case"
    r = run(
        "build",
        "--tntp",
        braess / "Braess_net.tntp",
        "--trips",
        braess / "Braess_trips.tntp",
        "--feeder",
        "ieee33",
        "--stations",
        "1",
        "--ev-share",
        "0.5",
        "--out",
        case,
    )
    assert r.returncode == 0, r.stderr
    # Braess: 6 trips 1 -> 2, half of them EVs; 5 links
    dem = pd.read_csv(case / "traffic" / "demand.csv")
    assert dem.vehicles.sum() == pytest.approx(3.0)
    assert len(pd.read_csv(case / "traffic" / "segments.csv")) == 5
    st = pd.read_csv(case / "traffic" / "stations.csv", dtype=str)
    assert st.bus.iloc[0] in {str(b) for b in range(1, 33)}  # a non-slack ieee33 bus
    again = tmp_path / "again"
    assert run("build", case, "--out", again).returncode == 0
    assert subprocess.run(["diff", "-r", case, again]).returncode == 0

    out = tmp_path / "run"
    r = run("traffic", case, "--out", out)
    assert r.returncode == 0, r.stderr
    s = json.loads((out / "summary.json").read_text())
    assert s["vehicles_departed"] == pytest.approx(3.0, abs=1e-6)
    for name in ("paths", "segments", "stations"):
        assert (out / f"{name}.csv").is_file()


def test_build_tntp_bad_share(braess, tmp_path):
    r = run(
        "build",
        "--tntp",
        braess / "Braess_net.tntp",
        "--trips",
        braess / "Braess_trips.tntp",
        "--feeder",
        "ieee33",
        "--ev-share",
        "1.5",
        "--out",
        tmp_path / "c",
    )
    assert r.returncode == 2 and "ev-share" in r.stderr
    assert not (tmp_path / "c").exists()
