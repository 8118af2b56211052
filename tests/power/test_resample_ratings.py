"""A feeder on another time grid, and derived line ratings where it has none."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cases.builtin import load_case
from power.ratings import derive_line_ratings, unusable_ratings
from power.resample import resample_feeder


@pytest.fixture(scope="module")
def ieee33():
    return load_case("ieee33").feeder


def test_resampling_keeps_energy_and_means(ieee33):
    f = ieee33
    quarter = resample_feeder(f, 96, 0.25)
    assert np.allclose(quarter.load_p_kw[:, 2::4], f.load_p_kw)  # step-wise on a finer grid
    assert quarter.load_p_kw.sum() * 0.25 == pytest.approx(f.load_p_kw.sum() * f.dt_h)
    two = resample_feeder(f, 12, 2.0)
    assert np.allclose(two.load_p_kw, f.load_p_kw.reshape(-1, 12, 2).mean(axis=2))
    assert np.allclose(two.price_per_kwh, f.price_per_kwh.reshape(12, 2).mean(axis=1))
    days = resample_feeder(f, 48, 1.0)  # the day repeats
    assert np.allclose(days.load_p_kw[:, 24:], f.load_p_kw)
    odd = resample_feeder(f, 16, 1.5)  # steps that straddle hours: time-weighted
    assert odd.load_p_kw[:, 0] == pytest.approx((f.load_p_kw[:, 0] + 0.5 * f.load_p_kw[:, 1]) / 1.5)


def test_time_varying_limits_take_the_smallest_overlapped_limit(ieee33):
    lim = pd.DataFrame({"line": "l0", "t": np.arange(24), "p_max_kw": 5000.0 - 10 * np.arange(24)})
    from dataclasses import replace

    f = replace(ieee33, line_limits=lim)
    two = resample_feeder(f, 12, 2.0)
    assert two.line_p_max_kw[0] == pytest.approx(5000.0 - 10 * (2 * np.arange(12) + 1))


def test_unrated_lines_get_headroom_over_their_base_load_peak(ieee33):
    assert unusable_ratings(ieee33).all()  # case33bw: p_max 2.19e9 kW
    rated, ids = derive_line_ratings(ieee33, 1.5)
    assert len(ids) == 32
    p = rated.lines.set_index("line")["p_max_kw"]
    # the first line carries the whole feeder (hand sum of the loads at the peak step)
    assert p["l0"] == pytest.approx(1.5 * ieee33.load_p_kw.sum(axis=0).max(), abs=1e-3)
    # a line feeding one small end bus gets the floor: one bus's peak worth
    floor = 1.5 * ieee33.load_p_kw.max()
    assert p.min() == pytest.approx(floor, abs=1e-3)
    again, none = derive_line_ratings(rated, 1.5)  # usable ratings are left alone
    assert none == [] and again is rated
    with pytest.raises(ValueError, match="--line-headroom"):
        derive_line_ratings(ieee33, 0.0)
