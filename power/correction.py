"""Correction of LinDistFlow by an AC power flow: linearised losses and measured limit gaps.

After an AC power flow at the schedule's net loads (:func:`power.ac_check.ac_check`), per line
``l`` and step:

* **losses** — the exact series loss ``L_l = r_l (P^2 + Q^2) / v^2`` (kW; r in pu per kW, the
  flow and voltage at either end: the current is the same along a branch without shunts),
  linearised in the flow ``P_l`` at the line's upstream end as its chord from zero to the
  line's peak flow over the steps (:func:`linearised_losses`), ``a_l + b_l P_l`` with
  ``b_l = r_l R_l / v_up^2``, as extra load at the line's downstream bus; with one step its
  flows reproduce the AC flows at the upstream ends exactly at the point of linearisation
  (each upstream-end flow is the downstream bus's net load plus the flows below plus the
  line's loss), with several the chord over-estimates losses between zero and the peak;
* **limit gaps** — whatever the loss-aware linear model still gets wrong at that point: per
  line the AC excess over the limit in kW of P (at the worse end, with the AC reactive flow
  in ``sqrt(S^2 - Q^2)``) minus the linear excess, per bus ``w_lin - w_ac`` (pu^2) for the
  lower and ``w_ac - w_lin`` for the upper voltage limit. The positive parts tighten the
  limits; they never shrink between iterations (each new gap is combined by ``max`` with the
  previous one), so the iteration cannot cycle.

At a fixed point the AC flow meets every limit the linear model enforces (within the change of
the gaps between the last two schedules).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from power.ac_check import ACResult
from power.feeder import Feeder
from power.limits import Limits, LinearGrid

TOL_LOADING = 1e-3  # accepted AC excess of a line limit, fraction of the rating
TOL_V_PU = 1e-3  # accepted AC excess of a voltage limit (pu)


@dataclass(frozen=True)
class ACTightening:
    """Limit tightenings from measured AC - linear gaps (all >= 0), a
    :class:`power.limits.Tightening`: flow_up_kw, flow_down_kw (lines x steps, kW), w_low,
    w_high (buses x steps, pu^2)."""

    flow_up_kw: np.ndarray
    flow_down_kw: np.ndarray
    w_low: np.ndarray
    w_high: np.ndarray

    @classmethod
    def zeros(cls, feeder: Feeder) -> ACTightening:
        nl, nb, s = len(feeder.line_ids), len(feeder.bus_ids), feeder.steps
        return cls(np.zeros((nl, s)), np.zeros((nl, s)), np.zeros((nb, s)), np.zeros((nb, s)))

    def extrapolate(self, previous: ACTightening) -> ACTightening:
        """These gaps plus their growth since ``previous`` (``g + max(g - g_prev, 0)``)."""
        ext = lambda g, g0: g + np.maximum(g - g0, 0.0)  # noqa: E731
        return ACTightening(
            ext(self.flow_up_kw, previous.flow_up_kw),
            ext(self.flow_down_kw, previous.flow_down_kw),
            ext(self.w_low, previous.w_low),
            ext(self.w_high, previous.w_high),
        )

    def plus(self, other: ACTightening) -> ACTightening:
        """Elementwise sum."""
        return ACTightening(
            self.flow_up_kw + other.flow_up_kw,
            self.flow_down_kw + other.flow_down_kw,
            self.w_low + other.w_low,
            self.w_high + other.w_high,
        )

    def combine(self, other: ACTightening) -> ACTightening:
        """Elementwise maximum (tightenings never shrink)."""
        return ACTightening(
            np.maximum(self.flow_up_kw, other.flow_up_kw),
            np.maximum(self.flow_down_kw, other.flow_down_kw),
            np.maximum(self.w_low, other.w_low),
            np.maximum(self.w_high, other.w_high),
        )


@dataclass(frozen=True)
class LineEnds:
    """AC flows of every line in the downstream direction at its upstream (``up``) and
    downstream (``dn``) end, kW / kvar (lines x steps), and its losses ``loss_kw``,
    ``loss_kvar``."""

    p_up: np.ndarray
    q_up: np.ndarray
    p_dn: np.ndarray
    q_dn: np.ndarray
    loss_kw: np.ndarray
    loss_kvar: np.ndarray


def line_ends(feeder: Feeder, ac: ACResult) -> LineEnds:
    """Both ends' flows and the series losses of every line from an AC result (its flows at
    the from-end in the stored direction and the bus voltages)."""
    tree = feeder.tree
    frm = feeder.lines["from_bus"].map(feeder.bus_pos).to_numpy()
    s2 = (ac.p_kw**2 + ac.q_kvar**2) / ac.v_pu[frm] ** 2  # |I|^2 in (kVA / pu)^2
    loss_p = tree.r_pu_kw[:, None] * s2
    loss_q = tree.x_pu_kw[:, None] * s2
    sign = tree.sign[:, None]
    up_is_from = sign > 0
    # the to-end flow, from -> to, is the from-end flow less the loss
    p_from, q_from = ac.p_kw, ac.q_kvar
    p_to, q_to = p_from - loss_p, q_from - loss_q
    return LineEnds(
        p_up=sign * np.where(up_is_from, p_from, p_to),
        q_up=sign * np.where(up_is_from, q_from, q_to),
        p_dn=sign * np.where(up_is_from, p_to, p_from),
        q_dn=sign * np.where(up_is_from, q_to, q_from),
        loss_kw=loss_p,
        loss_kvar=loss_q,
    )


def peak_flow_kw(feeder: Feeder, ac: ACResult, previous: np.ndarray | None = None) -> np.ndarray:
    """Per line (lines x 1): the largest |flow| at its upstream end over all steps of ``ac``
    (and of ``previous``), kW."""
    peak = np.abs(line_ends(feeder, ac).p_up).max(axis=1, keepdims=True)
    return peak if previous is None else np.maximum(peak, previous)


FLOW_NOISE_KW = 1e-6  # |P| below this is no direction of flow (kW)


def linearised_losses(
    feeder: Feeder, ac: ACResult, peak_kw: np.ndarray | None = None
) -> LinearGrid:
    """The loss-aware linear grid of the module docstring, linearised at ``ac``.

    The loss of line l at step t, ``L(P) = r (P^2 + Q0^2) / v_up^2`` in its upstream-end flow
    P (Q0, v_up from ``ac``), is replaced by its chord from zero flow to the line's peak flow
    ``R = max(peak_kw[l], |P0|)`` in the direction of the AC flow ``P0`` (``peak_kw``: default
    the largest flow over the steps of ``ac``): ``b = r R / v_up^2``, ``a = r Q0^2 / v_up^2``.
    The chord is exact at zero and at the peak and above the convex loss in between (by at
    most ``r R^2 / (4 v^2)``), so a schedule that moves load between steps or buses is never
    credited with losses below the real ones (a tangent at the AC point would give negative
    losses where a flow falls and too little where it rises into a light step). With one
    step (R = |P0|) it is exact at the AC point.
    """
    tree = feeder.tree
    ends = line_ends(feeder, ac)
    if peak_kw is None:
        peak_kw = peak_flow_kw(feeder, ac)
    v_up2 = ac.v_pu[tree.parent_bus] ** 2
    p0 = ends.p_up
    # a flow at the power flow's noise level (a station's line in a step it does not charge)
    # has no direction: take the consumer's, downstream, not the sign of a 1e-10 kW residue
    r_sec = np.where(p0 >= -FLOW_NOISE_KW, 1.0, -1.0) * np.maximum(peak_kw, np.abs(p0))
    r_pu = tree.r_pu_kw[:, None]
    b = np.clip(r_pu * r_sec / v_up2, -0.5, 0.5)  # a line losing half its flow: no operation
    a = r_pu * ends.q_up**2 / v_up2
    return LinearGrid(feeder, loss_a_kw=a, loss_b=b)


def with_slope(grid: LinearGrid, slope: np.ndarray, p0_kw: np.ndarray) -> LinearGrid:
    """``grid``'s linearised losses with the slopes ``slope`` instead of its own, through the
    same loss at the upstream-end flows ``p0_kw`` (lines x steps, kW): ``a + b P0 = a' +
    slope P0``. Lets a re-solve change only right-hand sides (a warm start stays cheap); the
    measured gaps of the result absorb the difference elsewhere."""
    a = grid.loss_a_kw + (grid.loss_b - slope) * p0_kw
    return LinearGrid(grid.feeder, loss_a_kw=a, loss_b=slope)


def _p_room(feeder: Feeder, q: np.ndarray) -> np.ndarray:
    """Limit on |P| (kW, lines x steps) at reactive flow ``q``: min(p_max, sqrt(S^2 - Q^2))."""
    p_max, s_max = feeder.line_p_max_kw, feeder.line_s_max_kva
    if s_max is None:
        return p_max
    return np.minimum(p_max, np.sqrt(np.maximum(s_max[:, None] ** 2 - q**2, 0.0)))


def _worst_end(feeder: Feeder, ends: LineEnds) -> tuple[np.ndarray, np.ndarray]:
    """max over both ends of (P - room) and (-P - room) (kW, lines x steps): the AC excess
    over the nominal limit in each direction."""
    up = dn = -np.inf
    for p, q in ((ends.p_up, ends.q_up), (ends.p_dn, ends.q_dn)):
        room = _p_room(feeder, q)
        up, dn = np.maximum(up, p - room), np.maximum(dn, -p - room)
    return up, dn


@dataclass(frozen=True)
class ACExcess:
    """AC excess over the limits (with robust margins, without AC tightening): ``flow_kw``
    (lines x steps, kW of P, worse end and direction), ``flow_loading`` (the same over the
    rating min(p_max, S)), ``voltage_pu`` (buses x steps, pu; -inf at free buses)."""

    flow_kw: np.ndarray
    flow_loading: np.ndarray
    voltage_pu: np.ndarray

    @property
    def max_loading(self) -> float:
        return float(self.flow_loading.max(initial=0.0))

    @property
    def max_voltage_pu(self) -> float:
        return float(self.voltage_pu.max(initial=0.0))

    def ok(self, tol_loading: float = TOL_LOADING, tol_v_pu: float = TOL_V_PU) -> bool:
        """No limit exceeded beyond the tolerances."""
        return self.max_loading <= tol_loading and self.max_voltage_pu <= tol_v_pu


def ac_excess(feeder: Feeder, ac: ACResult, rating_kw: np.ndarray, lim: Limits) -> ACExcess:
    """AC excess over ``lim`` (the linear model's limits with robust margins, no AC
    tightening); ``rating_kw`` is the linear model's untightened flow limit
    (:func:`power.limits.flow_rating_kw`), so that ``rating_kw - lim`` is the margin."""
    up, dn = _worst_end(feeder, line_ends(feeder, ac))
    ex = np.maximum(up + rating_kw - lim.flow_up_kw, dn + rating_kw - lim.flow_down_kw)
    s = feeder.line_s_max_kva
    base = feeder.line_p_max_kw if s is None else np.minimum(feeder.line_p_max_kw, s[:, None])
    v = ac.v_pu
    vx = np.maximum(np.sqrt(lim.w_min) - v, v - np.sqrt(lim.w_max))
    vx[lim.free] = -np.inf
    return ACExcess(ex, ex / base, vx)


def excess_tightening(
    feeder: Feeder, ac: ACResult, rating_kw: np.ndarray, lim: Limits
) -> ACTightening:
    """The AC excess over ``lim`` (as :func:`ac_excess`, positive parts) as a tightening: per
    line and direction in kW of P, per bus the rise of ``v^2`` that lifts the AC voltage
    ``v`` by its excess ``e`` below the lower (above the upper) limit, ``(v + e)^2 - v^2``."""
    up, dn = _worst_end(feeder, line_ends(feeder, ac))
    pos = lambda x: np.maximum(x, 0.0)  # noqa: E731
    e_up = pos(up + rating_kw - lim.flow_up_kw)
    e_dn = pos(dn + rating_kw - lim.flow_down_kw)
    v = ac.v_pu
    e_lo = pos(np.sqrt(np.maximum(lim.w_min, 0.0)) - v)
    e_hi = pos(v - np.sqrt(lim.w_max))
    e_lo[lim.free] = e_hi[lim.free] = 0.0
    return ACTightening(e_up, e_dn, (v + e_lo) ** 2 - v**2, v**2 - (v - e_hi) ** 2)


def measured_gaps(
    feeder: Feeder,
    ac: ACResult,
    grid: LinearGrid,
    rating_kw: np.ndarray,
    p_net_kw: np.ndarray,
    q_net_kvar: np.ndarray,
) -> ACTightening:
    """AC - linear gaps (positive parts) of the linear model ``grid`` at the net loads of
    ``ac``: per line in its flow direction (kW of P) and per bus (pu^2)."""
    up, dn = _worst_end(feeder, line_ends(feeder, ac))
    flow = grid.flows(p_net_kw)
    q = np.asarray(grid.downstream @ q_net_kvar)
    w = grid.squared_voltages(flow, q)
    fwd = flow >= 0
    g_up = np.where(fwd, up - (flow - rating_kw), 0.0)
    g_dn = np.where(~fwd, dn - (-flow - rating_kw), 0.0)
    w_ac = ac.v_pu**2
    g_low, g_high = w - w_ac, w_ac - w
    slack = feeder.tree.slack
    g_low[slack] = g_high[slack] = 0.0
    pos = lambda x: np.maximum(x, 0.0)  # noqa: E731
    return ACTightening(pos(g_up), pos(g_dn), pos(g_low), pos(g_high))
