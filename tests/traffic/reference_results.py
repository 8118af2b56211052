"""The element-by-element implementation of :func:`traffic.results.dta_results` as it was
before it was vectorised (``.loc`` per path element, ``pyo.value`` of the scalar Expressions),
kept as an independent reference for the tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyomo.environ as pyo

from traffic.dta import DtaIndex
from traffic.paths import NODE_SEP
from traffic.results import TrafficResults


def reference_variable_values(blk: pyo.Block) -> pd.DataFrame:
    """``blk.dta_index.variables`` with the solved ``vehicles`` and ``soc`` (battery eq.)."""
    idx: DtaIndex = blk.dta_index
    n = len(idx.variables)
    lo = np.array([blk.veh_min[i].value or 0.0 for i in range(n)])
    hi = np.array([blk.veh_max[i].value or 0.0 for i in range(n)])
    out = idx.variables.copy()
    out["vehicles"] = lo + hi
    out["soc"] = out["soc_floor"].to_numpy() * lo + idx.options.soc_max * hi
    return out


def _dense(df: pd.DataFrame, key: str, keys: list[str], steps: int, hold: bool) -> np.ndarray:
    """Sum ``vehicles`` per (key, t) into an array; ``hold`` keeps each state constant after
    the last step of its window (the model's meaning of a state beyond its window)."""
    pos = {k: i for i, k in enumerate(keys)}
    out = np.zeros((len(keys), steps))
    if df.empty:
        return out
    if hold:
        inst = df.groupby(["path", "element"], sort=False)
        for _, g in inst:
            row = pos[g[key].iloc[0]]
            t = g["t"].to_numpy()
            v = g["vehicles"].to_numpy()
            out[row, t] += v
            out[row, t[-1] + 1 :] += v[-1]
    else:
        np.add.at(out, (df[key].map(pos).to_numpy(), df["t"].to_numpy()), df["vehicles"].to_numpy())
    return out


def _long(arrays: dict[str, np.ndarray], key: str, keys: list[str], steps: int) -> pd.DataFrame:
    out = pd.DataFrame({key: np.repeat(keys, steps), "t": np.tile(np.arange(steps), len(keys))})
    for name, a in arrays.items():
        out[name] = a.reshape(-1)
    return out


def reference_dta_results(blk: pyo.Block) -> TrafficResults:
    """Turn a solved DTA block into long tables and scalars."""
    idx: DtaIndex = blk.dta_index
    T = idx.steps
    v = reference_variable_values(blk)
    v["charger"] = v["charger"].astype(float)

    # paths: departures on each path
    nodes = {p.path: NODE_SEP.join(p.nodes) for p in idx.paths.paths}
    dep = v[(v["kind"] == "flow") & (v["boundary"] == 0)]
    paths = pd.DataFrame(
        {
            "od": dep["od"].to_numpy(),
            "path": dep["path"].to_numpy(),
            "nodes": dep["path"].map(nodes).to_numpy(),
            "t": dep["t"].to_numpy(),
            "inflow": dep["vehicles"].to_numpy(),
        }
    ).sort_values(["od", "path", "t"], kind="stable", ignore_index=True)

    # segments: inflow / outflow are the flows at the element's two boundaries
    seg_ids = list(idx.segment_free_flow)
    flows = v[v["kind"] == "flow"].set_index(["path", "boundary", "t"])["vehicles"].sort_index()
    rows_in, rows_out = [], []
    for p in idx.paths.paths:
        for e, (kind, eid) in enumerate(p.elements()):
            if kind != "segment":
                continue
            for k, acc in ((e, rows_in), (e + 1, rows_out)):
                try:
                    f = flows.loc[(p.path, k)]
                except KeyError:
                    continue
                acc.append(pd.DataFrame({"segment": eid, "t": f.index, "vehicles": f.to_numpy()}))
    empty = pd.DataFrame({"segment": [], "t": [], "vehicles": []})
    fin = pd.concat(rows_in or [empty], ignore_index=True)
    fout = pd.concat(rows_out or [empty], ignore_index=True)
    for f in (fin, fout):
        f["t"] = f["t"].astype(int)
    inflow = _dense(fin, "segment", seg_ids, T, hold=False)
    outflow = _dense(fout, "segment", seg_ids, T, hold=False)
    queued = _dense(v[v["kind"] == "queued"], "segment", seg_ids, T, hold=True)
    t0 = np.array([idx.segment_free_flow[s] for s in seg_ids])
    cum = np.concatenate([np.zeros((len(seg_ids), 1)), np.cumsum(inflow, axis=1)], axis=1)
    start = np.clip(np.arange(T)[None, :] - t0[:, None] + 1, 0, None)
    travelling = cum[:, 1:] - np.take_along_axis(cum, start, axis=1)
    segments = _long(
        {"inflow": inflow, "outflow": outflow, "on_segment": queued + travelling, "queued": queued},
        "segment",
        seg_ids,
        T,
    )

    st = idx.stations
    waiting = _dense(v[v["kind"] == "waiting"], "station", st, T, hold=True)
    ch = v[v["kind"] == "charging"]
    charging = np.zeros((len(st), T))
    p_kw = np.zeros((len(st), T))
    if len(ch):
        for (_, _, pl), g in ch.groupby(["path", "element", "charger"], sort=False):
            g = g.assign(element=0)
            charging += _dense(g, "station", st, T, hold=True)
            p_kw += pl * _dense(g, "station", st, T, hold=False)
    stations = _long({"queued": waiting, "charging": charging, "p_kw": p_kw}, "station", st, T)

    return TrafficResults(
        paths=paths,
        segments=segments,
        stations=stations,
        vehicles_departed=float(pyo.value(blk.vehicles_departed)),
        vehicles_arrived=float(pyo.value(blk.vehicles_arrived)),
        arrival_shortfall=float(pyo.value(blk.arrival_shortfall)),
        vehicle_steps=float(pyo.value(blk.vehicle_steps)),
        travel_cost=float(pyo.value(blk.travel_cost)),
        arrival_penalty=float(pyo.value(blk.arrival_penalty)),
    )
