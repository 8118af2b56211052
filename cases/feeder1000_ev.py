"""Built-in case ``feeder1000-ev`` (seed 001 analogue): a ~1000-bus MV+LV feeder, ~1100 EVs."""

from __future__ import annotations

import numpy as np

from cases.case import Case, TimeGrid
from cases.profiles import PRICE_NO_24H, hourly_to_steps
from cases.simbench_feeder import simbench_feeder
from power.ev_data import fleet_seed001
from power.feeder import Feeder
from power.fleet import Fleet

CODE, BUSBAR, FIRST = "1-MVLV-rural-all-0-sw", "16148", "16176"
DAY, START_H, STEPS, DT_H = 14, 12.0, 96, 0.25  # 15 January, noon to noon
EV_PER_HOUSEHOLD = 1.3


def lv_grid_operators(feeder: Feeder) -> dict[str, str]:
    """Per bus id, the fleet operator of its LV grid: ``fo_<line>`` after the transformer that
    feeds the grid (the nearest line upstream whose upstream bus has the higher base voltage);
    ``fo_mv`` for buses above every transformer."""
    tree, kv, lines = feeder.tree, feeder.buses["base_kv"].to_numpy(float), feeder.line_ids
    op = np.full(len(kv), "fo_mv", dtype=object)
    for b in tree.order[1:]:  # breadth-first: a bus's parent is named before it
        li = tree.parent_line[b]
        up = tree.parent_bus[li]
        op[b] = f"fo_{lines[li]}" if kv[up] > kv[b] else op[up]
    return dict(zip(feeder.bus_ids, op, strict=True))


def build_feeder1000_ev() -> Case:
    """SimBench ``1-MVLV-rural-all-0-sw``, MV feeder 16148 -> 16176 with its LV grids (888
    buses incl. 20/0.4 kV transformers; slack: the MV busbar at 1.0 pu; 0.9-1.1 pu), SimBench
    load and PV profiles of 15 January from noon to noon in 96 steps of 15 min, a Norwegian-like
    price day flat through the night (:data:`cases.profiles.PRICE_NO_24H`), as BATTPOWER.

    EVs (seed 001 appendix D.2, :func:`power.ev_data.fleet_seed001`, seed 0): every load bus is
    a household connection with 1.3 EVs on average (each gets 1, a seeded 30 % get a second),
    about 1100 EVs. BATTPOWER's penetration steps are ``evtp strategy --ev-share``.

    For seed 000's capacity market (``evtp tariff``) the EVs of each LV grid form one fleet
    operator, named after its MV/LV transformer (:func:`lv_grid_operators`): as in seed 000,
    an operator's deviation cost then acts on the load of the transformer it is priced at.
    """
    price = hourly_to_steps(PRICE_NO_24H, STEPS, DT_H, START_H)
    feeder = simbench_feeder(
        CODE, BUSBAR, FIRST, day=DAY, start_h=START_H, steps=STEPS, dt_h=DT_H, price=price
    )
    load_buses = list(dict.fromkeys(feeder.loads["bus"]))
    rng = np.random.default_rng(0)
    counts = 1 + (rng.uniform(size=len(load_buses)) < EV_PER_HOUSEHOLD - 1.0).astype(int)
    fleet = fleet_seed001(
        load_buses, counts.tolist(), steps=STEPS, dt_h=DT_H, start_h=START_H, seed=0
    )
    operator = lv_grid_operators(feeder)
    fleet = Fleet(fleet.evs.assign(aggregator=fleet.evs["bus"].map(operator)))
    return Case(
        name="feeder1000-ev",
        description="seed 001 analogue: SimBench rural MV+LV feeder (888 buses), ~1100 EVs",
        time=TimeGrid(STEPS, DT_H, "12:00"),
        feeder=feeder,
        # the fleet market's price of each transformer settles by the adaptive step (a
        # constant 1e-3 falls into a two-cycle once the AC correction has tightened them)
        parameters={"step_rule": "adaptive", "max_iter": 60},
        fleet=fleet,
    )
