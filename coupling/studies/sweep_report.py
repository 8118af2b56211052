"""The report of a sweep folder (``evtp report SWEEP_DIR``): the robustness-price curve.

From ``sweep.json`` (the swept parameter and the job) and ``sweep.csv`` (one row per point),
one figure and one table in ``SWEEP_DIR/report.html``:

* **cost against the parameter** — tariff sweeps: the increase of the objective, the
  charging and the travel cost over the first point (currency; the price of robustness when
  gamma is swept, a few currency units on totals of thousands); strategy sweeps: energy cost
  and objective (currency);
* **violations against the parameter** — tariff sweeps: the out-of-sample violation rates
  (share of draws with a line limit exceeded; node-wise and box sets); strategy sweeps: the
  AC limit violations (line-steps over 1 + 1e-3 loading, bus-steps outside the band by
  1e-3 pu, as :mod:`coupling.studies.hosting`);
* **the robustness-price curve** (tariff sweeps with out-of-sample draws) — objective against
  the violation rate of draws anywhere in the full forecast-error box
  (``oos_box_violation_rate``, the exposure a budget below 1 leaves; the in-set rate
  ``oos_violation_rate`` is 0 for every hardened schedule), each point labelled with its
  parameter value.

The page follows the report's output policy (:mod:`coupling.output.report`): an existing
``report.html`` is replaced only with ``force`` and only when evtp wrote it.
"""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from coupling.output.runread import RunFolderError

COSTS = {
    "tariff": ("objective", "charging_cost", "travel_cost"),
    "strategy": ("energy_cost", "objective"),
}
VIOLATIONS = {
    "tariff": ("oos_violation_rate", "oos_box_violation_rate"),
    "strategy": ("line_violations", "voltage_violations"),
}
VIOLATION_LABEL = {
    "tariff": "out-of-sample violation rate (share of draws)",
    "strategy": "AC limit violations (element-steps)",
}


def is_sweep_folder(folder: str | Path) -> bool:
    """True when ``folder`` holds a ``sweep.json`` (an ``evtp sweep`` folder)."""
    return (Path(folder) / "sweep.json").is_file()


def read_sweep(folder: str | Path) -> tuple[dict[str, Any], pd.DataFrame]:
    """``sweep.json`` and ``sweep.csv`` of a sweep folder, checked against each other;
    RunFolderError (one line naming the file) when they cannot be read or disagree."""
    folder = Path(folder)
    js, csv = folder / "sweep.json", folder / "sweep.csv"
    fix = "run evtp sweep again"
    try:
        info = json.loads(js.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RunFolderError(f"{js}: cannot be read ({exc.__class__.__name__}); {fix}") from None
    if not isinstance(info, dict) or not isinstance(info.get("param"), str):
        raise RunFolderError(f"{js}: no 'param' (the swept parameter); {fix}")
    try:
        table = pd.read_csv(csv)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise RunFolderError(f"{csv}: cannot be read ({exc.__class__.__name__}); {fix}") from None
    name = info["param"]
    if name not in table.columns:
        raise RunFolderError(f"{csv}: no column {name!r} (the swept parameter); {fix}")
    x = pd.to_numeric(table[name], errors="coerce").to_numpy(float)
    values = np.sort(np.asarray(info.get("values", []), dtype=float))
    if x.shape != values.shape or not np.allclose(np.sort(x), values, rtol=1e-12, atol=0):
        raise RunFolderError(f"{csv}: its {name} values differ from sweep.json's; {fix}")
    info.setdefault("job", "tariff")
    if info["job"] not in COSTS:
        raise RunFolderError(f"{js}: unknown job {info['job']!r} (tariff or strategy); {fix}")
    return info, table.sort_values(name, ignore_index=True)


def _series(table: pd.DataFrame, cols: tuple[str, ...]) -> list[str]:
    """The columns of ``cols`` present in ``table`` with at least one finite number."""
    out = []
    for c in cols:
        if c in table.columns:
            v = pd.to_numeric(table[c], errors="coerce").to_numpy(float)
            if np.isfinite(v).any():
                out.append(c)
    return out


def _empty(ax: Any, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, wrap=True)
    ax.set_xticks([])
    ax.set_yticks([])


def sweep_figure(info: dict[str, Any], table: pd.DataFrame) -> Any:
    """The figure of the module docstring (a matplotlib Figure): each line's points are the
    sweep table's values (x: the parameter, y: the column named by the line's label)."""
    from matplotlib.figure import Figure

    job, name = info["job"], info["param"]
    costs, viols = _series(table, COSTS[job]), _series(table, VIOLATIONS[job])
    rate = next((c for c in ("oos_box_violation_rate", "oos_violation_rate") if c in viols), None)
    curve = job == "tariff" and "objective" in costs and rate is not None
    relative = job == "tariff"
    fig = Figure(figsize=(15 if curve else 10, 4))
    axes = fig.subplots(1, 3 if curve else 2)
    x = table[name].to_numpy(float)
    ax_c, ax_v = axes[0], axes[1]
    for c in costs:
        y = table[c].to_numpy(float)
        ax_c.plot(x, y - y[0] if relative else y, "o-", label=c)
    if costs:
        ax_c.legend(fontsize=8)
    else:
        _empty(ax_c, "no cost in sweep.csv")
    if relative:
        ylabel = f"increase over {name}={x[0]:g} (currency)"
    else:
        ylabel = "cost (currency)"
    ax_c.set(xlabel=name, ylabel=ylabel, title=f"Cost against {name}")
    for c in viols:
        ax_v.plot(x, table[c].to_numpy(float), "o-", label=c)
    if viols:
        ax_v.legend(fontsize=8)
    else:
        why = "no out-of-sample draws (sweep with --samples > 0)" if job == "tariff" else "none"
        _empty(ax_v, why)
    ax_v.set(xlabel=name, ylabel=VIOLATION_LABEL[job], title=f"Violations against {name}")
    if curve:
        ax = axes[2]
        vr, obj = table[rate].to_numpy(float), table["objective"].to_numpy(float)
        ax.plot(vr, obj, "o-", label="objective")
        for xi, yi, p in zip(vr, obj, x):
            ax.annotate(
                f"{name}={p:g}", (xi, yi), fontsize=7, xytext=(3, 3), textcoords="offset points"
            )
        ax.set(
            xlabel=f"{rate} (share of draws)",
            ylabel="objective (currency)",
            title="Robustness-price curve",
        )
    fig.suptitle(f"Sweep of {info.get('strategy', job)} over {name}")
    fig.tight_layout()
    return fig


def write_sweep_report(folder: str | Path, *, force: bool = False) -> Path:
    """Write ``report.html`` (figure and table) into the sweep folder; return its path."""
    from cases.atomic import OutputError, atomic_file, identity
    from cases.output_policy import check_writable
    from coupling.output.clean import clean_table
    from coupling.output.report import GENERATOR, _check_target

    folder = Path(folder)
    info, table = read_sweep(folder)
    out = folder / "report.html"
    _check_target(out, force)
    check_writable(folder, str(out))
    before = identity(out)
    buf = io.BytesIO()
    sweep_figure(info, table).savefig(buf, format="png", dpi=90)
    png = base64.b64encode(buf.getvalue()).decode("ascii")
    name, job = info["param"], info["job"]
    title = f"evtp sweep of {info.get('strategy', job)} over {name}"
    wall = info.get("wall_s")
    shown = clean_table(table, keep=(name,))
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'>{GENERATOR}",
        f"<title>{html.escape(title)}</title>",
        "<style>body{font-family:sans-serif;max-width:1400px;margin:auto}"
        "td,th{padding:2px 8px;text-align:right}img{max-width:100%}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f"<p>{len(table)} points"
        + (f", {float(wall):.1f} s on the cluster" if isinstance(wall, int | float) else "")
        + ". Each point's run folder is beside this page.</p>",
        f"<img alt='sweep' src='data:image/png;base64,{png}'>",
        "<h2>Points</h2>",
        shown.to_html(index=False, float_format=lambda v: f"{v:.6g}", border=0),
        "</body></html>\n",
    ]
    if identity(out) != before:
        raise OutputError(
            f"{out}: changed while the report was drawn (another evtp report?); not written"
        )
    return atomic_file(out, "\n".join(parts).encode("utf-8"))
