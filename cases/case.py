"""The :class:`Case`: everything one study needs, in one immutable object."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from power.feeder import Feeder
from power.fleet import Fleet
from robust.uncertainty import Uncertainty
from traffic.network import RoadNetwork, Stations, TrafficDataError, TravelDemand, validate_traffic


class CaseError(ValueError):
    """Invalid case folder or case.toml; the message is one line naming file and element."""


# ranges of the model scalars of [parameters] (lower bound, strict?); weight_<fo> as "weight_"
PARAMETER_RANGES: dict[str, tuple[float, bool]] = {
    "beta": (0.0, False),
    "eps": (0.0, False),
    "cost_per_vehicle_step": (0.0, False),
    "penalty_per_vehicle": (0.0, False),
    "step_kw": (0.0, True),
    "max_delay_steps": (0.0, False),
    "battery_kwh": (0.0, True),
    "k_paths": (1.0, False),
    "weight_": (0.0, False),
}


def _number(name: str, val: Any) -> float:
    """``[parameters] name`` as float, or a CaseError naming it."""
    if isinstance(val, bool) or not isinstance(val, int | float):
        raise CaseError(f"case.toml: [parameters] {name} must be a number, got {val!r}")
    return float(val)


def _check_parameters(params: dict[str, Any]) -> None:
    """Ranges of the known scalars of ``[parameters]``; SOC bounds within [0, 1] and ordered."""
    for name, val in params.items():
        key = "weight_" if name.startswith("weight_") else name
        if key not in PARAMETER_RANGES and name not in ("soc_min", "soc_max"):
            continue
        val = _number(name, val)
        if name in ("soc_min", "soc_max"):
            if not 0.0 <= val <= 1.0:
                raise CaseError(f"case.toml: [parameters] {name} must lie in [0, 1], got {val!r}")
            continue
        low, strict = PARAMETER_RANGES[key]
        if val < low or (strict and val == low):
            op = ">" if strict else ">="
            raise CaseError(f"case.toml: [parameters] {name} must be {op} {low:g}, got {val!r}")
    if params.get("soc_min", 0.0) > params.get("soc_max", 1.0):
        raise CaseError("case.toml: [parameters] soc_min must not exceed soc_max")


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

    def __post_init__(self) -> None:
        if (self.feeder.steps, self.feeder.dt_h) != (self.time.steps, self.time.dt_h):
            raise CaseError("case.toml: [time] does not match the feeder's time grid")
        if not 0.0 <= self.gamma <= 1.0:
            raise CaseError(f"case.toml: [robust] gamma must lie in [0, 1], got {self.gamma!r}")
        _check_parameters(self.parameters)
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

    def parameter(self, name: str, default: float) -> float:
        """A scalar of ``[parameters]`` as float, or ``default`` when absent."""
        return _number(name, self.parameters.get(name, default))
