"""The output policy of every writer, through the CLI: nothing is deleted or overwritten that evtp
did not write, bad targets fail before any computation, killed writers leave nothing behind,
concurrent writers cannot both succeed, and the umask is respected."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

import coupling.jobs.grid as grid_jobs
from cases.atomic import MARKER, WRITER, _boot_id, _start_ticks
from coupling.cli import main
from coupling.output.runfolder import Run

EVTP = [sys.executable, "-m", "coupling.cli"]


def snapshot(root: Path) -> dict[str, bytes | None]:
    """Every file and folder below ``root`` (hidden ones too) with the bytes of the files."""
    return {
        str(p.relative_to(root)): (None if p.is_dir() else p.read_bytes())
        for p in sorted(root.rglob("*"))
    }


def hand_run(folder: Path, shift: float = 0.0) -> Path:
    """A small run folder written by hand (no evtp marker): what compare and report read."""
    folder.mkdir(parents=True)
    summary = {"case": "c", "command": "x", "dt_h": 1.0, "steps": 4}
    (folder / "summary.json").write_text(json.dumps(summary))
    pd.DataFrame(
        {"od": "o", "path": ["o#0", "o#1"], "nodes": ["A>B", "A>C>B"], "t": 0, "inflow": [60, 40]}
    ).to_csv(folder / "paths.csv", index=False)
    pd.DataFrame(
        {
            "station": "S",
            "t": range(4),
            "queued": 0.0,
            "charging": 0.0,
            "p_kw": [0, 10 - shift, 0, shift],
        }
    ).to_csv(folder / "stations.csv", index=False)
    pd.DataFrame(
        {"line": "l", "t": range(4), "p_kw": 1.0, "q_kvar": 0.0, "loading": [0.5, 1.0, 0.5, 0.5]}
    ).to_csv(folder / "lines.csv", index=False)
    pd.DataFrame({"bus": "1", "t": range(4), "v_pu": [1.0, 0.97, 0.99, 1.0]}).to_csv(
        folder / "buses.csv", index=False
    )
    return folder


@pytest.fixture
def runs(tmp_path):
    return hand_run(tmp_path / "A"), hand_run(tmp_path / "B", shift=4.0)


def invoke(*args: str):
    return CliRunner().invoke(main, list(args))


def refused(r, *words: str) -> None:
    """Exit 2, one line on stderr naming ``words``, no traceback."""
    assert r.exit_code == 2, r.output
    err = r.stderr
    assert err.count("\n") == 1 and err.startswith("evtp: error: "), err
    assert "Traceback" not in r.output
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
    for w in words:
        assert w in err, (w, err)


# --- data loss: the reported cases -------------------------------------------------------------


def test_compare_into_an_existing_folder_is_refused(tmp_path, runs):
    a, b = runs
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("my notes\n")
    before = snapshot(tmp_path)
    refused(invoke("compare", str(a), str(b), "--out", str(mine)), "not empty", "--force")
    refused(invoke("compare", str(a), str(b), "--out", str(mine), "--force"), "not written by evtp")
    assert snapshot(tmp_path) == before


def test_compare_into_its_input_or_a_parent_is_refused(tmp_path, runs, monkeypatch):
    a, b = runs
    before = snapshot(tmp_path)
    for out in (a, b, tmp_path):
        for extra in ((), ("--force",)):
            r = invoke("compare", str(a), str(b), "--out", str(out), *extra)
            refused(r, "input" if out != tmp_path else "contains the input")
    monkeypatch.chdir(a)
    refused(invoke("compare", str(a), str(b), "--out", "."), "current directory")
    refused(invoke("compare", str(a), str(b), "--out", ".."), "current")
    assert snapshot(tmp_path) == before


def test_compare_into_a_case_folder_is_refused_even_with_force(tmp_path, runs):
    a, b = runs
    case = tmp_path / "case"
    assert invoke("build", "ieee33", "--out", str(case)).exit_code == 0
    assert (case / MARKER).read_text() == "evtp case\n"
    before = snapshot(tmp_path)
    refused(invoke("compare", str(a), str(b), "--out", str(case)), "not empty")
    refused(invoke("compare", str(a), str(b), "--out", str(case), "--force"), "evtp case folder")
    # a run command writing into the case folder it reads, or above it
    refused(invoke("powerflow", str(case), "--out", str(case), "--force"), "is the input")
    refused(invoke("powerflow", str(case), "--out", str(tmp_path)), "contains the input")
    refused(invoke("build", str(case), "--out", str(case), "--force"), "is the input")
    assert snapshot(tmp_path) == before


def test_powerflow_out_dot_inside_a_run_keeps_it(tmp_path, runs):
    a, _ = runs
    before = snapshot(tmp_path)
    for out in (".", "..", str(a)):
        r = subprocess.run(
            [*EVTP, "powerflow", "ieee33", "--out", out, "--force"],
            cwd=a,
            capture_output=True,
            text=True,
        )
        assert r.returncode == 2, r.stderr
        assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
        assert "current" in r.stderr
    assert snapshot(tmp_path) == before


def test_empty_out_is_refused(tmp_path, runs, monkeypatch):
    monkeypatch.chdir(tmp_path)
    a, b = runs
    before = snapshot(tmp_path)
    refused(invoke("compare", str(a), str(b), "--out", ""), "--out ''", "empty")
    refused(invoke("powerflow", "ieee33", "--out", ""), "empty")
    assert snapshot(tmp_path) == before


# --- --force ----------------------------------------------------------------------------------


def _fake_powerflow(calls: list):
    def run(case, *, command="powerflow"):
        calls.append(case.name)
        return Run(
            summary={"case": case.name, "command": command, "steps": 1, "dt_h": 1.0},
            tables={
                "lines": pd.DataFrame({"line": ["l"], "t": [0], "loading": [0.5 * len(calls)]})
            },
        )

    return run


def test_force_replaces_an_evtp_run_and_nothing_else(tmp_path, monkeypatch):
    calls: list = []
    monkeypatch.setattr(grid_jobs, "run_powerflow", _fake_powerflow(calls))
    run = tmp_path / "R"
    assert invoke("powerflow", "ieee33", "--out", str(run)).exit_code == 0
    assert (run / MARKER).read_text() == "evtp run\n"
    first = snapshot(tmp_path)
    refused(invoke("powerflow", "ieee33", "--out", str(run)), "--force")
    assert snapshot(tmp_path) == first and len(calls) == 1  # refused before computing
    (run / "stray.txt").write_text("left in the run folder\n")
    r = invoke("powerflow", "ieee33", "--out", str(run), "--force")
    assert r.exit_code == 0, r.output
    assert not (run / "stray.txt").exists()  # replaced as a whole
    assert pd.read_csv(run / "lines.csv").loading.item() == 1.0  # the second run's table
    assert sorted(p.name for p in tmp_path.iterdir()) == ["R"]  # no partial or old folders
    # a folder evtp did not write is never replaced, not even an empty-looking run folder
    user = tmp_path / "user"
    user.mkdir()
    (user / "summary.json").write_text("{}")
    before = snapshot(tmp_path)
    refused(invoke("powerflow", "ieee33", "--out", str(user), "--force"), "not written by evtp")
    assert snapshot(tmp_path) == before and len(calls) == 2


def test_force_replaces_an_evtp_comparison(tmp_path, runs):
    a, b = runs
    out = tmp_path / "cmp"
    assert invoke("compare", str(a), str(b), "--out", str(out)).exit_code == 0
    assert (out / MARKER).read_text() == "evtp compare\n"
    refused(invoke("compare", str(a), str(b), "--out", str(out)), "--force")
    (out / "stray.txt").write_text("x")
    assert invoke("compare", str(a), str(b), "--out", str(out), "--force").exit_code == 0
    assert not (out / "stray.txt").exists() and (out / "charging.csv").is_file()


def test_build_refuses_an_existing_case_unless_forced(tmp_path):
    case = tmp_path / "case"
    assert invoke("build", "ieee33", "--out", str(case)).exit_code == 0
    before = snapshot(tmp_path)
    refused(invoke("build", "ieee33", "--out", str(case)), "--force")
    assert snapshot(tmp_path) == before
    (case / "stray.txt").write_text("x")
    assert invoke("build", "ieee33", "--out", str(case), "--force").exit_code == 0
    assert not (case / "stray.txt").exists() and (case / "case.toml").is_file()


def test_sweep_refuses_a_folder_it_did_not_write_before_starting_a_cluster(tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "sweep.csv").write_text("gamma\n0\n")
    before = snapshot(tmp_path)
    r = invoke("sweep", "tn20-dn17", "--param", "gamma=0", "--out", str(mine), "--force")
    refused(r, "not written by evtp")
    assert snapshot(tmp_path) == before


def test_report_replaces_only_its_own_page(tmp_path, runs):
    a, _ = runs
    assert invoke("report", str(a)).exit_code == 0
    page = a / "report.html"
    first = page.read_bytes()
    refused(invoke("report", str(a)), "--force")
    assert invoke("report", str(a), "--force").exit_code == 0
    page.write_text("<html>my own page</html>")
    refused(invoke("report", str(a), "--force"), "not written by evtp")
    assert page.read_text() == "<html>my own page</html>" and first


# --- bad targets fail before computing ----------------------------------------------------------


def test_bad_targets_fail_before_computing(tmp_path, monkeypatch):
    calls: list = []
    monkeypatch.setattr(grid_jobs, "run_powerflow", _fake_powerflow(calls))
    (tmp_path / "file").write_text("x")
    refused(invoke("powerflow", "ieee33", "--out", str(tmp_path / "file" / "R")), "not a folder")
    refused(invoke("powerflow", "ieee33", "--out", str(tmp_path / "file")), "not a folder")
    refused(invoke("powerflow", "ieee33", "--out", str(tmp_path / ("x" * 300))), "longer than")
    deep = tmp_path.joinpath(*["d" * 200] * 25)
    refused(invoke("powerflow", "ieee33", "--out", str(deep)), "too long")
    assert calls == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_unwritable_parent_fails_before_computing(tmp_path, monkeypatch):
    """A read-only parent (EACCES from the probe; as root chmod would not stop the write)."""
    import cases.output_policy as op

    def denied(*a, **k):
        raise PermissionError(13, "Permission denied")

    calls: list = []
    monkeypatch.setattr(grid_jobs, "run_powerflow", _fake_powerflow(calls))
    monkeypatch.setattr(op.tempfile, "mkdtemp", denied)
    refused(invoke("powerflow", "ieee33", "--out", str(tmp_path / "R")), "cannot write in")
    assert calls == [] and not list(tmp_path.iterdir())


# --- killed writers, concurrent writers ---------------------------------------------------------


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def _leftover(parent: Path, name: str, pid: int, start: int | None) -> Path:
    d = parent / name
    (d / "figures").mkdir(parents=True)
    (d / "lines.csv").write_text("line,t\n")
    record = {"pid": pid, "start": start, "host": socket.gethostname(), "boot": _boot_id()}
    (d / WRITER).write_text(json.dumps(record))
    return d


def test_stale_partial_folders_are_cleaned_by_the_next_writer(tmp_path, runs):
    a, b = runs
    dead = _leftover(tmp_path, ".R.abcd1234", _dead_pid(), None)
    reused = _leftover(tmp_path, ".R.efgh5678", os.getpid(), 1)  # our pid, another start time
    alive = _leftover(tmp_path, ".R.ijkl9012", os.getpid(), _start_ticks(os.getpid()))
    user = tmp_path / ".config"  # a user's hidden folder: no writer record
    user.mkdir()
    (user / "x").write_text("x")
    other_host = _leftover(tmp_path, ".R.mnop3456", _dead_pid(), None)
    rec = json.loads((other_host / WRITER).read_text()) | {"host": "elsewhere"}
    (other_host / WRITER).write_text(json.dumps(rec))
    r = CliRunner().invoke(main, ["compare", str(a), str(b), "--out", str(tmp_path / "C")])
    assert r.exit_code == 0, r.output
    assert "removed" in r.stderr and ".R.abcd1234" in r.stderr
    assert not dead.exists() and not reused.exists()
    assert alive.exists() and user.exists() and other_host.exists()


def test_a_killed_writer_leaves_nothing_a_later_run_trips_over(tmp_path, runs):
    a, b = runs
    target = tmp_path / "C"
    code = (
        "import sys, time\n"
        "from cases.atomic import atomic_folder\n"
        f"with atomic_folder({str(target)!r}, kind='compare') as tmp:\n"
        "    (tmp / 'charging.csv').write_text('half')\n"
        "    print(tmp, flush=True)\n"
        "    time.sleep(120)\n"
    )
    writer = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    tmp = Path(writer.stdout.readline().strip())
    assert tmp.parent == tmp_path and tmp.name.startswith(".C.") and (tmp / WRITER).is_file()
    writer.send_signal(signal.SIGKILL)
    writer.wait()
    assert tmp.exists() and not target.exists()  # what kill -9 leaves
    r = CliRunner().invoke(main, ["compare", str(a), str(b), "--out", str(target)])
    assert r.exit_code == 0, r.output
    assert not tmp.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["A", "B", "C"]
    assert (target / "charging.csv").read_text() != "half"


@pytest.mark.parametrize("force", [False, True])
def test_concurrent_writers_cannot_both_succeed(tmp_path, runs, monkeypatch, force):
    """While this compare computes, another evtp process writes the same --out: this one must
    fail with a clear line and leave the other's result as it is."""
    import coupling.studies.compare as cmp_mod

    a, b = runs
    target = tmp_path / "C"
    extra = ["--force"] if force else []
    if force:
        assert invoke("compare", str(a), str(b), "--out", str(target)).exit_code == 0
    real = cmp_mod.compare_runs

    def racing(x, y):
        other = subprocess.run(
            [*EVTP, "compare", str(a), str(b), "--out", str(target), *extra],
            capture_output=True,
            text=True,
        )
        assert other.returncode == 0, other.stderr
        (target / "theirs.txt").write_text("the other run's result")
        return real(x, y)

    monkeypatch.setattr(cmp_mod, "compare_runs", racing)
    r = CliRunner().invoke(main, ["compare", str(a), str(b), "--out", str(target), *extra])
    refused(r, "changed while", "not written")
    assert (target / "theirs.txt").read_text() == "the other run's result"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["A", "B", "C"]


# --- permissions follow the umask ---------------------------------------------------------------


@pytest.mark.parametrize("mask", [0o027, 0o002])
def test_outputs_respect_the_umask(tmp_path, runs, mask):
    a, b = runs
    old = os.umask(mask)
    try:
        assert invoke("compare", str(a), str(b), "--out", str(tmp_path / "C")).exit_code == 0
        assert invoke("report", str(a)).exit_code == 0
        assert invoke("build", "ieee33", "--out", str(tmp_path / "case")).exit_code == 0
    finally:
        os.umask(old)
    for folder in (tmp_path / "C", tmp_path / "case", tmp_path / "case" / "grid"):
        assert folder.stat().st_mode & 0o777 == 0o777 & ~mask, folder
    for f in (tmp_path / "C" / "grid.csv", a / "report.html", tmp_path / "case" / "case.toml"):
        assert f.stat().st_mode & 0o777 == 0o666 & ~mask, f


def test_a_full_disk_while_writing_is_one_line_and_leaves_nothing(tmp_path, monkeypatch):
    import errno

    calls: list = []
    monkeypatch.setattr(grid_jobs, "run_powerflow", _fake_powerflow(calls))

    def full(self, path, *a, **k):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(pd.DataFrame, "to_csv", full)
    r = invoke("powerflow", "ieee33", "--out", str(tmp_path / "R"))
    refused(r, "cannot write", "No space left")
    assert calls and not list(tmp_path.iterdir())
