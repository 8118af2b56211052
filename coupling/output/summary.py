"""Typed run summaries: every ``summary.json`` key once, as a typed field of one section with
its unit and meaning.

A :class:`RunSummary` holds one instance of each section dataclass. It reads and writes like
the flat ``dict`` that ``summary.json`` is (``s["objective"]``, ``s.get(...)``, ``|=``), and
typed as ``s.costs.objective``. Setting a key that no section declares raises
:class:`SummaryKeyError`, and a value of the wrong type raises ``TypeError``, so a key cannot be
misspelled or written twice under two names. The glossary (:mod:`coupling.output.summary_view`,
``docs/glossary.md``) and the sweep and hosting tables' columns (``sweep=``/``hosting=`` below:
their column position) are read off these fields.
"""

from __future__ import annotations

import typing
from collections.abc import Iterator, Mapping, MutableMapping
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

import numpy as np


class SummaryKeyError(KeyError):
    """A key that no section of :class:`RunSummary` declares."""


class _Absent:
    """A key the run did not write; falsy, so ``s.costs.objective or 0.0`` reads naturally."""

    def __repr__(self) -> str:
        return "ABSENT"

    def __bool__(self) -> bool:
        return False


ABSENT: Any = _Absent()  # a key the run did not write (``None`` is a value: JSON null)


def key(
    unit: str,
    meaning: str,
    *,
    sweep: int | None = None,
    hosting: int | None = None,
    compare: int | None = None,
    positive: bool = False,
) -> Any:
    """A summary field: its unit ("" if dimensionless) and meaning; ``sweep``/``hosting`` give
    its column position in ``sweep.csv`` of tariff sweeps / in hosting and strategy-sweep
    tables; ``compare``: its row in ``evtp compare``'s side-by-side table; ``positive``: a
    number > 0."""
    meta = {"unit": unit, "meaning": meaning, "sweep": sweep, "hosting": hosting}
    meta |= {"compare": compare, "positive": positive}
    return field(default=ABSENT, metadata=meta)


@dataclass
class RunInfo:
    """What ran: case, command, horizon, sizes and the solver."""

    SECTION: ClassVar[str] = "Run"

    case: str | None = key("", "case name (built-in) or case folder name")
    command: str | None = key("", "the command line that wrote the run")
    parameters: dict | None = key("", "the options and case parameters the run used")
    steps: int | None = key("", "number of time steps of the horizon", positive=True)
    dt_h: float | None = key("h", "length of one time step", positive=True)
    start: str | None = key("", "clock time of step 0 (the case's [time] start)")
    limits: dict | None = key(
        "", "limits the figures draw: voltage band, each station's line and its limit (kW)"
    )
    status: str | None = key("", "solver termination status")
    solver_method: str | None = key("", "solver and method used (e.g. HiGHS ipm, no crossover)")
    lp_parts_reused: int | None = key(
        "", "independent LP parts of the problems taken from earlier solves (engine/split.py)"
    )
    n_ev: int | None = key("", "number of EVs of the stationary fleet", hosting=0)
    buses: int | None = key("", "number of feeder buses")
    lines: int | None = key("", "number of feeder lines")
    aggregators: int | None = key("", "number of EV aggregators in the tariff loop")
    paths: int | None = key("", "number of road paths of the traffic assignment")


@dataclass
class Costs:
    """Objective and its parts (currency)."""

    SECTION: ClassVar[str] = "Costs"

    objective: float | None = key(
        "currency",
        "optimal objective value of the command's problem",
        sweep=0,
        hosting=9,
        compare=0,
    )
    travel_cost: float | None = key(
        "currency", "EV travel-time cost (value of time x hours)", sweep=1, compare=1
    )
    charging_cost: float | None = key(
        "currency", "EV charging energy cost at the tariffs", sweep=2, compare=2
    )
    energy_cost: float | None = key(
        "currency", "energy cost of the fleet's charging", hosting=8, compare=3
    )
    centralised_objective: float | None = key(
        "currency",
        "EV cost (travel and charging at the energy price) of the centralised schedule",
        sweep=3,
    )
    dso_objective: float | None = key(
        "currency",
        "optimal cost of the DSO problem (import at the slack price and the aggregators' "
        "terms): its derivative per kWh of load at a bus and step is that bus's DLMP",
    )
    decentralised_objective: float | None = key(
        "currency", "objective reached by the DSO-aggregator loop"
    )
    arrival_penalty: float | None = key(
        "currency", "penalty paid for vehicles that do not arrive (slack, see below)"
    )


@dataclass
class Charging:
    """EV travel and charging outcomes."""

    SECTION: ClassVar[str] = "Traffic and charging"

    vehicles_departed: float | None = key("veh", "vehicles that departed")
    vehicles_arrived: float | None = key("veh", "vehicles that arrived", compare=5)
    arrival_shortfall: float | None = key(
        "veh", "vehicles that do not reach their destination in time"
    )
    unserved_vehicles_by_od: dict | None = key("veh", "vehicles that never departed, per OD pair")
    charged_kwh: float | None = key("kWh", "energy charged into the fleet", hosting=6)
    discharged_kwh: float | None = key("kWh", "energy fed back by the fleet (V2G)")
    unserved_kwh: float | None = key(
        "kWh", "EV departure energy targets that are not met", hosting=7, compare=4
    )
    max_station_load_gap_kw: float | None = key(
        "kW", "largest gap between the DSO's and the aggregators' station loads"
    )


@dataclass
class Grid:
    """Line loadings and voltages, linear and AC; the grid model."""

    SECTION: ClassVar[str] = "Grid"

    max_line_loading: float | None = key(
        "fraction", "largest line loading, linear model", sweep=6, compare=6
    )
    max_line_loading_ac: float | None = key(
        "fraction", "largest line loading, AC power flow", hosting=3, compare=7
    )
    min_voltage_pu: float | None = key("pu", "lowest bus voltage, linear model", sweep=7, compare=8)
    max_voltage_pu: float | None = key("pu", "highest bus voltage, linear model")
    min_voltage_ac_pu: float | None = key(
        "pu", "lowest bus voltage, AC power flow", hosting=4, compare=9
    )
    max_voltage_ac_pu: float | None = key("pu", "highest bus voltage, AC power flow", hosting=5)
    v_band_pu: list | None = key("pu", "voltage band [lowest v_min, highest v_max] of the buses")
    voltage_excess_pu: float | None = key(
        "pu", "largest voltage outside a bus's band, linear model (0: none)"
    )
    voltage_excess_ac_pu: float | None = key(
        "pu", "largest voltage outside a bus's band, AC power flow (0: none)"
    )
    max_voltage_error_pu: float | None = key("pu", "largest |V_linear - V_AC| over buses and steps")
    grid_model: str | None = key("", "lindistflow (linear, lossless) or distflow (SOC relaxation)")
    relaxation_gap_max: float | None = key(
        "", "DistFlow: largest gap (v l - P^2 - Q^2) / S_rating^2 of the cone"
    )
    relaxation_gap_at: dict | None = key("", "DistFlow: line and step of that gap")
    relaxation_tight: bool | None = key("", "DistFlow: the relaxation is exact (gap <= tolerance)")
    relaxation_tol: float | None = key(
        "", "DistFlow: gap below which the relaxation counts as exact"
    )
    dlmp_residual: float | None = key(
        "currency/kWh", "DistFlow: largest |dlmp - (energy + loss + congestion + voltage)|"
    )


@dataclass
class Hosting:
    """The AC judgement of a strategy run in a hosting study or strategy sweep."""

    SECTION: ClassVar[str] = "Hosting (AC judgement)"
    line_violations: int | None = key("", "line-steps above the AC loading criterion", hosting=1)
    voltage_violations: int | None = key("", "bus-steps outside the voltage band in AC", hosting=2)
    passed: bool | None = key(
        "", "the run keeps every limit in AC within the tolerances", hosting=10
    )


@dataclass
class TariffLoop:
    """The DSO-aggregator loop."""

    SECTION: ClassVar[str] = "Tariff loop"

    iterations: int | None = key("", "DSO-aggregator iterations", sweep=4)
    converged: bool | None = key("", "the loop met its tolerance with no limit exceeded", sweep=5)
    limit_excess: dict | None = key(
        "", "the limit the aggregators' summed loads exceed, and by how much"
    )
    ac_loop_corrections: int | None = key(
        "", "times the loop's acceptance test was corrected by the AC check"
    )


@dataclass
class ACCorrection:
    """The loss-aware AC correction of the linear model."""

    SECTION: ClassVar[str] = "AC correction"

    ac_correction: bool | None = key("", "the loss-aware AC correction loop was on")
    ac_resolves: int | None = key("", "re-solves of the AC correction loop")
    ac_feasible: bool | None = key("", "the final schedule keeps every limit in the AC power flow")
    loop_ac_feasible: bool | None = key(
        "",
        "the schedule the tariff loop accepted keeps every limit (robust margins included) in "
        "the AC power flow; false: accepted at the cap of AC corrections with a limit exceeded "
        "in AC (loop_ac_excess; converged then holds for the linear model only); null: the loop "
        "accepted no schedule",
    )
    loop_ac_excess: dict | None = key(
        "", "the limit the loop's accepted schedule exceeds in AC, and by how much (null: none)"
    )
    ac_correction_iterations: list | None = key(
        "", "AC figures of each re-solve (also in ac_correction.csv)"
    )


@dataclass
class Robustness:
    """Out-of-sample evaluation of the forecast-error draws."""

    SECTION: ClassVar[str] = "Robustness (out of sample)"

    oos_samples: int | None = key(
        "", "forecast-error draws from the run's uncertainty set", compare=10
    )
    oos_violation_rate: float | None = key(
        "fraction", "share of those draws exceeding a limit", sweep=8, compare=11
    )
    oos_worst_flow_excess_kw: float | None = key(
        "kW", "largest line flow excess over those draws", sweep=9, compare=12
    )
    oos_worst_voltage_excess_pu: float | None = key(
        "pu", "largest voltage excess over those draws", compare=13
    )
    oos_box_samples: int | None = key("", "draws from the full box (every error at once)")
    oos_box_violation_rate: float | None = key(
        "fraction", "share of box draws exceeding a limit", sweep=10, compare=14
    )
    oos_box_worst_flow_excess_kw: float | None = key(
        "kW", "largest line flow excess over the box draws", sweep=11
    )
    oos_box_worst_voltage_excess_pu: float | None = key(
        "pu", "largest voltage excess over the box draws"
    )
    oos_ac_samples: int | None = key("", "draws (of the run's set) also run through the AC flow")
    oos_ac_violation_rate: float | None = key(
        "fraction", "share of those draws exceeding a limit in AC"
    )
    oos_ac_worst_loading_excess: float | None = key(
        "fraction", "largest AC loading above 1 over those draws"
    )
    oos_ac_worst_voltage_excess_pu: float | None = key(
        "pu", "largest AC voltage excess over those draws"
    )
    oos_box_ac_samples: int | None = key("", "box draws also run through the AC flow")
    oos_box_ac_violation_rate: float | None = key(
        "fraction", "share of those box draws exceeding a limit in AC"
    )
    oos_box_ac_worst_loading_excess: float | None = key(
        "fraction", "largest AC loading above 1 over the box draws"
    )
    oos_box_ac_worst_voltage_excess_pu: float | None = key(
        "pu", "largest AC voltage excess over the box draws"
    )
    oos_tol_kw: float | None = key("kW", "flow excess below which a draw counts as kept")


@dataclass
class Timing:
    """Wall-clock times (s); not part of the results."""

    SECTION: ClassVar[str] = "Timing"

    build_s: float | None = key("s", "model build")
    handover_s: float | None = key("s", "hand-over of the model to the solver")
    solve_s: float | None = key("s", "solver time")
    reporting_s: float | None = key("s", "reading results back into tables")
    ac_check_s: float | None = key("s", "AC power flow check")
    dso_solve_s: float | None = key("s", "the DSO problem's solve (tariff)")
    loop_s: float | None = key("s", "the DSO-aggregator loop")
    timings_s: dict | None = key("s", "per-iteration wall-clock columns moved out of the tables")


@dataclass
class Output:
    """How the tables were written."""

    SECTION: ClassVar[str] = "Output"

    zero_tol: float | None = key("", "values with |x| below this are written as 0 (solver noise)")


SECTION_TYPES: tuple[type, ...] = (
    RunInfo,
    Costs,
    Charging,
    Grid,
    Hosting,
    TariffLoop,
    ACCorrection,
    Robustness,
    Timing,
    Output,
)
SECTION_ATTRS: tuple[str, ...] = (
    "run",
    "costs",
    "charging",
    "grid",
    "hosting",
    "loop",
    "ac",
    "robust",
    "timing",
    "output",
)


@dataclass(frozen=True)
class KeyInfo:
    """One summary key: its section title, unit, meaning, Python types and table positions."""

    section: str
    unit: str
    meaning: str
    types: tuple[type, ...]
    sweep: int | None
    hosting: int | None
    compare: int | None
    positive: bool = False


def _types(hint: Any) -> tuple[type, ...]:
    args = typing.get_args(hint) or (hint,)
    out = tuple(a for a in args if a is not type(None))
    if float in out:  # a float field takes integers too (JSON does not tell them apart)
        out = (*out, int)
    return out


def _registry() -> dict[str, tuple[str, KeyInfo]]:
    reg: dict[str, tuple[str, KeyInfo]] = {}
    for attr, cls in zip(SECTION_ATTRS, SECTION_TYPES, strict=True):
        hints = typing.get_type_hints(cls)
        for f in fields(cls):
            assert f.name not in reg, f"summary key {f.name!r} declared twice"
            m = f.metadata
            info = KeyInfo(
                cls.SECTION,
                m["unit"],
                m["meaning"],
                _types(hints[f.name]),
                m["sweep"],
                m["hosting"],
                m["compare"],
                m["positive"],
            )
            reg[f.name] = (attr, info)
    return reg


REGISTRY: dict[str, tuple[str, KeyInfo]] = _registry()


def columns(table: str) -> tuple[str, ...]:
    """The summary keys of ``table`` ("sweep", "hosting" or "compare") in column order."""
    keyed = [
        (getattr(i, table), k) for k, (_, i) in REGISTRY.items() if getattr(i, table) is not None
    ]
    return tuple(k for _, k in sorted(keyed))


def _checked(k: str, value: Any, info: KeyInfo) -> Any:
    types = info.types
    if isinstance(value, np.generic):
        value = value.item()
    if value is None:
        return None
    if isinstance(value, tuple) and list in types:
        value = list(value)
    if isinstance(value, bool) and bool not in types:
        raise TypeError(f"summary key {k!r}: {value!r} is a bool, expected {types}")
    if info.positive and not (isinstance(value, int | float) and value > 0):
        raise TypeError(f"summary key {k!r}: {value!r} is not a positive number")
    if not isinstance(value, types):
        want = " or ".join(t.__name__ for t in types)
        raise TypeError(f"summary key {k!r}: {value!r} is {type(value).__name__}, not {want}")
    return value


class RunSummary(MutableMapping[str, Any]):
    """The summary of one run: typed sections (``run``, ``costs``, ``charging``, ``grid``,
    ``hosting``, ``loop``, ``ac``, ``robust``, ``timing``, ``output``) behind the flat mapping
    of ``summary.json``. Keys iterate in the order they were first set, so ``summary.json`` keeps
    the order in which a job reports."""

    run: RunInfo
    costs: Costs
    charging: Charging
    grid: Grid
    hosting: Hosting
    loop: TariffLoop
    ac: ACCorrection
    robust: Robustness
    timing: Timing
    output: Output

    def __init__(self, data: Mapping[str, Any] | None = None, **kw: Any) -> None:
        for attr, cls in zip(SECTION_ATTRS, SECTION_TYPES, strict=True):
            object.__setattr__(self, attr, cls())
        self._order: dict[str, None] = {}
        self.update(data or {}, **kw)

    @classmethod
    def read(cls, data: Mapping[str, Any]) -> tuple[RunSummary, dict[str, Any]]:
        """A summary read back from a run folder: (the known keys, the others). Folders of
        other evtp versions may hold keys this version does not know; they are kept, not
        dropped. A known key with a value of the wrong type raises ``TypeError``."""
        s = cls({k: v for k, v in data.items() if k in REGISTRY})  # TypeError: a wrong type
        return s, {k: v for k, v in data.items() if k not in REGISTRY}

    def __setitem__(self, k: str, value: Any) -> None:
        if k not in REGISTRY:
            raise SummaryKeyError(
                f"summary key {k!r} is not declared: add it to a section of "
                "coupling/output/summary.py (with its unit and meaning)"
            )
        attr, info = REGISTRY[k]
        setattr(getattr(self, attr), k, _checked(k, value, info))
        self._order[k] = None

    def __getitem__(self, k: str) -> Any:
        if k not in self._order:
            raise KeyError(k)
        return getattr(getattr(self, REGISTRY[k][0]), k)

    def __delitem__(self, k: str) -> None:
        if k not in self._order:
            raise KeyError(k)
        setattr(getattr(self, REGISTRY[k][0]), k, ABSENT)
        del self._order[k]

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._order))

    def __len__(self) -> int:
        return len(self._order)

    def __or__(self, other: Mapping[str, Any]) -> RunSummary:
        out = RunSummary(self)
        out.update(other)
        return out

    def __ior__(self, other: Mapping[str, Any]) -> RunSummary:  # type: ignore[override,misc]
        self.update(other)
        return self

    def __repr__(self) -> str:
        return f"RunSummary({dict(self)!r})"

    def to_json(self) -> dict[str, Any]:
        """The flat dict written as ``summary.json``."""
        return dict(self)
