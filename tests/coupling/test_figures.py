"""Tick labels of the heat maps: every row named up to 40 rows, at most 40 evenly spaced
named ticks beyond (a tick per row of an 889-bus feeder took seconds to draw)."""

from __future__ import annotations

import io

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from coupling.figures import _heat, line_loading_heatmap, tariff_heatmap


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
    tariffs = _table(60).rename(columns={"line": "bus", "loading": "dlmp"})
    buf = io.BytesIO()
    tariff_heatmap(tariffs)(buf)
    assert Image.open(buf).size[0] > 0
