"""The run summary as a person reads it: grouped sections with units, and one pass/fail line
per limit class, linear and AC.

``KEYS`` is the glossary of every ``summary.json`` key: its section, unit and meaning.
``docs/glossary.md`` is generated from it (``python -m coupling.output.summary_view``) and a
test keeps the two equal. The console (:func:`console_lines`) and the top of
``report.html`` (:func:`summary_html`) show the same grouping. Keys a run writes that are not
in ``KEYS`` are shown under "Other", never dropped.
"""

from __future__ import annotations

import html
import json
import math
from dataclasses import dataclass
from typing import Any

# limit tolerances of the pass/fail lines: the AC check's (issue 12), loading fraction and pu
TOL_LOADING = 1e-3
TOL_V_PU = 1e-3
TOL_DEMAND = 1e-3  # kWh or vehicles short of the EV demand that still counts as served

SECTIONS = (
    "Run",
    "Costs",
    "Traffic and charging",
    "Grid",
    "Tariff loop",
    "AC correction",
    "Robustness (out of sample)",
    "Timing",
    "Output",
)


@dataclass(frozen=True)
class Key:
    """One summary key: its section, unit ("" if dimensionless) and meaning."""

    section: str
    unit: str
    meaning: str


def _k(section: str, unit: str, meaning: str) -> Key:
    return Key(section, unit, meaning)


KEYS: dict[str, Key] = {
    # run
    "case": _k("Run", "", "case name (built-in) or case folder name"),
    "command": _k("Run", "", "the command line that wrote the run"),
    "parameters": _k("Run", "", "the options and case parameters the run used"),
    "steps": _k("Run", "", "number of time steps of the horizon"),
    "dt_h": _k("Run", "h", "length of one time step"),
    "start": _k("Run", "", "clock time of step 0 (the case's [time] start)"),
    "limits": _k(
        "Run", "", "limits the figures draw: voltage band, each station's line and its limit (kW)"
    ),
    "status": _k("Run", "", "solver termination status"),
    "solver_method": _k("Run", "", "solver and method used (e.g. HiGHS ipm, no crossover)"),
    "n_ev": _k("Run", "", "number of EVs of the stationary fleet"),
    "buses": _k("Run", "", "number of feeder buses"),
    "lines": _k("Run", "", "number of feeder lines"),
    "aggregators": _k("Run", "", "number of EV aggregators in the tariff loop"),
    "paths": _k("Run", "", "number of road paths of the traffic assignment"),
    # costs
    "objective": _k("Costs", "currency", "optimal objective value of the command's problem"),
    "travel_cost": _k("Costs", "currency", "EV travel-time cost (value of time x hours)"),
    "charging_cost": _k("Costs", "currency", "EV charging energy cost at the tariffs"),
    "energy_cost": _k("Costs", "currency", "energy cost of the fleet's charging"),
    "centralised_objective": _k(
        "Costs", "currency", "objective of the centralised (DSO + aggregators) problem"
    ),
    "decentralised_objective": _k(
        "Costs", "currency", "objective reached by the DSO-aggregator loop"
    ),
    "arrival_penalty": _k(
        "Costs", "currency", "penalty paid for vehicles that do not arrive (slack, see below)"
    ),
    # traffic and charging
    "vehicles_departed": _k("Traffic and charging", "veh", "vehicles that departed"),
    "vehicles_arrived": _k("Traffic and charging", "veh", "vehicles that arrived"),
    "arrival_shortfall": _k(
        "Traffic and charging", "veh", "vehicles that do not reach their destination in time"
    ),
    "unserved_vehicles_by_od": _k(
        "Traffic and charging", "veh", "vehicles that never departed, per OD pair"
    ),
    "charged_kwh": _k("Traffic and charging", "kWh", "energy charged into the fleet"),
    "discharged_kwh": _k("Traffic and charging", "kWh", "energy fed back by the fleet (V2G)"),
    "unserved_kwh": _k(
        "Traffic and charging", "kWh", "EV departure energy targets that are not met"
    ),
    "max_station_load_gap_kw": _k(
        "Traffic and charging",
        "kW",
        "largest gap between the DSO's and the aggregators' station loads",
    ),
    # grid
    "max_line_loading": _k("Grid", "fraction", "largest line loading, linear model"),
    "max_line_loading_ac": _k("Grid", "fraction", "largest line loading, AC power flow"),
    "min_voltage_pu": _k("Grid", "pu", "lowest bus voltage, linear model"),
    "max_voltage_pu": _k("Grid", "pu", "highest bus voltage, linear model"),
    "min_voltage_ac_pu": _k("Grid", "pu", "lowest bus voltage, AC power flow"),
    "max_voltage_ac_pu": _k("Grid", "pu", "highest bus voltage, AC power flow"),
    "v_band_pu": _k("Grid", "pu", "voltage band [lowest v_min, highest v_max] of the buses"),
    "voltage_excess_pu": _k(
        "Grid", "pu", "largest voltage outside a bus's band, linear model (0: none)"
    ),
    "voltage_excess_ac_pu": _k(
        "Grid", "pu", "largest voltage outside a bus's band, AC power flow (0: none)"
    ),
    "max_voltage_error_pu": _k("Grid", "pu", "largest |V_linear - V_AC| over buses and steps"),
    "grid_model": _k("Grid", "", "lindistflow (linear, lossless) or distflow (SOC relaxation)"),
    "relaxation_gap_max": _k(
        "Grid", "", "DistFlow: largest gap (v l - P^2 - Q^2) / S_rating^2 of the cone"
    ),
    "relaxation_gap_at": _k("Grid", "", "DistFlow: line and step of that gap"),
    "relaxation_tight": _k("Grid", "", "DistFlow: the relaxation is exact (gap <= tolerance)"),
    "relaxation_tol": _k("Grid", "", "DistFlow: gap below which the relaxation counts as exact"),
    "dlmp_residual": _k(
        "Grid", "currency/kWh", "DistFlow: largest |dlmp - (energy + loss + congestion + voltage)|"
    ),
    # tariff loop
    "iterations": _k("Tariff loop", "", "DSO-aggregator iterations"),
    "converged": _k("Tariff loop", "", "the loop met its tolerance with no limit exceeded"),
    "limit_excess": _k(
        "Tariff loop", "", "the limit the aggregators' summed loads exceed, and by how much"
    ),
    "ac_loop_corrections": _k(
        "Tariff loop", "", "times the loop's acceptance test was corrected by the AC check"
    ),
    # AC correction
    "ac_correction": _k("AC correction", "", "the loss-aware AC correction loop was on"),
    "ac_resolves": _k("AC correction", "", "re-solves of the AC correction loop"),
    "ac_feasible": _k(
        "AC correction", "", "the final schedule keeps every limit in the AC power flow"
    ),
    "ac_correction_iterations": _k(
        "AC correction", "", "AC figures of each re-solve (also in ac_correction.csv)"
    ),
    # robustness
    "oos_samples": _k(
        "Robustness (out of sample)", "", "forecast-error draws from the run's uncertainty set"
    ),
    "oos_violation_rate": _k(
        "Robustness (out of sample)", "fraction", "share of those draws exceeding a limit"
    ),
    "oos_worst_flow_excess_kw": _k(
        "Robustness (out of sample)", "kW", "largest line flow excess over those draws"
    ),
    "oos_worst_voltage_excess_pu": _k(
        "Robustness (out of sample)", "pu", "largest voltage excess over those draws"
    ),
    "oos_box_samples": _k(
        "Robustness (out of sample)", "", "draws from the full box (every error at once)"
    ),
    "oos_box_violation_rate": _k(
        "Robustness (out of sample)", "fraction", "share of box draws exceeding a limit"
    ),
    "oos_box_worst_flow_excess_kw": _k(
        "Robustness (out of sample)", "kW", "largest line flow excess over the box draws"
    ),
    "oos_box_worst_voltage_excess_pu": _k(
        "Robustness (out of sample)", "pu", "largest voltage excess over the box draws"
    ),
    "oos_ac_samples": _k(
        "Robustness (out of sample)", "", "draws (of the run's set) also run through the AC flow"
    ),
    "oos_ac_violation_rate": _k(
        "Robustness (out of sample)", "fraction", "share of those draws exceeding a limit in AC"
    ),
    "oos_ac_worst_loading_excess": _k(
        "Robustness (out of sample)", "fraction", "largest AC loading above 1 over those draws"
    ),
    "oos_ac_worst_voltage_excess_pu": _k(
        "Robustness (out of sample)", "pu", "largest AC voltage excess over those draws"
    ),
    "oos_box_ac_samples": _k(
        "Robustness (out of sample)", "", "box draws also run through the AC flow"
    ),
    "oos_box_ac_violation_rate": _k(
        "Robustness (out of sample)", "fraction", "share of those box draws exceeding a limit in AC"
    ),
    "oos_box_ac_worst_loading_excess": _k(
        "Robustness (out of sample)", "fraction", "largest AC loading above 1 over the box draws"
    ),
    "oos_box_ac_worst_voltage_excess_pu": _k(
        "Robustness (out of sample)", "pu", "largest AC voltage excess over the box draws"
    ),
    "oos_tol_kw": _k(
        "Robustness (out of sample)", "kW", "flow excess below which a draw counts as kept"
    ),
    # timing
    "build_s": _k("Timing", "s", "model build"),
    "handover_s": _k("Timing", "s", "hand-over of the model to the solver"),
    "solve_s": _k("Timing", "s", "solver time"),
    "reporting_s": _k("Timing", "s", "reading results back into tables"),
    "ac_check_s": _k("Timing", "s", "AC power flow check"),
    "dso_solve_s": _k("Timing", "s", "the DSO problem's solve (tariff)"),
    "loop_s": _k("Timing", "s", "the DSO-aggregator loop"),
    "timings_s": _k("Timing", "s", "per-iteration wall-clock columns moved out of the tables"),
    # output
    "zero_tol": _k("Output", "", "values with |x| below this are written as 0 (solver noise)"),
}


def _fmt(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value + 0.0:.6g}"  # + 0.0: no "-0"
    if isinstance(value, dict):
        if not value:
            return "none"
        if "text" in value:  # e.g. limit_excess
            return str(value["text"])
        return json.dumps(value)
    if isinstance(value, list):
        if value and all(isinstance(v, int | float) for v in value):
            return "[" + ", ".join(_fmt(v) for v in value) + "]"
        return f"{len(value)} entries"
    return str(value)


def grouped(summary: dict[str, Any]) -> list[tuple[str, list[tuple[str, str, str]]]]:
    """The summary as ``[(section, [(key, value text, unit), ...]), ...]`` in ``SECTIONS``
    order, empty sections left out; unknown keys under "Other"."""
    by: dict[str, list[tuple[str, str, str]]] = {s: [] for s in (*SECTIONS, "Other")}
    for key, value in summary.items():
        meta = KEYS.get(key)
        by[meta.section if meta else "Other"].append((key, _fmt(value), meta.unit if meta else ""))
    return [(s, rows) for s, rows in by.items() if rows]


def limit_checks(summary: dict[str, Any]) -> list[tuple[str, str, bool, str]]:
    """One ``(limit class, model, passed, detail)`` per limit class the run has figures for:
    line loading and bus voltage, linear and AC, within ``TOL_LOADING`` / ``TOL_V_PU``; the
    tariff loop's convergence; EV demand served."""
    out: list[tuple[str, str, bool, str]] = []
    for model, suffix in (("linear", ""), ("AC", "_ac")):
        load = summary.get(f"max_line_loading{suffix}")
        if load is not None:
            out.append(
                ("line loading", model, load <= 1 + TOL_LOADING, f"max {load:.4f} (limit 1)")
            )
        vex = summary.get(f"voltage_excess{suffix}_pu")
        if vex is not None:
            lo = summary.get(f"min_voltage{suffix}_pu")
            hi = summary.get(f"max_voltage{suffix}_pu")
            band = summary.get("v_band_pu") or [None, None]
            detail = f"{lo:.4f} to {hi:.4f} pu" if lo is not None and hi is not None else ""
            if band[0] is not None:
                detail += f" (band {band[0]:.3g} to {band[1]:.3g} pu)"
            out.append(("bus voltage", model, vex <= TOL_V_PU, detail.strip()))
    if "converged" in summary:
        excess = summary.get("limit_excess")
        ok = bool(summary["converged"]) and not excess
        detail = f"after {summary.get('iterations')} iteration(s)"
        if excess:
            detail += f"; {excess.get('text', '')}"
        out.append(("tariff loop", "linear", ok, detail))
    for key, what, unit in (
        ("unserved_kwh", "EV energy targets met", "kWh"),
        ("arrival_shortfall", "EVs arrive in time", "veh"),
    ):
        if summary.get(key) is not None:
            short = float(summary[key])
            out.append((what, "schedule", short <= TOL_DEMAND, f"short by {short:.3g} {unit}"))
    return out


def console_lines(summary: dict[str, Any]) -> list[str]:
    """The grouped summary as console lines: pass/fail first, then the results by section
    (timing and output details are left to summary.json and the report)."""
    lines = ["Limits"]
    for what, model, ok, detail in limit_checks(summary):
        lines.append(f"  {'pass' if ok else 'FAIL'}  {what + ' (' + model + ')':<34} {detail}")
    if len(lines) == 1:
        lines = []
    skip = {"Run", "Timing", "Output", "Other"}
    for section, rows in grouped(summary):
        if section in skip:
            continue
        shown = [
            r
            for r in rows
            if not r[1].endswith(" entries")
            and r[0] != "parameters"
            and summary.get(r[0]) is not None
        ]
        if not shown:
            continue
        lines.append(section)
        for key, text, unit in shown:
            lines.append(f"  {key:<34} {text}{' ' + unit if unit else ''}")
    total = [
        f"{k.removesuffix('_s')} {summary[k]:.2f}"
        for k in ("build_s", "solve_s")
        if isinstance(summary.get(k), float)
    ]
    if total:
        lines.append(f"Timing (s): {', '.join(total)}")
    return lines


def summary_html(summary: dict[str, Any]) -> str:
    """The pass/fail table and the grouped summary (all keys, with units) as HTML."""
    esc = html.escape
    parts = ["<h2>Limits</h2><table class='limits'>"]
    for what, model, ok, detail in limit_checks(summary):
        mark = "<b style='color:#1a7f37'>pass</b>" if ok else "<b style='color:#cf222e'>FAIL</b>"
        parts.append(
            f"<tr><td>{mark}</td><td>{esc(what)}</td><td>{esc(model)}</td>"
            f"<td>{esc(detail)}</td></tr>"
        )
    parts.append("</table>")
    for section, rows in grouped(summary):
        parts.append(f"<h2>{esc(section)}</h2><table>")
        for key, text, unit in rows:
            meaning = KEYS[key].meaning if key in KEYS else ""
            value = esc(text)
            if key in ("parameters", "ac_correction_iterations", "timings_s"):
                value = f"<code>{esc(json.dumps(summary[key]))[:2000]}</code>"
            parts.append(
                f"<tr><th title='{esc(meaning)}'>{esc(key)}</th><td>{value}</td>"
                f"<td>{esc(unit)}</td><td>{esc(meaning)}</td></tr>"
            )
        parts.append("</table>")
    return "\n".join(parts)


def glossary_markdown() -> str:
    """``docs/glossary.md``: every summary key by section, with unit and meaning."""
    out = [
        "# Glossary of `summary.json` keys",
        "",
        "Generated from `coupling/output/summary_view.py`"
        " (`python -m coupling.output.summary_view`); a test",
        "keeps this page equal to the code. Units: currency is the case's currency; fraction is",
        "a share of a limit (line loading 1 = at the limit); pu is per unit of the base voltage.",
        f"Pass/fail lines use the AC check's tolerances: loading {TOL_LOADING:g}, voltage "
        f"{TOL_V_PU:g} pu.",
        "",
    ]
    for section in SECTIONS:
        out += [f"## {section}", "", "| key | unit | meaning |", "|---|---|---|"]
        out += [
            f"| `{k}` | {m.unit} | {m.meaning} |" for k, m in KEYS.items() if m.section == section
        ]
        out.append("")
    return "\n".join(out)


if __name__ == "__main__":  # regenerate docs/glossary.md
    from pathlib import Path

    page = Path(__file__).resolve().parents[2] / "docs" / "glossary.md"
    page.write_text(glossary_markdown())
    print(f"wrote {page}")
