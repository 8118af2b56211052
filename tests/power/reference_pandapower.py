"""The element-by-element :func:`power.pandapower_io.to_pandapower` as it was before bulk
creation, kept as a reference for the tests."""

from __future__ import annotations

import numpy as np
import pandapower as pp

from power.feeder import Feeder


def reference_to_pandapower(feeder: Feeder) -> tuple[pp.pandapowerNet, list[tuple[str, int]]]:
    """Balanced pandapower network of ``feeder`` with one load per bus (p, q set to 0).

    Returns the network (bus and load ``i`` belong to feeder bus ``i``) and, per feeder line,
    ``("line", index)`` or ``("trafo", index)`` of its pandapower element.
    Branches between buses of equal base_kv become lines of 1 km with r, x in ohm and no shunt
    capacitance; others become transformers (series impedance on the LV side, no losses in the
    core, no tap, no phase shift). Ratings: ``max_i_ka`` / ``sn_mva`` from s_max_kva or p_max_kw.
    """
    net = pp.create_empty_network(sn_mva=1.0)
    kv = dict(zip(feeder.buses["bus"], feeder.buses["base_kv"].astype(float)))
    idx = {}
    for b in feeder.bus_ids:
        idx[b] = pp.create_bus(net, vn_kv=kv[b], name=b)
    rating = feeder.line_s_max_kva
    if rating is None:
        rating = feeder.lines["p_max_kw"].to_numpy(float)
    branches: list[tuple[str, int]] = []
    for i, (line, a, b, r, x) in enumerate(
        feeder.lines[["line", "from_bus", "to_bus", "r_ohm", "x_ohm"]].itertuples(index=False)
    ):
        if kv[a] == kv[b]:
            j = pp.create_line_from_parameters(
                net,
                idx[a],
                idx[b],
                length_km=1.0,
                r_ohm_per_km=float(r),
                x_ohm_per_km=float(x),
                c_nf_per_km=0.0,
                max_i_ka=rating[i] / (np.sqrt(3) * kv[a] * 1000),
                name=line,
            )
            branches.append(("line", int(j)))
        else:
            hv, lv = (a, b) if kv[a] > kv[b] else (b, a)
            sn = rating[i] / 1000.0
            zb = kv[lv] ** 2 / sn
            vk = max(np.hypot(r, x) / zb * 100, 1e-6)
            j = pp.create_transformer_from_parameters(
                net,
                idx[hv],
                idx[lv],
                sn_mva=sn,
                vn_hv_kv=kv[hv],
                vn_lv_kv=kv[lv],
                vkr_percent=float(r) / zb * 100,
                vk_percent=vk,
                pfe_kw=0.0,
                i0_percent=0.0,
                name=line,
            )
            branches.append(("trafo", int(j)))
    pp.create_ext_grid(net, idx[feeder.slack_bus], vm_pu=feeder.v_slack_pu)
    for b in feeder.bus_ids:
        pp.create_load(net, idx[b], p_mw=0.0, q_mvar=0.0)
    return net, branches
