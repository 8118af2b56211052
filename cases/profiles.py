"""Shared daily profiles for built-in cases (hourly values, interpolated to the step length)."""

from __future__ import annotations

import numpy as np

# Residential/commercial mix, fraction of peak per hour 0..23 (a typical European winter
# weekday shape: night valley ~0.45, morning shoulder, evening peak 1.0 at 18:00).
LOAD_FACTOR_24H = np.array(
    [0.50, 0.46, 0.44, 0.43, 0.44, 0.48, 0.58, 0.70, 0.78, 0.80, 0.80, 0.79,
     0.78, 0.76, 0.75, 0.76, 0.82, 0.93, 1.00, 0.98, 0.90, 0.78, 0.65, 0.56]
)  # fmt: skip

# Day-ahead energy price (currency/kWh) per hour: a Nordic-like day with morning and evening
# peaks; magnitudes of the Nord Pool SE3 winter day-ahead price plus grid-independent fees.
PRICE_24H = np.array(
    [0.060, 0.055, 0.052, 0.050, 0.052, 0.060, 0.085, 0.120, 0.140, 0.130, 0.115, 0.105,
     0.100, 0.098, 0.100, 0.110, 0.130, 0.160, 0.175, 0.165, 0.140, 0.110, 0.085, 0.070]
)  # fmt: skip


def hourly_to_steps(
    profile24: np.ndarray, steps: int, dt_h: float, start_h: float = 0.0
) -> np.ndarray:
    """Sample an hourly profile at ``steps`` steps of ``dt_h`` h from ``start_h`` (step-wise)."""
    hours = (start_h + np.arange(steps) * dt_h) % 24.0
    return profile24[np.floor(hours).astype(int)]


# A Norwegian-like day-ahead price (currency/kWh) per hour 0..23: flat through the night, an
# evening shoulder and a morning spike, the shape of Elspot Trondheim on 1-2 February 2012
# that BATTPOWER (seed 001) uses ("the Norwegian spot price is flat during midnight").
PRICE_NO_24H = np.array(
    [0.050, 0.050, 0.050, 0.050, 0.050, 0.052, 0.070, 0.110, 0.200, 0.090, 0.080, 0.075,
     0.070, 0.068, 0.066, 0.066, 0.070, 0.080, 0.085, 0.080, 0.070, 0.060, 0.055, 0.052]
)  # fmt: skip
