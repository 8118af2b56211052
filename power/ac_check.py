"""AC check of a linear schedule with pandapower's Newton-Raphson power flow."""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass

import numpy as np
import pandapower as pp

from power.feeder import Feeder
from power.pandapower_io import to_pandapower
from power.results import line_loading


class ACCheckError(RuntimeError):
    """The AC power flow did not converge at some step."""


@dataclass(frozen=True)
class ACResult:
    """AC power-flow results per step.

    v_pu : (buses x steps) voltage magnitudes. p_kw, q_kvar : (lines x steps) flows at the
    upstream (sending) end in the stored direction. loading : (lines x steps) loading by the
    definition of :func:`power.results.line_loading`, evaluated at the more loaded end.
    """

    v_pu: np.ndarray
    p_kw: np.ndarray
    q_kvar: np.ndarray
    loading: np.ndarray


# pandapower's time-series mode: the admittance matrix and indexing of the first step are
# reused, only the bus injections are updated (same Newton-Raphson, same results)
_ONLY_LOADS_CHANGE = {"bus_pq": True, "trafo": False, "gen": False}

# the pandapower network of a feeder, built once per feeder and thread (a tariff run checks
# the same feeder tens of times: the DSO's corrections, the loop, the out-of-sample draws)
_NETS: dict[tuple[int, int], tuple[weakref.ref, pp.pandapowerNet, list]] = {}
_MAX_NETS = 8


def _network(feeder: Feeder) -> tuple[pp.pandapowerNet, list[tuple[str, int]]]:
    """:func:`power.pandapower_io.to_pandapower` of ``feeder``, kept for this thread."""
    key = (id(feeder), threading.get_ident())
    hit = _NETS.get(key)
    if hit is not None and hit[0]() is feeder:
        return hit[1], hit[2]
    net, branches = to_pandapower(feeder)
    if len(_NETS) >= _MAX_NETS:
        _NETS.pop(next(iter(_NETS)))
    _NETS[key] = (weakref.ref(feeder), net, branches)
    return net, branches


def ac_check(
    feeder: Feeder,
    p_net_kw: np.ndarray,
    q_net_kvar: np.ndarray,
    *,
    previous: ACResult | None = None,
    steps: np.ndarray | None = None,
) -> ACResult:
    """Run an AC power flow per step with the given net bus loads (kW, kvar; buses x steps).

    The slack bus keeps ``v_slack_pu``; the net load at the slack bus is placed on it too.
    Each step starts from the previous step's voltages. With ``previous`` and ``steps`` (step
    indices), only those steps are run and the others are taken from ``previous`` (e.g. the
    steps whose net loads changed since ``previous`` was computed).
    """
    todo = np.arange(feeder.steps) if steps is None or previous is None else np.asarray(steps)
    if len(todo) == 0 and previous is not None:
        return previous
    net, branches = _network(feeder)
    nb, nl, n_todo = len(feeder.bus_ids), len(feeder.line_ids), len(todo)
    v = np.empty((nb, n_todo))
    pa, qa, pb, qb = (np.empty((nl, n_todo)) for _ in range(4))
    is_line = np.array([k == "line" for k, _ in branches], dtype=bool)
    li = np.array([j for k, j in branches if k == "line"], dtype=int)
    ti = np.array([j for k, j in branches if k == "trafo"], dtype=int)
    # the stored direction of a transformer row may be lv->hv
    tr_from_hv = np.array(
        [
            net.trafo.at[j, "hv_bus"] == feeder.bus_pos[a]
            for (k, j), a in zip(branches, feeder.lines["from_bus"])
            if k == "trafo"
        ],
        dtype=bool,
    )
    for k, t in enumerate(todo):
        net.load["p_mw"] = p_net_kw[:, t] / 1000.0
        net.load["q_mvar"] = q_net_kvar[:, t] / 1000.0
        try:
            pp.runpp(
                net,
                numba=False,
                # the first step from a flat start, whatever the kept network last solved
                init="results" if k else "flat",
                calculate_voltage_angles=False,
                # the first step rebuilds pandapower's internal model: a kept network then
                # gives what a new one would, whatever it solved before
                recycle=_ONLY_LOADS_CHANGE if k else None,
            )
        except pp.powerflow.LoadflowNotConverged as exc:
            raise ACCheckError(f"AC power flow did not converge at step t={t}") from exc
        v[:, k] = net.res_bus["vm_pu"].to_numpy()
        p_a, q_a, p_b, q_b = (np.empty(nl) for _ in range(4))
        if len(li):
            r = net.res_line.loc[li]
            p_a[is_line], q_a[is_line] = r.p_from_mw, r.q_from_mvar
            p_b[is_line], q_b[is_line] = r.p_to_mw, r.q_to_mvar
        if len(ti):
            r = net.res_trafo.loc[ti]
            hv = (r.p_hv_mw.to_numpy(), r.q_hv_mvar.to_numpy())
            lv = (r.p_lv_mw.to_numpy(), r.q_lv_mvar.to_numpy())
            p_a[~is_line] = np.where(tr_from_hv, hv[0], lv[0])
            q_a[~is_line] = np.where(tr_from_hv, hv[1], lv[1])
            p_b[~is_line] = np.where(tr_from_hv, lv[0], hv[0])
            q_b[~is_line] = np.where(tr_from_hv, lv[1], hv[1])
        pa[:, k], qa[:, k], pb[:, k], qb[:, k] = (x * 1000.0 for x in (p_a, q_a, p_b, q_b))
    # sending end: the from-end when power flows from -> to, else the to-end (sign flipped)
    send = pa >= -pb
    limits = (feeder.line_p_max_kw[:, todo], feeder.line_s_max_kva)
    loading = np.maximum(line_loading(pa, qa, *limits), line_loading(pb, qb, *limits))
    new = (v, np.where(send, pa, -pb), np.where(send, qa, -qb), loading)
    if n_todo == feeder.steps:
        return ACResult(*new)
    old = (previous.v_pu, previous.p_kw, previous.q_kvar, previous.loading)
    out = [o.copy() for o in old]
    for o, x in zip(out, new):
        o[:, todo] = x
    return ACResult(*out)
