"""The comparison page ``compare.html`` of ``evtp compare A B --out DIR``: self-contained HTML
(figures as inline base64 PNGs, no scripts, no network loads) beside the comparison's tables.

Sections: what changed in words (:func:`sentences`), tariff difference B - A per station and
hour, station load against its line limit in both runs, routing shift per OD and path over
time, charging energy moved between stations and hours, and costs and out-of-sample results
side by side. A section whose data the runs do not hold says so. Every number in the
sentences is read from the comparison's tables (``tariff_shift``, ``energy_shift``,
``routing``, ``grid``, ``costs``), as written beside the page.
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from coupling.output.figures import (
    LIMIT_STYLE,
    Clock,
    _heat,
    _plain_colorbar,
    _subplots,
    heat_height,
    time_axis,
)

if TYPE_CHECKING:
    from coupling.studies.compare import Comparison

GENERATOR = "<meta name='generator' content='evtp compare'>"
TARIFF_EPS = 1e-6  # currency/kWh: tariff differences below this count as equal
ENERGY_EPS = 0.05  # kWh: energy differences below this (half the 0.1 kWh shown) count as none
SIGNIFICANT = 0.1  # tariff differences listed: above this fraction of the largest one
MAX_LISTED = 6  # most stations named in a sentence
MAX_OD_PANELS = 6  # routing panels: the ODs with most vehicles moved
MAX_STATION_PANELS = 12
COST_KEYS = ("travel_cost", "charging_cost", "energy_cost")


def _names(items: list[str]) -> str:
    """``F1``, ``F1 and F2``, ``F1, F2 and F3``, ``F1, ..., F6 and 3 more``."""
    items = [str(i) for i in items]
    if len(items) > MAX_LISTED:
        return ", ".join(items[:MAX_LISTED]) + f" and {len(items) - MAX_LISTED} more"
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _when(t: float, clock: Clock | None) -> str:
    """Clock time of the start of step ``t`` (``t`` may be one past the last step), or step."""
    return clock.label(t) if clock is not None else f"step {int(t)}"


def _at(where: str) -> str:
    """``"at F1 "`` for a station; nothing for the fleet as a whole (fleet runs)."""
    return "" if where == "fleet" else f"at {where} "


def _g(x: float) -> str:
    """Four significant digits, no exponent for ordinary sizes."""
    return f"{x:.4g}"


def tariff_threshold(shift: pd.DataFrame) -> float:
    """Differences counted in the tariff sentences: above a tenth of the largest |B - A| and
    above ``TARIFF_EPS`` (currency/kWh); loss-price ripples elsewhere are not listed."""
    return max(TARIFF_EPS, SIGNIFICANT * float(shift["diff"].abs().max()))


def tariff_sentences(shift: pd.DataFrame, clock: Clock | None) -> list[str]:
    """Where and when B's tariffs are above (below) A's, and by how much at most."""
    if not len(shift):
        return []
    out = []
    eps = tariff_threshold(shift)
    for sign, word in ((1, "higher"), (-1, "lower")):
        d = shift[sign * shift["diff"] > eps]
        if not len(d):
            continue
        top = d.loc[(sign * d["diff"]).idxmax()]
        where = _names(sorted(d["where"].astype(str).unique()))
        out.append(
            f"B's tariffs are {word} than A's at {where} between {_when(d.t.min(), clock)} and "
            f"{_when(d.t.max() + 1, clock)}, by up to {_g(abs(top['diff']))} currency/kWh "
            f"({top['where']} at {_when(top.t, clock)})."
        )
    if out:
        out.append(
            f"Elsewhere the tariffs differ by at most {_g(eps)} currency/kWh (a tenth of the "
            "largest difference)."
        )
    else:
        out.append(
            f"The tariffs of A and B agree within {TARIFF_EPS:g} currency/kWh at every "
            "station and step."
        )
    return out


def energy_sentences(shift: pd.DataFrame, clock: Clock | None) -> list[str]:
    """Charging energy moved between stations (totals) and between station-hours."""
    if not len(shift):
        return []
    per = shift.groupby("where")["diff"].sum()
    fleet = list(per.index) == ["fleet"]
    down, up = per[per < -ENERGY_EPS], per[per > ENERGY_EPS]
    parts = []
    if len(down):
        parts.append(f"{-down.sum():.1f} kWh less at {_names(list(down.index))}")
    if len(up):
        parts.append(f"{up.sum():.1f} kWh more at {_names(list(up.index))}")
    out = []
    if parts:
        out.append(f"B charges {' and '.join(parts)} than A.")
        if len(down) and len(up):
            out.append(
                f"{min(-down.sum(), up.sum()):.1f} kWh moved from {_names(list(down.index))} "
                f"to {_names(list(up.index))}."
            )
    else:
        who = "The fleet charges" if fleet else "Every station charges"
        out.append(f"{who} the same energy in A and B (within {ENERGY_EPS} kWh).")
    moved = shift["diff"].abs().sum() / 2
    span, place = ("Over the steps", "") if fleet else ("Over stations and steps", "station or ")
    if moved > ENERGY_EPS:
        lo, hi = shift.loc[shift["diff"].idxmin()], shift.loc[shift["diff"].idxmax()]
        out.append(
            f"{span}, {moved:.1f} kWh are charged at another {place}time "
            f"(half the sum of |B - A|); the largest fall is {_at(lo['where'])}at "
            f"{_when(lo.t, clock)} ({lo['diff']:.1f} kWh), the largest rise {_at(hi['where'])}"
            f"at {_when(hi.t, clock)} (+{hi['diff']:.1f} kWh)."
        )
    return out


def routing_sentences(routing: pd.DataFrame, over_time: pd.DataFrame) -> list[str]:
    """Vehicles that changed path (totals per OD) and departures that changed path or step."""
    if not len(routing):
        return []
    moved = (routing.vehicles_b - routing.vehicles_a).abs().groupby(routing.od).sum() / 2
    out = (
        [
            f"{moved.sum():.1f} vehicles changed path (per OD, half the sum of |B - A| of the "
            f"path totals), most on OD {moved.idxmax()} ({moved.max():.1f})."
        ]
        if moved.sum() >= 0.05
        else ["No vehicle changed path between A and B (path totals per OD)."]
    )
    if len(over_time):
        shifted = over_time["diff"].abs().groupby(over_time.od).sum() / 2
        if shifted.sum() >= 0.05:
            out.append(
                f"{shifted.sum():.1f} departures changed path or departure time (half the sum "
                f"of |B - A| over paths and steps), most on OD {shifted.idxmax()} "
                f"({shifted.max():.1f})."
            )
    return out


def grid_sentences(grid: pd.DataFrame, costs: pd.DataFrame) -> list[str]:
    """Congested line-hours, highest loading, objective and out-of-sample violation rate."""
    out = []
    if len(grid):
        g = grid.set_index("run")
        out.append(
            "Congested line-hours (loading at least 99.9 %): "
            f"A {g.loc['A', 'congested_line_hours']:.1f} h, "
            f"B {g.loc['B', 'congested_line_hours']:.1f} h; highest line loading A "
            f"{g.loc['A', 'max_loading']:.3f}, B {g.loc['B', 'max_loading']:.3f}."
        )
    c = costs.set_index("quantity") if len(costs) else pd.DataFrame()
    if "objective" in c.index and c.loc["objective"][["a", "b"]].notna().all():
        a, b = float(c.loc["objective", "a"]), float(c.loc["objective", "b"])
        rel = f" ({(b - a) / abs(a) * 100:+.2f} %)" if a else ""
        out.append(f"Objective: A {a:.2f}, B {b:.2f}{rel}.")
    if "oos_violation_rate" in c.index:
        a, b = c.loc["oos_violation_rate", "a"], c.loc["oos_violation_rate", "b"]
        shown = ["n/a" if pd.isna(v) else f"{v:.3f}" for v in (a, b)]
        out.append(f"Out-of-sample violation rate: A {shown[0]}, B {shown[1]}.")
    return out


def sentences(cmp: Comparison) -> list[str]:
    """The page's summary in words; every number comes from the comparison's tables."""
    return (
        tariff_sentences(cmp.tariff_shift, cmp.clock)
        + energy_sentences(cmp.energy_shift, cmp.clock)
        + routing_sentences(cmp.routing, cmp.routing_shift)
        + grid_sentences(cmp.grid, cmp.costs)
    )


def _png(fig) -> str:
    """An ``<img>`` holding the figure as an inline base64 PNG."""
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=90)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f"<img alt='figure' src='data:image/png;base64,{data}'>"


def _symmetric(values: pd.Series) -> tuple[float, float]:
    m = float(np.nanmax(np.abs(values.to_numpy()))) or 1.0
    return -m, m


def _diff_heat(df: pd.DataFrame, title: str, clock: Clock | None) -> str:
    rows = df["where"].nunique()
    fig, ax = _subplots(figsize=(9, heat_height(rows) + 0.4))
    im = _heat(ax, df, "where", "diff", title, "RdBu_r", _symmetric(df["diff"]), clock)
    if im is not None:
        _plain_colorbar(fig, im, ax)
    return _png(fig)


def _none(what: str) -> str:
    return f"<p class='none'>{html.escape(what)}</p>"


def tariff_section(cmp: Comparison) -> str:
    if not len(cmp.tariff_shift):
        missing = [k.upper() for k, r in cmp.runs.items() if "tariffs" not in r["tables"]]
        runs = f"run {missing[0]} has" if len(missing) == 1 else "runs A and B have"
        why = f"{runs} no tariffs.csv" if missing else "the runs share no tariff column"
        return _none(f"No tariff comparison: {why}.")
    return _diff_heat(cmp.tariff_shift, "tariff B - A (currency/kWh; red: B higher)", cmp.clock)


def _station_limits(cmp: Comparison, key: str = "station_line_kw") -> dict[str, Any]:
    """``limits[key]`` of the runs' summaries (station -> line limit kW, or line id)."""
    out: dict[str, Any] = {}
    for r in cmp.runs.values():
        out |= ((r["summary"].get("limits") or {}).get(key)) or {}
    return out


def station_section(cmp: Comparison) -> str:
    st = {k: r["tables"].get("stations") for k, r in cmp.runs.items()}
    if st["a"] is None or st["b"] is None:
        fl = {k: r["tables"].get("fleet") for k, r in cmp.runs.items()}
        if fl["a"] is None or fl["b"] is None:
            return _none("No station loads: the runs have no stations.csv or fleet.csv.")
        return _none("No stations in these fleet runs; the total load of the fleet:") + _fleet(
            fl, cmp
        )
    limits, lines = _station_limits(cmp), _station_limits(cmp, "station_line")
    names = list(dict.fromkeys([*st["a"].station.astype(str), *st["b"].station.astype(str)]))
    names = names[:MAX_STATION_PANELS]
    ncol = 2 if len(names) > 1 else 1
    nrow = -(-len(names) // ncol)
    fig, axes = _subplots(nrow, ncol, figsize=(9, 2.3 * nrow + 0.5), squeeze=False, sharex=True)
    for ax, name in zip(axes.ravel(), names):
        for tag, style in (("a", "-"), ("b", "--")):
            d = st[tag][st[tag].station.astype(str) == name]
            ax.step(d.t, d.p_kw.clip(lower=0), where="mid", ls=style, label=tag.upper())
        line = lines.get(name)
        for tag, style in (("a", ":"), ("b", "-.")):
            lt = cmp.runs[tag]["tables"].get("lines")
            if line is not None and lt is not None:
                d = lt[lt.line.astype(str) == line]
                lab = f"{tag.upper()}: line {line} flow"
                ax.step(d.t, d.p_kw.abs(), where="mid", ls=style, lw=0.9, color="grey", label=lab)
        if name in limits:
            ax.axhline(limits[name], label=f"line limit {limits[name]:g} kW", **LIMIT_STYLE)
        ax.set_title(name, fontsize=9)
        ax.set_ylabel("kW")
        ax.legend(fontsize=7)
        time_axis(ax, st["a"].t.min() - 0.5, st["a"].t.max() + 0.5, cmp.clock, max_ticks=7)
    for ax in axes.ravel()[len(names) :]:
        ax.set_axis_off()
    note = (
        "<p>Grey: the flow on the line feeding the station's bus, which also carries the other "
        "loads and generation at and beyond that bus; its limit is the red line.</p>"
        if lines and any("lines" in r["tables"] for r in cmp.runs.values())
        else ""
    )
    if not limits:
        note += _none("The runs record no station line limits (older run folders).")
    return _png(fig) + note


def _fleet(fleet: dict[str, pd.DataFrame], cmp: Comparison) -> str:
    """Total charging load of the fleet over time in A and B (kW, positive = charging)."""
    fig, ax = _subplots(figsize=(9, 3))
    for tag, style in (("a", "-"), ("b", "--")):
        load = fleet[tag].groupby("t").p_kw.sum()
        ax.step(load.index, load.to_numpy(), where="mid", ls=style, label=tag.upper())
    t = fleet["a"].t
    ax.set_ylabel("fleet load (kW)")
    ax.legend(fontsize=8)
    time_axis(ax, t.min() - 0.5, t.max() + 0.5, cmp.clock)
    return _png(fig)


def routing_section(cmp: Comparison) -> str:
    r = cmp.routing_shift
    if not len(r):
        return _none("No routing comparison: the runs have no paths.csv (grid or fleet runs).")
    moved = (r.vehicles_b - r.vehicles_a).abs().groupby(r.od).sum().sort_values(ascending=False)
    shown = moved[moved / 2 > 0.05]  # at least 0.1 vehicle-departures as printed
    ods = list(shown.index[:MAX_OD_PANELS])
    if not ods:
        return _none("No vehicle changed path: every OD sends the same departures in A and B.")
    fig, axes = _subplots(len(ods), 1, figsize=(9, 2.0 * len(ods) + 0.5), squeeze=False)
    lo, hi = r.t.min() - 0.5, r.t.max() + 0.5
    for ax, od in zip(axes[:, 0], ods):
        for path, d in r[r.od == od].groupby("path", sort=False):
            ax.step(d.t, d["diff"], where="mid", label=str(path))
        ax.axhline(0, color="grey", lw=0.5)
        ax.set_xlim(lo, hi)
        ax.set_title(
            f"OD {od}: departures B - A per path; {moved[od] / 2:.1f} departures moved "
            "(half the sum of |B - A| over paths and steps)",
            fontsize=9,
        )
        ax.set_ylabel("vehicles")
        ax.legend(fontsize=7, ncol=3)
        time_axis(ax, lo, hi, cmp.clock)
    more = len(shown) - len(ods)
    tail = f"<p>{more} more OD(s) changed; see routing_shift.csv.</p>" if more > 0 else ""
    return _png(fig) + tail


def energy_section(cmp: Comparison) -> str:
    e = cmp.energy_shift
    if not len(e):
        return _none("No charging comparison: one of the runs has no stations.csv or fleet.csv.")
    return _diff_heat(e, "charging energy B - A (kWh per step; red: B charges more)", cmp.clock)


def cost_section(cmp: Comparison) -> str:
    c = cmp.costs
    if not len(c):
        return _none("The summaries hold no costs or out-of-sample results.")
    parts = []
    split = c[c.quantity.isin(COST_KEYS)]
    if len(split):
        fig, ax = _subplots(figsize=(7, 3))
        x = np.arange(len(split))
        ax.bar(x - 0.2, split.a.fillna(0), 0.4, label="A")
        ax.bar(x + 0.2, split.b.fillna(0), 0.4, label="B")
        ax.set_xticks(x, split.quantity)
        ax.set_ylabel("currency")
        ax.legend()
        parts.append(_png(fig))
    table = c.rename(columns={"a": "A", "b": "B", "b_minus_a": "B - A"})
    parts.append(table.to_html(index=False, float_format=lambda v: f"{v:.6g}", na_rep="", border=0))
    return "".join(parts)


STYLE = (
    "body{font-family:sans-serif;max-width:1000px;margin:auto;padding:0 1em}"
    "img{max-width:100%}td,th{padding:2px 8px;text-align:left}.none{color:#666}"
)


def comparison_page(cmp: Comparison) -> str:
    """The HTML text of ``compare.html``."""
    a, b = cmp.runs["a"], cmp.runs["b"]
    case = html.escape(str(a["summary"].get("case")))

    def who(tag: str, r: dict[str, Any]) -> str:
        cmd = html.escape(str(r["summary"].get("command", "")))
        return f"<li><b>{tag}</b>: {html.escape(str(Path(r['path'])))} <code>{cmd}</code></li>"

    clock = (
        f"Times are clock times (steps of {cmp.clock.dt_h:g} h from {cmp.clock.label(0)})."
        if cmp.clock
        else "The runs record no start time; times are step numbers."
    )
    sections = [
        ("Tariff difference per station and hour", tariff_section),
        ("Station load against its line limit", station_section),
        ("Routing shift per OD and path", routing_section),
        ("Charging energy moved between stations and hours", energy_section),
        ("Costs and out-of-sample results", cost_section),
    ]
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'>{GENERATOR}",
        f"<title>evtp compare: {case}</title><style>{STYLE}</style></head><body>",
        f"<h1>Comparison of two runs of {case}</h1>",
        f"<ul>{who('A', a)}{who('B', b)}</ul><p>{clock}</p>",
        "<h2>What changed</h2><ul id='sentences'>",
        *(f"<li>{html.escape(s)}</li>" for s in sentences(cmp)),
        "</ul>",
    ]
    for title, section in sections:
        parts.append(f"<h2>{html.escape(title)}</h2>{section(cmp)}")
    parts.append("</body></html>\n")
    return "\n".join(parts)
