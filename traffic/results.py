"""Long result tables of a solved DTA block (:func:`traffic.dta.add_linear_dta`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyomo.environ as pyo
from pyomo.common.gc_manager import PauseGC

from traffic.dta import DtaIndex
from traffic.paths import NODE_SEP


@dataclass(frozen=True)
class TrafficResults:
    """Results of a solved DTA block.

    Attributes
    ----------
    paths : od, path, nodes, t, inflow (vehicles departing on the path at step t).
    segments : segment, t, inflow, outflow (vehicles per step), on_segment, queued
        (vehicles at the end of step t).
    stations : station, t, queued (waiting), charging (vehicles at the end of step t),
        p_kw (station load, kW, consumption positive).
    vehicles_departed, vehicles_arrived, arrival_shortfall : vehicles.
    vehicle_steps : vehicle-steps in the network; travel_cost, arrival_penalty : currency.
    """

    paths: pd.DataFrame
    segments: pd.DataFrame
    stations: pd.DataFrame
    vehicles_departed: float
    vehicles_arrived: float
    arrival_shortfall: float
    vehicle_steps: float
    travel_cost: float
    arrival_penalty: float


def _var_values(var: pyo.Var) -> np.ndarray:
    """Values of an indexed variable in index order (unset values as 0)."""
    return np.fromiter((v.value or 0.0 for v in var.values()), dtype=float, count=len(var))


def variable_values(blk: pyo.Block) -> pd.DataFrame:
    """``blk.dta_index.variables`` with the solved ``vehicles`` and ``soc`` (battery eq.)."""
    return quantities(blk.dta_index, _var_values(blk.veh_min), _var_values(blk.veh_max))


def quantities(idx: DtaIndex, lo: np.ndarray, hi: np.ndarray) -> pd.DataFrame:
    """``idx.variables`` with ``vehicles = lo + hi`` and ``soc = floor lo + soc_max hi``
    (battery equivalents) from the values of ``veh_min`` (``lo``) and ``veh_max`` (``hi``)."""
    out = idx.variables.copy()
    out["vehicles"] = lo + hi
    out["soc"] = out["soc_floor"].to_numpy() * lo + idx.options.soc_max * hi
    return out


def _sum_by(row: np.ndarray, t: np.ndarray, w: np.ndarray, n: int, steps: int) -> np.ndarray:
    """(n x steps) sums of ``w`` per (row, t); rows < 0 are dropped."""
    keep = row >= 0
    flat = row[keep] * steps + t[keep]
    return np.bincount(flat, weights=w[keep], minlength=n * steps).reshape(n, steps)


def _held(
    row: np.ndarray, t: np.ndarray, w: np.ndarray, group: np.ndarray, n: int, steps: int
) -> np.ndarray:
    """Like :func:`_sum_by` for states, each of which (one ``group`` value, rows in time
    order) keeps its last value after the last step of its window (the model's meaning of a
    state beyond its window)."""
    out = _sum_by(row, t, w, n, steps)
    if not len(group):
        return out
    rev = np.unique(group[::-1], return_index=True)[1]
    last = len(group) - 1 - rev  # last row of each state
    after = t[last] + 1
    inside = after < steps
    last, after = last[inside], after[inside]
    jump = np.bincount(row[last] * steps + after, weights=w[last], minlength=n * steps)
    return out + np.cumsum(jump.reshape(n, steps), axis=1)


def _long(arrays: dict[str, np.ndarray], key: str, keys: list[str], steps: int) -> pd.DataFrame:
    out = pd.DataFrame({key: np.repeat(keys, steps), "t": np.tile(np.arange(steps), len(keys))})
    for name, a in arrays.items():
        out[name] = a.reshape(-1)
    return out


def dta_results(blk: pyo.Block) -> TrafficResults:
    """Turn a solved DTA block into long tables and scalars.

    Vectorised over the variables of ``blk.dta_index`` (one pass over each Pyomo variable);
    the scalars are the block's Expressions evaluated on the same values. The cyclic garbage
    collector is paused meanwhile.
    """
    with PauseGC():  # a full collection over a large model costs more than the tables
        return tables_from_values(blk.dta_index, _var_values(blk.veh_min), _var_values(blk.veh_max))


def tables_from_values(idx: DtaIndex, lo: np.ndarray, hi: np.ndarray) -> TrafficResults:
    """The result tables and scalars from the values of ``veh_min`` (``lo``) and ``veh_max``
    (``hi``) in the order of ``idx.variables`` (any solver path, e.g. the matrix engine)."""
    T = idx.steps
    v = quantities(idx, lo, hi)
    kind = v["kind"].to_numpy()
    t = v["t"].to_numpy(dtype=np.int64)
    veh = v["vehicles"].to_numpy()
    flow = kind == "flow"

    # paths: departures on each path
    nodes = {p.path: NODE_SEP.join(p.nodes) for p in idx.paths.paths}
    dep = v[flow & (v["boundary"] == 0)]
    paths = pd.DataFrame(
        {
            "od": dep["od"].to_numpy(),
            "path": dep["path"].to_numpy(),
            "nodes": dep["path"].map(nodes).to_numpy(),
            "t": dep["t"].to_numpy(),
            "inflow": dep["vehicles"].to_numpy(),
        }
    ).sort_values(["od", "path", "t"], kind="stable", ignore_index=True)

    # path elements, flattened: element e of path p is entry start[p] + e
    seg_ids = list(idx.segment_free_flow)
    path_ids = [p.path for p in idx.paths.paths]
    elems = [p.elements() for p in idx.paths.paths]
    n_elem = np.array([len(e) for e in elems], dtype=np.int64)
    start = np.concatenate([[0], np.cumsum(n_elem)[:-1]]).astype(np.int64)
    elem_seg = pd.Index(seg_ids).get_indexer(
        [eid if k == "segment" else None for es in elems for k, eid in es]
    )
    path = pd.Index(path_ids).get_indexer(v["path"])  # -1 for variables of no path
    n_seg = len(seg_ids)
    element = v["element"].to_numpy()
    span = int(n_elem.max(initial=0)) + 1

    def instance(mask: np.ndarray) -> np.ndarray:
        """One integer per (path, element) of the masked variables."""
        return path[mask] * span + element[mask].astype(np.int64)

    # segments: inflow / outflow are the flows at the element's two boundaries
    fp, fk, ft, fv = path[flow], v["boundary"].to_numpy()[flow], t[flow], veh[flow]
    fk = fk.astype(np.int64)
    seg_in = np.where(fk < n_elem[fp], elem_seg[np.minimum(start[fp] + fk, len(elem_seg) - 1)], -1)
    seg_out = np.where(fk >= 1, elem_seg[np.maximum(start[fp] + fk - 1, 0)], -1)
    inflow = _sum_by(seg_in, ft, fv, n_seg, T)
    outflow = _sum_by(seg_out, ft, fv, n_seg, T)
    q = kind == "queued"
    q_seg = elem_seg[start[path[q]] + element[q].astype(np.int64)]
    queued = _held(q_seg, t[q], veh[q], instance(q), n_seg, T)
    t0 = np.array([idx.segment_free_flow[s] for s in seg_ids])
    cum = np.concatenate([np.zeros((len(seg_ids), 1)), np.cumsum(inflow, axis=1)], axis=1)
    begin = np.clip(np.arange(T)[None, :] - t0[:, None] + 1, 0, None)
    travelling = cum[:, 1:] - np.take_along_axis(cum, begin, axis=1)
    segments = _long(
        {"inflow": inflow, "outflow": outflow, "on_segment": queued + travelling, "queued": queued},
        "segment",
        seg_ids,
        T,
    )

    st = idx.stations
    station = pd.Index(st).get_indexer(v["station"])
    charger = v["charger"].to_numpy(dtype=float, na_value=np.nan)
    n_st = len(st)
    w = kind == "waiting"
    waiting = _held(station[w], t[w], veh[w], instance(w), n_st, T)
    c = kind == "charging"
    powers, code = np.unique(charger[c], return_inverse=True)
    charging = _held(station[c], t[c], veh[c], instance(c) * len(powers) + code, n_st, T)
    p_kw = _sum_by(station[c], t[c], charger[c] * veh[c], n_st, T)
    stations = _long({"queued": waiting, "charging": charging, "p_kw": p_kw}, "station", st, T)

    # the block's scalar Expressions (traffic.dta.add_linear_dta) on the same values
    opts = idx.options
    vehicle_steps = float(v["vehicle_steps"].to_numpy(dtype=float) @ veh)
    departed = idx.demand_total - float(veh[kind == "unserved"].sum())
    arrived = float(fv[fk == n_elem[fp]].sum())
    shortfall = idx.demand_total - arrived
    return TrafficResults(
        paths=paths,
        segments=segments,
        stations=stations,
        vehicles_departed=departed,
        vehicles_arrived=arrived,
        arrival_shortfall=shortfall,
        vehicle_steps=vehicle_steps,
        travel_cost=opts.cost_per_vehicle_step * vehicle_steps,
        arrival_penalty=opts.penalty_per_vehicle * shortfall,
    )


def unserved_by_od_values(idx: DtaIndex, lo: np.ndarray, hi: np.ndarray) -> dict[str, float]:
    """Vehicles per OD that never depart (the DTA's ``unserved`` slack), > 1e-6 only, from
    the values of ``veh_min`` (``lo``) and ``veh_max`` (``hi``) in the order of ``idx``."""
    q = quantities(idx, lo, hi)
    u = q[q["kind"] == "unserved"].groupby("od")["vehicles"].sum()
    return {str(k): float(x) for k, x in u.items() if x > 1e-6}
