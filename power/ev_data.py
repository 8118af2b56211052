"""Seeded generators of stationary EV fleets from the distributions of seeds 001 and 002.

Times are hours of the day; a horizon starts at ``start_h`` and has ``steps`` steps of ``dt_h``
hours. An EV arriving at hour ``a`` plugs in at step ``floor(r / dt_h)`` with ``r`` the
arrival relative to the start in [-12, 12) h, clipped at 0 (earlier arrivals are plugged at
the start), and leaves at step ``ceil(...)`` of its departure (the next day when earlier than
the arrival), clipped at ``steps``; EVs whose window would be empty get one step.

References
----------
Seed 001 (BATTPOWER), appendix D.2; seed 002 (smart charging / V2G on CIGRE MV), section V-B.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from power.fleet import Fleet


def _window(arr_h: np.ndarray, dep_h: np.ndarray, start_h: float, steps: int, dt_h: float):
    # arrival relative to the horizon start in [-12, 12) h; earlier arrivals plug in at start
    rel_arr = np.clip((arr_h - start_h + 12.0) % 24.0 - 12.0, 0.0, None)
    a = np.floor(rel_arr / dt_h).astype(int)
    rel_dep = (dep_h - start_h) % 24.0
    rel_dep = np.where(rel_dep <= rel_arr, rel_dep + 24.0, rel_dep)
    d = np.ceil(rel_dep / dt_h).astype(int)
    a = np.clip(a, 0, steps - 1)
    d = np.clip(d, a + 1, steps)
    return a, d


def _fleet(
    buses: list[str],
    counts: list[int],
    window: tuple[np.ndarray, np.ndarray],
    soc0: np.ndarray,
    battery_kwh: float,
    p_kw: np.ndarray | float,
    efficiency: float,
) -> Fleet:
    n = int(sum(counts))
    return Fleet(
        pd.DataFrame(
            {
                "ev": [f"ev{i}" for i in range(n)],
                "bus": np.repeat(np.asarray(buses, dtype=object), counts),
                "arrival_t": window[0],
                "departure_t": window[1],
                "soc_init": soc0.round(6),
                "soc_target": 1.0,
                "battery_kwh": battery_kwh,
                "p_max_kw": p_kw,
                "s_max_kva": p_kw,
                "efficiency": efficiency,
            }
        )
    )


def fleet_seed002(
    buses: list[str],
    counts: list[int],
    *,
    steps: int,
    dt_h: float,
    start_h: float,
    seed: int,
    battery_kwh: float = 40.0,
) -> Fleet:
    """Seed 002 section V-B: arrival ~ inverse GEV (shape -0.06, scale 0.85, location 17.3 h),
    departure ~ Weibull (scale 7.67 h, shape 21.83), initial SOC ~ N(0.49, 0.04), 3.6 kVA
    chargers at unit power factor, efficiency 0.9, target SOC 100 %.

    The battery size is not legible in the paper: 40 kWh (a mid-size EV of the paper's time,
    charged from 49 % to 100 % in about 6.3 h at 3.6 kW) is the documented choice.
    "Inverse GEV" is read as the generalised extreme value distribution with shape
    ``xi = -0.06`` in the convention ``F(x) = exp(-(1 + xi z)^(-1/xi))``, sampled by its
    quantile function ``loc + scale ((-ln u)^(-xi) - 1) / xi``.
    """
    rng = np.random.default_rng(seed)
    n = int(sum(counts))
    xi, scale, loc = -0.06, 0.85, 17.3
    u = rng.uniform(1e-12, 1.0, n)
    arr = loc + scale * ((-np.log(u)) ** (-xi) - 1.0) / xi
    dep = 7.67 * rng.weibull(21.83, n)
    soc0 = np.clip(rng.normal(0.49, 0.04, n), 0.0, 1.0)
    window = _window(arr, dep, start_h, steps, dt_h)
    return _fleet(buses, counts, window, soc0, battery_kwh, 3.6, 0.9)


def fleet_seed001(
    buses: list[str],
    counts: list[int],
    *,
    steps: int,
    dt_h: float,
    start_h: float,
    seed: int,
    battery_kwh: float = 40.0,
    efficiency: float = 0.9,
) -> Fleet:
    """Seed 001 appendix D.2: daily distance ~ N(52 km, 22 km) truncated at 0; consumption
    17 kWh/100 km (80 %) or 21 kWh/100 km (20 %); arrival ~ N(17:00, 90 min); departure =
    arrival - 9.5 h on the next day; chargers 2.3 kW (70 %), 3.7 kW (20 %), 11 kW (10 %).

    The energy to recharge is the day's driving energy: ``soc_init = soc_target - energy /
    battery`` with target 100 % and a 40 kWh battery (clipped at 0; BATTPOWER charges the
    driven energy back, the battery size only sets the SOC scale).
    """
    rng = np.random.default_rng(seed)
    n = int(sum(counts))
    dist = np.clip(rng.normal(52.0, 22.0, n), 0.0, None)
    cons = np.where(rng.uniform(size=n) < 0.8, 0.17, 0.21)
    energy = dist * cons
    arr = rng.normal(17.0, 1.5, n) % 24.0
    dep = (arr - 9.5) % 24.0
    p = rng.choice([2.3, 3.7, 11.0], size=n, p=[0.7, 0.2, 0.1])
    window = _window(arr, dep, start_h, steps, dt_h)
    soc0 = np.clip(1.0 - energy / battery_kwh, 0.0, 1.0)
    return _fleet(buses, counts, window, soc0, battery_kwh, p, efficiency)
