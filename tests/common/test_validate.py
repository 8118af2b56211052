"""The validators' one helper family (common/validate.py): exact message text, the first bad row,
the error class carried, and collecting instead of raising."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from common.validate import Where, as_text, bare, first, shown


class TableError(ValueError):
    pass


def _lines() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "line": ["L1", "L2", "L3", "L4"],
            "to_bus": ["B1", "B9", "B2", "B8"],
            "r_ohm": [0.5, -1.0, 2.0, -3.0],
            "t": [0, 1, 2, 3],
        }
    )


def test_values_are_shown_as_a_user_reads_them():
    assert shown(np.float64(0.5)) == "0.5"
    assert shown(np.int64(10)) == "10"
    assert shown(float("inf")) == "inf"
    assert shown("E4") == "'E4'"
    assert as_text(7) == "'7'"
    assert bare("a'b") == "'a'b'"


def test_first_is_the_first_true_position_or_none():
    assert first([False, True, True]) == 1
    assert first(np.zeros(3, bool)) is None


def test_message_names_file_and_column():
    w = Where("grid/lines.csv", TableError)
    assert w.message("r_ohm", "bad") == "grid/lines.csv: column r_ohm: bad"
    assert w.message(None, "file is empty") == "grid/lines.csv: file is empty"
    assert Where("demand aggregation", tag="").message("max_ods", "x") == (
        "demand aggregation: max_ods: x"
    )


def test_fail_raises_the_error_class_it_carries():
    w = Where("grid/lines.csv", TableError)
    with pytest.raises(TableError) as exc:
        w.fail("r_ohm", "line 'L2' value -1 must be non-negative")
    assert type(exc.value) is TableError
    assert str(exc.value) == "grid/lines.csv: column r_ohm: line 'L2' value -1 must be non-negative"
    err = w.error_for(None, "no rows")
    assert type(err) is TableError and str(err) == "grid/lines.csv: no rows"


def test_collect_mode_appends_every_problem_and_goes_on():
    found: list[str] = []
    w = Where("grid/lines.csv", TableError, found)
    df = _lines()
    assert w.range(df, "r_ohm", df["r_ohm"] >= 0, "must be non-negative", "line") is False
    assert w.ref(df, "to_bus", {"B1", "B2"}, "bus", "line") is False
    assert w.missing_columns(df, ["line", "x_ohm", "y"], "missing column") is False
    w.report("grid/lines.csv: raw text")
    assert found == [
        "grid/lines.csv: column r_ohm: line 'L2' value -1 must be non-negative",
        "grid/lines.csv: column to_bus: line 'L2' refers to unknown bus 'B9'",
        "grid/lines.csv: column x_ohm: missing column",
        "grid/lines.csv: raw text",
    ]
    assert w.range(df, "t", df["t"] >= 0, "is negative") is True
    assert len(found) == 4


def test_the_first_bad_row_is_reported():
    df = _lines()
    w = Where("grid/lines.csv", TableError, key="line")
    with pytest.raises(TableError, match=r"^grid/lines.csv: column r_ohm: line 'L2' value -1 "):
        w.range(df, "r_ohm", df["r_ohm"].to_numpy() >= 0, "must be non-negative")
    with pytest.raises(TableError) as exc:
        w.check("t", df["t"] > 1, lambda i: f"row {i} is late")
    assert str(exc.value) == "grid/lines.csv: column t: row 2 is late"


def test_unique_names_the_repeated_values_on_the_first_column():
    df = pd.DataFrame({"bus": ["B1", "B2", "B1", "B2"], "t": [0, 0, 0, 0]})
    with pytest.raises(TableError) as exc:
        Where("grid/loads.csv", TableError).unique(df, ["bus", "t"])
    assert str(exc.value) == "grid/loads.csv: column bus: duplicate entry bus='B1', t=0"


def test_label_plain_and_without_key():
    df = _lines()
    w = Where("f.csv", TableError, key="line")
    assert w.label(df, 2) == "line 'L3'"
    assert w.label(df, 2, "to_bus") == "to_bus 'B2'"
    assert w.label(df, 1, show=bare) == "line 'L2'"
    assert Where("f.csv").label(df, 3) == "row 5"
    assert w.label(df.drop(columns=["line"]), 0) == "row 2"


def test_label_of_a_csv_cell_gives_step_and_file_line():
    df = _lines()
    w = Where("f.csv", TableError)
    assert w.label(df, 1, "line", col="r_ohm", line=True) == "line 'L2' t=1 (line 3)"
    assert w.label(df, 1, "line", col="line", line=True) == "t=1 (line 3)"
    assert w.label(df, 1, "line", col="t", line=True) == "line 'L2' (line 3)"
    assert w.label(df[["r_ohm"]], 0, None, line=True) == "(line 2)"


def test_range_with_a_name_function():
    df = _lines()
    w = Where("grid/uncertainty.csv", TableError)
    with pytest.raises(TableError) as exc:
        w.range(df, "r_ohm", df["r_ohm"] >= 0, "rule", name=lambda i: f"thing {i}")
    assert str(exc.value) == "grid/uncertainty.csv: column r_ohm: thing 1 value -1 rule"
