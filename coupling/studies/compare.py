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
* Over time (the tables behind ``compare.html``, :mod:`coupling.studies.compare_page`): the tariff
  difference B - A per station (or bus) and step (``tariff_shift``), the charging energy per
  station and step (``energy_shift``, kWh), the departures per OD, path and step
  (``routing_shift``), and the costs and out-of-sample results of both summaries (``costs``).
  Each carries a ``clock`` column (HH:MM) when the runs record their start time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from cases.atomic import atomic_folder
from coupling.output.clean import clean_table, zero_small
from coupling.output.figures import Clock, clock_of
from coupling.output.runread import DAMAGED, RunFolderError, read_run
from coupling.output.summary import columns

CONGESTED = 0.999  # loading at which a line-step counts as congested
ENERGY_DECIMALS = 4  # kWh decimals of the charging table; below its last digit: no charging
TARIFF_DECIMALS = 8  # currency/kWh decimals of the tariff shift table
# summary keys compared side by side (costs, grid, out-of-sample), in this order
SUMMARY_KEYS = columns("compare")  # the compare= positions of the typed summary


class CompareError(ValueError):
    """The two runs cannot be compared; the message says what differs."""


@dataclass
class Comparison:
    """Tables of a comparison and its text rendering."""

    routing: pd.DataFrame
    charging: pd.DataFrame
    grid: pd.DataFrame
    scalars: dict[str, float] = field(default_factory=dict)
    tariff_shift: pd.DataFrame = field(default_factory=pd.DataFrame)
    energy_shift: pd.DataFrame = field(default_factory=pd.DataFrame)
    routing_shift: pd.DataFrame = field(default_factory=pd.DataFrame)
    costs: pd.DataFrame = field(default_factory=pd.DataFrame)
    runs: dict[str, dict] = field(default_factory=dict)  # "a"/"b" -> path, summary, tables
    clock: Clock | None = None

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
    """Summary and tables of a run folder, validated (``coupling.output.runread``)."""
    summary, tables = read_run(run, ("case", "steps", "dt_h"))
    for key in ("steps", "dt_h"):
        v = summary[key]
        if isinstance(v, bool) or not isinstance(v, int | float) or not np.isfinite(v) or v <= 0:
            raise RunFolderError(
                f"{Path(run) / 'summary.json'}: {key} is {v!r}, not a positive number; {DAMAGED}"
            )
    return summary, tables


def _with_clock(df: pd.DataFrame, clock: Clock | None) -> pd.DataFrame:
    """``df`` with a ``clock`` column (HH:MM of each step's start) after ``t``."""
    if clock is None or not len(df):
        return df
    out = df.copy()
    out.insert(out.columns.get_loc("t") + 1, "clock", [clock.label(t) for t in out.t])
    return out


def _over_time(
    a: pd.DataFrame | None, b: pd.DataFrame | None, keys: list[str], value: str, name: str
) -> pd.DataFrame:
    """``keys`` x t of ``value`` in A and B (missing rows 0) and their difference B - A."""
    if a is None or b is None:
        return pd.DataFrame()
    va = a.groupby(keys + ["t"])[value].sum().rename(f"{name}_a")
    vb = b.groupby(keys + ["t"])[value].sum().rename(f"{name}_b")
    out = pd.concat([va, vb], axis=1).fillna(0.0).sort_index().reset_index()
    for col in (f"{name}_a", f"{name}_b"):
        out[col] = zero_small(out[col].to_numpy())
    out["diff"] = zero_small((out[f"{name}_b"] - out[f"{name}_a"]).to_numpy())
    return out


def _tariff_shift(ta: dict, tb: dict) -> pd.DataFrame:
    """Network tariff (currency/kWh) of A and B per station (else bus) and step, and B - A."""
    a, b = ta.get("tariffs"), tb.get("tariffs")
    if a is None or b is None:
        return pd.DataFrame()
    key = "station" if "station" in a and "station" in b else "bus"
    col = "tariff_per_kwh"
    if col not in a or col not in b or key not in a or key not in b:
        return pd.DataFrame()
    out = _over_time(a, b, [key], col, "tariff").rename(columns={key: "where"})
    return out.round(TARIFF_DECIMALS)


def _energy_shift(loads: dict[str, pd.DataFrame], dt: float) -> pd.DataFrame:
    """Charging energy (kWh, positive load only) per station/fleet and step in A and B."""
    if len(loads) != 2:
        return pd.DataFrame()
    a, b = (loads[k].assign(e=loads[k].p_kw.clip(lower=0) * dt) for k in ("a", "b"))
    out = _over_time(a, b, ["key"], "e", "energy_kwh").rename(columns={"key": "where"})
    return out.round(ENERGY_DECIMALS)


def _costs(sa: dict, sb: dict) -> pd.DataFrame:
    """The numeric ``SUMMARY_KEYS`` of either summary, side by side, with B - A."""
    rows = []
    for k in SUMMARY_KEYS:
        va, vb = sa.get(k), sb.get(k)
        num = [
            v if isinstance(v, int | float) and not isinstance(v, bool) else None for v in (va, vb)
        ]
        if num[0] is None and num[1] is None:
            continue
        d = num[1] - num[0] if None not in num else None
        rows.append({"quantity": k, "a": num[0], "b": num[1], "b_minus_a": d})
    return pd.DataFrame(rows, columns=["quantity", "a", "b", "b_minus_a"])


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
    clock_a, clock_b = clock_of(sa), clock_of(sb)
    if clock_a and clock_b and clock_a != clock_b:
        raise CompareError(f"different start times: {sa['start']} vs {sb['start']}")
    clock = clock_a or clock_b

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

    extra = {
        "tariff_shift": _with_clock(_tariff_shift(ta, tb), clock),
        "energy_shift": _with_clock(_energy_shift(loads, dt), clock),
        "routing_shift": _with_clock(
            _over_time(
                ta.get("paths"), tb.get("paths"), ["od", "path"], "inflow", "vehicles"
            ).round(6),
            clock,
        ),
        "costs": _costs(sa, sb),
        "runs": {
            "a": {"path": Path(run_a), "summary": sa, "tables": ta},
            "b": {"path": Path(run_b), "summary": sb, "tables": tb},
        },
        "clock": clock,
    }
    if la is None:
        return Comparison(routing, charging, pd.DataFrame(), scalars, **extra)
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
    return Comparison(routing, charging, grid, scalars, **extra)


SHIFT_TABLES = ("tariff_shift", "energy_shift", "routing_shift", "costs")


def write_comparison(cmp: Comparison, out: str | Path) -> Path:
    """CSV tables, scalars as JSON, a bar figure of the charging shift and the page
    ``compare.html`` (:mod:`coupling.studies.compare_page`), atomically."""
    from matplotlib.figure import Figure  # drawn by Agg when saved; no pyplot, no backend

    from coupling.studies.compare_page import comparison_page

    with atomic_folder(out, kind="compare") as tmp:
        (tmp / "compare.html").write_text(comparison_page(cmp), encoding="utf-8")
        for name in ("routing", "charging", "grid", *SHIFT_TABLES):
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
