"""Uncertainty data: per-bus deviation bounds of load, PV and wind forecasts."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from common.validate import Where, as_text

UNCERTAIN_KINDS = ("load", "pv", "wind")
FILE = "grid/uncertainty.csv"
# attribute registry (format of power/registry.py): drives validation and the docs
ATTRIBUTES: list[tuple[str, str, str, str, bool, str, str]] = [
    ("uncertainty", "bus", "id", "", True, "", "bus id"),
    ("uncertainty", "kind", "text", "", True, "", "load, pv or wind"),
    ("uncertainty", "xi_frac", "float", "fraction", True, "", "deviation bound / forecast"),
]


class UncertaintyDataError(ValueError):
    """Invalid uncertainty table; one line naming file, column and element."""


@dataclass(frozen=True)
class Uncertainty:
    """Deviation bounds ``xi = xi_frac * forecast`` per bus, kind and step.

    table : bus, kind (load | pv | wind), xi_frac (>= 0, fraction of the forecast).
    """

    table: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(
            {
                "bus": pd.Series(dtype=str),
                "kind": pd.Series(dtype=str),
                "xi_frac": pd.Series(dtype=float),
            }
        )
    )

    def validate(self, buses: Iterable[str]) -> None:
        """Check columns, kinds, bus ids and non-negative fractions."""
        t = self.table
        w = Where(FILE, UncertaintyDataError)
        w.missing_columns(t, [a[1] for a in ATTRIBUTES if a[4]], "missing column")
        known = set(buses)

        def name(i: int) -> str:
            return f"bus {as_text(t['bus'].iloc[i])} ({t['kind'].iloc[i]})"

        checks = [
            ("bus", ~t["bus"].isin(known), "is not a bus of grid/buses.csv"),
            ("kind", ~t["kind"].isin(UNCERTAIN_KINDS), "is not load, pv or wind"),
        ]
        xi = pd.to_numeric(t["xi_frac"], errors="coerce")
        checks.append(
            ("xi_frac", ~((xi >= 0) & (xi < np.inf)), "must be a non-negative finite number")
        )
        checks.append(("bus", t.duplicated(["bus", "kind"]), "is listed twice for the same kind"))
        for col, bad, rule in checks:
            w.range(t, col, ~np.asarray(bad), rule, name=name)

    def xi_frac(self, bus_ids: list[str], kind: str) -> np.ndarray:
        """Deviation fraction per bus (in ``bus_ids`` order) for one kind; 0 where absent."""
        t = self.table[self.table["kind"] == kind]
        m = dict(zip(t["bus"], t["xi_frac"].astype(float)))
        return np.array([m.get(b, 0.0) for b in bus_ids])
