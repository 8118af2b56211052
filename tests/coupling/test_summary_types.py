"""Typed run summaries (coupling/output/summary.py): every key declared once with its type,
unit and meaning; undeclared keys and wrong types refused; summary.json keeps the job's order."""

from __future__ import annotations

import json

import numpy as np
import pytest

from coupling.output.runfolder import Run, write_run
from coupling.output.summary import REGISTRY, RunSummary, SummaryKeyError, columns
from coupling.output.summary_view import KEYS
from coupling.studies.hosting import POINT_COLUMNS
from coupling.studies.sweep import SWEEP_COLUMNS


def test_undeclared_key_and_wrong_type_are_refused():
    s = RunSummary(objective=1.5, case="ieee33")
    with pytest.raises(SummaryKeyError, match="objectve"):
        s["objectve"] = 1.0
    with pytest.raises(SummaryKeyError):
        Run({"no_such_key": 1})  # a job cannot write a key that is not declared
    with pytest.raises(TypeError, match="'steps'"):
        s["steps"] = "24"
    with pytest.raises(TypeError, match="'converged'"):
        s["converged"] = "yes"
    with pytest.raises(TypeError, match="'iterations'"):
        s["iterations"] = True  # a bool is not a count


def test_typed_sections_and_mapping_agree():
    s = RunSummary({"objective": np.float64(2.5), "iterations": np.int64(3)})
    s |= {"converged": np.bool_(True), "max_line_loading_ac": 1}
    assert s.costs.objective == 2.5 and type(s.costs.objective) is float  # numpy -> Python
    assert s.loop.iterations == 3 and type(s.loop.iterations) is int
    assert s.loop.converged is True and s["converged"] is True
    assert s.grid.max_line_loading_ac == 1  # a float key takes an integer
    assert not s.grid.min_voltage_pu and "min_voltage_pu" not in s  # absent, falsy
    assert list(s) == ["objective", "iterations", "converged", "max_line_loading_ac"]
    del s["iterations"]
    assert "iterations" not in s and not s.loop.iterations
    s["start"] = None  # None is a value (JSON null), not an absent key
    assert "start" in s and s.run.start is None


def test_summary_json_keeps_the_job_order(tmp_path):
    run = Run({"case": "x", "objective": 1.0, "converged": False, "steps": 24})
    write_run(run, tmp_path / "r")
    keys = list(json.loads((tmp_path / "r" / "summary.json").read_text()))
    assert keys == ["case", "objective", "converged", "steps", "zero_tol"]
    back, other = RunSummary.read(
        {**json.loads((tmp_path / "r" / "summary.json").read_text()), "key_of_another_version": 1}
    )
    assert back.costs.objective == 1.0 and other == {"key_of_another_version": 1}


def test_every_key_has_a_unit_meaning_and_one_section():
    assert set(KEYS) == set(REGISTRY)
    for k, info in KEYS.items():
        assert info.meaning and info.section, k
    # table columns are read off the fields: the sweep and hosting tables' columns
    assert SWEEP_COLUMNS == columns("sweep") and SWEEP_COLUMNS[0] == "objective"
    assert POINT_COLUMNS == columns("hosting") and POINT_COLUMNS[-1] == "passed"
    assert set(SWEEP_COLUMNS) | set(POINT_COLUMNS) <= set(REGISTRY)


def test_a_summary_with_a_wrong_type_is_a_damaged_folder(tmp_path):
    from coupling.output.runread import RunFolderError, read_summary

    write_run(Run({"case": "x", "objective": 1.0}), tmp_path / "r")
    f = tmp_path / "r" / "summary.json"
    s = json.loads(f.read_text())
    f.write_text(json.dumps({**s, "objective": "1.0"}))
    with pytest.raises(RunFolderError, match="'objective'.*damaged"):
        read_summary(tmp_path / "r")
    f.write_text(json.dumps({**s, "a_key_of_a_later_version": [1]}))
    assert read_summary(tmp_path / "r")["a_key_of_a_later_version"] == [1]
