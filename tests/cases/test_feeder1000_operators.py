"""feeder1000-ev's fleet operators are its LV grids: the EVs below each MV/LV transformer."""

from __future__ import annotations

import numpy as np

from cases.builtin import load_case
from power.limits import LinearGrid


def test_every_operator_is_the_fleet_below_one_transformer():
    case = load_case("feeder1000-ev")
    f = case.feeder
    kv = f.buses.set_index("bus")["base_kv"]
    trafo = f.lines[
        kv.reindex(f.lines.from_bus).to_numpy() != kv.reindex(f.lines.to_bus).to_numpy()
    ]
    assert len(trafo) == 10
    down = LinearGrid(f).downstream.toarray().astype(bool)  # lines x buses
    pos = {line: i for i, line in enumerate(f.line_ids)}
    below = down[[pos[t] for t in trafo.line]]
    assert below.sum(axis=0).max() == 1  # no transformer below another: each bus has one or none
    evs = case.fleet.evs
    bus_pos = evs.bus.map(f.bus_pos).to_numpy()
    for t, rows in zip(trafo.line, below, strict=True):
        mine = (evs.aggregator == f"fo_{t}").to_numpy()
        np.testing.assert_array_equal(mine, rows[bus_pos])  # exactly the EVs below it
    above = ~below.any(axis=0)[bus_pos]
    np.testing.assert_array_equal((evs.aggregator == "fo_mv").to_numpy(), above)
    assert evs.aggregator.nunique() == 11 and len(evs) == 1093
