"""Catalogue of unreadable, non-finite and unphysical input through the CLI (issue 15): one
line naming file, column and element, exit code 2, no traceback, no run folder; every problem
of a folder from ``evtp check``; option ranges; bounded sweeps; infeasibility and
non-convergence named with exit code 3; random corruptions of a valid case folder never end in
an uncaught exception."""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cases.builtin import load_case
from cases.folder import case_problems, read_case, write_case
from coupling.cli import main
from tests.coupling.tiny import tiny_case


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("incat")
    out = {n: write_case(load_case(n), root / n) for n in ("tn20-dn17", "hu2014-lv", "ieee33")}
    out["tiny"] = write_case(tiny_case(), root / "tiny")
    return out


def _csv(rel, col, value, row=0):
    def edit(folder: Path) -> None:
        path = folder / rel
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
        df.loc[row, col] = value
        df.to_csv(path, index=False, lineterminator="\n")

    return edit


def _bytes(rel, data: bytes):
    return lambda folder: (folder / rel).write_bytes(data)


def _replace(rel, old: bytes, new: bytes):
    def edit(folder: Path) -> None:
        p = folder / rel
        data = p.read_bytes()
        assert old in data, (rel, old)
        p.write_bytes(data.replace(old, new, 1))

    return edit


def _to_dir(rel):
    def edit(folder: Path) -> None:
        (folder / rel).unlink()
        (folder / rel).mkdir()

    return edit


def _to_device(rel):
    def edit(folder: Path) -> None:
        (folder / rel).unlink()
        (folder / rel).symlink_to("/dev/zero")

    return edit


def _zero_vehicles(folder: Path) -> None:
    path = folder / "traffic/demand.csv"
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    first = df.aggregator == df.aggregator.iloc[0]
    df.loc[first, "vehicles"] = "0"
    df.loc[first, "soc_total"] = "0"
    df.to_csv(path, index=False, lineterminator="\n")


SEGMENTS_HEADER = (
    b"segment,from_node,to_node,length_km,free_flow_steps,capacity_veh_per_step,soc_per_vehicle\n"
)

CATALOGUE = [
    # (base case, edit, words in the message)
    # unreadable files
    ("tn20-dn17", _bytes("traffic/nodes.csv", b""), ["traffic/nodes.csv", "empty", "node,x,y"]),
    (
        "tn20-dn17",
        _bytes("traffic/segments.csv", SEGMENTS_HEADER),
        ["traffic/segments.csv", "no rows"],
    ),
    (
        "tn20-dn17",
        _bytes("traffic/demand.csv", b"od,origin,destination,aggregator,t,vehicles,soc_total\n"),
        ["traffic/demand.csv", "no rows"],
    ),
    ("tn20-dn17", _replace("traffic/nodes.csv", b"T3,", b"T\xe9,"), ["traffic/nodes.csv", "UTF-8"]),
    ("tn20-dn17", _to_dir("grid/loads.csv"), ["grid/loads.csv", "directory"]),
    ("ieee33", _to_device("grid/prices.csv"), ["grid/prices.csv", "not a regular file"]),
    (
        "ieee33",
        _replace("grid/lines.csv", b"r_ohm,x_ohm,p_max_kw", b"r_ohm,x_ohm,r_ohm"),
        ["grid/lines.csv", "column r_ohm", "twice"],
    ),
    (
        "ieee33",
        _replace("grid/loads.csv", b"\n1,0,50.0,", b"\n1,0,5\x000.0,"),
        ["grid/loads.csv", "column p_kw", "bus '1'", "NUL"],
    ),
    (
        "ieee33",
        _csv("grid/prices.csv", "price_per_kwh", "0.05x", 3),
        ["grid/prices.csv", "price_per_kwh", "t=3", "'0.05x'"],
    ),
    # non-finite numbers
    ("ieee33", _csv("grid/buses.csv", "base_kv", "inf", 2), ["grid/buses.csv", "base_kv", "'2'"]),
    ("ieee33", _csv("grid/buses.csv", "base_kv", "nan", 2), ["grid/buses.csv", "base_kv", "'2'"]),
    ("ieee33", _csv("grid/buses.csv", "base_kv", "0", 2), ["grid/buses.csv", "base_kv", "'2'"]),
    ("ieee33", _csv("grid/loads.csv", "p_kw", "1e400", 5), ["grid/loads.csv", "p_kw", "finite"]),
    ("ieee33", _csv("grid/lines.csv", "x_ohm", "-inf", 4), ["grid/lines.csv", "x_ohm", "'l4'"]),
    (
        "tn20-dn17",
        _csv("grid/uncertainty.csv", "xi_frac", "inf", 1),
        ["grid/uncertainty.csv", "xi_frac", "finite"],
    ),
    (
        "tn20-dn17",
        _csv("grid/renewables.csv", "p_kw", "inf", 4),
        ["grid/renewables.csv", "p_kw", "finite"],
    ),
    (
        "tn20-dn17",
        _csv("traffic/segments.csv", "free_flow_steps", "inf", 0),
        ["traffic/segments.csv", "free_flow_steps", "'T1-T2'", "finite"],
    ),
    (
        "tn20-dn17",
        _csv("traffic/segments.csv", "free_flow_steps", "2.5", 0),
        ["traffic/segments.csv", "free_flow_steps", "'T1-T2'", "whole number"],
    ),
    (
        "tn20-dn17",
        _csv("traffic/stations.csv", "charger_kw", "inf", 1),
        ["traffic/stations.csv", "charger_kw", "'F2'"],
    ),
    ("hu2014-lv", _csv("fleet/evs.csv", "battery_kwh", "inf", 2), ["fleet/evs.csv", "battery_kwh"]),
    # unphysical values
    (
        "ieee33",
        _replace("grid/lines.csv", b"0.0922,0.047,", b"0.0,0.0,"),
        ["grid/lines.csv", "'l0'", "zero-impedance"],
    ),
    ("ieee33", _replace("case.toml", b"v_slack_pu = 1.0", b"v_slack_pu = 0.0"), ["v_slack_pu"]),
    ("ieee33", _replace("case.toml", b"v_slack_pu = 1.0", b"v_slack_pu = inf"), ["v_slack_pu"]),
    ("ieee33", _replace("case.toml", b"v_slack_pu = 1.0", b"v_slack_pu = nan"), ["v_slack_pu"]),
    ("ieee33", _replace("case.toml", b"dt_h = 1.0", b"dt_h = inf"), ["case.toml", "dt_h"]),
    ("ieee33", _replace("case.toml", b"dt_h = 1.0", b"dt_h = 0.0"), ["case.toml", "dt_h"]),
    (
        "ieee33",
        _bytes("grid/generators.csv", b"gen,bus,p_min_kw,p_max_kw,cost_per_kwh\ng1,5,0,100,inf\n"),
        ["grid/generators.csv", "cost_per_kwh", "'g1'"],
    ),
    (
        "tn20-dn17",
        _zero_vehicles,
        ["traffic/demand.csv", "vehicles", "aggregator 'eva1'"],
    ),
    (  # departures below the SOC floor: refused by check as well as by the run
        "tn20-dn17",
        _csv("traffic/demand.csv", "soc_total", "0", 0),
        ["traffic/demand.csv", "soc_total", "od 'T9-T1'", "soc_min"],
    ),
]


def _one_line_error(result, out: Path, words: list[str]) -> None:
    assert result.exit_code == 2, result.output
    assert not isinstance(result.exception, Exception) or isinstance(
        result.exception, SystemExit
    ), result.exception
    msg = result.stderr
    lines = [x for x in msg.splitlines() if x.strip()]
    assert len(lines) == 1 and "Traceback" not in msg, msg
    for w in words:
        assert w in lines[0], (w, lines[0])
    assert "np.float64" not in lines[0] and "np.int64" not in lines[0], lines[0]
    assert not out.exists()


@pytest.mark.parametrize(
    "base,edit,words", CATALOGUE, ids=[f"{c[0]}-{i}" for i, c in enumerate(CATALOGUE)]
)
def test_bad_input_is_one_line(folders, tmp_path, base, edit, words):
    case = tmp_path / "case"
    shutil.copytree(folders[base], case, symlinks=True)
    edit(case)
    out = tmp_path / "run"
    _one_line_error(
        CliRunner().invoke(main, ["powerflow", str(case), "--out", str(out)]), out, words
    )
    # evtp check reports the same problem
    r = CliRunner().invoke(main, ["check", str(case)])
    assert r.exit_code == 2 and all(w in r.stderr for w in words), r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["case"]


def test_fifo_input_returns_promptly(folders, tmp_path):
    # a FIFO without a writer blocks any reader that opens it; the reader must not open it
    case = tmp_path / "case"
    shutil.copytree(folders["ieee33"], case)
    (case / "grid/loads.csv").unlink()
    os.mkfifo(case / "grid/loads.csv")
    result: dict = {}

    def run() -> None:
        result["r"] = CliRunner().invoke(main, ["check", str(case)])

    t0 = time.perf_counter()
    th = threading.Thread(target=run, daemon=True)
    th.start()
    th.join(timeout=60)
    assert not th.is_alive(), "evtp check blocked on a FIFO"
    assert time.perf_counter() - t0 < 60
    r = result["r"]
    assert r.exit_code == 2 and "grid/loads.csv" in r.stderr and "FIFO" in r.stderr, r.stderr


def test_unreadable_file_is_named(folders, tmp_path, monkeypatch):
    # the tests may run as root, for whom chmod 000 changes nothing: make the open fail instead
    case = tmp_path / "case"
    shutil.copytree(folders["ieee33"], case)
    target = str(case / "grid/lines.csv")
    real_open = os.open

    def fake_open(path, flags, *a, **kw):
        if str(path) == target:
            raise PermissionError(13, "Permission denied", target)
        return real_open(path, flags, *a, **kw)

    monkeypatch.setattr(os, "open", fake_open)
    out = tmp_path / "run"
    r = CliRunner().invoke(main, ["powerflow", str(case), "--out", str(out)])
    _one_line_error(r, out, ["grid/lines.csv", "permission denied"])


def test_too_large_file_is_refused_before_reading(folders, tmp_path, monkeypatch):
    import cases.reading

    monkeypatch.setattr(cases.reading, "MAX_BYTES", 1000)
    case = tmp_path / "case"
    shutil.copytree(folders["ieee33"], case)
    r = CliRunner().invoke(main, ["check", str(case)])
    assert r.exit_code == 2 and "grid/loads.csv" in r.stderr and "limit" in r.stderr


def _rename_bus(folder: Path, old: str, new: str) -> None:
    for rel, cols in {
        "grid/buses.csv": ["bus"],
        "grid/lines.csv": ["from_bus", "to_bus"],
        "grid/loads.csv": ["bus"],
        "grid/uncertainty.csv": ["bus"],
    }.items():
        p = folder / rel
        df = pd.read_csv(p, dtype=str, keep_default_na=False)
        for c in cols:
            df[c] = df[c].replace(old, new)
        df.to_csv(p, index=False, lineterminator="\n")


@pytest.mark.parametrize("name", ["None", "NA", "nan"])
def test_none_and_na_are_valid_bus_ids(folders, tmp_path, name):
    case = tmp_path / "case"
    shutil.copytree(folders["ieee33"], case)
    _rename_bus(case, "32", name)
    c = read_case(case)
    assert name in c.feeder.bus_ids and "32" not in c.feeder.bus_ids
    # the bus keeps its load (case33bw: 60 kW at the end bus, times the profile peak 1.0)
    assert c.feeder.load_p_kw[c.feeder.bus_pos[name], 18] == pytest.approx(60.0)
    r = CliRunner().invoke(main, ["check", str(case)])
    assert r.exit_code == 0, r.output
    # and the folder writes back byte for byte
    again = write_case(c, tmp_path / "again")
    for rel in ("grid/buses.csv", "grid/lines.csv", "grid/loads.csv"):
        assert (again / rel).read_bytes() == (case / rel).read_bytes(), rel


def test_utf8_bom_and_crlf_are_read(folders, tmp_path):
    case = tmp_path / "case"
    shutil.copytree(folders["ieee33"], case)
    p = case / "grid/loads.csv"
    p.write_bytes(b"\xef\xbb\xbf" + p.read_bytes().replace(b"\n", b"\r\n"))
    assert read_case(case).feeder.load_p_kw.sum() == pytest.approx(
        read_case(folders["ieee33"]).feeder.load_p_kw.sum()
    )


def test_check_reports_every_problem(folders, tmp_path):
    case = tmp_path / "case"
    shutil.copytree(folders["tn20-dn17"], case)
    _csv("grid/loads.csv", "p_kw", "inf", 2)(case)
    _csv("grid/uncertainty.csv", "xi_frac", "oops", 0)(case)
    _csv("traffic/segments.csv", "length_km", "nan", 1)(case)
    _csv("traffic/demand.csv", "t", "1.5", 0)(case)
    problems = case_problems(case)
    assert len(problems) == 4, problems
    files = ["grid/loads.csv", "grid/uncertainty.csv", "traffic/segments.csv", "traffic/demand.csv"]
    for f in files:
        assert sum(p.startswith(f) for p in problems) == 1, (f, problems)
    r = CliRunner().invoke(main, ["check", str(case)])
    assert r.exit_code == 2 and "Traceback" not in r.output
    lines = r.stderr.splitlines()
    assert len(lines) == 5 and lines[-1].endswith(f"4 problems in {case}"), lines
    for f in files:
        assert any(f in x for x in lines), f


@pytest.mark.parametrize(
    "args,word",
    [
        (["tariff", "tn20-dn17", "--samples", "-1"], "--samples"),
        (["tariff", "tn20-dn17", "--max-iter", "0"], "--max-iter"),
        (["tariff", "tn20-dn17", "--step-kw", "0"], "--step-kw"),
        (["tariff", "tn20-dn17", "--step-kw", "inf"], "--step-kw"),
        (["tariff", "tn20-dn17", "--gamma", "nan"], "--gamma"),
        (["opf", "ieee33", "--samples", "-1"], "--samples"),
        (["opf", "ieee33", "--samples", "5", "--seed", "-1"], "--seed"),
        (["strategy", "ieee33", "--strategy", "smart", "--ev-share", "nan"], "--ev-share"),
    ],
)
def test_bad_options_exit_2_before_any_work(tmp_path, args, word):
    out = tmp_path / "run"
    t0 = time.perf_counter()
    r = CliRunner().invoke(main, [*args, "--out", str(out)])
    assert r.exit_code == 2 and word in r.output and "Traceback" not in r.output, r.output
    assert time.perf_counter() - t0 < 5.0  # refused by the option parser, nothing built
    assert not out.exists()


@pytest.mark.parametrize(
    "param,words",
    [
        ("gamma=0:1e9:1e-3", ["1e+12 points", "10000"]),
        ("gamma=0:1:1e-300", ["points", "10000"]),
        ("gamma=0:inf:0.5", ["inf", "finite"]),
        ("gamma=nan:1:0.5", ["nan", "finite"]),
        ("gamma=0:1:nan", ["nan", "finite"]),
        ("gamma=0.5,0.5", ["'gamma=0.5'"]),
    ],
)
def test_sweep_points_counted_and_bounded(folders, tmp_path, param, words):
    out = tmp_path / "sw"
    t0 = time.perf_counter()
    r = CliRunner().invoke(
        main, ["sweep", str(folders["tiny"]), "--param", param, "--out", str(out)]
    )
    assert r.exit_code == 2, r.output
    assert time.perf_counter() - t0 < 10.0
    line = r.stderr.strip()
    assert "\n" not in line and "--param" in line and all(w in line for w in words), line
    assert not out.exists()


def test_sweep_labels_of_close_values_differ():
    from coupling.studies.sweep import parse_param, point_label

    name, values = parse_param("beta=1.00000001e-5,1.00000002e-5")
    assert len({point_label(name, v) for v in values}) == 2
    assert point_label("gamma", 0.25) == "gamma=0.25"


def test_unconverged_tariff_exits_3_and_keeps_the_run(tmp_path):
    # hu2014-lv needs several rounds of the capacity market (paper: 5); one round leaves the
    # transformer overloaded
    out = tmp_path / "run"
    r = CliRunner().invoke(main, ["tariff", "hu2014-lv", "--max-iter", "1", "--out", str(out)])
    assert r.exit_code == 3, r.output
    last = r.stderr.strip().splitlines()[-1]
    s = json.loads((out / "summary.json").read_text())
    assert s["converged"] is False and s["iterations"] == 1
    ex = s["limit_excess"]
    assert ex["element"] == "line 'trafo'" and ex["unit"] == "kW" and ex["amount"] > 0.5
    # the named excess is the largest one of the written lines table: |p| above the limit
    lines = pd.read_csv(out / "lines.csv", dtype={"line": str})
    row = lines[(lines.line == "trafo") & (lines.t == ex["t"])].iloc[0]
    case = load_case("hu2014-lv")
    cap = case.feeder.line_p_max_kw[case.feeder.line_ids.index("trafo"), ex["t"]]
    assert abs(row.p_kw) - cap == pytest.approx(ex["amount"], abs=1e-6)
    assert "not converged" in last and "line 'trafo'" in last and f"t={ex['t']}" in last
    assert "np." not in last


def test_generator_minimum_infeasibility_is_named(folders, tmp_path):
    case = tmp_path / "case"
    shutil.copytree(folders["ieee33"], case)
    # 9 MW that must run at the end of the feeder: the voltage there rises far above 1.1 pu
    (case / "grid/generators.csv").write_text(
        "gen,bus,p_min_kw,p_max_kw,cost_per_kwh\ng1,17,9000.0,9500.0,0.1\ng2,5,1.0,100.0,0.1\n"
    )
    out = tmp_path / "run"
    r = CliRunner().invoke(main, ["opf", str(case), "--out", str(out)])
    assert r.exit_code == 3, r.output
    last = r.stderr.strip().splitlines()[-1]
    assert "generator 'g1'" in last and "p_min_kw" in last and "bus '17'" in last, last
    assert not out.exists()


def test_uncertainty_bound_infeasibility_is_named(folders, tmp_path):
    case = tmp_path / "case"
    shutil.copytree(folders["ieee33"], case)
    rows = "".join(f"{b},load,{3.0 if b == 17 else 1.0}\n" for b in range(1, 33))
    (case / "grid/uncertainty.csv").write_text("bus,kind,xi_frac\n" + rows)
    _replace("case.toml", b"gamma = 0.0", b"gamma = 1.0")(case)
    out = tmp_path / "run"
    r = CliRunner().invoke(main, ["opf", str(case), "--out", str(out)])
    assert r.exit_code == 3, r.output
    last = r.stderr.strip().splitlines()[-1]
    assert "uncertainty" in last and "bus '17' load" in last and "xi_frac" in last, last
    # the deterministic OPF of the same folder is feasible: the bounds are the cause
    r0 = CliRunner().invoke(main, ["opf", str(case), "--gamma", "0", "--out", str(out)])
    assert r0.exit_code == 0, r0.output


# ---------------------------------------------------------------------- random corruptions
TABLE_FILES = [
    "grid/buses.csv",
    "grid/lines.csv",
    "grid/loads.csv",
    "grid/prices.csv",
    "grid/uncertainty.csv",
    "traffic/nodes.csv",
    "traffic/segments.csv",
    "traffic/stations.csv",
    "traffic/demand.csv",
    "case.toml",
]
CELLS = ["", "inf", "-inf", "nan", "1e309", "abc", "1\x002", "None", "NA", "-1", "0", "1e300"]


@st.composite
def corruptions(draw):
    rel = draw(st.sampled_from(TABLE_FILES))
    kind = draw(
        st.sampled_from(["cell", "cell", "cell", "drop_col", "dup_col", "truncate", "bytes"])
    )
    return rel, kind, draw(st.integers(0, 10_000)), draw(st.sampled_from(CELLS))


def _corrupt(folder: Path, rel: str, kind: str, k: int, cell: str) -> None:
    p = folder / rel
    data = p.read_bytes()
    if kind == "truncate" or rel == "case.toml":
        p.write_bytes(data[: k % (len(data) + 1)] if kind != "bytes" else data + b"\xff\x00")
        return
    if kind == "bytes":
        pos = k % (len(data) + 1)
        p.write_bytes(data[:pos] + b"\xff\x00," + data[pos:])
        return
    df = pd.read_csv(p, dtype=str, keep_default_na=False)
    col = df.columns[k % len(df.columns)]
    if kind == "cell" and len(df):
        df.loc[k % len(df), col] = cell
    elif kind == "drop_col":
        df = df.drop(columns=col)
    elif kind == "dup_col":
        df.insert(len(df.columns), "dup", df[col])
        df = df.rename(columns={"dup": col})
    df.to_csv(p, index=False, lineterminator="\n")


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(c=corruptions())
def test_random_corruptions_never_crash(folders, tmp_path, c):
    rel, kind, k, cell = c
    case = tmp_path / f"case-{time.monotonic_ns()}"
    shutil.copytree(folders["tiny"], case)
    _corrupt(case, rel, kind, k, cell)
    r = CliRunner().invoke(main, ["check", str(case)])
    assert r.exit_code in (0, 2), (c, r.output, r.exception)
    assert "Traceback" not in r.output
    if r.exit_code == 2:
        assert r.stderr.startswith("evtp: error: "), r.stderr
        return
    out = case.with_name(case.name + "-run")
    r = CliRunner().invoke(main, ["powerflow", str(case), "--out", str(out)])
    assert r.exit_code in (0, 2, 3), (c, r.output, r.exception)
    assert not isinstance(r.exception, Exception) or isinstance(r.exception, SystemExit), (
        c,
        r.exception,
    )
    assert (r.exit_code == 0) == out.exists()
