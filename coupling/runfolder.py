"""Run folders: tables, summary.json and figures, written atomically.

Everything is written into a hidden temporary folder beside the target and renamed to the
target at the end, so an interrupted or failed run leaves no partial run folder.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cases.atomic import atomic_folder


@dataclass
class Run:
    """The outputs of one command: named long tables, a summary and figure callbacks."""

    summary: dict[str, Any]
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    figures: dict[str, Any] = field(default_factory=dict)  # name -> callable(path)


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


def write_run(run: Run, out: str | Path, *, overwrite: bool = False) -> Path:
    """Write ``run`` to folder ``out`` atomically; tables as CSV, figures as PNG."""
    out = Path(out)
    if out.exists() and not overwrite:
        raise FileExistsError(f"{out}: run folder exists (choose another --out)")
    with atomic_folder(out) as tmp:
        for name, df in run.tables.items():
            df.to_csv(tmp / f"{name}.csv", index=False, lineterminator="\n", float_format="%.10g")
        if run.figures:
            (tmp / "figures").mkdir()
            for name, draw in run.figures.items():
                draw(tmp / "figures" / f"{name}.png")
        (tmp / "summary.json").write_text(json.dumps(_clean(run.summary), indent=2) + "\n")
    return out
