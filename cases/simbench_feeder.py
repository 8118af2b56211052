"""One MV feeder with its LV grids cut out of a SimBench MV+LV grid, with SimBench's own load
and PV profiles (offline: the data ship in the simbench wheel).

Used by the ``feeder1000-ev`` case (seed 001 analogue): ``1-MVLV-rural-all-0-sw`` feeder
``16148 -> 16176`` has 888 buses (20 kV and 0.4 kV) and 850 loads. The slack is the MV busbar
(bus ``16148``) at 1.0 pu; the HV/MV transformer and the other MV feeders are dropped.
"""

from __future__ import annotations

import networkx as nx
import numpy as np
import pandas as pd

from power.feeder import Feeder
from power.pandapower_io import from_pandapower

STEPS_PER_DAY = 96  # SimBench profiles are 15-min values over one year


def simbench_feeder(
    code: str,
    busbar: str,
    first_bus: str,
    *,
    day: int,
    start_h: float,
    steps: int,
    dt_h: float,
    price: np.ndarray,
    v_min_pu: float = 0.9,
    v_max_pu: float = 1.1,
) -> Feeder:
    """The feeder below branch ``busbar -> first_bus`` of SimBench grid ``code``.

    Loads and PV follow SimBench's profiles from ``day`` (0 = 1 January) at ``start_h`` for
    ``steps`` steps of ``dt_h`` hours (sampled every ``dt_h / 0.25`` profile values).
    """
    import simbench as sb

    net = sb.get_simbench_net(code)
    grid = from_pandapower(net, v_min_pu=v_min_pu, v_max_pu=v_max_pu)
    g = nx.Graph()
    g.add_edges_from(zip(grid.lines.from_bus, grid.lines.to_bus))
    g.remove_edge(busbar, first_bus)
    keep = nx.node_connected_component(g, first_bus) | {busbar}
    buses = grid.buses[grid.buses.bus.isin(keep)].reset_index(drop=True)
    buses.loc[buses.bus == busbar, ["v_min_pu", "v_max_pu"]] = 1.0
    lines = grid.lines[grid.lines.from_bus.isin(keep) & grid.lines.to_bus.isin(keep)]
    lines = lines.reset_index(drop=True)

    stride = int(round(dt_h / 0.25))
    rows = day * STEPS_PER_DAY + int(round(start_h / 0.25)) + stride * np.arange(steps)
    ids = set(buses.bus)

    def per_bus(df: pd.DataFrame, prof: pd.DataFrame, col: str, suffix: str) -> pd.DataFrame:
        df = df[df.in_service.astype(bool)]
        bus = df.bus.astype(str).to_numpy()
        inside = np.isin(bus, list(ids))
        df, bus = df[inside], bus[inside]
        factors = prof.iloc[rows][[p + suffix for p in df.profile]].to_numpy()  # steps x n
        vals = factors * df[col].to_numpy(float)[None, :] * 1000.0
        out = pd.DataFrame(vals.T, index=bus).groupby(level=0).sum()
        return out

    p = per_bus(net.load, net.profiles["load"], "p_mw", "_pload")
    q = per_bus(net.load, net.profiles["load"], "q_mvar", "_qload")
    order = [b for b in buses.bus if b in p.index]
    loads = pd.DataFrame(
        {
            "bus": np.repeat(order, steps),
            "t": np.tile(np.arange(steps), len(order)),
            "p_kw": p.loc[order].to_numpy().reshape(-1).round(4),
            "q_kvar": q.loc[order].to_numpy().reshape(-1).round(4),
        }
    )
    pv = per_bus(net.sgen, net.profiles["renewables"], "p_mw", "")
    pv_order = [b for b in buses.bus if b in pv.index]
    ren = pd.DataFrame(
        {
            "bus": np.repeat(pv_order, steps),
            "t": np.tile(np.arange(steps), len(pv_order)),
            "kind": "pv",
            "p_kw": pv.loc[pv_order].to_numpy().reshape(-1).round(4),
        }
    )
    return Feeder(
        buses=buses,
        lines=lines,
        loads=loads,
        renewables=ren,
        prices=pd.DataFrame({"t": np.arange(steps), "price_per_kwh": price}),
        slack_bus=busbar,
        v_slack_pu=1.0,
        steps=steps,
        dt_h=dt_h,
    )
