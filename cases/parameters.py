"""The registry of the model scalars of ``case.toml [parameters]``.

One row per parameter: name, type, unit, default, range and description. It drives the
validation of a case (:func:`check_parameters`), the defaults of the option builders
(:func:`default`, used through :meth:`cases.case.Case.parameter`) and the generated
``docs/case-folder.md``. A key that is not in the registry is an error naming the closest
known key. ``weight_<operator>`` stands for one key per fleet operator (seed 000).
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass
from typing import Any


class ParameterError(ValueError):
    """An invalid ``[parameters]`` entry; the message is one line naming the key."""


@dataclass(frozen=True)
class Parameter:
    """One scalar of ``[parameters]``.

    kind : "float", "int" (a whole number) or "choice" (one of ``choices``).
    low, high : inclusive bounds (None: unbounded); ``low_open`` makes ``low`` exclusive.
    default : value when the key is absent (None: the feature is off, e.g. no time windows).
    """

    name: str
    kind: str
    unit: str
    default: float | int | str | None
    description: str
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    choices: tuple[str, ...] = ()

    def range_text(self) -> str:
        """The admissible values in words, e.g. ``>= 0`` or ``[0, 1]``."""
        if self.kind == "choice":
            return " or ".join(self.choices)
        if self.low is not None and self.high is not None:
            return f"{'(' if self.low_open else '['}{self.low:g}, {self.high:g}]"
        if self.low is not None:
            return f"{'>' if self.low_open else '>='} {self.low:g}"
        return "any finite"


PARAMETERS: tuple[Parameter, ...] = (
    Parameter(
        "cost_per_vehicle_step",
        "float",
        "currency/(veh step)",
        1.0,
        "w: travel cost of one vehicle for one step on the road or at a station (seed 003)",
        low=0.0,
    ),
    Parameter(
        "penalty_per_vehicle",
        "float",
        "currency/veh",
        1.0e4,
        "cost of a vehicle not at its destination by the end of the horizon",
        low=0.0,
    ),
    Parameter(
        "beta",
        "float",
        "currency/kWh per kW",
        0.0,
        "charging cost per kWh grows by beta per kW of total charging power (seed 003)",
        low=0.0,
    ),
    Parameter(
        "eps",
        "float",
        "currency/kWh per kW",
        1.0e-4,
        "uniqueness term: charging cost per kWh grows by eps per kW at each station",
        low=0.0,
    ),
    Parameter(
        "battery_kwh", "float", "kWh", 60.0, "usable battery of one EV", low=0.0, low_open=True
    ),
    Parameter(
        "soc_min", "float", "fraction", 0.2, "SOC floor of every vehicle (seed 003)", 0.0, 1.0
    ),
    Parameter("soc_max", "float", "fraction", 1.0, "SOC ceiling of every vehicle", 0.0, 1.0),
    Parameter("k_paths", "int", "paths", 3, "shortest paths per OD (plus station paths)", 1.0),
    Parameter(
        "max_delay_steps",
        "int",
        "steps",
        None,
        "drop flows later than free flow by more than this (absent: no time windows)",
        low=0.0,
    ),
    Parameter(
        "path_stops",
        "choice",
        "",
        "all",
        "which paths may stop at stations: all, or only those of ODs whose trip needs a "
        "charge (a much smaller model on city networks)",
        choices=("all", "needed"),
    ),
    Parameter(
        "step_kw",
        "float",
        "currency/kWh per kW",
        1.0e-3,
        "subgradient step of the tariff loop per kW of excess",
        low=0.0,
        low_open=True,
    ),
    Parameter(
        "step_rule",
        "choice",
        "",
        "constant",
        "subgradient step of the tariff loop: constant (seed 000), step_kw / sqrt(iteration) "
        "(converges where a constant step oscillates) or adaptive (the constant step scaled per "
        "limit price: halved when its excess turns sign, grown back while it keeps it)",
        choices=("constant", "diminishing", "adaptive"),
    ),
    Parameter(
        "step_w",
        "float",
        "currency/kWh per pu^2",
        50.0,
        "subgradient step of the tariff loop per pu^2 of squared-voltage excess",
        low=0.0,
        low_open=True,
    ),
    Parameter(
        "max_iter",
        "int",
        "iterations",
        30,
        "iterations of the tariff loop at most",
        low=1.0,
    ),
    Parameter(
        "weight_",
        "float",
        "",
        0.5,
        "weight_<operator>: seed 000's deviation weight of one fleet operator",
        low=0.0,
    ),
)

BY_NAME: dict[str, Parameter] = {p.name: p for p in PARAMETERS}


def lookup(name: str) -> Parameter:
    """The registry entry of ``name`` (``weight_<operator>`` maps to ``weight_``)."""
    key = "weight_" if name.startswith("weight_") and len(name) > len("weight_") else name
    if key in BY_NAME:
        return BY_NAME[key]
    close = difflib.get_close_matches(name, [p.name for p in PARAMETERS], n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise ParameterError(
        f"case.toml: [parameters] {name!r} is not a parameter{hint} (see docs/case-folder.md)"
    )


def check_value(name: str, val: Any) -> float | int | str:
    """``val`` checked against the registry entry of ``name``; returns it as float, int or
    text. Raises :class:`ParameterError` naming the key, the value and the admissible range."""
    p = lookup(name)
    where = f"case.toml: [parameters] {name}"
    if p.kind == "choice":
        if val not in p.choices:
            raise ParameterError(f"{where} must be {p.range_text()}, got {val!r}")
        return str(val)
    if isinstance(val, bool) or not isinstance(val, int | float):
        raise ParameterError(f"{where} must be a number, got {val!r}")
    x = float(val)
    if not math.isfinite(x):
        raise ParameterError(f"{where} must be a finite number, got {val!r}")
    if p.kind == "int" and x != round(x):
        raise ParameterError(f"{where} must be a whole number, got {val!r}")
    bad = (p.low is not None and (x < p.low or (p.low_open and x == p.low))) or (
        p.high is not None and x > p.high
    )
    if bad:
        raise ParameterError(f"{where} must be {p.range_text()}, got {val!r}")
    return int(round(x)) if p.kind == "int" else x


def check_parameters(params: dict[str, Any]) -> None:
    """Every key known, every value of its type and in range, ``soc_min <= soc_max``."""
    for name, val in params.items():
        check_value(name, val)
    lo = params.get("soc_min", default("soc_min"))
    hi = params.get("soc_max", default("soc_max"))
    if lo > hi:
        raise ParameterError("case.toml: [parameters] soc_min must not exceed soc_max")


def default(name: str) -> float | int | str | None:
    """The registry default of ``name``."""
    return lookup(name).default


def reference_rows() -> list[tuple[str, str, str, str, str, str]]:
    """(key, type, unit, default, range, description) rows for docs/case-folder.md."""
    rows = []
    for p in PARAMETERS:
        key = "weight_<operator>" if p.name == "weight_" else p.name
        dflt = (
            "absent" if p.default is None else f"{p.default:g}" if p.kind != "choice" else p.default
        )
        rows.append((key, p.kind, p.unit, str(dflt), p.range_text(), p.description))
    return rows
