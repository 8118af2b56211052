"""Clean numbers: solver round-off written as 0 in every table and figure of a run.

Values of the LP/QP solutions and their duals carry round-off of 1e-13 .. 4e-10 where the
exact value is 0 (e.g. the congestion and voltage parts of a tariff at an unconstrained
station). ``ZERO_TOL`` is the magnitude below which a float is written as 0:

* HiGHS runs with its default primal and dual feasibility tolerance of 1e-7 (on its scaled
  rows; :mod:`power.solve` passes no tolerance options), Clarabel with ``tol_feas = 1e-10``.
* ``ZERO_TOL = 1e-9`` is 100 x below the HiGHS tolerance, so no value a solver resolves is
  erased, and above the round-off seen in the duals (<= 4e-10 on tn20-dn17), so that noise
  goes. It is absolute, in the units of each column (kW, kvar, p.u., currency/kWh,
  vehicles); in all of them 1e-9 is far below any meaningful resolution.
* Values at the feasibility-tolerance level (1e-8 .. 1e-6 kW or vehicles at stations that do
  not charge) are NOT erased: an absolute tolerance cannot tell them from small real values.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

ZERO_TOL = 1e-9  # |x| below this is written as 0 (absolute, in the column's own unit)


def zero_small(values: np.ndarray, tol: float = ZERO_TOL) -> np.ndarray:
    """Float array with every ``|x| < tol`` (also -0.0) set to +0.0; NaN and inf kept."""
    a = np.asarray(values, dtype=float)
    return np.where(np.abs(a) < tol, 0.0, a)


def clean_table(
    df: pd.DataFrame, tol: float = ZERO_TOL, keep: tuple[str, ...] = ()
) -> pd.DataFrame:
    """``df`` with :func:`zero_small` applied to its float columns only (ids, step indices
    and integer columns are left as they are, as are the input columns named in ``keep``);
    a copy, ``df`` is not changed."""
    cols = [c for c in df.columns if c not in keep and pd.api.types.is_float_dtype(df[c].dtype)]
    if not cols:
        return df
    out = df.copy()
    for c in cols:
        out[c] = zero_small(out[c].to_numpy(), tol)
    return out
