"""How much a coupled case charges, against its feeder, and whether a grid limit can bind
(``evtp check`` and ``evtp build --tntp`` report it before anything is solved).

- **Feeder energy**: the fixed loads over the horizon (kWh).
- **Charging energy, at least** (kWh, battery side): per demand row, the vehicles must end
  with ``arrival floor x vehicles`` of SOC and use at least ``min SOC use`` each on the way
  (the least-SOC path of their OD, :func:`min_soc_use`), so they must charge at least
  ``max(0, (floor + use) vehicles - soc_total) x battery_kwh``. A lower bound: the DTA
  may charge more where it is cheap.
- **Can a limit bind**: with every station drawing its full power (plugs x largest charger)
  on top of the fixed loads net of renewables at every step, does a line flow exceed its
  limit or a voltage fall below its floor (LinDistFlow)? If not, no grid limit can bind.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from cases.case import Case
from power.sensitivity import sensitivities
from traffic.graph import pair_distances, through_blocked
from traffic.network import RoadNetwork, TravelDemand

NEGLIGIBLE_SHARE = 0.01  # EV charging below 1 % of the feeder's energy is negligible


def min_soc_use(network: RoadNetwork, demand: TravelDemand) -> pd.Series:
    """Least SOC (battery fraction) one vehicle of each OD uses to reach its destination
    (Dijkstra on ``soc_per_vehicle``, never through a zone), indexed by od."""
    ods = demand.ods
    seg = network.segments
    use = pair_distances(
        seg,
        seg["soc_per_vehicle"].to_numpy(float) + 1e-12,  # scipy: a 0 weight is no link
        ods["origin"].to_numpy(),
        ods["destination"].to_numpy(),
        through_blocked(network.nodes),
    )
    return pd.Series(use, index=ods["od"].to_numpy())


@dataclass(frozen=True)
class EnergyReport:
    """The figures of the module docstring (kWh, kW)."""

    feeder_kwh: float
    charge_kwh_min: float
    station_kw_max: float
    line_can_bind: bool
    voltage_can_bind: bool

    @property
    def share(self) -> float:
        """Charging energy (at least) as a share of the feeder's energy."""
        return self.charge_kwh_min / self.feeder_kwh if self.feeder_kwh > 0 else float("inf")

    def warnings(self) -> list[str]:
        """What a user should know before solving (empty when nothing)."""
        out = []
        if self.share < NEGLIGIBLE_SHARE:
            out.append(
                f"EV charging is negligible: at least {self.charge_kwh_min:.4g} kWh against "
                f"{self.feeder_kwh:.4g} kWh of feeder load ({self.share:.2%}); raise --ev-share "
                "or --charge-share"
            )
        if self.station_kw_max > 0 and not (self.line_can_bind or self.voltage_can_bind):
            out.append(
                "no grid limit can bind, even with every station at full power; "
                "rate the lines (evtp build --line-headroom) or move the stations"
            )
        return out

    def line(self) -> str:
        """One line for the console."""
        binds = [
            w for w, b in (("line", self.line_can_bind), ("voltage", self.voltage_can_bind)) if b
        ]
        return (
            f"EV charging >= {self.charge_kwh_min:.4g} kWh = {self.share:.1%} of the feeder's "
            f"{self.feeder_kwh:.4g} kWh; stations up to {self.station_kw_max:.4g} kW; "
            f"limits that can bind: {', '.join(binds) or 'none'}"
        )


def energy_report(case: Case) -> EnergyReport | None:
    """The report of a coupled case with stations (None for other cases)."""
    tr = case.traffic
    f = case.feeder
    if tr is None or tr.stations is None:
        return None
    feeder_kwh = float(f.load_p_kw.sum() * f.dt_h)
    battery = float(case.parameter("battery_kwh"))
    soc_min = float(case.parameter("soc_min"))
    dem = tr.demand.table
    use = min_soc_use(tr.network, tr.demand)
    floor = (
        dem["arrival_soc"].fillna(soc_min).clip(lower=soc_min)
        if "arrival_soc" in dem
        else pd.Series(soc_min, index=dem.index)
    )
    need = (floor + dem["od"].map(use)) * dem["vehicles"] - dem["soc_total"]
    charge_kwh = float(np.maximum(need.to_numpy(float), 0.0).sum() * battery)

    st = tr.stations.table
    kw = (
        np.array([max(max(c), 0.0) for c in tr.stations.chargers.values()]) * st["plugs"].to_numpy()
    )
    station = np.zeros(len(f.bus_ids))
    np.add.at(station, st["bus"].map(f.bus_pos).to_numpy(), kw)
    net = f.load_p_kw - f.renewable_p_kw() + station[:, None]
    sens = sensitivities(f)
    flow = np.abs(sens.line_flows_kw(net))
    line_bind = bool((flow > f.line_p_max_kw * (1 + 1e-9)).any())
    w = sens.squared_voltages(net, f.load_q_kvar, f.v_slack_pu)
    v_min = f.buses["v_min_pu"].to_numpy(float)[:, None]
    return EnergyReport(
        feeder_kwh=feeder_kwh,
        charge_kwh_min=charge_kwh,
        station_kw_max=float(kw.sum()),
        line_can_bind=line_bind,
        voltage_can_bind=bool((w < v_min**2).any()),
    )
