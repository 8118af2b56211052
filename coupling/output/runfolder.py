"""Run folders: tables, summary.json and figures, written atomically.

Everything is written into a hidden temporary folder beside the target and renamed to the
target at the end, so an interrupted or failed run leaves no partial run folder (see
:mod:`cases.atomic`, which also marks the folder as an evtp run folder).

Tables hold results only, so identical inputs give byte-identical tables: wall-clock columns
(``TIMING_COLUMNS``, seconds) are moved from the tables into ``summary.json`` under
``timings_s``, e.g. ``timings_s["loop"]["eva_s"]`` lists the aggregator time per iteration.

Float values with ``|x| < ZERO_TOL`` (solver round-off, see
:mod:`coupling.output.clean`) are written
as 0 in every table and the tolerance is stated in ``summary.json`` under ``zero_tol``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cases.atomic import atomic_folder
from coupling.output.clean import ZERO_TOL, clean_table
from coupling.output.summary import RunSummary

# wall-clock columns (s) of tables (the loop's per-iteration times, the AC correction's per
# re-solve times): kept out of the CSVs
TIMING_COLUMNS = ("eva_s", "wall_s", "build_s", "solve_s")


@dataclass
class Run:
    """The outputs of one command: named long tables and a typed summary (a mapping given here
    is checked key by key, :class:`coupling.output.summary.RunSummary`). Figures are drawn
    from them when the run is written (:func:`write_run`)."""

    summary: RunSummary
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.summary, RunSummary):
            self.summary = RunSummary(self.summary)


def _clean(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _clean(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_clean(v) for v in x]
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def split_timings(
    tables: dict[str, pd.DataFrame],
) -> tuple[dict[str, pd.DataFrame], dict[str, dict[str, list[float]]]]:
    """``tables`` without their wall-clock columns, and those columns as lists per table."""
    kept: dict[str, pd.DataFrame] = {}
    timings: dict[str, dict[str, list[float]]] = {}
    for name, df in tables.items():
        cols = [c for c in TIMING_COLUMNS if c in df.columns]
        kept[name] = df.drop(columns=cols) if cols else df
        if cols:
            timings[name] = {c: [float(v) for v in df[c]] for c in cols}
    return kept, timings


def write_run(
    run: Run,
    out: str | Path,
    *,
    overwrite: bool = False,
    figures: Mapping[str, Callable[[Path], Any]] | None = None,
) -> Path:
    """Write ``run`` to folder ``out`` atomically: tables as CSV, the summary as JSON and
    ``figures`` (name -> draw(path)) as ``figures/<name>.png``.

    An existing ``out`` is refused unless ``overwrite``, and even then replaced only when it
    is an evtp run folder (:func:`cases.atomic.atomic_folder`)."""
    out = Path(out)
    if out.exists() and not overwrite:
        raise FileExistsError(f"{out}: run folder exists (choose another --out)")
    tables, timings = split_timings(run.tables)
    summary = RunSummary(run.summary)
    summary["zero_tol"] = ZERO_TOL
    if timings:
        summary["timings_s"] = {**summary.get("timings_s", {}), **timings}
    with atomic_folder(out, kind="run") as tmp:
        for name, df in tables.items():
            clean_table(df).to_csv(
                tmp / f"{name}.csv", index=False, lineterminator="\n", float_format="%.10g"
            )
        if figures:
            (tmp / "figures").mkdir()
            for name, draw in figures.items():
                draw(tmp / "figures" / f"{name}.png")
        (tmp / "summary.json").write_text(json.dumps(_clean(summary.to_json()), indent=2) + "\n")
    return out
