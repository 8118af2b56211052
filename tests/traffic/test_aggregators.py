"""Splitting a city's demand among aggregators by origin zone (traffic/aggregators.py)."""

from __future__ import annotations

import pandas as pd
import pytest

from traffic.aggregators import assign_aggregators


def _table(vehicles: dict[str, float]) -> pd.DataFrame:
    rows = []
    for o, v in vehicles.items():  # two ODs and two steps per origin, summing to v
        for d, t in (("X", 0), ("Y", 1)):
            rows.append(
                {"od": f"{o}-{d}", "origin": o, "destination": d, "t": t, "vehicles": v / 2}
            )
    return pd.DataFrame(rows).assign(aggregator="eva1")


def test_largest_origin_first_to_the_least_loaded_aggregator():
    # by hand: A 5 -> eva1 (5); B 4 -> eva2 (4); C 3 and D 3 tie, C first by id -> eva2 (7);
    # D -> eva1 (8)
    out = assign_aggregators(_table({"D": 3.0, "B": 4.0, "A": 5.0, "C": 3.0}), 2)
    owner = out.groupby("origin")["aggregator"].agg(set)
    assert owner.to_dict() == {"A": {"eva1"}, "B": {"eva2"}, "C": {"eva2"}, "D": {"eva1"}}
    per = out.groupby("aggregator")["vehicles"].sum()
    assert per.to_dict() == {"eva1": 8.0, "eva2": 7.0}
    assert out["vehicles"].sum() == 15.0  # rows kept, in order
    assert out[["od", "t"]].equals(_table({"D": 3, "B": 4, "A": 5, "C": 3})[["od", "t"]])


def test_one_aggregator_keeps_everything_together():
    out = assign_aggregators(_table({"A": 1.0, "B": 2.0}), 1)
    assert set(out["aggregator"]) == {"eva1"}


@pytest.mark.parametrize("n, match", [(0, "at least 1"), (3, "2 origins only; use at most 2")])
def test_impossible_splits_are_refused(n, match):
    with pytest.raises(ValueError, match=match):
        assign_aggregators(_table({"A": 1.0, "B": 2.0}), n)
