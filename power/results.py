"""Grid result tables (physical units) from a solved LinDistFlow block."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyomo.environ as pyo

from power.feeder import Feeder


@dataclass(frozen=True)
class GridState:
    """Solved grid quantities as arrays.

    p_kw, q_kvar : (lines x steps) stored-direction flows (from_bus -> to_bus).
    v_pu : (buses x steps) voltage magnitude, sqrt of the squared voltage.
    p_net_kw, q_net_kvar : (buses x steps) net load at each bus (consumption positive,
        generation negative; the supply from the upstream grid at the slack bus is not part
        of it), i.e. inflow minus outflow less the linearised line losses that an AC
        correction placed at the bus (those are the grid's, not the bus's).
    """

    p_kw: np.ndarray
    q_kvar: np.ndarray
    v_pu: np.ndarray
    p_net_kw: np.ndarray
    q_net_kvar: np.ndarray


def _matrix(var: pyo.Var, rows: list, steps: int) -> np.ndarray:
    vals = var.extract_values()
    return np.array([[vals[r, t] or 0.0 for t in range(steps)] for r in rows], dtype=float)


def grid_state(blk: pyo.Block, feeder: Feeder) -> GridState:
    """Read the solved block into a :class:`GridState`."""
    tree, steps = feeder.tree, feeder.steps
    p_down = _matrix(blk.p, feeder.line_ids, steps)
    q_down = _matrix(blk.q, feeder.line_ids, steps)
    w = _matrix(blk.w, feeder.bus_ids, steps)
    imp_p = np.array([pyo.value(blk.p_import[t]) for t in range(steps)])
    imp_q = np.array([pyo.value(blk.q_import[t]) for t in range(steps)])
    p_net = net_from_flows(feeder, p_down, imp_p)
    grid = getattr(blk, "linear_grid", None)
    if grid is not None and grid.has_losses:
        p_net = p_net - grid.loss_injection_kw(p_down)
    return GridState(
        p_kw=tree.sign[:, None] * p_down,
        q_kvar=tree.sign[:, None] * q_down,
        v_pu=np.sqrt(np.maximum(w, 0.0)),
        p_net_kw=p_net,
        q_net_kvar=net_from_flows(feeder, q_down, imp_q),
    )


def net_from_flows(feeder: Feeder, down: np.ndarray, imported: np.ndarray) -> np.ndarray:
    """Net bus load (inflow - outflow) from downstream line flows and the slack supply."""
    tree = feeder.tree
    net = np.zeros((len(feeder.bus_ids), feeder.steps))
    np.add.at(net, tree.child_bus, down)
    np.subtract.at(net, tree.parent_bus, down)
    net[tree.slack] += imported
    return net


def line_loading(
    p_kw: np.ndarray, q_kvar: np.ndarray, p_max_kw: np.ndarray, s_max_kva: np.ndarray | None
) -> np.ndarray:
    """Loading (fraction) = max(|P| / p_max_kw, sqrt(P^2 + Q^2) / s_max_kva) per line and step.

    ``p_max_kw`` is (lines x steps) (time-varying limits), ``s_max_kva`` (lines,) or None.
    """
    load = np.abs(p_kw) / p_max_kw
    if s_max_kva is not None:
        load = np.maximum(load, np.hypot(p_kw, q_kvar) / s_max_kva[:, None])
    return load


def long_table(ids: list[str], key: str, **cols: np.ndarray) -> pd.DataFrame:
    """Long table (key, t, cols...) from (elements x steps) arrays."""
    first = next(iter(cols.values()))
    n, steps = first.shape
    out = {key: np.repeat(np.asarray(ids, dtype=object), steps), "t": np.tile(np.arange(steps), n)}
    out.update({k: v.reshape(-1) for k, v in cols.items()})
    return pd.DataFrame(out)
