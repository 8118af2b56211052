"""Hosting capacity of charging strategies (``evtp hosting``), seed 001's Tables 3 and 4.

For each strategy and each EV share of a grid of shares, the strategy runs on a seeded subset
of the case's fleet (:func:`coupling.jobs.strategy.run_strategy`: grid-limited strategies are
AC-corrected, the others only AC-checked) and its schedule is judged in pandapower's AC power
flow: a share **passes** when no line loading exceeds ``1 + TOL_LOADING`` and no bus voltage
leaves its band ``[v_min, v_max]`` by more than ``TOL_V_PU`` at any step (the slack bus, whose
voltage is fixed, is not judged). These are the tolerances with which the AC correction
accepts a schedule (:mod:`power.correction`).

The **hosting capacity** of a strategy is the largest share of the grid up to which every
share passes (seed 001: "lines/transformers are overloaded by the EV penetration around 20 %
for dumb charge"), 0 when the smallest share already fails. Every share is run, also those
above the first failure, so the table shows how far a strategy overshoots (Table 3).

The study folder (kind ``hosting``) holds ``hosting.csv`` (one row per strategy and share:
violations, max AC loading, min AC voltage, served and unserved energy, cost, pass/fail),
``hosting.json`` (criterion, capacity per strategy, wall time) and ``hosting.png``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cases.case import Case, CaseError
from coupling.output.runfolder import Run
from coupling.output.summary import columns
from power.correction import TOL_LOADING, TOL_V_PU
from power.feeder import Feeder

# one row of the point table of a strategy run (hosting.csv, and sweep.csv of strategy sweeps)
# summary keys of a judged strategy run in hosting and strategy-sweep tables (hosting= positions)
POINT_COLUMNS = columns("hosting")


def ac_violations(
    feeder: Feeder,
    tables: dict[str, pd.DataFrame],
    tol_loading: float = TOL_LOADING,
    tol_v_pu: float = TOL_V_PU,
) -> dict[str, Any]:
    """AC judgement of a run's ``lines`` (loading_ac) and ``buses`` (v_pu_ac) tables:
    counts of (line, step) with loading > 1 + ``tol_loading`` and of (bus, step) outside
    ``[v_min - tol_v_pu, v_max + tol_v_pu]`` (slack bus excluded), and ``passed``."""
    lines, buses = tables["lines"], tables["buses"]
    if "loading_ac" not in lines or "v_pu_ac" not in buses:
        raise CaseError("the run has no AC check (columns loading_ac, v_pu_ac)")
    b = feeder.buses.set_index("bus")
    v = buses["v_pu_ac"].to_numpy(float)
    lo = buses["bus"].map(b["v_min_pu"]).to_numpy(float)
    hi = buses["bus"].map(b["v_max_pu"]).to_numpy(float)
    judged = (buses["bus"] != feeder.slack_bus).to_numpy()
    n_line = int((lines["loading_ac"].to_numpy(float) > 1.0 + tol_loading).sum())
    n_volt = int((judged & ((v < lo - tol_v_pu) | (v > hi + tol_v_pu))).sum())
    return {
        "line_violations": n_line,
        "voltage_violations": n_volt,
        "passed": n_line == 0 and n_volt == 0,
    }


def judged_run(
    case: Case,
    strategy: str,
    share: float,
    *,
    seed: int = 0,
    ac_correction: bool = True,
    command: str = "hosting",
) -> Run:
    """:func:`coupling.jobs.strategy.run_strategy` at EV share ``share``, its summary extended
    by the AC judgement (:func:`ac_violations`: line_violations, voltage_violations, passed)."""
    from coupling.jobs.strategy import run_strategy

    run = run_strategy(
        case, strategy, ev_share=share, seed=seed, ac_correction=ac_correction, command=command
    )
    run.summary |= ac_violations(case.feeder, run.tables)
    return run


def point_row(run: Run) -> dict[str, Any]:
    """The point-table row (``POINT_COLUMNS``) of a judged strategy run."""
    return {k: run.summary.get(k) for k in POINT_COLUMNS}


def capacity(shares: Sequence[float], passed: Sequence[bool]) -> float:
    """Largest share up to which every share (ascending) passes; 0.0 when the first fails."""
    best = 0.0
    for s, ok in sorted(zip(shares, passed)):
        if not ok:
            break
        best = s
    return best


@dataclass
class HostingStudy:
    """``table``: one row per strategy and share; ``capacity``: hosting capacity (EV share)
    per strategy; ``wall_s``: wall time of the runs (s)."""

    table: pd.DataFrame
    capacity: dict[str, float]
    wall_s: float = 0.0
    info: dict[str, Any] = field(default_factory=dict)


def check_shares(shares: Sequence[float]) -> list[float]:
    """The distinct shares, ascending; CaseError naming the first outside (0, 1]."""
    bad = next((s for s in shares if not 0.0 < s <= 1.0), None)
    if bad is not None:
        raise CaseError(f"--shares: EV share {bad:g} is outside (0, 1] (give shares in (0, 1])")
    return sorted(set(shares))


def hosting_study(
    case: Case,
    strategies: Sequence[str],
    shares: Sequence[float],
    *,
    seed: int = 0,
    ac_correction: bool = True,
    progress: Callable[[str], None] | None = None,
) -> HostingStudy:
    """Run every strategy at every share (serially) and judge each schedule in AC."""
    from coupling.jobs.strategy import STRATEGIES

    if case.fleet is None:
        raise CaseError(f"case {case.name!r} has no stationary fleet (fleet/evs.csv)")
    unknown = [s for s in strategies if s not in STRATEGIES]
    if unknown:
        raise CaseError(f"--strategy {unknown[0]}: unknown ({', '.join(STRATEGIES)})")
    shares = check_shares(shares)
    say = progress or (lambda _: None)
    rows = []
    t0 = time.perf_counter()
    strategies = list(dict.fromkeys(strategies))
    n = len(strategies) * len(shares)
    for strategy in strategies:
        for share in shares:
            run = judged_run(case, strategy, share, seed=seed, ac_correction=ac_correction)
            row = {"strategy": strategy, "ev_share": share} | point_row(run)
            rows.append(row)
            say(
                f"[{len(rows)}/{n}] {strategy} ev_share={share:g}: "
                f"loading {row['max_line_loading_ac']:.3f}, "
                f"v_min {row['min_voltage_ac_pu']:.4f} pu, {'pass' if row['passed'] else 'FAIL'}"
            )
    table = pd.DataFrame(rows)
    cap = {
        s: capacity(g.ev_share.tolist(), g.passed.tolist())
        for s, g in table.groupby("strategy", sort=False)
    }
    info = {
        "case": case.name,
        "strategies": list(cap),
        "shares": shares,
        "seed": seed,
        "ac_correction": ac_correction,
        "criterion": {
            "max_line_loading_ac": 1.0 + TOL_LOADING,
            "voltage_band_tolerance_pu": TOL_V_PU,
            "text": (
                f"every AC line loading <= 1 + {TOL_LOADING:g} and every AC bus voltage within "
                f"[v_min - {TOL_V_PU:g}, v_max + {TOL_V_PU:g}] pu at every step (slack excluded)"
            ),
        },
        "hosting_capacity": cap,
    }
    return HostingStudy(table, cap, time.perf_counter() - t0, info)


def hosting_figure(study: HostingStudy, feeder: Feeder) -> Any:
    """Max AC loading and min AC voltage against the EV share, one line per strategy (failed
    shares hollow), with the limits drawn: a matplotlib Figure."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 4))
    ax_l, ax_v = fig.subplots(1, 2)
    for s, g in study.table.groupby("strategy", sort=False):
        x = g.ev_share.to_numpy(float)
        ok = g.passed.to_numpy(bool)
        for ax, col in ((ax_l, "max_line_loading_ac"), (ax_v, "min_voltage_ac_pu")):
            y = g[col].to_numpy(float)
            (ln,) = ax.plot(x, y, "-", label=f"{s} (capacity {study.capacity[s]:g})")
            ax.plot(x[ok], y[ok], "o", color=ln.get_color())
            ax.plot(x[~ok], y[~ok], "o", mfc="none", color=ln.get_color())
    ax_l.axhline(1.0, color="red", ls="--", lw=1, label="line limit")
    v_min = float(np.min(feeder.buses["v_min_pu"]))
    ax_v.axhline(v_min, color="red", ls="--", lw=1, label=f"v_min {v_min:g} pu")
    ax_l.set(xlabel="EV share", ylabel="max line loading, AC (fraction)", title="Loading")
    ax_v.set(xlabel="EV share", ylabel="min voltage, AC (pu)", title="Voltage")
    ax_l.legend(fontsize=8)
    ax_v.legend(fontsize=8)
    fig.suptitle("Hosting capacity (filled: passes the AC check, hollow: fails)")
    fig.tight_layout()
    return fig


def write_hosting(study: HostingStudy, feeder: Feeder, out: str | Path) -> Path:
    """Write the study folder ``out`` atomically (hosting.csv, hosting.json, hosting.png)."""
    from cases.atomic import atomic_folder
    from coupling.output.clean import clean_table

    out = Path(out)
    with atomic_folder(out, kind="hosting") as tmp:
        clean_table(study.table, keep=("ev_share",)).to_csv(
            tmp / "hosting.csv", index=False, lineterminator="\n", float_format="%.10g"
        )
        info = study.info | {"wall_s": study.wall_s}
        (tmp / "hosting.json").write_text(json.dumps(info, indent=2, default=float) + "\n")
        hosting_figure(study, feeder).savefig(tmp / "hosting.png", dpi=90)
    return out
