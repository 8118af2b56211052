"""Progress lines: silent in library use, at least one line per interval during a command."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from common import progress


def test_silent_without_reporting(capsys):
    with progress.phase("solving"):
        progress.note("iteration 1")
    assert capsys.readouterr().err == ""


def test_heartbeat_names_the_innermost_phase(capsys, monkeypatch):
    monkeypatch.delenv("EVTP_PROGRESS")
    with progress.reporting("tariff", interval_s=0.2):
        progress.note("iteration 1: done")
        with progress.phase("building model"), progress.phase("solving LP (HiGHS)"):
            time.sleep(1.0)
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "evtp tariff: iteration 1: done"
    beats = [line for line in err[1:] if "solving LP (HiGHS) ..." in line]
    # 1 s of a 0.2 s interval, the gaps doubling: lines at 0.2 and 0.6 s (1.4 s is past)
    assert len(beats) == 2, err
    assert all(line.startswith("evtp tariff: ") for line in err)
    assert not [line for line in err if "building model" in line]


def test_heartbeat_gaps_double_within_a_phase_and_restart_after_a_step(capsys, monkeypatch):
    monkeypatch.delenv("EVTP_PROGRESS")
    with progress.reporting("tariff", interval_s=0.2):
        with progress.phase("solving QP"):
            time.sleep(2.0)  # 0.2, 0.6, 1.4 s (3.0 is past): 3 lines, not 10
            progress.note("iteration 1: done")
            time.sleep(0.45)  # a finished step: the next line 0.2 s after it
    err = capsys.readouterr().err.splitlines()
    i = err.index("evtp tariff: iteration 1: done")
    assert len([x for x in err[:i] if "solving QP ..." in x]) == 3, err
    assert len([x for x in err[i + 1 :] if "solving QP ..." in x]) == 1, err


def test_a_cli_run_prints_progress_lines(tmp_path):
    env = {**os.environ, "EVTP_PROGRESS_S": "0.2"}
    env.pop("EVTP_PROGRESS", None)
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "coupling.cli",
            "powerflow",
            "feeder1000-ev",
            "--out",
            str(tmp_path / "r"),
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert r.returncode == 0, r.stderr
    assert "evtp powerflow: " in r.stderr and " s in all)" in r.stderr, r.stderr
