"""Registry of built-in cases and the resolver used by every command (name or folder)."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cases.case import Case


def _lazy(module: str, function: str) -> Callable[[], Case]:
    """A builder that imports ``module`` when called: listing the cases (``evtp cases``)
    imports no model code."""

    def build() -> Case:
        return getattr(importlib.import_module(module), function)()

    build.__name__ = build.__qualname__ = function
    return build


BUILTIN: dict[str, tuple[str, Callable[[], Case]]] = {
    "cigre-mv-ev": (
        "seed 002: CIGRE MV (pandapower) with the 878 EVs of Table I, 16:00-10:00 in 15-min "
        "steps, 1 +- 0.03 pu, 3.6 kVA chargers, 40 kWh batteries (evtp strategy)",
        _lazy("cases.cigre_mv_ev", "build_cigre_mv_ev"),
    ),
    "feeder1000-ev": (
        "seed 001 analogue: SimBench rural MV feeder with its LV grids (888 buses), SimBench "
        "profiles, ~1100 EVs of BATTPOWER appendix D.2, 96 x 15 min from noon (evtp strategy)",
        _lazy("cases.feeder1000_ev", "build_feeder1000_ev"),
    ),
    "hu2014-lv": (
        "seed 000: LV feeder with 60 households, 2 fleet operators x 18 EVs (20 kWh, 2.3 kW), "
        "time-varying transformer capacity, subgradient capacity market (evtp tariff)",
        _lazy("cases.hu2014_lv", "build_hu2014_lv"),
    ),
    "ieee33": (
        "IEEE 33-bus feeder (pandapower case33bw, tie lines open), 24 hourly steps, shared "
        "daily load profile, Nordic-like prices, 0.9-1.1 pu, +-10 % load uncertainty",
        _lazy("cases.ieee33", "build_ieee33"),
    ),
    "tn20-dn17": (
        "seed 003 rebuilt: 20-node road network (T1..T20), 17-node feeder with station lines "
        "E5-F1..F4 (800/300/750/350 kW), 2 x 5000 EVs, 24 hourly steps, +-10 % uncertainty, "
        "Gamma = 1 (default case of evtp tariff)",
        _lazy("cases.tn20_dn17", "build_tn20_dn17"),
    ),
}


def load_case(spec: str | Path) -> Case:
    """A built-in case by name, or a case folder by path."""
    from cases.case import CaseError
    from cases.folder import read_case

    spec_s = str(spec)
    if spec_s in BUILTIN:
        return BUILTIN[spec_s][1]()
    path = Path(spec_s)
    if path.is_dir():
        return read_case(path)
    names = ", ".join(sorted(BUILTIN))
    raise CaseError(f"{spec_s}: neither a built-in case ({names}) nor a case folder")
