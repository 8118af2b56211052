"""Which aggregator serves which trips, for demand built from a trip table
(``evtp build --tntp --aggregators N``).

An aggregator (an EV fleet operator, seed 003) plans the routes and charging of its own
vehicles. A trip table says nothing about operators, so the build splits the city's demand
into ``N`` aggregators by origin zone, a documented and deterministic rule:

1. ``V_o`` = EVs departing from origin ``o`` over the horizon (all its ODs and steps);
2. origins in order of decreasing ``V_o`` (ties by node id) each go to the aggregator with the
   fewest EVs so far (ties by aggregator number): the longest-processing-time rule, which
   keeps every aggregator within ``max_o V_o`` EVs of the mean;
3. aggregators are named ``eva1`` ... ``evaN``; an OD's rows all go to its origin's.

Every OD keeps one aggregator, so the demand aggregation (``traffic/aggregate.py``) merges
ODs only within an aggregator and each aggregator's problem is the traffic model of its own
vehicles.
"""

from __future__ import annotations

import heapq

import numpy as np
import pandas as pd


def aggregator_names(n: int) -> list[str]:
    """``eva1`` ... ``evaN``."""
    return [f"eva{i + 1}" for i in range(n)]


def assign_aggregators(table: pd.DataFrame, n: int) -> pd.DataFrame:
    """``table`` (demand rows with origin and vehicles) with its ``aggregator`` column set by
    the module's rule for ``n`` aggregators (``n >= 1``); a copy, rows in the same order.

    Raises ValueError for ``n < 1`` or more aggregators than origins with EVs (one would
    have no vehicle)."""
    if n < 1:
        raise ValueError(f"--aggregators must be at least 1, got {n}")
    vol = table.groupby("origin", sort=True)["vehicles"].sum()
    vol = vol[vol > 0]
    if n > len(vol):
        raise ValueError(
            f"--aggregators {n}: the demand has EVs departing from {len(vol)} origins only; "
            f"use at most {len(vol)}"
        )
    names = aggregator_names(n)
    order = np.lexsort((vol.index.to_numpy(str), -vol.to_numpy(float)))
    heap = [(0.0, i) for i in range(n)]
    owner: dict[str, str] = {}
    for k in order:
        load, i = heapq.heappop(heap)
        owner[vol.index[k]] = names[i]
        heapq.heappush(heap, (load + float(vol.iloc[k]), i))
    return table.assign(aggregator=table["origin"].map(owner).fillna(names[0]).to_numpy(str))
