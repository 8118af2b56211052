"""The case's DTA: options and path sets from a case, and the DTA as a Pyomo block or as the
engine's sparse structure."""

from __future__ import annotations

import pyomo.environ as pyo

from cases.case import Case, CaseError
from traffic.dta import DtaOptions, DtaStructure, add_linear_dta, dta_layout
from traffic.paths import PathSet, k_shortest_paths


def dta_options(case: Case) -> DtaOptions:
    """DTA parameters from ``[parameters]`` (registry defaults, ``cases/parameters.py``, when
    absent)."""
    delay = case.parameter("max_delay_steps")
    return DtaOptions(
        cost_per_vehicle_step=case.parameter("cost_per_vehicle_step"),
        soc_min=case.parameter("soc_min"),
        soc_max=case.parameter("soc_max"),
        penalty_per_vehicle=case.parameter("penalty_per_vehicle"),
        max_delay_steps=None if delay is None else int(delay),
    )


def case_paths(case: Case) -> PathSet:
    """k shortest paths per OD (``[parameters] k_paths``) plus station paths; with
    ``path_stops = "needed"`` only the paths of ODs whose trip needs a charge may stop."""
    tr = case.traffic
    if tr is None:
        raise CaseError(f"case {case.name!r} has no road network (traffic/ files)")
    k = int(case.parameter("k_paths"))
    return k_shortest_paths(
        tr.network,
        tr.demand,
        k,
        tr.stations,
        soc_min=dta_options(case).soc_min,
        stops=case.parameter("path_stops"),
    )


def add_case_dta(blk: pyo.Block, case: Case, paths: PathSet, aggregators=None) -> None:
    """The case's DTA block (optionally for some aggregators only)."""
    add_linear_dta(blk, case_dta(case, paths, aggregators))


def case_dta(case: Case, paths: PathSet, aggregators=None) -> DtaStructure:
    """The case's DTA as matrices (:func:`traffic.dta.dta_layout`)."""
    tr = case.traffic
    assert tr is not None
    return dta_layout(
        tr.network,
        tr.stations,
        tr.demand,
        paths,
        case.time.steps,
        case.time.dt_h,
        case.parameter("battery_kwh"),
        dta_options(case),
        aggregators=aggregators,
    )
