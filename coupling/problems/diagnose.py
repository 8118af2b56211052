"""Diagnoses for problems that cannot be met: which grid limit the base load alone breaks, and
the worst limit excess of a schedule (the unserved demand per OD is
:func:`traffic.results.unserved_by_od_values`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from power.feeder import Feeder
from power.limits import LinearGrid, effective_limits, fixed_q_flows
from power.sensitivity import sensitivities


def _limit_violation(
    feeder: Feeder, p: np.ndarray, margins: Any = None
) -> tuple[str, int, int, str] | None:
    """First limit that the net load ``p`` (buses x steps, kW; the reactive loads as they are)
    breaks in the linear model, against the LinDistFlow limits (:func:`power.limits.
    effective_limits`, S-ratings included) tightened by ``margins``: (kind ``line``/``low``/
    ``high``, element position, step, sentence) or None."""
    q = feeder.load_q_kvar
    lim = effective_limits(feeder, fixed_q_flows(feeder), margins)
    ev = LinearGrid(feeder).evaluate(p, q, lim)
    flow = ev.flow_kw
    excess = np.maximum(ev.ex_up, ev.ex_down)
    if (excess > 1e-6).any():
        i, t = (int(x) for x in np.unravel_index(np.argmax(excess), excess.shape))
        limit = lim.flow_up_kw[i, t] if flow[i, t] >= 0 else lim.flow_down_kw[i, t]
        return (
            "line",
            i,
            t,
            f"line {feeder.line_ids[i]!r} carries {abs(flow[i, t]):.1f} kW at t={t}, above "
            f"its limit {limit:.1f} kW",
        )
    v = np.sqrt(np.maximum(ev.w, 0))
    vmin = np.sqrt(np.maximum(lim.w_min, 0))
    vmax = np.sqrt(np.maximum(lim.w_max, 0))
    low = vmin - v
    low[lim.free] = -np.inf
    if (low > 1e-6).any():
        b, t = (int(x) for x in np.unravel_index(np.argmax(low), low.shape))
        return (
            "low",
            b,
            t,
            f"bus {feeder.bus_ids[b]!r} is at {v[b, t]:.4f} pu at t={t}, below its limit "
            f"{vmin[b, t]:.4f} pu",
        )
    high = v - vmax
    high[lim.free] = -np.inf
    if (high > 1e-6).any():
        b, t = (int(x) for x in np.unravel_index(np.argmax(high), high.shape))
        return (
            "high",
            b,
            t,
            f"bus {feeder.bus_ids[b]!r} is at {v[b, t]:.4f} pu at t={t}, above its limit "
            f"{vmax[b, t]:.4f} pu",
        )
    return None


def _gen_min_kw(feeder: Feeder) -> np.ndarray:
    """Generators' minimum output per bus and step (kW), buses x steps."""
    out = np.zeros((len(feeder.bus_ids), feeder.steps))
    g = feeder.generators
    if len(g):
        rows = g["bus"].map(feeder.bus_pos).to_numpy()
        np.add.at(out, rows, g["p_min_kw"].to_numpy(float)[:, None])
    return out


def base_load_violation(feeder: Feeder, margins: Any = None, uncertainty: Any = None) -> str | None:
    """One sentence naming the first limit that cannot be met whatever the EVs do, or None.

    Checked in turn, each naming its cause: the base load alone (no EVs, no generators)
    against the limits; the generators' minimum outputs (``p_min_kw``) added to it; the
    limits tightened by the robust ``margins`` (:class:`robust.sets.RobustMargins`) of the
    uncertainty bounds, naming the bound (bus, kind) that takes most of the limit.
    """
    sens = sensitivities(feeder)
    p = feeder.load_p_kw - feeder.renewable_p_kw()
    hit = _limit_violation(feeder, p)
    if hit is not None:
        return f"the base load alone: {hit[3]}"
    gmin = _gen_min_kw(feeder)
    if gmin.any():
        hit = _limit_violation(feeder, p - gmin)
        if hit is not None:
            kind, pos, t, text = hit
            g = feeder.generators
            gb = g["bus"].map(feeder.bus_pos).to_numpy()
            pmin = g["p_min_kw"].to_numpy(float)
            if kind == "line":  # the generators downstream of the line push the flow
                near = np.asarray(sens.downstream[[pos], :].todense()).ravel()[gb] != 0
            else:
                near = np.ones(len(g), bool)
            cand = np.flatnonzero(near & (pmin > 0))
            j = int(cand[np.argmax(pmin[cand])]) if len(cand) else int(np.argmax(pmin))
            return (
                f"generator {str(g['gen'].iloc[j])!r} at bus {str(g['bus'].iloc[j])!r} must "
                f"produce at least {pmin[j]:g} kW (grid/generators.csv p_min_kw): {text}"
            )
    if margins is not None:
        hit = _limit_violation(feeder, p, margins)
        if hit is not None:
            return f"the uncertainty bounds tighten the limits too far: {hit[3]}" + _largest_bound(
                feeder, sens, uncertainty, hit
            )
    return None


def _largest_bound(feeder: Feeder, sens: Any, uncertainty: Any, hit: tuple) -> str:
    """``" (largest bound: bus 'b' load, xi 12.3 kW at t=5)"`` for the element of ``hit``."""
    if uncertainty is None:
        return ""
    from coupling.problems.robust_grid import uncertain_sources

    src = uncertain_sources(feeder, uncertainty)
    if not len(src.bus):
        return ""
    kind, pos, t, _ = hit
    if kind == "line":
        coef = np.asarray(sens.downstream[[pos], :].todense()).ravel()[src.bus]
    else:
        coef = np.asarray(sens.r_shared)[pos, src.bus]
    weight = np.abs(coef) * src.xi_kw[:, t]
    k = int(np.argmax(weight))
    if weight[k] <= 0:
        return ""
    return (
        f" (largest bound: bus {feeder.bus_ids[src.bus[k]]!r} {src.kind[k]}, "
        f"xi {src.xi_kw[k, t]:.1f} kW at t={t}; see grid/uncertainty.csv xi_frac)"
    )


def worst_excess(feeder: Feeder, ev: Any, tol_kw: float, tol_w: float) -> dict[str, Any] | None:
    """The largest limit excess of an evaluated schedule (a :class:`coupling.problems.loop.
    GridEvaluation` against the limits the loop enforced, robust margins included), or None
    when every flow is within ``tol_kw`` (kW) and every squared voltage within ``tol_w``.

    Returns ``element`` (``line 'x'`` / ``bus 'y'``), ``t``, ``amount`` and ``unit`` (kW above
    the flow limit, or pu outside the voltage limit) and ``text``, one sentence naming them.
    """
    flow = max(ev.ex_up.max(initial=-np.inf), ev.ex_down.max(initial=-np.inf))
    if flow > tol_kw:
        up = ev.ex_up.max(initial=-np.inf) >= ev.ex_down.max(initial=-np.inf)
        ex = ev.ex_up if up else ev.ex_down
        i, t = (int(x) for x in np.unravel_index(np.argmax(ex), ex.shape))
        amount = float(ex[i, t])
        direction = "" if up else " in reverse"
        return {
            "element": f"line {feeder.line_ids[i]!r}",
            "t": t,
            "amount": amount,
            "unit": "kW",
            "text": (
                f"line {feeder.line_ids[i]!r} at t={t} carries {abs(float(ev.flow_kw[i, t])):.1f} "
                f"kW{direction}, {amount:.2f} kW above its limit"
            ),
        }
    low = np.where(np.isfinite(ev.ex_low), ev.ex_low, -np.inf)
    high = np.where(np.isfinite(ev.ex_high), ev.ex_high, -np.inf)
    if max(low.max(initial=-np.inf), high.max(initial=-np.inf)) > tol_w:
        is_low = low.max(initial=-np.inf) >= high.max(initial=-np.inf)
        ex = low if is_low else high
        b, t = (int(x) for x in np.unravel_index(np.argmax(ex), ex.shape))
        v = float(np.sqrt(max(ev.w[b, t], 0.0)))
        w_lim = ev.w[b, t] + ex[b, t] if is_low else ev.w[b, t] - ex[b, t]
        amount = abs(float(np.sqrt(max(w_lim, 0.0))) - v)
        side = "below" if is_low else "above"
        return {
            "element": f"bus {feeder.bus_ids[b]!r}",
            "t": t,
            "amount": amount,
            "unit": "pu",
            "text": f"bus {feeder.bus_ids[b]!r} at t={t} is at {v:.4f} pu, {amount:.4f} pu "
            f"{side} its limit",
        }
    return None


def worst_ac_excess(
    feeder: Feeder,
    ac: Any,
    ex: Any,
    lim: Any,
    tol_loading: float,
    tol_v_pu: float,
) -> dict[str, Any] | None:
    """The largest AC excess of a schedule (a :class:`power.correction.ACExcess` ``ex`` of the
    AC power flow ``ac`` over the limits ``lim``, robust margins included), or None when every
    line is within ``tol_loading`` of its rating and every voltage within ``tol_v_pu``.

    Returns ``kind`` (``loading`` / ``voltage``), ``element`` (``line 'x'`` / ``bus 'y'``),
    ``t``, ``amount`` and ``unit`` (fraction of the line's rating above its limit, or pu
    outside the voltage limit) and ``text``, one sentence naming them; like
    :func:`worst_excess`, a line before a bus.
    """
    if ex.max_loading > tol_loading:
        i, t = (int(x) for x in np.unravel_index(np.argmax(ex.flow_loading), ex.flow_loading.shape))
        amount = float(ex.flow_loading[i, t])
        return {
            "kind": "loading",
            "element": f"line {feeder.line_ids[i]!r}",
            "t": t,
            "amount": amount,
            "unit": "fraction",
            "text": (
                f"line {feeder.line_ids[i]!r} at t={t} has AC loading "
                f"{float(ac.loading[i, t]):.4f}, {float(ex.flow_kw[i, t]):.2f} kW "
                f"({amount:.4f} of its rating) above its limit"
            ),
        }
    if ex.max_voltage_pu > tol_v_pu:
        vx = ex.voltage_pu
        b, t = (int(x) for x in np.unravel_index(np.argmax(vx), vx.shape))
        v = float(ac.v_pu[b, t])
        amount = float(vx[b, t])
        low = float((np.sqrt(lim.w_min) - ac.v_pu)[b, t])
        side = "below" if low >= amount else "above"
        return {
            "kind": "voltage",
            "element": f"bus {feeder.bus_ids[b]!r}",
            "t": t,
            "amount": amount,
            "unit": "pu",
            "text": f"bus {feeder.bus_ids[b]!r} at t={t} is at {v:.4f} pu in AC, {amount:.4f} pu "
            f"{side} its limit",
        }
    return None
