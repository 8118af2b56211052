"""Shared fixtures: tiny hand-solvable feeders."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from power.feeder import Feeder, empty_table

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


@pytest.fixture(autouse=True)
def _no_progress_lines(monkeypatch):
    """Commands print a progress line every few seconds (common/progress.py); on a loaded
    machine a test's command may take that long, so tests that count output lines switch them
    off. tests/common/test_progress.py switches them back on where it tests them."""
    monkeypatch.setenv("EVTP_PROGRESS", "0")


def with_extra_load(case, bus: str, t: int, dp_kw: float):
    """``case`` with ``dp_kw`` more active load at (bus, t) (a row added where there is none):
    the perturbation of the finite-difference DLMP tests."""
    from dataclasses import replace

    f = case.feeder
    loads = f.loads.copy()
    hit = (loads.bus == bus) & (loads.t == t)
    if hit.any():
        loads.loc[hit, "p_kw"] += dp_kw
    else:
        loads.loc[len(loads)] = {"bus": bus, "t": t, "p_kw": dp_kw, "q_kvar": 0.0}
    return replace(case, feeder=replace(f, loads=loads))


def three_bus(
    *,
    load1=(200.0, 100.0),
    load2=(400.0, 0.0),
    pmax=(800.0, 300.0),
    vmin2=0.9,
    gen_cost: float | None = 0.3,
    price: float = 0.1,
) -> Feeder:
    """0 (slack, 10 kV) -a- 1 -b- 2; r_a = x_a = 1 ohm, r_b = 2 ohm, x_b = 1 ohm; one step of 1 h.

    At 10 kV, 1 ohm x 1 kW moves the squared voltage by 2e-5 pu^2 (2 r P / (1000 kV^2)).
    """
    buses = pd.DataFrame(
        {
            "bus": ["0", "1", "2"],
            "v_min_pu": [1.0, 0.9, vmin2],
            "v_max_pu": [1.0, 1.1, 1.1],
            "base_kv": 10.0,
        }
    )
    lines = pd.DataFrame(
        {
            "line": ["a", "b"],
            "from_bus": ["0", "1"],
            "to_bus": ["1", "2"],
            "r_ohm": [1.0, 2.0],
            "x_ohm": [1.0, 1.0],
            "p_max_kw": list(pmax),
        }
    )
    loads = pd.DataFrame(
        {
            "bus": ["1", "2"],
            "t": [0, 0],
            "p_kw": [load1[0], load2[0]],
            "q_kvar": [load1[1], load2[1]],
        }
    )
    gens = empty_table("generators")
    if gen_cost is not None:
        gens = pd.DataFrame(
            {
                "gen": ["g2"],
                "bus": ["2"],
                "p_min_kw": [0.0],
                "p_max_kw": [500.0],
                "cost_per_kwh": [gen_cost],
            }
        )
    return Feeder(
        buses=buses,
        lines=lines,
        loads=loads,
        prices=pd.DataFrame({"t": [0], "price_per_kwh": [price]}),
        generators=gens,
        slack_bus="0",
        steps=1,
        dt_h=1.0,
    )


@pytest.fixture
def feeder3() -> Feeder:
    return three_bus()
