"""The :class:`Case`: everything one study needs, in one immutable object."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cases.parameters import ParameterError, check_parameters, check_value, default
from power.feeder import Feeder
from power.fleet import Fleet
from robust.uncertainty import Uncertainty
from traffic.network import RoadNetwork, Stations, TrafficDataError, TravelDemand, validate_traffic


class CaseError(ValueError):
    """Invalid case folder or case.toml; the message is one line naming file and element."""


@dataclass(frozen=True)
class TimeGrid:
    """``steps`` steps of ``dt_h`` hours starting at ``start`` (ISO text, metadata only)."""

    steps: int
    dt_h: float
    start: str = "00:00"


@dataclass(frozen=True)
class TrafficData:
    """The road side of a coupled case: network, charging stations (optional), EV demand."""

    network: RoadNetwork
    stations: Stations | None
    demand: TravelDemand


@dataclass(frozen=True)
class Case:
    """A coupled case: feeder (+ later road network, stations, demand, fleets) and parameters.

    parameters : scalar model parameters (e.g. w, beta, battery_kwh) from case.toml.
    gamma : robust budget Gamma in [0, 1] (seed 003).
    traffic : road network, stations and demand, or None for a grid-only case. Every
        station's ``bus`` must be a bus of the feeder (the station -> bus coupling).
    fleet : stationary EVs plugged in at feeder buses (``fleet/evs.csv``), or None.
    build : how the case was built (``case.toml [build]``, e.g. units, demand model and
        aggregation of ``evtp build --tntp``); a record, not read by any model.
    """

    name: str
    description: str
    time: TimeGrid
    feeder: Feeder
    uncertainty: Uncertainty = field(default_factory=Uncertainty)
    parameters: dict[str, Any] = field(default_factory=dict)
    gamma: float = 0.0
    traffic: TrafficData | None = None
    fleet: Fleet | None = None
    build: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if (self.feeder.steps, self.feeder.dt_h) != (self.time.steps, self.time.dt_h):
            raise CaseError("case.toml: [time] does not match the feeder's time grid")
        if not 0.0 <= self.gamma <= 1.0:
            raise CaseError(f"case.toml: [robust] gamma must lie in [0, 1], got {self.gamma!r}")
        try:
            check_parameters(self.parameters)
        except ParameterError as exc:
            raise CaseError(str(exc)) from None
        self.uncertainty.validate(self.feeder.bus_ids)
        if self.fleet is not None:
            self.fleet.validate(self.time.steps, self.feeder.bus_ids)
        if self.traffic is not None:
            tr = self.traffic
            validate_traffic(tr.network, tr.stations, tr.demand, self.time.steps)
            if tr.stations is not None:
                known = set(self.feeder.bus_ids)
                for y, b in tr.stations.table[["station", "bus"]].itertuples(index=False):
                    if b not in known:
                        raise TrafficDataError(
                            f"traffic/stations.csv: column bus: station {y!r} refers to "
                            f"unknown bus {b!r} (not in grid/buses.csv)"
                        )

    def parameter(self, name: str, fallback: float | str | None = None) -> Any:
        """A scalar of ``[parameters]``: its value, else ``fallback``, else the registry
        default (``cases/parameters.py``); numbers as float, choices as text, None when the
        registry default is "absent"."""
        if name in self.parameters:
            val = self.parameters[name]
        elif fallback is not None:
            val = fallback
        else:
            val = default(name)
            if val is None:
                return None
        try:
            out = check_value(name, val)
        except ParameterError as exc:
            raise CaseError(str(exc)) from None
        return float(out) if isinstance(out, int | float) else out
