"""The tariff scheme's DSO and aggregator (EVA) problems in the matrix engine.

The same problems as :func:`coupling.problems.dso.build_dso` and
:func:`coupling.problems.dso.build_eva` (see that
module for the maths): one DTA block per aggregator (:func:`traffic.dta_engine.declare_dta`
with the travel and penalty cost of :func:`traffic.dta_engine.declare_dta_costs`, names
prefixed ``"<aggregator>:"``), the lifted station loads ``charge_kw[station, t]`` (kW) and
total ``total_kw[t]`` (kW) with the diagonal quadratic costs ``eps dt p^2`` and
``beta dt P^2``, and, for the DSO, the LinDistFlow block (:func:`power.lindistflow_engine.
declare_lindistflow`) or the DistFlow one (:func:`power.distflow_engine.declare_distflow`)
with each station's load added to the balance row of its bus.

For an EVA the tariff enters only the linear cost of ``charge_kw``: :func:`set_tariff` changes
those coefficients in place, so every loop iteration re-solves the same matrices.
"""

from __future__ import annotations

import os

import numpy as np
import scipy.sparse as sp

from engine.assemble import Assembled
from engine.clarabel_qp import solve_clarabel
from engine.highs import Solved, solve_highs
from engine.problem import Problem, index
from engine.router import duals, reduced_costs, values
from engine.split import PartCache, solve_split
from power.duals import GridDuals
from power.feeder import Feeder
from power.limits import Limits, LinearGrid
from power.lindistflow_engine import declare_lindistflow
from traffic.dta import DtaStructure
from traffic.dta_engine import StationLoad, declare_dta, declare_dta_costs


def _charging(
    prob: Problem,
    loads: list[StationLoad],
    stations: list[str],
    steps: int,
    dt: float,
    beta: float,
    eps: float,
) -> None:
    """``charge_kw[y, t] = sum_a station_p_kw^a[y, t]`` (the aggregators' station load maps
    ``loads``) with cost ``eps dt p^2`` (and ``total_kw[t] = sum_y charge_kw[y, t]`` with
    ``beta dt P^2`` when beta > 0)."""
    idx = index(station=np.asarray(stations, dtype=str), t=np.arange(steps))
    n = idx.size
    prob.add_vars("charge_kw", idx, qcost=2.0 * eps * dt)
    terms: dict[str, sp.spmatrix] = {"charge_kw": sp.identity(n, format="csr")}
    for load in loads:
        terms.update({name: -m for name, m in load.terms.items()})
    prob.add_rows("charge_def", idx, terms, 0.0, 0.0)
    if beta:
        prob.add_vars("total_kw", index(t=np.arange(steps)), qcost=2.0 * beta * dt)
        sum_y = sp.kron(np.ones((1, len(stations))), sp.identity(steps), format="csr")
        prob.add_rows(
            "total_def",
            index(t=np.arange(steps)),
            {"total_kw": sp.identity(steps, format="csr"), "charge_kw": -sum_y},
            0.0,
            0.0,
        )


def declare_dso(
    structures: dict[str, DtaStructure],
    feeder: Feeder,
    station_bus: dict[str, str],
    limits: Limits,
    beta: float,
    eps: float,
    losses: LinearGrid | None = None,
) -> Problem:
    """The DSO's centralised QP: every aggregator's DTA, the charging terms and the
    LinDistFlow block with limits ``limits`` (robust margins and AC tightening included) and
    the linearised losses ``losses`` (the AC correction's; None: lossless), stations as
    loads."""
    prob = declare_market(structures, feeder.steps, feeder.dt_h, list(station_bus), beta, eps)
    declare_lindistflow(prob, feeder, limits=limits, losses=losses)
    connect_stations(prob, feeder, station_bus)
    return prob


def declare_market(
    structures: dict[str, DtaStructure],
    steps: int,
    dt: float,
    stations: list[str],
    beta: float,
    eps: float,
) -> Problem:
    """The DSO's problem without its grid: every aggregator's DTA (travel and penalty cost)
    and the charging terms over ``stations``; a grid block and :func:`connect_stations`
    complete it."""
    prob = Problem()
    loads = []
    for a, st in structures.items():
        loads.append(declare_dta(prob, st, prefix=f"{a}:"))
        declare_dta_costs(prob, st, prefix=f"{a}:")  # energy is priced on charge_kw
    _charging(prob, loads, stations, steps, dt, beta, eps)
    return prob


def connect_stations(prob: Problem, feeder: Feeder, station_bus: dict[str, str]) -> None:
    """Each station's ``charge_kw`` (kW) as load in the ``p_bal`` row of its bus (the rows of
    the LinDistFlow or the DistFlow block): inflow - outflow - charge = load - renewables."""
    stations = list(station_bus)
    bus = np.array([feeder.bus_pos[station_bus[y]] for y in stations], dtype=np.int64)
    at_bus = sp.csr_matrix(
        (np.ones(len(stations)), (bus, np.arange(len(stations)))),
        shape=(len(feeder.bus_ids), len(stations)),
    )
    prob.add_to_rows(
        "p_bal", "charge_kw", -sp.kron(at_bus, sp.identity(feeder.steps), format="csr")
    )


def declare_eva(
    st: DtaStructure,
    agg: str,
    stations: list[str],
    price: np.ndarray,
    dt: float,
    beta: float,
    eps: float,
) -> Problem:
    """Aggregator ``agg``'s QP at zero tariff: its DTA, travel and penalty cost, energy at the
    price ``price`` (currency/kWh per step) and the charging terms."""
    prob = Problem()
    load = declare_dta(prob, st, prefix=f"{agg}:")
    declare_dta_costs(prob, st, prefix=f"{agg}:")  # energy is priced on charge_kw
    T = st.index.steps
    _charging(prob, [load], stations, T, dt, beta, eps)
    prob.vars["charge_kw"].cost = np.tile(np.asarray(price, float) * dt, len(stations))
    return prob


def set_tariff(asm: Assembled, price: np.ndarray, tariff: np.ndarray, dt: float) -> None:
    """Set the cost of ``charge_kw`` of an assembled EVA to ``(price_t + tariff[y, t]) dt``
    (currency/kWh; ``tariff`` stations x steps), in place: the matrices stay as they are."""
    v = asm.problem.vars["charge_kw"]
    asm.c[v.offset : v.offset + v.idx.size] = ((price[None, :] + tariff) * dt).reshape(-1)


PARALLEL_QP_COLS = 100_000  # from this size on, Clarabel factorises on several threads
# ... and solves to this gap and feasibility tolerance (smaller ones to 1e-10): on the grid
# city `evtp tariff` took 108 s and 115 s at 1e-8 against 113-120 s at 1e-10, its tariffs
# within 1.4e-5 /kWh and its station loads within 0.034 kW of the 1e-10 run (README, "Cities")
LARGE_QP_TOL = 1e-8


def solve_market(
    asm: Assembled, cache: PartCache | None = None, threads: int | None = None
) -> Solved:
    """Solve a DSO or EVA problem part by part (:func:`engine.split.solve_split`): the parts
    coupled to the station loads with Clarabel when they have a quadratic cost (else HiGHS'
    dual simplex, for a basis and exact duals), the traffic-only ODs as LPs, kept in
    ``cache`` between calls. A coupled part of at least ``PARALLEL_QP_COLS`` columns is
    solved to ``LARGE_QP_TOL`` on ``threads`` threads (default ``min(4, cores)``), a smaller
    one to 1e-10 on one."""
    n_threads = min(4, os.cpu_count() or 1) if threads is None else threads

    def coupled(sub: Assembled) -> Solved:
        if sub.q is not None and np.any(sub.q):
            big = sub.shape[1] >= PARALLEL_QP_COLS
            if big:
                return solve_clarabel(sub, tol=LARGE_QP_TOL, threads=n_threads)
            return solve_clarabel(sub)
        return solve_highs(sub, method="simplex")

    return solve_split(asm, coupled, coupled=["charge_kw"], cache=cache)


def dso_duals(sol: Solved, feeder: Feeder) -> GridDuals:
    """The grid's multipliers of a solved DSO problem (currency/kWh): balance duals and the
    reduced costs of the flow and squared-voltage bounds (:mod:`power.duals`)."""
    rc_w = reduced_costs(sol, "w").copy()
    rc_w[feeder.tree.slack] = 0.0  # fixed variable: its reduced cost is not a bound dual
    lam = duals(sol, "p_bal") / feeder.dt_h
    return GridDuals.from_reduced_costs(reduced_costs(sol, "p"), rc_w, feeder.dt_h, lam)


def dta_cost(sol: Solved, st: DtaStructure, prefix: str = "") -> float:
    """Travel cost plus arrival penalty (currency) of the DTA ``prefix`` in ``sol``."""
    c, offset = st.cost_coefficients(None)
    lo, hi = values(sol, f"{prefix}veh_min"), values(sol, f"{prefix}veh_max")
    return float(c @ lo + c @ hi + offset)
