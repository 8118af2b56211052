"""Uncertainty sets and robust counterparts of affine grid constraints.

An uncertain source i (a load, PV or wind unit at one bus) deviates from its forecast by
``delta_i,t`` with ``|delta_i,t| <= xi_i,t`` (kW). Every grid constraint of interest is affine
in the deviations: ``a(x) + c_k . delta <= b``, with ``c_k`` from the sensitivity maps. Its
robust counterpart is ``a(x) <= b - margin_k`` with ``margin_k = max_{delta in U} c_k . delta``:
since ``c_k`` does not depend on the decisions, the counterpart is a constant tightening of
the limit, i.e. of a variable bound in the LinDistFlow block (no extra rows).

Sets (per step t, per constraint k, worst case chosen by each constraint on its own):

* ``"node"`` — seed 003's per-node budget: ``|delta_i| <= Gamma xi_i`` with Gamma in [0, 1];
  ``margin_k = Gamma sum_i |c_ki| xi_i``.
* ``"budget"`` — Bertsimas & Sim: ``|delta_i| <= xi_i`` and ``sum_i |delta_i| / xi_i <= Gamma``,
  Gamma in [0, n] (number of sources that may deviate fully); ``margin_k`` = the sum of the
  floor(Gamma) largest ``|c_ki| xi_i`` plus the fraction (Gamma - floor(Gamma)) of the next one.
  This equals the optimum of the dualised LP ``min Gamma z + sum_i p_i`` s.t.
  ``z + p_i >= |c_ki| xi_i``, ``z, p >= 0``.

Both directions of a limit are covered: an upper flow limit is worst at high load / low
generation, a reverse-flow (lower) limit and the over-voltage limit at the opposite. For these
symmetric sets the two margins are equal in size; they are returned separately.

Gamma = 0 gives zero margins: exactly the deterministic problem.

References
----------
Bertsimas, D., Sim, M. (2004), "The price of robustness", Operations Research 52(1).
Seed 003 (robust dynamic tariff, per-node Gamma in [0, 1]).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np
import scipy.sparse as sp

SetKind = Literal["node", "budget"]


class LimitArrays(Protocol):
    """What the out-of-sample test reads of a limits object (e.g. ``power.limits.Limits``):
    ``-flow_down_kw <= P <= flow_up_kw`` (lines x steps, kW), ``w_min <= w <= w_max``
    (buses x steps, pu^2), and ``free`` (buses,) without voltage limits."""

    flow_up_kw: np.ndarray
    flow_down_kw: np.ndarray
    w_min: np.ndarray
    w_max: np.ndarray
    free: np.ndarray


class RobustSetError(ValueError):
    """Invalid uncertainty-set parameter (Gamma out of range, unknown set)."""


@dataclass(frozen=True)
class UncertainSources:
    """The uncertain sources of a feeder.

    bus : (n,) bus position of each source. sign : (n,) +1 for consumption (load), -1 for
    generation (PV, wind). xi_kw : (n, steps) deviation bounds (kW). tan_phi : (n, steps)
    reactive change per kW of deviation (loads keep their power factor; 0 for PV/wind).
    kind : (n,) 'load' | 'pv' | 'wind'.
    """

    bus: np.ndarray
    sign: np.ndarray
    xi_kw: np.ndarray
    tan_phi: np.ndarray
    kind: np.ndarray

    @property
    def n(self) -> int:
        return len(self.bus)


@dataclass(frozen=True)
class RobustMargins:
    """Tightenings of the LinDistFlow bounds (all >= 0).

    flow_up_kw, flow_down_kw : (lines, steps); w_low, w_high : (buses, steps) in pu^2.
    """

    flow_up_kw: np.ndarray
    flow_down_kw: np.ndarray
    w_low: np.ndarray
    w_high: np.ndarray


def worst_case(coef: np.ndarray, xi: np.ndarray, gamma: float, kind: SetKind) -> np.ndarray:
    """``max_{delta in U} coef @ delta`` per row of ``coef`` (k x n), bounds ``xi`` (n,)."""
    a = np.abs(np.asarray(coef, float)) * xi[None, :]
    if kind == "node":
        if not 0.0 <= gamma <= 1.0:
            raise RobustSetError(f"per-node budget gamma must lie in [0, 1], got {gamma}")
        return gamma * a.sum(axis=1)
    if kind == "budget":
        n = a.shape[1]
        if not 0.0 <= gamma <= n:
            raise RobustSetError(f"Bertsimas-Sim gamma must lie in [0, {n}], got {gamma}")
        if n == 0:
            return np.zeros(a.shape[0])
        k = int(np.floor(gamma))
        srt = -np.sort(-a, axis=1)
        out = srt[:, :k].sum(axis=1)
        if k < n:
            out = out + (gamma - k) * srt[:, k]
        return out
    raise RobustSetError(f"unknown uncertainty set {kind!r} (node | budget)")


def robust_margins(
    downstream: sp.spmatrix | np.ndarray,
    r_shared: np.ndarray,
    x_shared: np.ndarray,
    sources: UncertainSources,
    gamma: float,
    kind: SetKind = "node",
) -> RobustMargins:
    """Margins of every line-flow and voltage bound at every step.

    ``downstream`` (lines x buses) maps net bus load to downstream line flow; ``r_shared`` and
    ``x_shared`` (buses x buses) map net load to the squared-voltage drop ``2 (R p + X q)``.
    """
    d = sp.csr_matrix(downstream)
    n_l, n_b = d.shape
    steps = sources.xi_kw.shape[1]  # xi_kw is (0, steps) when there are no sources
    if sources.n == 0 or gamma == 0.0:
        z_l, z_b = np.zeros((n_l, steps)), np.zeros((n_b, steps))
        return RobustMargins(z_l, z_l.copy(), z_b, z_b.copy())
    # flow coefficient of source i on line l: sign_i D[l, bus_i]; |.| drops the sign
    flow_coef = d[:, sources.bus].toarray()
    r_cols, x_cols = r_shared[:, sources.bus], x_shared[:, sources.bus]
    flow = np.empty((n_l, steps))
    volt = np.empty((n_b, steps))
    for t in range(steps):
        xi = sources.xi_kw[:, t]
        flow[:, t] = worst_case(flow_coef, xi, gamma, kind)
        vcoef = 2.0 * (r_cols + x_cols * sources.tan_phi[:, t][None, :])
        volt[:, t] = worst_case(vcoef, xi, gamma, kind)
    return RobustMargins(flow, flow.copy(), volt, volt.copy())


def sample_deviations(
    sources: UncertainSources, gamma: float, kind: SetKind, n_samples: int, seed: int
) -> np.ndarray:
    """Seeded realisations inside the set, shape (n_samples, sources, steps), in kW.

    Each source deviates uniformly within its scaled bound, with a quarter of the samples pushed
    to vertices (|delta| at the bound, random signs) where the worst cases live; under the
    Bertsimas-Sim budget the scaled magnitudes are shrunk to meet ``sum |delta|/xi <= gamma``.
    """
    rng = np.random.default_rng(seed)
    shape = (n_samples, sources.n, sources.xi_kw.shape[1])
    u = rng.uniform(0.0, 1.0, shape)
    u[: n_samples // 4] = 1.0
    signs = rng.choice([-1.0, 1.0], size=shape)
    if kind == "node":
        u = u * gamma
    else:
        total = u.sum(axis=1, keepdims=True)
        u = u * np.minimum(1.0, gamma / np.maximum(total, 1e-12))
    return signs * u * sources.xi_kw[None]


@dataclass(frozen=True)
class OutOfSample:
    """Violation statistics of a fixed schedule over sampled realisations.

    violation_rate : share of samples in which any line or voltage limit is exceeded beyond
    ``tol``. worst_flow_excess_kw, worst_voltage_excess_pu : largest excess over all samples.
    """

    n_samples: int
    violation_rate: float
    worst_flow_excess_kw: float
    worst_voltage_excess_pu: float


def evaluate_out_of_sample(
    flow_kw: np.ndarray,
    w_pu2: np.ndarray,
    lim: LimitArrays,
    downstream: sp.spmatrix | np.ndarray,
    r_shared: np.ndarray,
    x_shared: np.ndarray,
    sources: UncertainSources,
    samples: np.ndarray,
    *,
    tol_kw: float = 1e-3,
    tol_pu: float = 1e-6,
) -> OutOfSample:
    """Re-evaluate downstream flows and squared voltages with the schedule fixed.

    ``flow_kw`` (lines x steps) downstream flows and ``w_pu2`` (buses x steps) squared voltages
    of the schedule; ``lim`` the limits to test them against (:func:`power.limits.
    effective_limits`; its ``free`` buses, the slack, have no voltage limit).
    """
    d = sp.csr_matrix(downstream)
    flow_coef = d[:, sources.bus].toarray() * sources.sign[None, :]
    r_cols = r_shared[:, sources.bus] * sources.sign[None, :]
    x_cols = x_shared[:, sources.bus] * sources.sign[None, :]
    mask = ~lim.free
    v_lo, v_hi = np.sqrt(np.maximum(lim.w_min[mask], 0.0)), np.sqrt(lim.w_max[mask])
    worst_f = worst_v = 0.0
    violated = 0
    for delta in samples:  # (sources, steps), consumption-positive deviations times sign
        f = flow_kw + flow_coef @ delta
        w = w_pu2 - 2.0 * (r_cols @ delta + x_cols @ (delta * sources.tan_phi))
        ef = max(
            (f - lim.flow_up_kw).max(initial=-np.inf), (-f - lim.flow_down_kw).max(initial=-np.inf)
        )
        v = np.sqrt(np.maximum(w, 0.0))[mask]
        ev = max((v_lo - v).max(initial=-np.inf), (v - v_hi).max(initial=-np.inf))
        worst_f, worst_v = max(worst_f, ef), max(worst_v, ev)
        violated += bool(ef > tol_kw or ev > tol_pu)
    return OutOfSample(len(samples), violated / max(len(samples), 1), worst_f, worst_v)
