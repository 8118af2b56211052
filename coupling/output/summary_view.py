"""The run summary as a person reads it: grouped sections with units, and one pass/fail line
per limit class, linear and AC.

``KEYS`` is the glossary of every ``summary.json`` key (section, unit, meaning), read off the
typed summary's fields (:mod:`coupling.output.summary`).
``docs/glossary.md`` is generated from it (``python -m coupling.output.summary_view``) and a
test keeps the two equal. The console (:func:`console_lines`) and the top of
``report.html`` (:func:`summary_html`) show the same grouping. Keys a run writes that are not
in ``KEYS`` are shown under "Other", never dropped.
"""

from __future__ import annotations

import html
import json
import math
from typing import Any

from coupling.output.summary import REGISTRY, SECTION_TYPES, KeyInfo

# limit tolerances of the pass/fail lines: the AC check's (issue 12), loading fraction and pu
TOL_LOADING = 1e-3
TOL_V_PU = 1e-3
TOL_DEMAND = 1e-3  # kWh or vehicles short of the EV demand that still counts as served

SECTIONS: tuple[str, ...] = tuple(cls.SECTION for cls in SECTION_TYPES)
# key -> (section, unit, meaning, ...): the typed summary's fields (coupling/output/summary.py)
KEYS: dict[str, KeyInfo] = {k: info for k, (_, info) in REGISTRY.items()}


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
    tariff loop's convergence, and whether the schedule it accepted keeps the limits in AC
    (``loop_ac_feasible``: false when accepted at the cap of AC corrections); EV demand
    served."""
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
    if summary.get("loop_ac_feasible") is not None:
        ok = bool(summary["loop_ac_feasible"])
        excess = summary.get("loop_ac_excess") or {}
        n = summary.get("ac_loop_corrections")
        detail = f"after {n} AC correction(s)" if n is not None else ""
        if not ok:
            detail = f"accepted at the cap of {n} AC correction(s): {excess.get('text', '')}"
        out.append(("tariff loop", "AC", ok, detail))
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
