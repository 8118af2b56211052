"""Hosting capacity per strategy with the AC criterion (coupling/studies/hosting.py).

The command is ``evtp hosting``."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from cases.builtin import load_case
from coupling.jobs.strategy import run_strategy
from coupling.studies.hosting import capacity, check_shares, hosting_study
from power.ac_check import ac_check
from power.limits import net_load

SHARES = [0.2, 0.4, 0.6, 0.7, 0.8, 0.9, 1.0]


def test_capacity_is_the_last_share_before_the_first_failure():
    assert capacity([0.1, 0.2, 0.3], [True, True, True]) == 0.3
    assert capacity([0.3, 0.1, 0.2], [True, True, False]) == 0.1  # sorted by share first
    assert capacity([0.1, 0.2, 0.3], [True, False, True]) == 0.1  # a later pass does not count
    assert capacity([0.1, 0.2], [False, True]) == 0.0
    assert check_shares([1.0, 0.5, 1.0]) == [0.5, 1.0]


def _hand_ac_check(case, strategy: str, share: float) -> dict:
    """A direct strategy run, its schedule summed per bus by hand, pandapower's AC flow and
    the criterion written out: loading <= 1.001, |V outside band| <= 0.001 pu, slack free."""
    f = case.feeder
    run = run_strategy(case, strategy, ev_share=share)
    sched = run.tables["fleet"]
    bus_of = case.fleet.evs.set_index("ev").bus
    per_bus = (
        sched.assign(bus=sched.ev.map(bus_of))
        .pivot_table(index="bus", columns="t", values="p_kw", aggfunc="sum")
        .reindex(index=f.bus_ids, columns=range(f.steps), fill_value=0.0)
        .fillna(0.0)
        .to_numpy()
    )
    p, q = net_load(f, per_bus, np.zeros_like(per_bus))
    ac = ac_check(f, p, q)
    lo = f.buses.v_min_pu.to_numpy()[:, None] - 1e-3
    hi = f.buses.v_max_pu.to_numpy()[:, None] + 1e-3
    bad_v = (ac.v_pu < lo) | (ac.v_pu > hi)
    bad_v[f.bus_ids.index(f.slack_bus)] = False
    return {
        "line_violations": int((ac.loading > 1.001).sum()),
        "voltage_violations": int(bad_v.sum()),
        "max_line_loading_ac": float(ac.loading.max()),
        "min_voltage_ac_pu": float(ac.v_pu.min()),
    }


def test_hosting_orders_the_strategies_and_agrees_with_a_direct_ac_check():
    """hu2014-lv (36 EVs, transformer capacity varying in time), shares 0.5 and 1: seed
    001's ordering uncoordinated < price <= grid, and price at share 1 judged as by hand."""
    case = load_case("hu2014-lv")
    study = hosting_study(case, ["uncoordinated", "price", "grid"], [1.0, 0.5])
    cap = study.capacity
    assert cap["uncoordinated"] < cap["price"] <= cap["grid"]
    assert cap == {"uncoordinated": 0.0, "price": 0.5, "grid": 1.0}
    t = study.table.set_index(["strategy", "ev_share"])
    assert list(t.index) == [(s, x) for s in ("uncoordinated", "price", "grid") for x in (0.5, 1)]
    assert t.n_ev.tolist() == [18, 36] * 3
    # every share of the grid strategy keeps the AC limits; uncoordinated overloads the feeder
    assert (t.loc["grid"].max_line_loading_ac <= 1.001).all()
    assert (t.loc["uncoordinated"].line_violations > 0).all()
    # served energy is the same at a share for every strategy (all targets are reachable)
    for share in (0.5, 1.0):
        served = t.xs(share, level="ev_share").charged_kwh
        assert served.to_numpy() == pytest.approx(served.iloc[0], rel=1e-6)
    # the failing row by hand: a direct run and AC check agree on every figure
    hand = _hand_ac_check(case, "price", 1.0)
    row = t.loc[("price", 1.0)]
    assert hand["line_violations"] > 0 and not row.passed
    for k, v in hand.items():
        assert row[k] == pytest.approx(v, rel=1e-9), k


def test_hosting_cli_refuses_bad_input(tmp_path):
    from click.testing import CliRunner

    from coupling.cli import main

    def run(*args):
        return CliRunner().invoke(main, ["hosting", *args])

    for args, words in (
        (["hu2014-lv", "--strategy", "grid", "--shares", "0:1:0.5"], "EV share 0 is outside"),
        (["hu2014-lv", "--strategy", "grid", "--shares", "1:0:0.5"], "stop >= start"),
        (["hu2014-lv", "--strategy", "grid", "--shares", "a,b"], "give numbers"),
        (["tn20-dn17", "--strategy", "grid", "--shares", "1"], "no stationary fleet"),
    ):
        r = run(*args, "--out", str(tmp_path / "h"))
        assert r.exit_code == 2, r.stderr
        assert len(r.stderr.strip().splitlines()) == 1 and words in r.stderr, r.stderr
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("mine")
    r = run("hu2014-lv", "--strategy", "grid", "--shares", "1", "--out", str(tmp_path / "full"))
    assert r.exit_code == 2 and "--force" in r.stderr
    assert not (tmp_path / "h").exists()
    assert "Example" in run("--help").output


@pytest.mark.slow
def test_hosting_cli_writes_the_study(tmp_path):
    out = tmp_path / "h"
    r = subprocess.run(
        [sys.executable, "-m", "coupling.cli", "hosting", "hu2014-lv", "--strategy", "price"]
        + ["--shares", "0.5,1", "--out", str(out)],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    assert "hosting capacity price          0.5 (18 of 36 EVs)" in r.stdout
    table = pd.read_csv(out / "hosting.csv")
    assert table.passed.tolist() == [True, False]
    info = json.loads((out / "hosting.json").read_text())
    assert info["hosting_capacity"] == {"price": 0.5}
    assert (out / "hosting.png").stat().st_size > 1000


@pytest.mark.slow
def test_hosting_capacity_ordering():
    """Seed 001's ordering on feeder1000-ev with the AC criterion (slow: about 5 min on an idle
    2-core machine). With the AC correction the grid strategy hosts the whole fleet (AC loading
    0.999 at every share from 0.6 on), price-only charging fails from 1.0 and uncoordinated
    charging from 0.7 (`evtp hosting feeder1000-ev --strategy uncoordinated --strategy price
    --strategy grid --shares 0.2:1:0.2`: capacities 0.6, 0.8, 1.0)."""
    case = load_case("feeder1000-ev")
    assert 1000 <= case.fleet.n <= 1200 and 850 <= len(case.feeder.bus_ids) <= 1100
    study = hosting_study(case, ["uncoordinated", "price", "grid"], SHARES)
    cap = study.capacity
    assert cap["uncoordinated"] < cap["price"] <= cap["grid"]
    assert cap["grid"] == 1.0
    grid_full = study.table.query("strategy == 'grid' and ev_share == 1.0").iloc[0]
    assert grid_full.unserved_kwh == pytest.approx(0.0, abs=1e-3)
    assert grid_full.max_line_loading_ac <= 1.0 + 1e-3


def test_feeder1000_case():
    # seed 001 analogue: ~1000 buses, ~850 households at 1.3 EVs each, 96 x 15 min from noon
    case = load_case("feeder1000-ev")
    f = case.feeder
    assert len(f.bus_ids) == 889 and f.steps == 96 and f.dt_h == 0.25
    households = case.fleet.evs.bus.nunique()
    assert 840 <= households <= 860  # 851 load connections
    assert case.fleet.n / households == pytest.approx(1.3, abs=0.03)
    assert set(case.fleet.evs.p_max_kw) == {2.3, 3.7, 11.0}
