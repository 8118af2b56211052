"""One limits path and one linear evaluator for every LinDistFlow user.

:func:`effective_limits` gives the limits that the LinDistFlow block enforces, per line, bus
and step:

* flow (kW, on the downstream flow ``P``): ``min(p_max[l, t], sqrt(S_l^2 - Q[l, t]^2))``
  where ``p_max`` includes the time-varying ``grid/line_limits.csv`` and the apparent-power
  term applies when the line has an ``s_max_kva`` rating and its reactive flow ``Q`` is fixed
  (no reactive devices; Q = downstream sum of the reactive loads). With controllable Q the
  S-rating is the block's polygon rows, not a bound.
* squared voltage (pu^2): ``v_min^2 <= w <= v_max^2``, the slack bus free.

Each limit is then tightened by any number of :class:`Tightening` terms (robust margins from
:mod:`robust.sets`, the AC correction of :mod:`power.correction`), each >= 0.

:class:`LinearGrid` is the linear map net load per bus and step -> downstream flows and
squared voltages (LinDistFlow, optionally with linearised line losses placed at each line's
downstream bus, see :mod:`power.correction`), and :meth:`LinearGrid.evaluate` the excesses
against a :class:`Limits`. The LinDistFlow bounds, the tariff loop's acceptance test,
out-of-sample, diagnose, hosting capacity and the jobs all go through these two.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import scipy.sparse as sp

from power.feeder import Feeder
from power.sensitivity import downstream_matrix


class Tightening(Protocol):
    """Tightening of the limits (all >= 0), e.g. :class:`robust.sets.RobustMargins`.

    flow_up_kw, flow_down_kw : (lines x steps) on the downstream flow's upper / lower limit.
    w_low, w_high : (buses x steps) pu^2 on the squared voltage's lower / upper limit.
    """

    flow_up_kw: np.ndarray
    flow_down_kw: np.ndarray
    w_low: np.ndarray
    w_high: np.ndarray


@dataclass(frozen=True)
class Limits:
    """Effective limits: ``-flow_down_kw <= P <= flow_up_kw`` (lines x steps, kW, downstream
    flow) and ``w_min <= w <= w_max`` (buses x steps, pu^2); ``free`` (buses,) marks buses
    without voltage limits (the slack)."""

    flow_up_kw: np.ndarray
    flow_down_kw: np.ndarray
    w_min: np.ndarray
    w_max: np.ndarray
    free: np.ndarray


def polygon_directions(sides: int) -> tuple[np.ndarray, np.ndarray, float]:
    """Unit normals ``(cos theta_k, sin theta_k)`` of the regular ``sides``-gon inscribed in
    the circle ``P^2 + Q^2 <= S^2`` (rotated by half a side, so that no side is normal to P
    alone), and its apothem ``cos(pi / sides)``: side k is ``cos P + sin Q <= S apothem``."""
    theta = 2 * np.pi * (np.arange(sides) + 0.5) / sides
    return np.cos(theta), np.sin(theta), float(np.cos(np.pi / sides))


def fixed_q_flows(feeder: Feeder) -> np.ndarray:
    """Downstream reactive flows (kvar, lines x steps) fixed by the reactive loads."""
    return np.asarray(downstream_matrix(feeder) @ feeder.load_q_kvar)


def flow_rating_kw(feeder: Feeder, q_down_kvar: np.ndarray | None) -> np.ndarray:
    """Nominal limit on |P| (kW, lines x steps): ``min(p_max, sqrt(S^2 - Q^2))`` with ``Q`` the
    fixed reactive flow, or ``p_max`` alone when Q is not fixed (None) or there is no S."""
    fmax = feeder.line_p_max_kw * 1.0
    s = feeder.line_s_max_kva
    if q_down_kvar is not None and s is not None:
        fmax = np.minimum(fmax, np.sqrt(np.maximum(s[:, None] ** 2 - q_down_kvar**2, 0.0)))
    return fmax


def effective_limits(
    feeder: Feeder, q_down_kvar: np.ndarray | None, *tightenings: Tightening | None
) -> Limits:
    """The limits of the module docstring, tightened by each of ``tightenings`` (None skipped).

    ``q_down_kvar`` : the fixed downstream reactive flows (:func:`fixed_q_flows`), or None when
    reactive power is controllable (then only ``p_max`` bounds P).
    """
    fmax = flow_rating_kw(feeder, q_down_kvar)
    up, down = fmax.copy(), fmax.copy()
    vmin2 = np.repeat(feeder.buses["v_min_pu"].to_numpy(float)[:, None] ** 2, feeder.steps, 1)
    vmax2 = np.repeat(feeder.buses["v_max_pu"].to_numpy(float)[:, None] ** 2, feeder.steps, 1)
    for tg in tightenings:
        if tg is None:
            continue
        up, down = up - tg.flow_up_kw, down - tg.flow_down_kw
        vmin2, vmax2 = vmin2 + tg.w_low, vmax2 - tg.w_high
    free = np.zeros(len(feeder.bus_ids), bool)
    free[feeder.tree.slack] = True
    return Limits(up, down, vmin2, vmax2, free)


@dataclass(frozen=True)
class Evaluation:
    """Downstream flows (kW), squared voltages (pu^2) and excesses (> 0 = exceeded) of a
    net-load schedule: ``ex_up``/``ex_down`` (lines x steps, kW), ``ex_low``/``ex_high``
    (buses x steps, pu^2; -inf at free buses)."""

    flow_kw: np.ndarray
    q_kvar: np.ndarray
    w: np.ndarray
    ex_up: np.ndarray
    ex_down: np.ndarray
    ex_low: np.ndarray
    ex_high: np.ndarray

    @property
    def max_flow_excess_kw(self) -> float:
        return float(max(self.ex_up.max(initial=0.0), self.ex_down.max(initial=0.0)))

    @property
    def max_w_excess(self) -> float:
        return float(max(self.ex_low.max(initial=0.0), self.ex_high.max(initial=0.0)))

    @property
    def max_voltage_excess_pu(self) -> float:
        """Largest voltage-limit excess (pu, >= 0) from the squared voltages."""
        v = np.sqrt(np.maximum(self.w, 0.0))
        low = np.sqrt(np.maximum(self.w + self.ex_low, 0.0)) - v  # sqrt(w_min) - v
        high = v - np.sqrt(np.maximum(self.w - self.ex_high, 0.0))  # v - sqrt(w_max)
        fin = np.isfinite(self.ex_low)
        return float(max(low[fin].max(initial=0.0), high[fin].max(initial=0.0)))


@dataclass(frozen=True)
class LinearGrid:
    """LinDistFlow of ``feeder`` as a map of net loads (consumption positive, kW / kvar, buses
    x steps), with optional linearised active losses of each line ``l`` placed as extra load at
    its downstream bus: ``loss_l = loss_a_kw[l, t] + loss_b[l, t] * P_l`` (P_l the flow at the
    line's upstream end). Without losses the flows are ``D p``; with them, the balance of the
    downstream bus ``c`` of ``l`` gives ``(1 - b_l) P_l = p_c + a_l + sum_{k below c} P_k``.
    Squared voltages: ``w = v0^2 - 2 D^T (r P + x Q)`` (r, x in pu per kW / kvar).
    """

    feeder: Feeder
    loss_a_kw: np.ndarray | None = None
    loss_b: np.ndarray | None = None

    @property
    def downstream(self) -> sp.csr_matrix:
        return _downstream(self.feeder)

    @property
    def has_losses(self) -> bool:
        return self.loss_b is not None

    def flows(self, p_net_kw: np.ndarray) -> np.ndarray:
        """Downstream active flows (kW, lines x steps) at each line's upstream end."""
        if not self.has_losses:
            return np.asarray(self.downstream @ p_net_kw)
        tree = self.feeder.tree
        acc = p_net_kw.astype(float).copy()
        out = np.zeros((len(self.feeder.line_ids), p_net_kw.shape[1]))
        a, f = self.loss_a_kw, 1.0 / (1.0 - self.loss_b)
        for b in tree.order[::-1][:-1]:  # leaves first, slack excluded
            li = tree.parent_line[b]
            out[li] = (acc[b] + a[li]) * f[li]
            acc[tree.parent_bus[li]] += out[li]
        return out

    def loss_injection_kw(self, flow_kw: np.ndarray) -> np.ndarray:
        """Linearised losses per bus (kW, buses x steps) at downstream flows ``flow_kw``."""
        tree = self.feeder.tree
        out = np.zeros((len(self.feeder.bus_ids), flow_kw.shape[1]))
        if self.has_losses:
            out[tree.child_bus] = self.loss_a_kw + self.loss_b * flow_kw
        return out

    def squared_voltages(self, flow_kw: np.ndarray, q_flow_kvar: np.ndarray) -> np.ndarray:
        """Squared bus voltages (pu^2) from downstream flows (lines x steps)."""
        tree = self.feeder.tree
        drop = tree.r_pu_kw[:, None] * flow_kw + tree.x_pu_kw[:, None] * q_flow_kvar
        return self.feeder.v_slack_pu**2 - 2.0 * np.asarray(self.downstream.T @ drop)

    def evaluate(self, p_net_kw: np.ndarray, q_net_kvar: np.ndarray, lim: Limits) -> Evaluation:
        """Flows, squared voltages and excesses against ``lim`` of a net-load schedule."""
        flow = self.flows(p_net_kw)
        q = np.asarray(self.downstream @ q_net_kvar)
        w = self.squared_voltages(flow, q)
        ex_low = lim.w_min - w
        ex_high = w - lim.w_max
        ex_low[lim.free] = ex_high[lim.free] = -np.inf
        return Evaluation(
            flow, q, w, flow - lim.flow_up_kw, -flow - lim.flow_down_kw, ex_low, ex_high
        )

    # ------------------------------------------------------------------ adjoint (prices)
    def along_paths(self, line_vals: np.ndarray, at_slack: np.ndarray | float = 0.0) -> np.ndarray:
        """Per bus j (buses x steps): ``y_j = f_l (y_parent + v_l)`` down the tree from
        ``y_slack = at_slack``, with ``l`` the line feeding j and ``f_l = 1 / (1 - b_l)``
        (1 without losses), i.e. ``sum_l Dt[l, j] v_l + F_j at_slack`` with ``Dt`` the
        loss-aware downstream incidence and ``F_j`` the product of ``f`` on the path."""
        tree = self.feeder.tree
        steps = line_vals.shape[1]
        y = np.zeros((len(self.feeder.bus_ids), steps))
        y[tree.slack] = at_slack
        f = 1.0 / (1.0 - self.loss_b) if self.has_losses else None
        for b in tree.order[1:]:
            li = tree.parent_line[b]
            y[b] = y[tree.parent_bus[li]] + line_vals[li]
            if f is not None:
                y[b] *= f[li]
        return y

    def loss_factor(self) -> np.ndarray:
        """Marginal import per kW of extra load at each bus, minus 1 (buses x steps): the
        loss factor ``F_j - 1`` (0 without losses)."""
        steps = self.feeder.steps
        if not self.has_losses:
            return np.zeros((len(self.feeder.bus_ids), steps))
        return self.along_paths(np.zeros((len(self.feeder.line_ids), steps)), 1.0) - 1.0

    def bus_prices(self, mu: np.ndarray, nu: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(congestion, voltage) per bus and step of flow prices ``mu`` (lines x steps, per kW
        of downstream flow) and squared-voltage prices ``nu`` (buses x steps, per pu^2 of
        voltage *drop*): ``sum_l Dt[l, j] mu_l`` and ``2 sum_l Dt[l, j] r_l (D nu)_l``."""
        r = self.feeder.tree.r_pu_kw[:, None]
        cong = self.along_paths(mu)
        volt = self.along_paths(2.0 * r * np.asarray(self.downstream @ nu))
        return cong, volt


_D_CACHE: dict[int, tuple[Feeder, sp.csr_matrix]] = {}


def _downstream(feeder: Feeder) -> sp.csr_matrix:
    """Downstream incidence of ``feeder``, cached per feeder object."""
    hit = _D_CACHE.get(id(feeder))
    if hit is None or hit[0] is not feeder:
        if len(_D_CACHE) > 32:
            _D_CACHE.clear()
        hit = (feeder, downstream_matrix(feeder))
        _D_CACHE[id(feeder)] = hit
    return hit[1]


def net_load(
    feeder: Feeder, extra_p_kw: np.ndarray | None = None, extra_q_kvar: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Net load per bus and step (kW, kvar; consumption positive): loads - renewables +
    extra (e.g. EV charging)."""
    p = feeder.load_p_kw - feeder.renewable_p_kw()
    q = feeder.load_q_kvar * 1.0
    if extra_p_kw is not None:
        p = p + extra_p_kw
    if extra_q_kvar is not None:
        q = q + extra_q_kvar
    return p, q
