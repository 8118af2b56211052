"""Conversion between pandapower networks and :class:`power.feeder.Feeder`.

``from_pandapower`` maps

* buses -> ``buses`` (id = pandapower index as text, base_kv = vn_kv, limits from
  min/max_vm_pu where given, else the ``v_min_pu`` / ``v_max_pu`` arguments; x, y from geo);
* in-service lines -> ``lines`` with r, x in ohm (per-km values x length / parallel) and
  ``p_max_kw = s_max_kva = sqrt(3) vn_kv max_i_ka 1000``;
* in-service two-winding transformers -> ``lines`` with the series impedance referred to the
  low-voltage side, ``z = vk% / 100 * vn_lv^2 / sn``, ``r = vkr% / 100 * vn_lv^2 / sn``
  (ohm), rating ``sn_mva``; magnetising branch, tap position and phase shift are neglected;
* open line/transformer switches remove the element; closed bus-bus switches merge buses;
  parallel branches between the same two buses become one equivalent branch;
* loads (p, q times scaling) -> nominal bus loads; sgens -> renewables (type containing
  'WP'/'wind' -> wind, else pv); the (first) ext_grid -> slack bus and its vm_pu.

``to_pandapower`` builds the network the AC check solves: lines without shunt capacitance and
transformers with the same series impedance, so the AC result is the exact counterpart of the
linear model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandapower as pp
import pandas as pd

from power.feeder import Feeder


@dataclass(frozen=True)
class NominalGrid:
    """Static grid data read from pandapower, before time series are attached.

    buses, lines : tables in Feeder format. load_p_kw, load_q_kvar, pv_kw, wind_kw : nominal
    values per bus (Series indexed by bus id). slack_bus, v_slack_pu : the slack.
    """

    buses: pd.DataFrame
    lines: pd.DataFrame
    load_p_kw: pd.Series
    load_q_kvar: pd.Series
    pv_kw: pd.Series
    wind_kw: pd.Series
    slack_bus: str
    v_slack_pu: float


def _merge_map(net: pp.pandapowerNet) -> dict[int, int]:
    """Bus -> representative bus after merging closed bus-bus switches."""
    rep = {int(b): int(b) for b in net.bus.index}

    def find(b: int) -> int:
        while rep[b] != b:
            b = rep[b]
        return b

    sw = net.switch
    for b, e in sw.loc[(sw.et == "b") & sw.closed, ["bus", "element"]].itertuples(index=False):
        ra, rb = find(int(b)), find(int(e))
        if ra != rb:
            rep[max(ra, rb)] = min(ra, rb)
    return {b: find(b) for b in rep}


def from_pandapower(
    net: pp.pandapowerNet, *, v_min_pu: float = 0.9, v_max_pu: float = 1.1
) -> NominalGrid:
    """Read the radial part of a balanced pandapower network (see module docstring)."""
    merge = _merge_map(net)
    sw = net.switch
    open_sw = sw[~sw.closed.astype(bool)]
    open_lines = set(open_sw.loc[open_sw.et == "l", "element"].astype(int))
    open_trafos = set(open_sw.loc[open_sw.et == "t", "element"].astype(int))

    bus = net.bus[net.bus.in_service.astype(bool)]
    bus = bus[[merge[int(b)] == int(b) for b in bus.index]]
    vmin = bus["min_vm_pu"] if "min_vm_pu" in bus else pd.Series(np.nan, bus.index)
    vmax = bus["max_vm_pu"] if "max_vm_pu" in bus else pd.Series(np.nan, bus.index)
    buses = pd.DataFrame(
        {
            "bus": bus.index.astype(str),
            "v_min_pu": vmin.fillna(v_min_pu).clip(lower=v_min_pu).to_numpy(float),
            "v_max_pu": vmax.fillna(v_max_pu).clip(upper=v_max_pu).to_numpy(float),
            "base_kv": bus["vn_kv"].to_numpy(float),
        }
    )
    xy = _coords(bus)
    if xy is not None:
        buses["x"], buses["y"] = xy

    def bid(b: int) -> str:
        return str(merge[int(b)])

    ln = net.line[net.line.in_service.astype(bool) & ~net.line.index.isin(open_lines)]
    par = ln["parallel"].to_numpy(float)
    s_line = (
        np.sqrt(3)
        * ln["max_i_ka"].to_numpy(float)
        * 1000
        * net.bus.loc[ln.from_bus, "vn_kv"].to_numpy(float)
    )
    s_line = s_line * par
    lines = pd.DataFrame(
        {
            "line": "l" + ln.index.astype(str),
            "from_bus": [bid(b) for b in ln.from_bus],
            "to_bus": [bid(b) for b in ln.to_bus],
            "r_ohm": (ln.r_ohm_per_km * ln.length_km).to_numpy(float) / par,
            "x_ohm": (ln.x_ohm_per_km * ln.length_km).to_numpy(float) / par,
            "p_max_kw": s_line,
            "s_max_kva": s_line,
        }
    )
    tr = net.trafo[net.trafo.in_service.astype(bool) & ~net.trafo.index.isin(open_trafos)]
    if len(tr):
        par = tr["parallel"].to_numpy(float)
        zb = tr.vn_lv_kv.to_numpy(float) ** 2 / tr.sn_mva.to_numpy(float)
        z = tr.vk_percent.to_numpy(float) / 100 * zb
        r = tr.vkr_percent.to_numpy(float) / 100 * zb
        s_tr = tr.sn_mva.to_numpy(float) * 1000 * par
        trafos = pd.DataFrame(
            {
                "line": "t" + tr.index.astype(str),
                "from_bus": [bid(b) for b in tr.hv_bus],
                "to_bus": [bid(b) for b in tr.lv_bus],
                "r_ohm": r / par,
                "x_ohm": np.sqrt(np.maximum(z**2 - r**2, 0.0)) / par,
                "p_max_kw": s_tr,
                "s_max_kva": s_tr,
            }
        )
        lines = pd.concat([lines, trafos], ignore_index=True)
    lines = _merge_parallel(lines[lines.from_bus != lines.to_bus].reset_index(drop=True))

    ids = buses["bus"]

    def per_bus(df: pd.DataFrame, col: str, factor: float) -> pd.Series:
        if not len(df):
            return pd.Series(0.0, index=ids)
        df = df[df.in_service.astype(bool)]
        scale = df["scaling"].to_numpy(float) if "scaling" in df else 1.0
        vals = pd.Series(df[col].to_numpy(float) * scale * factor, index=[bid(b) for b in df.bus])
        return vals.groupby(level=0).sum().reindex(ids, fill_value=0.0)

    sg = net.sgen
    wind_mask = sg["type"].astype(str).str.lower().str.contains("wp|wind") if len(sg) else []
    eg = net.ext_grid[net.ext_grid.in_service.astype(bool)]
    if not len(eg):
        raise ValueError("pandapower network has no in-service ext_grid to use as slack bus")
    return NominalGrid(
        buses=buses,
        lines=lines,
        load_p_kw=per_bus(net.load, "p_mw", 1000.0),
        load_q_kvar=per_bus(net.load, "q_mvar", 1000.0),
        pv_kw=per_bus(sg[~np.asarray(wind_mask, bool)] if len(sg) else sg, "p_mw", 1000.0),
        wind_kw=per_bus(sg[np.asarray(wind_mask, bool)] if len(sg) else sg, "p_mw", 1000.0),
        slack_bus=bid(eg.bus.iloc[0]),
        v_slack_pu=float(eg.vm_pu.iloc[0]),
    )


def _merge_parallel(lines: pd.DataFrame) -> pd.DataFrame:
    """Replace branches between the same pair of buses by one equivalent branch: impedances
    in parallel (complex), ratings summed, id of the first element kept."""
    key = [tuple(sorted(p)) for p in zip(lines.from_bus, lines.to_bus)]
    if len(set(key)) == len(key):
        return lines
    lines = lines.assign(_key=key)
    rows = []
    for _, grp in lines.groupby("_key", sort=False):
        first = grp.iloc[0].copy()
        if len(grp) > 1:
            z = grp.r_ohm.to_numpy() + 1j * grp.x_ohm.to_numpy()
            z_eq = 1.0 / np.sum(1.0 / z)
            first["r_ohm"], first["x_ohm"] = z_eq.real, z_eq.imag
            first["p_max_kw"] = grp.p_max_kw.sum()
            first["s_max_kva"] = grp.s_max_kva.sum()
        rows.append(first)
    return pd.DataFrame(rows).drop(columns="_key").reset_index(drop=True)


def _coords(bus: pd.DataFrame) -> tuple[np.ndarray, np.ndarray] | None:
    if "geo" not in bus or bus["geo"].isna().all():
        return None
    import json

    xs, ys = [], []
    for g in bus["geo"]:
        try:
            c = json.loads(g)["coordinates"]
            xs.append(float(c[0]))
            ys.append(float(c[1]))
        except (TypeError, ValueError, KeyError, IndexError):
            xs.append(np.nan)
            ys.append(np.nan)
    return np.asarray(xs), np.asarray(ys)


def to_pandapower(feeder: Feeder) -> tuple[pp.pandapowerNet, list[tuple[str, int]]]:
    """Balanced pandapower network of ``feeder`` with one load per bus (p, q set to 0).

    Returns the network (bus and load ``i`` belong to feeder bus ``i``) and, per feeder line,
    ``("line", index)`` or ``("trafo", index)`` of its pandapower element.
    Branches between buses of equal base_kv become lines of 1 km with r, x in ohm and no shunt
    capacitance; others become transformers (series impedance on the LV side, no losses in the
    core, no tap, no phase shift). Ratings: ``max_i_ka`` / ``sn_mva`` from s_max_kva or p_max_kw.
    Every element table is created in one call.
    """
    net = pp.create_empty_network(sn_mva=1.0)
    kv_of = dict(zip(feeder.buses["bus"], feeder.buses["base_kv"].astype(float), strict=True))
    ids = list(feeder.bus_ids)
    kv = np.array([kv_of[b] for b in ids], dtype=float)
    idx = np.asarray(pp.create_buses(net, len(ids), vn_kv=kv, name=ids), dtype=np.int64)
    pos = {b: i for i, b in enumerate(ids)}
    rating = feeder.line_s_max_kva
    if rating is None:
        rating = feeder.lines["p_max_kw"].to_numpy(float)
    rating = np.asarray(rating, dtype=float)
    lines = feeder.lines
    a = np.array([pos[b] for b in lines["from_bus"]], dtype=np.int64)
    b = np.array([pos[x] for x in lines["to_bus"]], dtype=np.int64)
    r = lines["r_ohm"].to_numpy(float)
    x = lines["x_ohm"].to_numpy(float)
    names = lines["line"].to_numpy(object)
    is_line = kv[a] == kv[b]
    element = np.zeros(len(lines), dtype=np.int64)  # index in net.line resp. net.trafo
    if is_line.any():
        s = is_line
        element[s] = pp.create_lines_from_parameters(
            net,
            idx[a[s]],
            idx[b[s]],
            length_km=1.0,
            r_ohm_per_km=r[s],
            x_ohm_per_km=x[s],
            c_nf_per_km=0.0,
            max_i_ka=rating[s] / (np.sqrt(3) * kv[a[s]] * 1000),
            name=list(names[s]),
        )
    if (~is_line).any():
        s = ~is_line
        a_hv = kv[a[s]] > kv[b[s]]
        hv = np.where(a_hv, a[s], b[s])
        lv = np.where(a_hv, b[s], a[s])
        sn = rating[s] / 1000.0
        zb = kv[lv] ** 2 / sn
        element[s] = pp.create_transformers_from_parameters(
            net,
            idx[hv],
            idx[lv],
            sn_mva=sn,
            vn_hv_kv=kv[hv],
            vn_lv_kv=kv[lv],
            vkr_percent=r[s] / zb * 100,
            vk_percent=np.maximum(np.hypot(r[s], x[s]) / zb * 100, 1e-6),
            pfe_kw=0.0,
            i0_percent=0.0,
            name=list(names[s]),
        )
    branches = [
        ("line" if is_l else "trafo", int(j)) for is_l, j in zip(is_line, element, strict=True)
    ]
    pp.create_ext_grid(net, int(idx[pos[feeder.slack_bus]]), vm_pu=feeder.v_slack_pu)
    pp.create_loads(net, idx, p_mw=0.0, q_mvar=0.0)
    return net, branches
