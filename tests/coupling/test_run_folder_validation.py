"""evtp report and evtp compare on damaged run folders: one line naming the file, exit 2, no
traceback, nothing written."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from coupling.cli import main
from power.dlmp import TARIFF_VALUES
from tests.coupling.test_output_policy import hand_run, snapshot


def truncate(name: str, keep: float = 0.5) -> Callable[[Path], None]:
    def damage(run: Path) -> None:
        f = run / name
        data = f.read_bytes()
        f.write_bytes(data[: int(len(data) * keep)])

    return damage


def rewrite(name: str, old: str, new: str) -> Callable[[Path], None]:
    def damage(run: Path) -> None:
        f = run / name
        text = f.read_text()
        assert old in text
        f.write_text(text.replace(old, new, 1))

    return damage


def write(name: str, data: bytes) -> Callable[[Path], None]:
    return lambda run: (run / name).write_bytes(data)


def remove(name: str) -> Callable[[Path], None]:
    return lambda run: (run / name).unlink()


DAMAGE = {
    "summary truncated": (truncate("summary.json"), ["summary.json", "not valid JSON"]),
    "summary empty": (write("summary.json", b""), ["summary.json", "not valid JSON"]),
    "summary a list": (write("summary.json", b"[1, 2]"), ["summary.json", "not a JSON object"]),
    "summary not utf-8": (write("summary.json", b'{"case": "\xff"}'), ["summary.json", "UTF-8"]),
    "summary without case": (
        rewrite("summary.json", '"case"', '"kase"'),
        ["summary.json", "'case' missing"],
    ),
    "summary missing": (remove("summary.json"), ["no summary.json"]),
    "lines without loading": (
        rewrite("lines.csv", "loading", "load"),
        ["lines.csv", "column 'loading' missing"],
    ),
    "stations without p_kw": (
        rewrite("stations.csv", ",p_kw", ",power"),
        ["stations.csv", "column 'p_kw' missing"],
    ),
    "lines truncated mid-row": (
        truncate("lines.csv", 0.93),
        ["lines.csv", "'loading'", "not a number"],
    ),
    "buses edited": (rewrite("buses.csv", "0.97", "low"), ["buses.csv", "'v_pu'", "row 3"]),
    "paths empty": (write("paths.csv", b""), ["paths.csv", "empty"]),
    "tariffs without values": (
        write("tariffs.csv", b"bus,t\n1,0\n"),
        ["tariffs.csv", "column 'tariff_per_kwh' missing"],
    ),
    "tariffs with an empty tariff": (
        write("tariffs.csv", (",".join(("bus", "t", *TARIFF_VALUES)) + "\n1,0,,,,,,\n").encode()),
        ["tariffs.csv", "'tariff_per_kwh'", "row 2", "not a number"],
    ),
}


@pytest.mark.parametrize("command", ["report", "compare"])
@pytest.mark.parametrize("damage", list(DAMAGE))
def test_damaged_run_folder_one_line_exit_2(tmp_path, command, damage):
    a = hand_run(tmp_path / "A")
    b = hand_run(tmp_path / "B", shift=4.0)
    fn, words = DAMAGE[damage]
    fn(b)
    before = snapshot(tmp_path)
    if command == "report":
        r = CliRunner().invoke(main, ["report", str(b)])
    else:
        r = CliRunner().invoke(main, ["compare", str(a), str(b), "--out", str(tmp_path / "C")])
    assert r.exit_code == 2, r.output
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.output, r.output
    assert str(b) in r.stderr
    for w in words:
        assert w in r.stderr, (w, r.stderr)
    assert snapshot(tmp_path) == before


def test_compare_names_a_bad_step_length(tmp_path):
    a = hand_run(tmp_path / "A")
    b = hand_run(tmp_path / "B")
    for f in (a, b):
        rewrite("summary.json", '"dt_h": 1.0', '"dt_h": "one"')(f)
    r = CliRunner().invoke(main, ["compare", str(a), str(b)])
    assert r.exit_code == 2 and "dt_h" in r.stderr and "not a positive number" in r.stderr


def test_undamaged_hand_made_runs_still_work(tmp_path):
    """The checks accept what evtp and the older hand-made folders hold (no marker needed)."""
    a = hand_run(tmp_path / "A")
    b = hand_run(tmp_path / "B", shift=4.0)
    r = CliRunner().invoke(main, ["compare", str(a), str(b)])
    assert r.exit_code == 0, r.output
    assert CliRunner().invoke(main, ["report", str(b)]).exit_code == 0
    assert (b / "report.html").read_text().count("data:image/png;base64,") == 3
