"""Built-in case ``cigre-mv-ev`` (seed 002): CIGRE MV benchmark with 878 EVs of Table I."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandapower.networks as pn
import pandas as pd

from cases.case import Case, TimeGrid
from cases.ieee33 import feeder_from_nominal
from cases.profiles import LOAD_FACTOR_24H, PRICE_24H, hourly_to_steps
from power.ev_data import fleet_seed002
from power.pandapower_io import from_pandapower

# seed 002, Table I: EVs parked per node (nodes 1 and 12 have none, see the paper's note)
EVS_PER_NODE = {"3": 68, "4": 106, "5": 178, "6": 134, "8": 144, "10": 116, "11": 81, "14": 51}
# seed 002, Table I: nominal apparent power (kVA) and power factor per node
NOMINAL_KVA = {
    "1": (15300.0, 0.98), "3": (285.0, 0.97), "4": (445.0, 0.97), "5": (750.0, 0.97),
    "6": (565.0, 0.97), "8": (605.0, 0.97), "10": (490.0, 0.97), "11": (340.0, 0.97),
    "12": (15300.0, 0.98), "14": (215.0, 0.97),
}  # fmt: skip
COINCIDENCE_PEAK = 0.6  # evening peak of the aggregate demand relative to the nominal power
START_H, STEPS, DT_H = 16.0, 72, 0.25


def build_cigre_mv_ev() -> Case:
    """CIGRE MV (pandapower, without DER, switches as in pandapower: S1-S3 open) over the night
    16:00 -> 10:00 in 72 steps of 15 min, 878 EVs.

    Assumptions: loads = Table I's nominal powers and power factors x a coincidence profile
    (0.6 x :data:`cases.profiles.LOAD_FACTOR_24H`, peak 0.6 at 18:00: the CIGRE coincidence
    factor model is not public in full); voltage limits 1 +- 0.03 pu at every MV bus (the
    slack keeps pandapower's 1.03 pu on the 110 kV side); EVs from seed 002 section V-B
    (:func:`power.ev_data.fleet_seed002`, seed 0, 40 kWh); one fleet row per EV (the paper's
    "EVs per item" aggregation is not used); a Nordic-like price (price/grid strategies).
    """
    grid = from_pandapower(pn.create_cigre_network_mv(with_der=False), v_min_pu=0.97, v_max_pu=1.03)
    ids = grid.buses["bus"]
    p = {b: s * pf for b, (s, pf) in NOMINAL_KVA.items()}
    q = {b: s * np.sqrt(1 - pf**2) for b, (s, pf) in NOMINAL_KVA.items()}
    grid = replace(
        grid,
        load_p_kw=pd.Series([p.get(b, 0.0) for b in ids], index=ids.to_numpy()),
        load_q_kvar=pd.Series([q.get(b, 0.0) for b in ids], index=ids.to_numpy()),
    )
    factor = COINCIDENCE_PEAK * hourly_to_steps(LOAD_FACTOR_24H, STEPS, DT_H, START_H)
    price = hourly_to_steps(PRICE_24H, STEPS, DT_H, START_H)
    feeder = feeder_from_nominal(grid, STEPS, DT_H, factor, price)
    fleet = fleet_seed002(
        list(EVS_PER_NODE),
        list(EVS_PER_NODE.values()),
        steps=STEPS,
        dt_h=DT_H,
        start_h=START_H,
        seed=0,
    )
    return Case(
        name="cigre-mv-ev",
        description="seed 002: CIGRE MV with 878 EVs (Table I), 16:00-10:00 in 15-min steps",
        time=TimeGrid(STEPS, DT_H, "16:00"),
        feeder=feeder,
        parameters={},
        fleet=fleet,
    )
