"""The :class:`Case`: everything one study needs, in one immutable object."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from power.feeder import Feeder
from robust.uncertainty import Uncertainty


class CaseError(ValueError):
    """Invalid case folder or case.toml; the message is one line naming file and element."""


@dataclass(frozen=True)
class TimeGrid:
    """``steps`` steps of ``dt_h`` hours starting at ``start`` (ISO text, metadata only)."""

    steps: int
    dt_h: float
    start: str = "00:00"


@dataclass(frozen=True)
class Case:
    """A coupled case: feeder (+ later road network, stations, demand, fleets) and parameters.

    parameters : scalar model parameters (e.g. w, beta, battery_kwh) from case.toml.
    gamma : robust budget Gamma in [0, 1] (seed 003).
    """

    name: str
    description: str
    time: TimeGrid
    feeder: Feeder
    uncertainty: Uncertainty = field(default_factory=Uncertainty)
    parameters: dict[str, Any] = field(default_factory=dict)
    gamma: float = 0.0

    def __post_init__(self) -> None:
        if (self.feeder.steps, self.feeder.dt_h) != (self.time.steps, self.time.dt_h):
            raise CaseError("case.toml: [time] does not match the feeder's time grid")
        if not 0.0 <= self.gamma <= 1.0:
            raise CaseError(f"case.toml: [robust] gamma must lie in [0, 1], got {self.gamma!r}")
        self.uncertainty.validate(self.feeder.bus_ids)
