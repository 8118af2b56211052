"""Case folders: lossless round trip and one clear error per kind of bad input."""

from __future__ import annotations

import filecmp
import shutil
from pathlib import Path

import pandas as pd
import pytest

from cases.builtin import load_case
from cases.case import CaseError
from cases.folder import read_case, write_case
from power.feeder import FeederDataError
from robust.uncertainty import UncertaintyDataError


@pytest.fixture(scope="module")
def ieee33_folder(tmp_path_factory) -> Path:
    return write_case(load_case("ieee33"), tmp_path_factory.mktemp("c") / "ieee33")


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def test_round_trip_is_byte_identical(ieee33_folder, tmp_path):
    again = write_case(read_case(ieee33_folder), tmp_path / "again")
    assert _files(again) == _files(ieee33_folder)
    for rel in _files(ieee33_folder):
        assert filecmp.cmp(ieee33_folder / rel, again / rel, shallow=False), rel
    case = read_case(again)
    assert case.feeder.load_p_kw.sum() == pytest.approx(load_case("ieee33").feeder.load_p_kw.sum())


def test_ieee33_contents(ieee33_folder):
    c = read_case(ieee33_folder)
    f = c.feeder
    assert (len(f.bus_ids), len(f.line_ids), f.steps) == (33, 32, 24)  # 5 tie lines open
    # total nominal load 3715 kW scaled by the shared profile peak 1.0 at 18:00
    assert f.load_p_kw[:, 18].sum() == pytest.approx(3715.0)
    assert f.load_q_kvar[:, 18].sum() == pytest.approx(2300.0)


def _edit_csv(folder: Path, rel: str, fn) -> None:
    path = folder / rel
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    fn(df).to_csv(path, index=False, lineterminator="\n")


def _set(col, value, row=0):
    def fn(df):
        df.loc[row, col] = value
        return df

    return fn


BAD = [
    # (file, edit, expected exception, words that must appear in the one-line message)
    (
        "grid/lines.csv",
        _set("to_bus", "99"),
        FeederDataError,
        ["grid/lines.csv", "to_bus", "'l0'", "'99'"],
    ),
    ("grid/lines.csv", _set("from_bus", "nope", 3), FeederDataError, ["from_bus", "'l3'"]),
    (
        "grid/lines.csv",
        _set("r_ohm", "-0.1", 2),
        FeederDataError,
        ["r_ohm", "'l2'", "non-negative"],
    ),
    (
        "grid/lines.csv",
        _set("p_max_kw", "abc", 1),
        FeederDataError,
        ["p_max_kw", "'l1'", "non-numeric"],
    ),
    (
        "grid/lines.csv",
        _set("p_max_kw", "-5", 1),
        FeederDataError,
        ["p_max_kw", "'l1'", "positive"],
    ),
    (
        "grid/lines.csv",
        _set("line", "l0", 1),
        FeederDataError,
        ["grid/lines.csv", "duplicate", "'l0'"],
    ),
    (
        "grid/lines.csv",
        lambda df: pd.concat([df, df.iloc[[5]].assign(line="loop", to_bus="20")]),
        FeederDataError,
        ["grid/lines.csv", "'loop'", "radial"],
    ),
    (
        "grid/lines.csv",
        lambda df: df.drop(index=4),
        FeederDataError,
        ["grid/buses.csv", "not connected"],
    ),
    (
        "grid/lines.csv",
        lambda df: df.drop(columns="x_ohm"),
        FeederDataError,
        ["x_ohm", "missing column"],
    ),
    (
        "grid/buses.csv",
        _set("v_min_pu", "1.2", 4),
        FeederDataError,
        ["v_max_pu", "'4'", "below v_min_pu"],
    ),
    (
        "grid/buses.csv",
        _set("bus", "1", 2),
        FeederDataError,
        ["grid/buses.csv", "duplicate", "'1'"],
    ),
    ("grid/buses.csv", _set("base_kv", "0", 2), FeederDataError, ["base_kv", "'2'"]),
    (
        "grid/loads.csv",
        _set("t", "24", 3),
        FeederDataError,
        ["grid/loads.csv", "column t", "0..23"],
    ),
    ("grid/loads.csv", _set("bus", "77", 0), FeederDataError, ["grid/loads.csv", "bus", "'77'"]),
    (
        "grid/loads.csv",
        _set("p_kw", "", 0),
        FeederDataError,
        ["grid/loads.csv", "p_kw", "'1'", "empty"],
    ),
    ("grid/prices.csv", lambda df: df.drop(index=7), FeederDataError, ["grid/prices.csv", "t=7"]),
    (
        "grid/uncertainty.csv",
        _set("kind", "solar", 0),
        UncertaintyDataError,
        ["uncertainty.csv", "kind", "'1'"],
    ),
    (
        "grid/uncertainty.csv",
        _set("xi_frac", "-1", 0),
        UncertaintyDataError,
        ["xi_frac", "non-negative"],
    ),
]


@pytest.mark.parametrize("rel,edit,exc,words", BAD, ids=[f"{b[0]}-{i}" for i, b in enumerate(BAD)])
def test_bad_table_names_file_column_element(ieee33_folder, tmp_path, rel, edit, exc, words):
    folder = tmp_path / "bad"
    shutil.copytree(ieee33_folder, folder)
    _edit_csv(folder, rel, edit)
    with pytest.raises(exc) as err:
        read_case(folder)
    msg = str(err.value)
    assert "\n" not in msg
    for w in words:
        assert w in msg, (w, msg)


@pytest.mark.parametrize(
    "toml,words",
    [
        ("[case\nname=", ["case.toml", "invalid TOML"]),
        (
            '[case]\nname="x"\n[time]\ndt_h=1.0\n[grid]\nslack_bus="0"\n',
            ["[time] steps", "missing"],
        ),
        (
            '[case]\nname="x"\n[time]\nsteps="24"\ndt_h=1.0\n[grid]\nslack_bus="0"\n',
            ["steps", "int"],
        ),
        (
            '[case]\nname="x"\n[time]\nsteps=24\ndt_h=1.0\n[grid]\nslack_bus="99"\n',
            ["slack_bus", "'99'"],
        ),
        (
            '[case]\nname="x"\n[time]\nsteps=24\ndt_h=1.0\n[grid]\nslack_bus="0"\n[robust]\ngamma=2.0\n',
            ["gamma"],
        ),
    ],
)
def test_bad_case_toml(ieee33_folder, tmp_path, toml, words):
    folder = tmp_path / "bad"
    shutil.copytree(ieee33_folder, folder)
    (folder / "case.toml").write_text(toml)
    with pytest.raises((CaseError, FeederDataError)) as err:
        read_case(folder)
    for w in words:
        assert w in str(err.value)


def test_missing_file(ieee33_folder, tmp_path):
    folder = tmp_path / "bad"
    shutil.copytree(ieee33_folder, folder)
    (folder / "grid" / "loads.csv").unlink()
    with pytest.raises(CaseError, match="grid/loads.csv: file missing"):
        read_case(folder)


def test_write_is_atomic(tmp_path, monkeypatch):
    case = load_case("ieee33")
    import cases.folder as cf

    def boom(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(cf, "write_csv", boom)
    with pytest.raises(RuntimeError):
        write_case(case, tmp_path / "out")
    assert list(tmp_path.iterdir()) == []
