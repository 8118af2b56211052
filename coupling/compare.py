"""Routing and charging shifts between two runs of the same case (``evtp compare``).

* Routing shift, per OD: the share of departures on each path in A and B and the vehicles
  moved between paths, ``moved = 1/2 sum_paths |veh_B - veh_A|`` (vehicles that changed path
  when the totals are equal).
* Charging shift, per station (tariff/traffic runs) or per bus (fleet runs): energy (kWh) in A
  and B (to 4 decimals) and the energy-weighted mean charging time (h from the horizon start;
  empty where that energy shows as 0, i.e. < 0.5e-4 kWh: solver noise at a station that does
  not charge has no meaningful time); overall, the share of A's charging energy in congested
  hours that B moved out of them. Congested hours:
  the steps in which any line of either run is loaded to 99.9 % of its limit or more.
* Grid effect: max line loading, min voltage and congested line-hours in A and B (runs with
  grid results; traffic-only runs compare routing and charging only).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from cases.atomic import atomic_folder
from coupling.clean import clean_table
from coupling.runread import DAMAGED, RunFolderError, read_run

CONGESTED = 0.999  # loading at which a line-step counts as congested
ENERGY_DECIMALS = 4  # kWh decimals of the charging table; below its last digit: no charging


class CompareError(ValueError):
    """The two runs cannot be compared; the message says what differs."""


@dataclass
class Comparison:
    """Tables of a comparison and its text rendering."""

    routing: pd.DataFrame
    charging: pd.DataFrame
    grid: pd.DataFrame
    scalars: dict[str, float] = field(default_factory=dict)

    def text(self) -> str:
        out = []
        if len(self.routing):
            out += ["Routing shift (per OD and path)", self.routing.to_string(index=False), ""]
        if len(self.charging):
            out += ["Charging shift", self.charging.to_string(index=False), ""]
        if len(self.grid):
            out += ["Grid effect", self.grid.to_string(index=False), ""]
        out += [f"{k}: {v:.4g}" for k, v in self.scalars.items()]
        return "\n".join(out)


def _load(run: Path) -> tuple[dict, dict[str, pd.DataFrame]]:
    """Summary and tables of a run folder, validated (``coupling.runread``)."""
    summary, tables = read_run(run, ("case", "steps", "dt_h"))
    for key in ("steps", "dt_h"):
        v = summary[key]
        if isinstance(v, bool) or not isinstance(v, int | float) or not np.isfinite(v) or v <= 0:
            raise RunFolderError(
                f"{Path(run) / 'summary.json'}: {key} is {v!r}, not a positive number; {DAMAGED}"
            )
    return summary, tables


def compare_runs(run_a: str | Path, run_b: str | Path) -> Comparison:
    """Compare two run folders of the same case (see module docstring)."""
    sa, ta = _load(Path(run_a))
    sb, tb = _load(Path(run_b))
    if sa.get("case") != sb.get("case"):
        raise CompareError(f"runs of different cases: {sa.get('case')!r} vs {sb.get('case')!r}")
    if ("lines" in ta) != ("lines" in tb):
        raise CompareError("one run has grid results (lines table) and the other has not")
    for run, tables in ((run_a, ta), (run_b, tb)):
        if "lines" in tables and "buses" not in tables:
            raise RunFolderError(f"{Path(run) / 'buses.csv'}: missing beside lines.csv; {DAMAGED}")
    steps_a, steps_b = sa.get("steps"), sb.get("steps")
    if steps_a != steps_b:
        raise CompareError(f"different horizons: {steps_a} vs {steps_b} steps")
    if sa.get("dt_h") != sb.get("dt_h") or sa.get("dt_h") is None:
        raise CompareError(
            f"different or unknown step lengths: {sa.get('dt_h')} vs {sb.get('dt_h')} h"
        )
    dt = float(sa["dt_h"])

    # routing
    routing = pd.DataFrame()
    if "paths" in ta and "paths" in tb:
        va = ta["paths"].groupby(["od", "path", "nodes"]).inflow.sum().rename("vehicles_a")
        vb = tb["paths"].groupby(["od", "path", "nodes"]).inflow.sum().rename("vehicles_b")
        routing = pd.concat([va, vb], axis=1).fillna(0.0).reset_index()
        tot = routing.groupby("od")[["vehicles_a", "vehicles_b"]].transform("sum")
        routing["share_a"] = routing.vehicles_a / tot.vehicles_a.where(tot.vehicles_a > 0)
        routing["share_b"] = routing.vehicles_b / tot.vehicles_b.where(tot.vehicles_b > 0)
        routing = routing.round(6)

    # congested steps (either run): line loading at the limit, else a positive tariff
    la, lb = ta.get("lines"), tb.get("lines")
    if la is not None:
        cong_t = set(la.t[la.loading >= CONGESTED]) | set(lb.t[lb.loading >= CONGESTED])
    else:
        cong_t = set()

    charging = pd.DataFrame()
    scalars: dict[str, float] = {}
    loads = {}
    for tag, tables in (("a", ta), ("b", tb)):
        if "stations" in tables:
            loads[tag] = tables["stations"].rename(columns={"station": "key"})[["key", "t", "p_kw"]]
        elif "fleet" in tables:
            loads[tag] = tables["fleet"].assign(key="fleet")[["key", "t", "p_kw"]]
    if len(loads) == 2:
        rows = []
        for key in sorted(set(loads["a"].key) | set(loads["b"].key)):
            row = {"where": key}
            for tag in ("a", "b"):
                d = loads[tag][loads[tag].key == key]
                e = (d.p_kw.clip(lower=0) * dt).to_numpy()
                total = round(float(e.sum()), ENERGY_DECIMALS)
                row[f"energy_kwh_{tag}"] = total
                row[f"mean_time_h_{tag}"] = (
                    float((e * (d.t.to_numpy() + 0.5) * dt).sum() / e.sum()) if total else np.nan
                )
            rows.append(row)
        charging = pd.DataFrame(rows).round(ENERGY_DECIMALS)
        ea = loads["a"][loads["a"].t.isin(cong_t)].p_kw.clip(lower=0).sum() * dt
        eb = loads["b"][loads["b"].t.isin(cong_t)].p_kw.clip(lower=0).sum() * dt
        scalars["energy_in_congested_hours_kwh_a"] = float(ea)
        scalars["energy_in_congested_hours_kwh_b"] = float(eb)
        scalars["share_moved_out_of_congested_hours"] = float((ea - eb) / ea) if ea > 0 else 0.0
    if len(routing):
        moved = (
            routing.assign(d=(routing.vehicles_b - routing.vehicles_a).abs()).groupby("od").d.sum()
            / 2
        )
        scalars["vehicles_moved_between_paths"] = float(moved.sum())

    if la is None:
        return Comparison(routing, charging, pd.DataFrame(), scalars)
    grid = pd.DataFrame(
        {
            "run": ["A", "B"],
            "max_loading": [la.loading.max(), lb.loading.max()],
            "min_voltage_pu": [ta["buses"].v_pu.min(), tb["buses"].v_pu.min()],
            "congested_line_hours": [
                float((la.loading >= CONGESTED).sum() * dt),
                float((lb.loading >= CONGESTED).sum() * dt),
            ],
        }
    ).round(6)
    return Comparison(routing, charging, grid, scalars)


def write_comparison(cmp: Comparison, out: str | Path) -> Path:
    """CSV tables, scalars as JSON and a bar figure of the charging shift, atomically."""
    from matplotlib.figure import Figure  # drawn by Agg when saved; no pyplot, no backend

    with atomic_folder(out, kind="compare") as tmp:
        for name in ("routing", "charging", "grid"):
            clean_table(getattr(cmp, name)).to_csv(
                tmp / f"{name}.csv", index=False, lineterminator="\n"
            )
        (tmp / "shifts.json").write_text(json.dumps(cmp.scalars, indent=2) + "\n")
        if len(cmp.charging):
            fig = Figure(figsize=(7, 3.5))
            ax = fig.subplots()
            x = np.arange(len(cmp.charging))
            ax.bar(x - 0.2, cmp.charging.energy_kwh_a, 0.4, label="A")
            ax.bar(x + 0.2, cmp.charging.energy_kwh_b, 0.4, label="B")
            ax.set_xticks(x, cmp.charging["where"])
            ax.set_ylabel("charged energy (kWh)")
            ax.legend()
            fig.tight_layout()
            fig.savefig(tmp / "charging_shift.png", dpi=100)
    return Path(out)
