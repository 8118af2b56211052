"""Figures of a run from its tables: each is a callable writing one PNG.

Figures are matplotlib ``Figure`` objects drawn without pyplot, so they render with the Agg
canvas wherever they are saved and importing this module changes no global matplotlib state
(no backend is chosen for the user's own plots).

Values are cleaned as in the tables (:mod:`coupling.output.clean`: ``|x| < ZERO_TOL`` drawn as 0); a
panel whose values are then all zero says "all zero" instead of stretching round-off over a
colour scale or axis, and heat maps of comparable quantities share one colour scale.

Time axes are in clock time (``HH:MM``) when the run's summary holds ``start`` (clock time of
step 0, written from the case's ``[time] start``) beside ``dt_h``; older run folders without it
fall back to "step t". Limits are drawn as lines from the summary's ``limits`` (voltage band,
station line limits) and the line-loading limit 1.0.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from coupling.output.clean import zero_small

Figure = Callable[[Path], None]
MAX_LABELS = 40  # most tick labels on a heat-map axis
ROW_INCH = 0.13  # height of a labelled heat-map row (fontsize 7 labels stay readable)
TICK_HOURS = (0.25, 0.5, 1.0, 2.0, 3.0, 4.0, 6.0, 12.0, 24.0)  # clock tick spacings tried
MAX_TIME_TICKS = 13  # most clock ticks on a time axis
LIMIT_STYLE = {"color": "red", "linestyle": "--", "linewidth": 1.0}


@dataclass(frozen=True)
class Clock:
    """Clock time of the steps: step ``t`` starts at ``start_h + t * dt_h`` hours (mod 24)."""

    start_h: float
    dt_h: float

    def hours(self, t: float | np.ndarray) -> float | np.ndarray:
        """Hours since midnight of the start of step ``t`` (not wrapped at 24)."""
        return self.start_h + np.asarray(t, dtype=float) * self.dt_h

    def label(self, t: float) -> str:
        """``HH:MM`` of the start of step ``t`` (wrapped at 24 h)."""
        minutes = int(round(float(self.hours(t)) * 60.0)) % (24 * 60)
        return f"{minutes // 60:02d}:{minutes % 60:02d}"


def parse_clock(start: str) -> float:
    """Hours since midnight of an ``HH:MM`` (or ``HH``) text; ValueError if it is not one."""
    parts = str(start).strip().split(":")
    if not 1 <= len(parts) <= 3:
        raise ValueError(f"{start!r} is not a clock time HH:MM")
    h, m = int(parts[0]), int(parts[1]) if len(parts) > 1 else 0
    if not (0 <= h <= 24 and 0 <= m < 60):
        raise ValueError(f"{start!r} is not a clock time HH:MM")
    return h + m / 60.0


def clock_of(summary: dict[str, Any] | None) -> Clock | None:
    """The run's clock from its summary (``start`` and ``dt_h``); None when either is missing
    or unreadable (time axes then say "step t")."""
    if not summary or "start" not in summary or "dt_h" not in summary:
        return None
    try:
        dt = float(summary["dt_h"])
        return Clock(parse_clock(summary["start"]), dt) if dt > 0 else None
    except (TypeError, ValueError):
        return None


def figure_context(case: Any) -> dict[str, Any]:
    """Summary entries the figures need from the case: ``start`` (clock time of step 0) and
    ``limits`` (voltage band in pu over the non-slack buses, each station's line limit in kW:
    the ``p_max_kw`` of the line feeding the station's bus, and that line's id)."""
    out: dict[str, Any] = {"start": case.time.start}
    limits: dict[str, Any] = {}
    feeder = getattr(case, "feeder", None)
    if feeder is not None:
        b = feeder.buses[feeder.buses.bus.astype(str) != str(feeder.slack_bus)]
        if len(b):
            limits["v_min_pu"] = float(b.v_min_pu.min())
            limits["v_max_pu"] = float(b.v_max_pu.max())
        traffic = getattr(case, "traffic", None)
        stations = getattr(getattr(traffic, "stations", None), "table", None)
        if stations is not None and "bus" in stations and "p_max_kw" in feeder.lines:
            feed = feeder.lines.assign(to_bus=feeder.lines.to_bus.astype(str))
            feed = feed.drop_duplicates("to_bus").set_index("to_bus")
            fed = [
                (str(s), str(bus))
                for s, bus in zip(stations.station, stations.bus)
                if str(bus) in feed.index and np.isfinite(feed.p_max_kw[str(bus)])
            ]
            if fed:
                limits["station_line_kw"] = {s: float(feed.p_max_kw[b]) for s, b in fed}
                limits["station_line"] = {s: str(feed.line[b]) for s, b in fed}
    if limits:
        out["limits"] = limits
    return out


def time_axis(
    ax,
    t_lo: float,
    t_hi: float,
    clock: Clock | None,
    axis: str = "x",
    max_ticks: int = MAX_TIME_TICKS,
) -> None:
    """Ticks of a step axis spanning steps ``t_lo..t_hi``: ``HH:MM`` at round clock times
    (at most ``max_ticks``) when ``clock`` is known, else the label "step t"."""
    if clock is None:
        (ax.set_xlabel if axis == "x" else ax.set_ylabel)("step t")
        return
    h_lo, h_hi = float(clock.hours(t_lo)), float(clock.hours(t_hi))
    span = max(h_hi - h_lo, clock.dt_h)
    every = next((e for e in TICK_HOURS if span / e <= max_ticks - 1), 24.0)
    every = max(every, clock.dt_h) if clock.dt_h in TICK_HOURS else every
    hours = np.arange(np.ceil(h_lo / every - 1e-9) * every, h_hi + 1e-9, every)
    ticks = (hours - clock.start_h) / clock.dt_h
    labels = [clock.label(t) for t in ticks]
    if axis == "x":
        ax.set_xticks(ticks, labels)
        ax.set_xlabel(f"clock time (steps of {clock.dt_h:g} h)")
    else:
        ax.set_yticks(ticks, labels)
        ax.set_ylabel(f"clock time (steps of {clock.dt_h:g} h)")


def _plain_colorbar(fig, im, ax, cax=None) -> None:
    """Colour bar with plain tick numbers (no ``1e-8+6.89e-2`` offset text)."""
    from matplotlib.ticker import ScalarFormatter

    cb = fig.colorbar(im, ax=ax) if cax is None else fig.colorbar(im, cax=cax)
    fmt = ScalarFormatter(useOffset=False)
    fmt.set_powerlimits((-6, 6))
    cb.ax.yaxis.set_major_formatter(fmt)


def _subplots(*args: Any, figsize: tuple[float, float], **kwargs: Any) -> tuple[Any, Any]:
    """``plt.subplots`` without pyplot: a figure rendered by Agg when saved."""
    from matplotlib.figure import Figure as MplFigure

    fig = MplFigure(figsize=figsize)
    return fig, fig.subplots(*args, **kwargs)


def _save(fig, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def _all_zero(values: np.ndarray) -> bool:
    """True when every finite value is 0 (after cleaning) or there is none."""
    a = np.asarray(values, dtype=float)
    return not np.any(a[np.isfinite(a)])


def _say_all_zero(ax, title: str) -> None:
    """An empty panel that says its values are all zero."""
    ax.text(0.5, 0.5, "all zero", ha="center", va="center", transform=ax.transAxes, fontsize=12)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title)


def _grid(df: pd.DataFrame, key: str, value: str) -> pd.DataFrame:
    """Rows ``key`` x columns ``t`` of ``value`` (summed), cleaned of round-off; the columns
    are every step from the first to the last (steps without a row are NaN)."""
    grid = df.pivot_table(index=key, columns="t", values=value, aggfunc="sum", sort=False)
    if len(grid.columns):
        t = grid.columns.astype(int)
        grid = grid.reindex(columns=range(int(t.min()), int(t.max()) + 1))
    return pd.DataFrame(zero_small(grid.to_numpy()), index=grid.index, columns=grid.columns)


def heat_height(n_rows: int) -> float:
    """Inches of a heat-map panel whose (thinned) row labels stay readable."""
    shown = -(-n_rows // max(-(-n_rows // MAX_LABELS), 1))
    return max(1.8, ROW_INCH * shown + 0.9)


def _heat(
    ax,
    df: pd.DataFrame,
    key: str,
    value: str,
    title: str,
    cmap: str = "viridis",
    vlim: tuple[float, float] | None = None,
    clock: Clock | None = None,
):
    """Heat map of ``value`` (rows ``key``, columns step t, drawn at their own steps) on ``ax``;
    ``vlim`` fixes the colour scale (shared between panels). None, and an "all zero" panel,
    when every value is 0. A panel whose values differ by less than 1e-6 of their size is
    drawn on a +-1 % scale and titled "uniform" (no colour scale stretched over round-off)."""
    grid = _grid(df, key, value)
    a = grid.to_numpy()
    if _all_zero(a):
        _say_all_zero(ax, title)
        return None
    vmin, vmax = vlim if vlim is not None else (None, None)
    finite = a[np.isfinite(a)]
    lo, hi = float(finite.min()), float(finite.max())
    if vlim is None and hi - lo <= 1e-6 * max(abs(lo), abs(hi)):
        vmin, vmax = lo - 0.01 * abs(lo), hi + 0.01 * abs(hi)
        title = f"{title}, uniform {hi:.4g}"
    t0, t1 = (grid.columns[0], grid.columns[-1]) if len(grid.columns) else (0, 0)
    im = ax.imshow(
        a,
        aspect="auto",
        cmap=cmap,
        interpolation="nearest",
        vmin=vmin,
        vmax=vmax,
        extent=(t0 - 0.5, t1 + 0.5, len(grid.index) - 0.5, -0.5),
    )
    # every row named up to MAX_LABELS rows, else every k-th (a tick per row of a large
    # feeder costs seconds to draw and cannot be read)
    step = -(-len(grid.index) // MAX_LABELS)
    rows = np.arange(0, len(grid.index), max(step, 1))
    ax.set_yticks(rows, [str(r) for r in grid.index[rows]], fontsize=7)
    time_axis(ax, t0 - 0.5, t1 + 0.5, clock)
    ax.set_title(title)
    return im


def _shared_limits(df: pd.DataFrame, key: str, columns: list[str]) -> tuple[float, float] | None:
    """One (min, max) colour range over the heat maps of ``columns``; None if all zero."""
    vals = np.concatenate([_grid(df, key, c).to_numpy().ravel() for c in columns])
    vals = vals[np.isfinite(vals)]
    if not len(vals) or _all_zero(vals):
        return None
    return float(vals.min()), float(vals.max())


# tariff panels compared on one colour scale: the price levels, and the two DLMP adders
PRICE_LEVELS = ("dlmp_per_kwh", "energy_per_kwh", "tariff_per_kwh")
DLMP_ADDERS = ("loss_per_kwh", "congestion_per_kwh", "voltage_per_kwh")


def tariff_heatmap(tariffs: pd.DataFrame, summary: dict[str, Any] | None = None) -> Figure:
    """Station (or bus) x time heatmaps of the tariff and of the DLMP parts (currency/kWh)."""
    key = "station" if "station" in tariffs else "bus"
    order = ("dlmp_per_kwh", "energy_per_kwh", *DLMP_ADDERS, "tariff_per_kwh")
    parts = [c for c in order if c in tariffs and tariffs[c].notna().any()]
    clock = clock_of(summary)
    rows = tariffs[key].nunique()

    def draw(path: Path) -> None:
        h = heat_height(rows)
        fig, axes = _subplots(len(parts), 1, figsize=(9, h * len(parts) + 0.4), squeeze=False)
        limits = {}
        for group in (PRICE_LEVELS, DLMP_ADDERS):
            cols = [c for c in group if c in parts]
            if len(cols) > 1:
                limits.update(dict.fromkeys(cols, _shared_limits(tariffs, key, cols)))
        for ax, col in zip(axes[:, 0], parts):
            title = f"{col.removesuffix('_per_kwh')} (currency/kWh)"
            im = _heat(ax, tariffs, key, col, title, "magma", limits.get(col), clock)
            if im is not None:
                _plain_colorbar(fig, im, ax)
        _save(fig, path)

    return draw


def line_loading_heatmap(lines: pd.DataFrame, summary: dict[str, Any] | None = None) -> Figure:
    """Line x time heatmap of the loading (fraction of the limit) over the highest loading of
    any line per step (linear, and AC where computed) against the limit 1.0."""
    clock = clock_of(summary)
    rows = lines["line"].nunique()

    def draw(path: Path) -> None:
        h = heat_height(rows)
        fig, (ax, ax2) = _subplots(
            2, 1, figsize=(9, h + 2.8), gridspec_kw={"height_ratios": [h, 2.0]}
        )
        im = _heat(
            ax, lines, "line", "loading", "line loading (fraction of limit)", "inferno", None, clock
        )
        if im is not None:  # in an inset beside the map: both panels keep one width
            _plain_colorbar(fig, im, ax, cax=ax.inset_axes([1.01, 0.0, 0.02, 1.0]))
        cols = [c for c in ("loading", "loading_ac") if c in lines]
        peak = lines.groupby("t")[cols].max()
        for c, style in zip(cols, ("-", ":")):
            lab = "highest loading" + (" (AC)" if c.endswith("_ac") else " (linear)")
            ax2.step(peak.index, zero_small(peak[c].to_numpy()), where="mid", ls=style, label=lab)
        ax2.axhline(1.0, label="limit 1.0", **LIMIT_STYLE)
        ax2.set_xlim(peak.index.min() - 0.5, peak.index.max() + 0.5)
        ax2.set_ylim(0, max(1.1, float(np.nanmax(peak.to_numpy())) * 1.05))
        ax2.set_ylabel("loading")
        ax2.legend(fontsize=7, loc="lower right")
        time_axis(ax2, peak.index.min() - 0.5, peak.index.max() + 0.5, clock)
        _save(fig, path)

    return draw


def voltage_bands(
    buses: pd.DataFrame, column: str = "v_pu", summary: dict[str, Any] | None = None
) -> Figure:
    """Quantile bands of the bus voltages over time (min, 5-95 %, 25-75 %, median, max), with
    the voltage band of the case (summary ``limits``) as lines."""
    clock = clock_of(summary)
    band = (summary or {}).get("limits") or {}

    def draw(path: Path) -> None:
        piv = buses.pivot_table(index="t", columns="bus", values=column)
        v, t = piv.to_numpy(), piv.index.to_numpy()
        q = np.nanpercentile(v, [0, 5, 25, 50, 75, 95, 100], axis=1)
        fig, ax = _subplots(figsize=(8, 3.5))
        ax.fill_between(t, q[0], q[6], alpha=0.15, color="C0", label="min-max")
        ax.fill_between(t, q[1], q[5], alpha=0.3, color="C0", label="5-95 %")
        ax.fill_between(t, q[2], q[4], alpha=0.5, color="C0", label="25-75 %")
        ax.plot(t, q[3], color="C0", label="median")
        for k, lab in (("v_min_pu", "voltage limits"), ("v_max_pu", None)):
            if k in band:
                ax.axhline(float(band[k]), label=lab, **LIMIT_STYLE)
        ax.ticklabel_format(axis="y", useOffset=False)
        time_axis(ax, t.min(), t.max(), clock)
        ax.set_ylabel(f"voltage ({column}, pu)")
        ax.legend(loc="lower left", fontsize=8)
        _save(fig, path)

    return draw


def station_activity(stations: pd.DataFrame, summary: dict[str, Any] | None = None) -> Figure:
    """Queued and charging vehicles and station load over time, one line per station; each
    station's line limit (summary ``limits.station_line_kw``) as a dashed line of its colour."""
    clock = clock_of(summary)
    limit_kw = ((summary or {}).get("limits") or {}).get("station_line_kw") or {}

    def draw(path: Path) -> None:
        fig, axes = _subplots(3, 1, figsize=(8, 6.5), sharex=True)
        cols = ("queued", "charging", "p_kw")
        zero = {c: _all_zero(zero_small(stations[c].to_numpy())) for c in cols}
        for (name, d), c in zip(stations.groupby("station", sort=False), range(99)):
            for ax, col in zip(axes, cols):
                if not zero[col]:
                    ax.plot(d.t, zero_small(d[col].to_numpy()), color=f"C{c % 10}", label=name)
            if str(name) in limit_kw:
                axes[2].axhline(
                    limit_kw[str(name)], color=f"C{c % 10}", ls="--", lw=1, label=f"{name} limit"
                )
        for ax, col, lab in zip(
            axes, cols, ("queued vehicles", "charging vehicles", "station load (kW)")
        ):
            ax.set_ylabel(lab)
            if zero[col]:
                ax.text(0.5, 0.5, "all zero", ha="center", va="center", transform=ax.transAxes)
        if not zero["queued"]:
            axes[0].legend(fontsize=8, ncol=4)
        if limit_kw:
            axes[2].legend(
                fontsize=7, ncol=2, loc="upper left", title="dashed: line limit", title_fontsize=7
            )
        time_axis(axes[-1], stations.t.min(), stations.t.max(), clock)
        _save(fig, path)

    return draw


def soc_trajectories(
    fleet: pd.DataFrame, n_max: int = 200, summary: dict[str, Any] | None = None
) -> Figure:
    """SOC of (up to ``n_max``) EVs over their plugged steps, with the fleet's median."""
    clock = clock_of(summary)

    def draw(path: Path) -> None:
        fig, ax = _subplots(figsize=(8, 3.5))
        for i, (_, d) in enumerate(fleet.groupby("ev", sort=False)):
            if i >= n_max:
                break
            ax.plot(d.t, d.soc, color="C0", alpha=0.15, lw=0.8)
        med = fleet.groupby("t").soc.median()
        ax.plot(med.index, med.to_numpy(), color="C3", label="median")
        time_axis(ax, fleet.t.min(), fleet.t.max(), clock)
        ax.set_ylabel("SOC")
        ax.legend()
        _save(fig, path)

    return draw


def network_map(case_dir: Path) -> Figure | None:
    """Roads, stations and feeder buses/lines of a case folder where coordinates exist."""
    import geopandas as gpd
    from shapely.geometry import LineString, Point

    case_dir = Path(case_dir)
    layers = []
    roads = case_dir / "traffic" / "nodes.csv"
    if roads.is_file():
        nodes = pd.read_csv(roads, dtype={"node": str}).dropna(subset=["x", "y"])
        if len(nodes):
            xy = nodes.set_index("node")[["x", "y"]]
            segs = pd.read_csv(case_dir / "traffic" / "segments.csv", dtype=str)
            geo = [
                LineString([xy.loc[a], xy.loc[b]])
                for a, b in zip(segs.from_node, segs.to_node)
                if a in xy.index and b in xy.index
            ]
            layers.append(("roads", gpd.GeoSeries(geo), "grey"))
            st_file = case_dir / "traffic" / "stations.csv"
            if st_file.is_file():
                st = pd.read_csv(st_file, dtype=str)
                pts = [Point(xy.loc[n]) for n in st.node if n in xy.index]
                layers.append(("stations", gpd.GeoSeries(pts), "red"))
    buses_file = case_dir / "grid" / "buses.csv"
    if buses_file.is_file():
        buses = pd.read_csv(buses_file, dtype={"bus": str})
        if {"x", "y"} <= set(buses) and buses[["x", "y"]].notna().all().all():
            bxy = buses.set_index("bus")[["x", "y"]]
            lines = pd.read_csv(
                case_dir / "grid" / "lines.csv", dtype={"from_bus": str, "to_bus": str}
            )
            geo = [
                LineString([bxy.loc[a], bxy.loc[b]]) for a, b in zip(lines.from_bus, lines.to_bus)
            ]
            layers.append(("feeder", gpd.GeoSeries(geo), "C0"))
    if not layers:
        return None

    def draw(path: Path) -> None:
        road_layers = [ly for ly in layers if ly[0] != "feeder"]
        grid_layers = [ly for ly in layers if ly[0] == "feeder"]
        panels = [p for p in (road_layers, grid_layers) if p]
        fig, axes = _subplots(1, len(panels), figsize=(5 * len(panels), 4.5), squeeze=False)
        for ax, panel in zip(axes[0], panels):
            for name, series, color in panel:
                series.plot(ax=ax, color=color, markersize=40, linewidth=1.2, label=name)
            ax.set_title(" + ".join(n for n, _, _ in panel))
            ax.set_axis_off()
        _save(fig, path)

    return draw


# figure name -> (the run table it is drawn from, its builder; keyword ``summary``)
TABLE_FIGURES: dict[str, tuple[str, Callable[..., Figure]]] = {
    "tariffs": ("tariffs", tariff_heatmap),
    "line_loading": ("lines", line_loading_heatmap),
    "voltage_bands": ("buses", voltage_bands),
    "stations": ("stations", station_activity),
    "soc": ("fleet", soc_trajectories),
}


def figures_for(
    tables: dict[str, pd.DataFrame],
    case_dir: Path | None = None,
    summary: dict[str, Any] | None = None,
) -> dict[str, Figure]:
    """Every figure the run's tables (and optionally its case folder) support; ``summary``
    gives clock time (``start``, ``dt_h``) and the limits drawn as lines."""
    out: dict[str, Figure] = {
        name: build(tables[key], summary=summary)
        for name, (key, build) in TABLE_FIGURES.items()
        if key in tables and len(tables[key])
    }
    if case_dir is not None:
        m = network_map(case_dir)
        if m is not None:
            out["map"] = m
    return out


def render_png(name: str, table: pd.DataFrame, summary: dict[str, Any] | None = None) -> bytes:
    """PNG bytes of the table figure ``name`` (see ``TABLE_FIGURES``) drawn from ``table``;
    lets another process (a Dask worker) draw a run's figures."""
    buf = io.BytesIO()
    TABLE_FIGURES[name][1](table, summary=summary)(buf)
    return buf.getvalue()
