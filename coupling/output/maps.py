"""Interactive result maps of a run (plotly): roads, feeder, stations and their results over time.

One figure per run: road links (grey) with their nodes, feeder lines coloured by loading
(binned: < 50 %, 50-80 %, 80-95 %, 95-100 %, > 100 % of the limit), buses coloured by voltage
(pu, on the case's voltage band), stations coloured by tariff (currency/kWh; by the price of
their bus, else by station load, when the run has no station tariff) and dashed station-bus links.
Every element is named in its hover text, and by a text label when its layer is small. A time
slider (plotly frames) steps through the run's steps, labelled with clock time from the case's
``[time] start`` and ``dt_h``.

Each layer is one trace (line segments separated by gaps), each loading bin one trace, so a
city case (Anaheim: 914 road links) gives a small figure; frames carry only the traces that
change. The page holds plotly.js itself (as a ``data:`` script, so the page names no network
address at all) and opens offline; coordinates are plain x/y (:mod:`cases.layout`), no tiles.
"""

from __future__ import annotations

import base64
import html
import shlex
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from cases.case import CaseError
from cases.layout import case_layout

if TYPE_CHECKING:
    from cases.case import Case

Trace = dict[str, Any]  # one plotly trace as plain data (built without plotly's validation)
Figure = dict[str, Any]  # a plotly figure: data, layout, frames

# line loading bins: upper edges (fraction of the limit) and colours; 1 + 1e-6 keeps a binding
# limit (loading 1 up to solver round-off) in the 95-100 % bin
LOADING_EDGES = (0.5, 0.8, 0.95, 1.0 + 1e-6)
LOADING_NAMES = ("< 50 %", "50-80 %", "80-95 %", "95-100 %", "> 100 %")
LOADING_COLOURS = ("#2ca02c", "#bcbd22", "#ff7f0e", "#d62728", "#7b2d8e")
LABEL_MAX = 80  # layers with more elements are named in their hover text only
VOLTAGE_SCALE = "RdBu"
TARIFF_SCALE = "Viridis"
PRICE_COLUMNS = ("dlmp_per_kwh", "tariff_per_kwh")  # a bus's price: its DLMP, else its tariff


def _has_values(df: pd.DataFrame, col: str) -> bool:
    """``col`` is a column of ``df`` with at least one value."""
    return col in df.columns and bool(df[col].notna().any())


def clock_labels(start: str, dt_h: float, steps: list[int] | np.ndarray) -> list[str]:
    """Clock time of each step ``t``: ``start`` ("HH:MM") + t * ``dt_h`` hours, as "HH:MM",
    with "+Nd" on later days."""
    try:
        h, m = (str(start).split(":") + ["0"])[:2]
        start_min = int(h) * 60 + int(m)
    except ValueError:
        start_min = 0
    out = []
    for t in steps:
        total = start_min + int(round(float(t) * dt_h * 60.0))
        day, minute = divmod(total, 1440)
        label = f"{minute // 60:02d}:{minute % 60:02d}"
        out.append(label + (f" +{day}d" if day else ""))
    return out


def loading_bin(loading: np.ndarray) -> np.ndarray:
    """Index into ``LOADING_NAMES`` of each loading (fraction of the limit); -1 where NaN."""
    a = np.asarray(loading, dtype=float)
    return np.where(np.isnan(a), -1, np.digitize(a, LOADING_EDGES))


def _pivot(
    df: pd.DataFrame | None, key: str, col: str, ids: list[str], ts: list[int]
) -> np.ndarray:
    """ids x steps array of ``df[col]`` (NaN where absent)."""
    if df is None or col not in df.columns or key not in df.columns:
        return np.full((len(ids), len(ts)), np.nan)
    d = df.assign(**{key: df[key].astype(str)})
    grid = d.pivot_table(index=key, columns="t", values=col, aggfunc="sum")
    return grid.reindex(index=ids, columns=ts).to_numpy(dtype=float)


def _segments(xa: np.ndarray, ya: np.ndarray, xb: np.ndarray, yb: np.ndarray) -> tuple[list, list]:
    """x and y lists of segments a->b separated by gaps (None), for one line trace."""
    n = len(xa)
    x = np.empty(3 * n, dtype=object)
    y = np.empty(3 * n, dtype=object)
    x[0::3], x[1::3], x[2::3] = xa, xb, None
    y[0::3], y[1::3], y[2::3] = ya, yb, None
    return [None if v is None else float(v) for v in x], [
        None if v is None else float(v) for v in y
    ]


def _fmt(v: float, spec: str) -> str:
    return "-" if not np.isfinite(v) else format(v, spec)


def _values(a: np.ndarray) -> list[float | None]:
    """A JSON-friendly list: NaN as None (no colour)."""
    return [None if not np.isfinite(v) else float(v) for v in a]


def _colours(a: np.ndarray) -> list[float] | np.ndarray:
    """Marker colour values: a plain list when all are finite (readable JSON), else the float
    array (plotly draws NaN as no value; it refuses None in a colour list)."""
    a = np.asarray(a, dtype=float)
    return [float(v) for v in a] if np.isfinite(a).all() else a


def _steps(tables: dict[str, pd.DataFrame]) -> list[int]:
    ts: set[int] = set()
    for name in ("lines", "buses", "stations", "tariffs"):
        df = tables.get(name)
        if df is not None and "t" in df.columns and len(df):
            ts |= set(pd.to_numeric(df["t"], errors="coerce").dropna().astype(int))
    return sorted(ts)


def _scatter(**kw: Any) -> Trace:
    """A scatter trace as plain data."""
    return {"type": "scatter", **kw}


def _mode(n: int) -> str:
    return "markers+text" if n <= LABEL_MAX else "markers"


class _Layers:
    """The traces of one map: static ones, and builders of the changing ones per step."""

    def __init__(self, case: Case, tables: dict[str, pd.DataFrame]) -> None:
        self.case = case
        self.tables = tables
        self.layout = case_layout(case)
        self.ts = _steps(tables)
        f = case.feeder
        self.bus_ids = [str(b) for b in f.bus_ids]
        self.line_ids = [str(x) for x in f.line_ids]
        bxy = self.layout.buses.assign(bus=self.layout.buses["bus"].astype(str)).set_index("bus")
        self.bx = bxy.loc[self.bus_ids, "x"].to_numpy(dtype=float)
        self.by = bxy.loc[self.bus_ids, "y"].to_numpy(dtype=float)
        fb = f.lines["from_bus"].astype(str)
        tb = f.lines["to_bus"].astype(str)
        self.lxa, self.lya = bxy.loc[fb, "x"].to_numpy(float), bxy.loc[fb, "y"].to_numpy(float)
        self.lxb, self.lyb = bxy.loc[tb, "x"].to_numpy(float), bxy.loc[tb, "y"].to_numpy(float)
        lines = tables.get("lines")
        buses = tables.get("buses")
        self.loading = _pivot(lines, "line", "loading", self.line_ids, self.ts)
        self.loading_ac = _pivot(lines, "line", "loading_ac", self.line_ids, self.ts)
        self.p_kw = _pivot(lines, "line", "p_kw", self.line_ids, self.ts)
        self.v = _pivot(buses, "bus", "v_pu", self.bus_ids, self.ts)
        self.v_ac = _pivot(buses, "bus", "v_pu_ac", self.bus_ids, self.ts)
        tariffs = tables.get("tariffs")
        # price per bus and step: the DLMP, else the bus tariff (fleet market), in currency/kWh
        self.price_name = "DLMP"
        self.bus_dlmp = np.full((len(self.bus_ids), len(self.ts)), np.nan)
        if tariffs is not None and "station" not in tariffs.columns:
            col = next((c for c in PRICE_COLUMNS if _has_values(tariffs, c)), None)
            if col is not None:
                self.price_name = "DLMP" if col == "dlmp_per_kwh" else "tariff"
                self.bus_dlmp = _pivot(tariffs, "bus", col, self.bus_ids, self.ts)
        self.ev_kw = self._fleet_load(tables.get("fleet"))
        st = case.traffic.stations if case.traffic is not None else None
        self.stations = (
            st.table.assign(
                station=st.table["station"].astype(str), bus=st.table["bus"].astype(str)
            )
            if st is not None
            else None
        )
        self._station_values()

    def _fleet_load(self, fleet: pd.DataFrame | None) -> np.ndarray:
        """Stationary-EV load per bus and step (kW), NaN without a fleet table."""
        evs = self.case.fleet.evs if self.case.fleet is not None else None
        if fleet is None or evs is None or "p_kw" not in fleet.columns:
            return np.full((len(self.bus_ids), len(self.ts)), np.nan)
        where = dict(zip(evs["ev"].astype(str), evs["bus"].astype(str)))
        at_bus = fleet.assign(bus=fleet["ev"].astype(str).map(where))
        load = _pivot(at_bus, "bus", "p_kw", self.bus_ids, self.ts)
        hosts = np.isin(self.bus_ids, list(set(where.values())))[:, None]
        return np.where(hosts, np.nan_to_num(load), np.nan)  # 0 kW when plugged out

    def _station_values(self) -> None:
        """Colour of each station per step: its tariff, else its bus's price, else its load."""
        if self.stations is None:
            return
        ids = list(self.stations["station"])
        tariffs = self.tables.get("tariffs")
        st = self.tables.get("stations")
        self.st_load = _pivot(st, "station", "p_kw", ids, self.ts)
        self.st_queued = _pivot(st, "station", "queued", ids, self.ts)
        self.st_charging = _pivot(st, "station", "charging", ids, self.ts)
        col = None
        if tariffs is not None and "station" in tariffs.columns:
            col = next((c for c in PRICE_COLUMNS[::-1] if c in tariffs.columns), None)
        if col is not None:
            self.st_colour = _pivot(tariffs, "station", col, ids, self.ts)
            self.st_what = f"{col.removesuffix('_per_kwh')} (currency/kWh)"
        elif np.isfinite(self.bus_dlmp).any():
            pos = {b: i for i, b in enumerate(self.bus_ids)}
            self.st_colour = self.bus_dlmp[[pos[b] for b in self.stations["bus"]]]
            self.st_what = f"{self.price_name} of the bus (currency/kWh)"
        else:
            self.st_colour = self.st_load
            self.st_what = "station load (kW)"

    # --- static layers -------------------------------------------------------------------
    def roads(self) -> list[Trace]:
        if self.layout.nodes is None:
            return []
        net = self.case.traffic.network
        nxy = self.layout.nodes.assign(node=self.layout.nodes["node"].astype(str)).set_index("node")
        fa = net.segments["from_node"].astype(str)
        fb = net.segments["to_node"].astype(str)
        xa, ya = nxy.loc[fa, "x"].to_numpy(float), nxy.loc[fa, "y"].to_numpy(float)
        xb, yb = nxy.loc[fb, "x"].to_numpy(float), nxy.loc[fb, "y"].to_numpy(float)
        x, y = _segments(xa, ya, xb, yb)
        names = net.segments["segment"].astype(str).tolist()
        km = net.segments["length_km"].to_numpy(float)
        nodes = self.layout.nodes["node"].astype(str).tolist()
        return [
            _scatter(
                x=x,
                y=y,
                mode="lines",
                name="roads",
                line={"color": "#b0b0b0", "width": 1.5},
                hoverinfo="skip",
                legendgroup="roads",
            ),
            _scatter(
                x=_values(0.5 * (xa + xb)),
                y=_values(0.5 * (ya + yb)),
                mode="markers",
                name="road links",
                marker={"size": 5, "color": "#b0b0b0", "opacity": 0.4},
                hovertext=[f"road link {s}<br>{k:.3g} km" for s, k in zip(names, km)],
                hoverinfo="text",
                legendgroup="roads",
                showlegend=False,
            ),
            _scatter(
                x=_values(nxy.loc[nodes, "x"].to_numpy(float)),
                y=_values(nxy.loc[nodes, "y"].to_numpy(float)),
                mode=_mode(len(nodes)),
                text=nodes,
                textposition="top center",
                textfont={"size": 9, "color": "#707070"},
                name="road nodes",
                marker={"size": 6, "color": "#808080"},
                hovertext=[f"road node {n}" for n in nodes],
                hoverinfo="text",
                legendgroup="roads",
                showlegend=False,
            ),
        ]

    def links(self) -> list[Trace]:
        """Dashed station-bus links (the coupling)."""
        if self.stations is None or self.layout.nodes is None:
            return []
        sx, sy = self._station_xy()
        pos = {b: i for i, b in enumerate(self.bus_ids)}
        i = np.array([pos[b] for b in self.stations["bus"]], dtype=int)
        x, y = _segments(sx, sy, self.bx[i], self.by[i])
        return [
            _scatter(
                x=x,
                y=y,
                mode="lines",
                name="station-bus links",
                line={"color": "#1f77b4", "width": 1, "dash": "dash"},
                hoverinfo="skip",
            )
        ]

    def _station_xy(self) -> tuple[np.ndarray, np.ndarray]:
        nxy = self.layout.nodes.assign(node=self.layout.nodes["node"].astype(str)).set_index("node")
        nodes = self.stations["node"].astype(str)
        return nxy.loc[nodes, "x"].to_numpy(float), nxy.loc[nodes, "y"].to_numpy(float)

    # --- layers that change with the step --------------------------------------------------
    def line_traces(self, k: int | None) -> list[Trace]:
        """One trace per loading bin, and the line midpoints (named, coloured by bin), at step
        column ``k`` (None: no results, one grey layer)."""
        n = len(self.line_ids)
        load = self.loading[:, k] if k is not None else np.full(n, np.nan)
        b = loading_bin(load)
        out = []
        for j, (name, colour) in enumerate(zip(LOADING_NAMES, LOADING_COLOURS)):
            m = b == j
            x, y = _segments(self.lxa[m], self.lya[m], self.lxb[m], self.lyb[m])
            out.append(
                _scatter(
                    x=x,
                    y=y,
                    mode="lines",
                    name=f"line loading {name}",
                    line={"color": colour, "width": 3},
                    hoverinfo="skip",
                    legendgroup=f"l{j}",
                )
            )
        m = b < 0
        x, y = _segments(self.lxa[m], self.lya[m], self.lxb[m], self.lyb[m])
        out.append(
            _scatter(
                x=x,
                y=y,
                mode="lines",
                name="lines (no result)",
                line={"color": "#4c4c4c", "width": 2},
                hoverinfo="skip",
            )
        )
        colour = np.array((*LOADING_COLOURS, "#4c4c4c"), dtype=object)[b]
        lac = self.loading_ac[:, k] if k is not None else np.full(n, np.nan)
        pkw = self.p_kw[:, k] if k is not None else np.full(n, np.nan)
        hover = [
            f"line {i}<br>loading {_fmt(100 * a, '.1f')} % (AC {_fmt(100 * c, '.1f')} %)"
            f"<br>p {_fmt(p, '.1f')} kW"
            for i, a, c, p in zip(self.line_ids, load, lac, pkw)
        ]
        out.append(
            _scatter(
                x=_values(0.5 * (self.lxa + self.lxb)),
                y=_values(0.5 * (self.lya + self.lyb)),
                mode=_mode(n),
                text=self.line_ids,
                textposition="middle right",
                textfont={"size": 8, "color": "#505050"},
                name="line names",
                marker={"size": 7, "color": colour.tolist(), "symbol": "diamond"},
                hovertext=hover,
                hoverinfo="text",
                showlegend=False,
            )
        )
        return out

    def bus_trace(self, k: int | None) -> Trace:
        n = len(self.bus_ids)
        nan = np.full(n, np.nan)
        v = self.v[:, k] if k is not None else nan
        vac = self.v_ac[:, k] if k is not None else nan
        dlmp = self.bus_dlmp[:, k] if k is not None else nan
        ev = self.ev_kw[:, k] if k is not None else nan
        buses = self.case.feeder.buses
        lo = float(pd.to_numeric(buses["v_min_pu"]).min())
        hi = float(pd.to_numeric(buses["v_max_pu"]).max())
        hover = [
            f"bus {b}<br>v {_fmt(a, '.4f')} pu (AC {_fmt(c, '.4f')} pu)"
            + (f"<br>{self.price_name} {d:.4g} /kWh" if np.isfinite(d) else "")
            + (f"<br>EV load {e:.1f} kW" if np.isfinite(e) else "")
            for b, a, c, d, e in zip(self.bus_ids, v, vac, dlmp, ev)
        ]
        marker: dict[str, Any] = {"size": 11, "color": "#ffffff"}
        has_v = bool(np.isfinite(self.v).any())
        if has_v:
            bar = {"title": {"text": "voltage (pu)"}, "x": 1.02, "len": 0.45, "y": 0.25}
            marker |= {"color": _colours(v), "colorscale": VOLTAGE_SCALE, "cmin": lo, "cmax": hi}
            marker["colorbar"] = bar
        marker["line"] = {"color": "#333333", "width": 1}
        return _scatter(
            x=_values(self.bx),
            y=_values(self.by),
            mode=_mode(n),
            text=self.bus_ids,
            textposition="bottom center",
            textfont={"size": 9},
            name="buses (voltage, pu)" if has_v else "buses",
            marker=marker,
            hovertext=hover,
            hoverinfo="text",
        )

    def station_trace(self, k: int | None) -> Trace | None:
        if self.stations is None:
            return None
        ids = list(self.stations["station"])
        if self.layout.nodes is not None:
            sx, sy = self._station_xy()
        else:  # no roads drawn: at their buses
            pos = {b: i for i, b in enumerate(self.bus_ids)}
            i = np.array([pos[b] for b in self.stations["bus"]], dtype=int)
            sx, sy = self.bx[i], self.by[i]
        nan = np.full(len(ids), np.nan)
        c = self.st_colour[:, k] if k is not None else nan
        load = self.st_load[:, k] if k is not None else nan
        q = self.st_queued[:, k] if k is not None else nan
        ch = self.st_charging[:, k] if k is not None else nan
        finite = self.st_colour[np.isfinite(self.st_colour)]
        marker: dict[str, Any] = {"size": 16, "symbol": "square", "color": "#1f77b4"}
        if finite.size:
            lo, hi = float(finite.min()), float(finite.max())
            bar = {"title": {"text": self.st_what}, "x": 1.02, "len": 0.45, "y": 0.75}
            marker |= {"color": _colours(c), "colorscale": TARIFF_SCALE, "cmin": lo}
            marker |= {"cmax": hi if hi > lo else lo + 1e-9, "colorbar": bar}
        marker["line"] = {"color": "#000000", "width": 1}
        hover = [
            f"station {s} (bus {b})<br>{self.st_what}: {_fmt(a, '.4g')}"
            f"<br>load {_fmt(p, '.1f')} kW, charging {_fmt(h, '.1f')}, queued {_fmt(w, '.1f')}"
            for s, b, a, p, h, w in zip(ids, self.stations["bus"], c, load, ch, q)
        ]
        return _scatter(
            x=_values(sx),
            y=_values(sy),
            mode="markers+text",
            text=ids,
            textposition="top center",
            textfont={"size": 11, "color": "#000000"},
            name=f"stations ({self.st_what})",
            marker=marker,
            hovertext=hover,
            hoverinfo="text",
        )

    def busiest_step(self) -> int | None:
        """Column of the step the map opens at: the highest line loading, else the highest
        station load, else the first step; None without steps."""
        if not self.ts:
            return None
        for a in (self.loading, getattr(self, "st_load", None)):
            if a is not None and np.isfinite(a).any():
                return int(np.where(np.isfinite(a), a, -np.inf).max(axis=0).argmax())
        return 0

    def dynamic(self, k: int | None) -> list[Trace]:
        out = [*self.line_traces(k), self.bus_trace(k)]
        st = self.station_trace(k)
        return out + ([st] if st is not None else [])

    def frame(self, k: int) -> list[Trace]:
        """What changes at step column ``k``: the segments of the loading bins, and only the
        colours and hover texts of the marker layers (plotly merges them into the traces)."""
        out = []
        for tr in self.dynamic(k):
            if tr["mode"] == "lines":
                out.append({"type": "scatter", "x": tr["x"], "y": tr["y"]})
            else:
                colour = {"color": tr["marker"]["color"]}
                out.append({"type": "scatter", "marker": colour, "hovertext": tr["hovertext"]})
        return out


def map_figure(case: Case, tables: dict[str, pd.DataFrame], title: str | None = None) -> Figure:
    """The interactive map of ``case`` with the results in ``tables`` (run tables by name:
    lines, buses, stations, tariffs; any may be missing), one slider step per result step."""
    layers = _Layers(case, tables)
    static = [*layers.roads(), *layers.links()]
    ts = layers.ts
    first = layers.busiest_step()
    data = [*static, *layers.dynamic(first)]
    labels = clock_labels(case.time.start, case.time.dt_h, ts)
    names = [f"{lab} (t {t})" for lab, t in zip(labels, ts)]
    changing = list(range(len(static), len(data)))
    frames = [
        {"name": name, "data": layers.frame(k), "traces": changing} for k, name in enumerate(names)
    ]
    layout: dict[str, Any] = {
        "title": {"text": title or f"{case.name}: results on the map"},
        "xaxis": {"visible": False},
        "yaxis": {"visible": False, "scaleanchor": "x", "scaleratio": 1},
        "plot_bgcolor": "white",
        "height": 650,
        "margin": {"l": 10, "r": 10, "t": 50, "b": 10},
        "legend": {"orientation": "h", "y": -0.02, "yanchor": "top"},
        "hovermode": "closest",
    }
    if len(names) > 1:
        step_args = {
            "frame": {"duration": 0, "redraw": True},
            "mode": "immediate",
            "transition": {"duration": 0},
        }
        layout["sliders"] = [
            {
                "active": first,
                "currentvalue": {"prefix": "time "},
                "x": 0.2,
                "len": 0.8,
                "pad": {"t": 60},
                "steps": [
                    {"label": lab, "method": "animate", "args": [[name], step_args]}
                    for lab, name in zip(labels, names)
                ],
            }
        ]
        play = {
            "frame": {"duration": 600, "redraw": True},
            "fromcurrent": True,
            "transition": {"duration": 0},
        }
        layout["updatemenus"] = [
            {
                "type": "buttons",
                "direction": "left",
                "x": 0.0,
                "y": 0.0,
                "xanchor": "left",
                "yanchor": "top",
                "pad": {"t": 95},
                "buttons": [
                    {"label": "play", "method": "animate", "args": [None, play]},
                    {"label": "pause", "method": "animate", "args": [[None], step_args]},
                ],
            }
        ]
    return {"data": data, "layout": layout, "frames": frames}


@lru_cache(maxsize=1)
def plotly_script() -> str:
    """plotly.js as one ``<script>`` whose source is a ``data:`` URL: loaded from the page
    itself (offline), and the library's own link texts (logo, tile attributions) stay inside
    base64 instead of reading as network addresses."""
    from plotly.offline import get_plotlyjs

    data = base64.b64encode(get_plotlyjs().encode("utf-8")).decode("ascii")
    return f"<script src='data:text/javascript;base64,{data}'></script>"


def map_div(fig: Figure, with_library: bool = True) -> str:
    """``fig`` as an HTML fragment (a div and its script), preceded by plotly.js when
    ``with_library`` (once per page)."""
    import plotly.io as pio

    div = pio.to_html(
        fig,
        validate=False,  # built from plain data; plotly's validation takes seconds per frame
        full_html=False,
        include_plotlyjs=False,
        auto_play=False,  # open at the slider's step, not playing through the frames
        config={"displaylogo": False, "responsive": True},
    )
    return (plotly_script() if with_library else "") + div


def map_page(fig: Figure, title: str) -> str:
    """A self-contained HTML page (opens offline) showing ``fig``."""
    from coupling.output.report import GENERATOR

    name = html.escape(title)
    return (
        f"<!doctype html><html><head><meta charset='utf-8'>{GENERATOR}"
        f"<title>evtp map: {name}</title></head><body>{map_div(fig)}</body></html>\n"
    )


def result_map(case: Case, tables: dict[str, pd.DataFrame], title: str | None = None) -> str:
    """A self-contained HTML page (opens offline) with the interactive map of ``case`` and the
    results in ``tables`` (see :func:`map_figure`)."""
    return map_page(map_figure(case, tables, title), str(title or case.name))


# --- which case a run was made from --------------------------------------------------------


class MapCaseError(CaseError):
    """The case given for a run's map does not fit the run (one line, names the element)."""


def check_case_fits(case: Case, tables: dict[str, pd.DataFrame], spec: str) -> None:
    """MapCaseError when a bus, line or station of the run's tables is not in ``case``."""
    known = {
        "bus": set(map(str, case.feeder.bus_ids)),
        "line": set(map(str, case.feeder.line_ids)),
        "station": set()
        if case.traffic is None or case.traffic.stations is None
        else set(case.traffic.stations.table["station"].astype(str)),
    }
    for name, df in tables.items():
        for key, ids in known.items():
            if key in df.columns and name in ("lines", "buses", "stations", "tariffs"):
                extra = sorted(set(df[key].astype(str)) - ids)
                if extra:
                    raise MapCaseError(
                        f"{name}.csv: {key} {extra[0]!r} is not in case {spec!r}; pass --case "
                        "the case the run was made from"
                    )


def run_case_spec(summary: dict[str, Any], cwd: Path | None = None) -> str | None:
    """The case a run was made from, found from its ``summary.json``: the case folder on its
    ``command`` line whose case.toml names the run's ``case`` (relative paths from ``cwd``),
    else the built-in case of that name; None when neither is found (a folder given relative
    to another directory, or moved)."""
    from cases.builtin import BUILTIN
    from cases.folder import read_case

    name = summary.get("case")
    try:
        words = shlex.split(str(summary.get("command") or ""))
    except ValueError:
        words = []
    base = cwd or Path.cwd()
    for w in words[2:]:
        p = Path(w) if Path(w).is_absolute() else base / w
        if w.startswith("-") or not (p / "case.toml").is_file():
            continue
        try:
            if read_case(p).name == name:
                return str(p)
        except Exception:  # an unreadable folder is not the run's case
            continue
    return name if isinstance(name, str) and name in BUILTIN else None
    base = cwd or Path.cwd()
    for w in words[2:]:
        if w.startswith("-"):
            continue
        p = Path(w) if Path(w).is_absolute() else base / w
        if (p / "case.toml").is_file():
            from cases.folder import read_case

            try:
                if read_case(p).name == name:
                    return str(p)
            except Exception:  # an unreadable folder is not the run's case
                continue
    return None
