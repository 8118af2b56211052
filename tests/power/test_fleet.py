"""Fleet block: SOC dynamics, polygon error, uncoordinated profile, switches, generators."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyomo.environ as pyo
import pytest

from power.ev_data import fleet_seed001, fleet_seed002
from power.fleet import (
    Fleet,
    FleetDataError,
    FleetOptions,
    add_fleet,
    fleet_results,
    uncoordinated_schedule,
)
from power.solve import solve


def two_evs() -> Fleet:
    return Fleet(
        pd.DataFrame(
            {
                "ev": ["a", "b"],
                "bus": ["1", "2"],
                "arrival_t": [1, 0],
                "departure_t": [5, 3],
                "soc_init": [0.2, 0.5],
                "soc_target": [0.8, 1.0],
                "battery_kwh": [20.0, 10.0],
                "p_max_kw": [3.6, 2.0],
                "s_max_kva": [3.6, 2.0],
                "efficiency": [0.9, 1.0],
            }
        )
    )


def _solve(fleet, opts, price, unserved_cost=10.0):
    m = pyo.ConcreteModel()
    add_fleet(m, fleet, 6, 1.0, opts)
    m.o = pyo.Objective(
        expr=sum(price[t] * m.bus_p_kw[b, t] for b, t in m.injection_keys)
        + unserved_cost * m.unserved_total_kwh
    )
    return m, solve(m)


def test_uncoordinated_profile_by_hand():
    s = uncoordinated_schedule(two_evs(), 1.0).set_index(["ev", "t"])
    # a: (0.8 - 0.2) * 20 kWh / 0.9 = 13.33 kWh from the grid at 3.6 kW: 3 full steps + 2.533 kW
    assert s.loc["a"].p_kw.tolist() == pytest.approx([3.6, 3.6, 3.6, 40 / 3 - 10.8])
    assert s.loc[("a", 4), "soc"] == pytest.approx(0.8)
    # b: 5 kWh at 2 kW: 2, 2, 1
    assert s.loc["b"].p_kw.tolist() == pytest.approx([2.0, 2.0, 1.0])
    assert s.loc["b"].soc.tolist() == pytest.approx([0.7, 0.9, 1.0])


def test_soc_dynamics_and_cost_by_hand():
    price = [0.3, 0.1, 0.2, 0.05, 0.4, 0.1]
    m, res = _solve(two_evs(), FleetOptions(), price)
    r = fleet_results(m, two_evs()).set_index(["ev", "t"])
    # a needs 13.33 kWh in steps 1..4 (max 3.6 each): the partial 2.533 kW goes to the dearest
    assert r.loc["a"].p_kw.tolist() == pytest.approx([3.6, 3.6, 3.6, 40 / 3 - 10.8], abs=1e-7)
    # SOC_t = SOC_t-1 + eta P dt / E = 0.2 + 0.9 * 3.6 / 20 = 0.362 ...
    assert r.loc["a"].soc.tolist() == pytest.approx([0.362, 0.524, 0.686, 0.8], abs=1e-7)
    # b needs 5 kWh in steps 0..2 at <= 2 kW: 1 kW in the dearest step 0
    assert r.loc["b"].p_kw.tolist() == pytest.approx([1.0, 2.0, 2.0], abs=1e-7)
    cost = 3.6 * (0.1 + 0.2 + 0.05) + (40 / 3 - 10.8) * 0.4 + 1 * 0.3 + 2 * 0.1 + 2 * 0.2
    assert res.objective == pytest.approx(cost, rel=1e-9)


def test_unserved_energy_when_target_unreachable():
    f = two_evs()
    evs = f.evs.assign(soc_target=[1.0, 1.0], soc_init=[0.2, 0.0])
    m, _ = _solve(Fleet(evs), FleetOptions(), [0.1] * 6)
    # a: 4 steps x 3.6 kW x 0.9 = 12.96 kWh of 16 kWh needed -> 3.04 kWh short; b: 6 of 10
    assert pyo.value(m.unserved_kwh[0]) == pytest.approx(16 - 12.96, abs=1e-7)
    assert pyo.value(m.unserved_kwh[1]) == pytest.approx(4.0, abs=1e-7)


def test_v2g_switch_and_arbitrage():
    # a (target 0.5) buys at 0.05 in step 3 and sells at 0.4 in step 4 (round trip 0.81 > 0.125)
    # only when discharge is allowed
    f = Fleet(two_evs().evs.assign(soc_target=[0.5, 1.0]))
    price = [0.3, 0.1, 0.2, 0.05, 0.4, 0.1]
    m, _ = _solve(f, FleetOptions(discharge=True), price)
    r = fleet_results(m, f).set_index(["ev", "t"])
    # full charge in steps 1-3 (0.1, 0.2, 0.05 < 0.81 x 0.4), SOC 0.2 + 3 x 0.162 = 0.686, then
    # discharge down to the 0.5 target: (0.686 - 0.5) x 20 kWh x 0.9 = 3.348 kW in step 4
    assert r.loc[("a", 4), "p_kw"] == pytest.approx(-3.348, abs=1e-6)
    assert r.loc[("a", 3), "p_kw"] == pytest.approx(3.6, abs=1e-6)
    m, _ = _solve(f, FleetOptions(discharge=False), price)
    assert fleet_results(m, f).p_kw.min() >= -1e-9


@pytest.mark.parametrize("sides", [12, 16])
def test_polygon_error_by_hand(sides):
    # maximise q at p fixed on a facet mid-point: the inscribed N-gon gives S cos(pi/N) radius
    f = two_evs()
    m = pyo.ConcreteModel()
    add_fleet(m, f, 6, 1.0, FleetOptions(reactive=True, polygon_sides=sides))
    k = 0  # ev a, t = 1, S = 3.6
    theta = 2 * np.pi * 0.5 / sides  # normal angle of the first facet
    r = 3.6 * np.cos(np.pi / sides)
    m.fix_p = pyo.Constraint(expr=m.p_ch[k] == r * np.cos(theta))
    m.o = pyo.Objective(expr=-m.q[k] + 0 * m.unserved_total_kwh)
    solve(m)
    assert pyo.value(m.q[k]) == pytest.approx(r * np.sin(theta), rel=1e-7)
    # radial error at the facet mid-point = 1 - cos(pi/N): 3.4 % for 12 sides, 1.9 % for 16
    assert 1 - np.hypot(pyo.value(m.p_ch[k]), pyo.value(m.q[k])) / 3.6 == pytest.approx(
        1 - np.cos(np.pi / sides)
    )


def test_validation_names_file_column_ev():
    f = two_evs()
    with pytest.raises(FleetDataError, match=r"fleet/evs.csv: column bus: ev 'b'"):
        f.validate(6, {"1"})
    bad = Fleet(f.evs.assign(departure_t=[5, 7]))
    with pytest.raises(FleetDataError, match=r"column departure_t: ev 'b'"):
        bad.validate(6, {"1", "2"})
    bad = Fleet(f.evs.assign(efficiency=[0.9, 1.2]))
    with pytest.raises(FleetDataError, match=r"column efficiency: ev 'b'"):
        bad.validate(6, {"1", "2"})


def test_seed002_generator_statistics():
    f = fleet_seed002(["1"], [20000], steps=72, dt_h=0.25, start_h=16.0, seed=1)
    evs = f.evs
    assert evs.soc_init.mean() == pytest.approx(0.49, abs=0.002)
    assert evs.soc_init.std() == pytest.approx(0.04, abs=0.002)
    # GEV(xi=-0.06, sigma=0.85, mu=17.3): median = mu + sigma ((ln 2)^0.06 - 1) / -0.06 = 17.61 h
    # (arrivals before the 16:00 start are plugged at 16:00; the median is not affected)
    from math import gamma, log

    median = 17.3 + 0.85 * (log(2) ** 0.06 - 1) / -0.06
    arr_h = 16.0 + evs.arrival_t * 0.25 + 0.125  # step mid-points
    assert np.median(arr_h) == pytest.approx(median, abs=0.13)
    # Weibull(scale 7.67, shape 21.83): mean 7.67 Gamma(1 + 1/21.83) = 7.48 h -> step (7.48+8)/0.25
    dep_h = 16.0 + evs.departure_t * 0.25 - 24.0
    assert dep_h.mean() == pytest.approx(7.67 * gamma(1 + 1 / 21.83), abs=0.15)
    again = fleet_seed002(["1"], [20000], steps=72, dt_h=0.25, start_h=16.0, seed=1)
    assert again.evs.equals(evs)


def test_seed001_generator_statistics():
    f = fleet_seed001(["1"], [20000], steps=96, dt_h=0.25, start_h=12.0, seed=2)
    evs = f.evs
    shares = evs.p_max_kw.value_counts(normalize=True)
    assert shares[2.3] == pytest.approx(0.7, abs=0.01) and shares[11.0] == pytest.approx(
        0.1, abs=0.01
    )
    # arrival N(17:00, 1.5 h) from noon, floored to a step: mean (17 - 12) / 0.25 - 0.5 = 19.5
    assert evs.arrival_t.mean() == pytest.approx(19.5, abs=0.1)
    # window = 14.5 h = 58 steps (arrival - 9.5 h next day), clipped at the horizon end
    assert np.median(evs.departure_t - evs.arrival_t) == pytest.approx(58, abs=1)
    # energy = N(52, 22) km x (0.8 x 17 + 0.2 x 21) kWh/100 km = 9.26 kWh on a 40 kWh battery
    assert ((1 - evs.soc_init) * 40).mean() == pytest.approx(0.52 * 17.8, rel=0.03)
