"""Tick labels of the heat maps: every row named up to 40 rows, at most 40 evenly spaced
named ticks beyond (a tick per row of an 889-bus feeder took seconds to draw)."""

from __future__ import annotations

import io
import re

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from coupling.output.figures import (
    _heat,
    line_loading_heatmap,
    station_activity,
    tariff_heatmap,
    voltage_bands,
)


def _table(n: int, steps: int = 96) -> pd.DataFrame:
    rng = np.random.default_rng(n)
    return pd.DataFrame(
        {
            "line": np.repeat([f"l{i}" for i in range(n)], steps),
            "t": np.tile(np.arange(steps), n),
            "loading": rng.uniform(0, 1, n * steps),
        }
    )


def _yticks(n: int) -> tuple[np.ndarray, list[str]]:
    fig, ax = plt.subplots()
    try:
        im = _heat(ax, _table(n), "line", "loading", "x")
        assert im.get_array().shape == (n, 96)  # labels thinned, not the data
        return np.asarray(ax.get_yticks()), [t.get_text() for t in ax.get_yticklabels()]
    finally:
        plt.close(fig)


@pytest.mark.parametrize("n", [1, 17, 30, 40])
def test_every_row_named_when_few(n):
    pos, labels = _yticks(n)
    assert list(pos) == list(range(n))
    assert labels == [f"l{i}" for i in range(n)]


@pytest.mark.parametrize("n", [41, 120, 889])
def test_at_most_40_named_ticks_when_many(n):
    pos, labels = _yticks(n)
    assert 20 <= len(pos) <= 40
    assert pos[0] == 0 and pos[-1] <= n - 1
    step = np.diff(pos)
    assert (step == step[0]).all() and step[0] == -(-n // 40)  # evenly spaced, ceil(n / 40)
    assert labels == [f"l{int(i)}" for i in pos]  # each tick names its own row


def test_heatmaps_still_draw_every_row():
    """The heat maps of many rows still draw."""
    buf = io.BytesIO()
    line_loading_heatmap(_table(889))(buf)
    assert Image.open(buf).size[0] > 0
    tariffs = _table(60).rename(columns={"line": "bus", "loading": "dlmp_per_kwh"})
    buf = io.BytesIO()
    tariff_heatmap(tariffs)(buf)
    assert Image.open(buf).size[0] > 0


# --- clock time, limit lines and the hu2014-lv tariff panel --------------------------------


def _drawn(monkeypatch, figure, *args, **kwargs):
    """The matplotlib figure a builder draws (captured instead of saved)."""
    import coupling.output.figures as figures

    got = []
    monkeypatch.setattr(figures, "_save", lambda fig, path: got.append(fig))
    figure(*args, **kwargs)(io.BytesIO())
    return got[0]


HU = {"start": "12:00", "dt_h": 0.25, "limits": {"v_min_pu": 0.9, "v_max_pu": 1.1}}


def test_clock_labels():
    from coupling.output.figures import Clock, clock_of, parse_clock

    c = clock_of(HU)
    assert c == Clock(12.0, 0.25)
    # step 60 of a 15-min grid from noon starts at 03:00 the next day
    labels = [c.label(t) for t in (0, 1, 47, 48, 60, 95)]
    assert labels == ["12:00", "12:15", "23:45", "00:00", "03:00", "11:45"]
    assert parse_clock("16:30") == 16.5
    assert clock_of({"dt_h": 1.0}) is None and clock_of({"start": "x", "dt_h": 1}) is None


def test_hu2014_like_tariff_panel(monkeypatch):
    """Data only at steps 60-63, values 0.0689206 +- 1e-8: the image sits on steps 60-63, the
    ticks name the steps 03:00-03:45, the colour bar has no offset text, 61 labels readable."""
    buses = ["LV0"] + [f"H{i}" for i in range(1, 61)]
    t = np.arange(60, 64)
    tariffs = pd.DataFrame(
        {
            "bus": np.repeat(buses, len(t)),
            "t": np.tile(t, len(buses)),
            "tariff_per_kwh": 6.89206e-2 + 1e-8 * np.tile([0, 1, 0, 1], len(buses)),
        }
    )
    fig = _drawn(monkeypatch, tariff_heatmap, tariffs, summary=HU)
    fig.canvas.draw()
    ax, cax = fig.axes[0], fig.axes[1]
    assert ax.images[0].get_extent()[:2] == [59.5, 63.5]
    labels = [x.get_text() for x in ax.get_xticklabels()]
    assert labels == ["03:00", "03:15", "03:30", "03:45"]  # one per step, at its centre
    assert all(re.fullmatch(r"\d\d:\d\d", x) for x in labels)
    assert cax.yaxis.get_major_formatter().get_offset() == ""
    assert "uniform 0.06892" in ax.get_title()
    # at most 40 row labels, each at least 7 pt on a panel tall enough to separate them
    ylab = ax.get_yticklabels()
    assert len(ylab) <= 40 and all(x.get_fontsize() >= 7 for x in ylab)
    rows_inch = ax.get_position().height * fig.get_figheight() / len(ylab)
    assert rows_inch >= 7 / 72  # one label height per label at least


def test_limit_lines(monkeypatch):
    t = np.arange(8)
    buses = pd.DataFrame({"bus": np.repeat(["a", "b"], 8), "t": np.tile(t, 2), "v_pu": 0.97})
    fig = _drawn(monkeypatch, voltage_bands, buses, summary=HU)
    levels = sorted(
        ln.get_ydata()[0] for ln in fig.axes[0].get_lines() if ln.get_linestyle() == "--"
    )
    assert levels == [0.9, 1.1]
    assert fig.axes[0].get_xticklabels()[0].get_text() == "12:00"
    lines = _table(3, steps=8)
    fig = _drawn(monkeypatch, line_loading_heatmap, lines, summary=HU)
    peak = fig.axes[1]  # under the heat map (the colour bar comes after)
    dashed = [ln.get_ydata()[0] for ln in peak.get_lines() if ln.get_linestyle() == "--"]
    assert dashed == [1.0]
    highest = [ln for ln in peak.get_lines() if ln.get_label() == "highest loading (linear)"][0]
    assert np.allclose(highest.get_ydata(), lines.groupby("t").loading.max())
    st = pd.DataFrame(
        {
            "station": np.repeat(["F1", "F2"], 8),
            "t": np.tile(t, 2),
            "queued": 0.0,
            "charging": 1.0,
            "p_kw": 50.0,
        }
    )
    summary = {**HU, "limits": {"station_line_kw": {"F1": 800.0, "F2": 300.0}}}
    fig = _drawn(monkeypatch, station_activity, st, summary=summary)
    dashed = sorted(
        ln.get_ydata()[0] for ln in fig.axes[2].get_lines() if ln.get_linestyle() == "--"
    )
    assert dashed == [300.0, 800.0]


def test_no_clock_falls_back_to_steps(monkeypatch):
    fig = _drawn(monkeypatch, line_loading_heatmap, _table(3, steps=8))
    assert fig.axes[0].get_xlabel() == "step t"
