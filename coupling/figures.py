"""Figures of a run from its tables: each is a callable writing one PNG.

Figures are matplotlib ``Figure`` objects drawn without pyplot, so they render with the Agg
canvas wherever they are saved and importing this module changes no global matplotlib state
(no backend is chosen for the user's own plots).

Values are cleaned as in the tables (:mod:`coupling.clean`: ``|x| < ZERO_TOL`` drawn as 0); a
panel whose values are then all zero says "all zero" instead of stretching round-off over a
colour scale or axis, and heat maps of comparable quantities share one colour scale.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from coupling.clean import zero_small

Figure = Callable[[Path], None]
MAX_LABELS = 40  # most tick labels on a heat-map axis


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
    """Rows ``key`` x columns ``t`` of ``value`` (summed), cleaned of round-off."""
    grid = df.pivot_table(index=key, columns="t", values=value, aggfunc="sum", sort=False)
    return pd.DataFrame(zero_small(grid.to_numpy()), index=grid.index, columns=grid.columns)


def _heat(
    ax,
    df: pd.DataFrame,
    key: str,
    value: str,
    title: str,
    cmap: str = "viridis",
    vlim: tuple[float, float] | None = None,
):
    """Heat map of ``value`` (rows ``key``, columns step t) on ``ax``; ``vlim`` fixes the colour
    scale (shared between panels). None, and an "all zero" panel, when every value is 0."""
    grid = _grid(df, key, value)
    if _all_zero(grid.to_numpy()):
        _say_all_zero(ax, title)
        return None
    vmin, vmax = vlim if vlim is not None else (None, None)
    im = ax.imshow(
        grid.to_numpy(), aspect="auto", cmap=cmap, interpolation="nearest", vmin=vmin, vmax=vmax
    )
    # every row named up to MAX_LABELS rows, else every k-th (a tick per row of a large
    # feeder costs seconds to draw and cannot be read)
    step = -(-len(grid.index) // MAX_LABELS)
    rows = np.arange(0, len(grid.index), max(step, 1))
    ax.set_yticks(rows, grid.index[rows])
    ax.set_xlabel("step t")
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
PRICE_LEVELS = ("dlmp", "energy", "tariff")
DLMP_ADDERS = ("congestion", "voltage")


def tariff_heatmap(tariffs: pd.DataFrame) -> Figure:
    """Station (or bus) x time heatmaps of the tariff and of the DLMP parts (currency/kWh)."""
    key = "station" if "station" in tariffs else "bus"
    parts = [c for c in ("dlmp", "energy", "congestion", "voltage", "tariff") if c in tariffs]

    def draw(path: Path) -> None:
        fig, axes = _subplots(len(parts), 1, figsize=(9, 1.8 * len(parts) + 0.6), squeeze=False)
        limits = {}
        for group in (PRICE_LEVELS, DLMP_ADDERS):
            cols = [c for c in group if c in parts]
            if len(cols) > 1:
                limits.update(dict.fromkeys(cols, _shared_limits(tariffs, key, cols)))
        for ax, col in zip(axes[:, 0], parts):
            title = f"{col} (currency/kWh)"
            im = _heat(ax, tariffs, key, col, title, "magma", limits.get(col))
            if im is not None:
                fig.colorbar(im, ax=ax)
        _save(fig, path)

    return draw


def line_loading_heatmap(lines: pd.DataFrame) -> Figure:
    """Line x time heatmap of the loading (fraction of the limit)."""

    def draw(path: Path) -> None:
        fig, ax = _subplots(figsize=(9, 4))
        im = _heat(ax, lines, "line", "loading", "line loading (fraction of limit)", "inferno")
        if im is not None:
            fig.colorbar(im, ax=ax)
        _save(fig, path)

    return draw


def voltage_bands(buses: pd.DataFrame, column: str = "v_pu") -> Figure:
    """Quantile bands of the bus voltages over time (min, 5-95 %, 25-75 %, median, max)."""

    def draw(path: Path) -> None:
        v = buses.pivot_table(index="t", columns="bus", values=column).to_numpy()
        t = np.arange(v.shape[0])
        q = np.nanpercentile(v, [0, 5, 25, 50, 75, 95, 100], axis=1)
        fig, ax = _subplots(figsize=(8, 3.5))
        ax.fill_between(t, q[0], q[6], alpha=0.15, color="C0", label="min-max")
        ax.fill_between(t, q[1], q[5], alpha=0.3, color="C0", label="5-95 %")
        ax.fill_between(t, q[2], q[4], alpha=0.5, color="C0", label="25-75 %")
        ax.plot(t, q[3], color="C0", label="median")
        ax.set_xlabel("step t")
        ax.set_ylabel(f"voltage ({column}, pu)")
        ax.legend(loc="lower left", fontsize=8)
        _save(fig, path)

    return draw


def station_activity(stations: pd.DataFrame) -> Figure:
    """Queued and charging vehicles and station load over time, one line per station."""

    def draw(path: Path) -> None:
        fig, axes = _subplots(3, 1, figsize=(8, 6.5), sharex=True)
        cols = ("queued", "charging", "p_kw")
        zero = {c: _all_zero(zero_small(stations[c].to_numpy())) for c in cols}
        for (name, d), c in zip(stations.groupby("station", sort=False), range(99)):
            for ax, col in zip(axes, cols):
                if not zero[col]:
                    ax.plot(d.t, zero_small(d[col].to_numpy()), color=f"C{c % 10}", label=name)
        for ax, col, lab in zip(
            axes, cols, ("queued vehicles", "charging vehicles", "station load (kW)")
        ):
            ax.set_ylabel(lab)
            if zero[col]:
                ax.text(0.5, 0.5, "all zero", ha="center", va="center", transform=ax.transAxes)
        if not zero["queued"]:
            axes[0].legend(fontsize=8, ncol=4)
        axes[-1].set_xlabel("step t")
        _save(fig, path)

    return draw


def soc_trajectories(fleet: pd.DataFrame, n_max: int = 200) -> Figure:
    """SOC of (up to ``n_max``) EVs over their plugged steps, with the fleet's median."""

    def draw(path: Path) -> None:
        fig, ax = _subplots(figsize=(8, 3.5))
        for i, (_, d) in enumerate(fleet.groupby("ev", sort=False)):
            if i >= n_max:
                break
            ax.plot(d.t, d.soc, color="C0", alpha=0.15, lw=0.8)
        med = fleet.groupby("t").soc.median()
        ax.plot(med.index, med.to_numpy(), color="C3", label="median")
        ax.set_xlabel("step t")
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


# figure name -> (the run table it is drawn from, its builder)
TABLE_FIGURES: dict[str, tuple[str, Callable[[pd.DataFrame], Figure]]] = {
    "tariffs": ("tariffs", tariff_heatmap),
    "line_loading": ("lines", line_loading_heatmap),
    "voltage_bands": ("buses", voltage_bands),
    "stations": ("stations", station_activity),
    "soc": ("fleet", soc_trajectories),
}


def figures_for(tables: dict[str, pd.DataFrame], case_dir: Path | None = None) -> dict[str, Figure]:
    """Every figure the run's tables (and optionally its case folder) support."""
    out: dict[str, Figure] = {
        name: build(tables[key])
        for name, (key, build) in TABLE_FIGURES.items()
        if key in tables and len(tables[key])
    }
    if case_dir is not None:
        m = network_map(case_dir)
        if m is not None:
            out["map"] = m
    return out


def render_png(name: str, table: pd.DataFrame) -> bytes:
    """PNG bytes of the table figure ``name`` (see ``TABLE_FIGURES``) drawn from ``table``;
    lets another process (a Dask worker) draw a run's figures."""
    buf = io.BytesIO()
    TABLE_FIGURES[name][1](table)(buf)
    return buf.getvalue()
