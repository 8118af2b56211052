"""Linear dynamic traffic assignment (DTA) with charging-station queues and SOC flows.

:func:`add_linear_dta` adds the path-based, time-expanded point-queue model of DESIGN §4.1
(seed 003) to a Pyomo block. Notation: ``T`` steps of ``dt_h`` hours, ``t = 0 .. T-1``; the
network is empty before ``t = 0``; a state at ``t`` is its value at the end of step ``t``.

Equations (per path ``j``; ``u``/``v`` in/outflow, ``x`` states, ``e`` SOC twins)
---------------------------------------------------------------------------------
- Departures: ``sum_j u_{first,j}^t + unserved_i^t = f_i^t`` and the same for SOC.
- Segment ``a`` with free-flow time ``t0`` (steps) and use ``c_a`` (SOC per vehicle):
  ``x_q^t - x_q^{t-1} = u^{t-t0} - v^t`` and
  ``e_q^t - e_q^{t-1} = e_u^{t-t0} - c_a u^{t-t0} - e_v^t``.
  The on-segment state ``x_tot^t = x_q^t + sum_{s=t-t0+1..t} u^s`` obeys
  ``x_tot^t - x_tot^{t-1} = u^t - v^t`` identically, so it is an expression, not a variable.
- Exit capacity: ``sum_j v_{a,j}^t <= N_a`` (rows only where the demand that can use ``a``
  exceeds ``N_a``; elsewhere the row cannot bind).
- Node chaining: the outflow of one path element *is* the inflow of the next (one shared
  variable, no row).
- Station ``y`` on path ``j``: split ``v_{a+}^t = u_fcs^t + u_free^t`` and
  ``u_{a-}^t = v_cd^t + u_free^t``; waiting queue ``x_wait^t - x_wait^{t-1} = u_fcs^t - u_cd^t``;
  charging state ``sum_l x_l^t - sum_l x_l^{t-1} = u_cd^t - v_cd^t`` over the virtual chargers
  ``l`` of power ``p_l`` (kW, negative = discharge); plugs ``sum_j sum_l x_{l,j}^t <= n_y``.
  **Vehicles are conserved**: seed 003 prints ``sum_l p_l eta dt x_l`` in this vehicle
  equation, a typo; the term belongs to the SOC twin only:
  ``sum_l e_l^t - sum_l e_l^{t-1} = e_cd^t - e_vcd^t + sum_l k_l x_l^t`` with
  ``k_l = eta p_l dt / E`` for ``p_l > 0`` and ``p_l dt / (eta E)`` for ``p_l < 0``
  (battery equivalents per vehicle-step; ``E`` battery kWh).
- SOC bounds ``soc_min x <= e <= soc_max x`` on every state and flow. They are exact
  *variable bounds*: every vehicle quantity ``x`` with SOC ``e`` is written as
  ``x = n_min + n_max``, ``e = soc_min n_min + soc_max n_max`` with ``n_min, n_max >= 0``
  (variables ``veh_min``, ``veh_max``), so the model has no bound rows at all. Arrival flows
  use the OD's ``arrival_soc`` (demand column, at least ``soc_min``) where it is given, else
  ``arrival_soc_min``, else ``soc_min``.
- Arrival: vehicles not at their destination at the end of step ``T-1`` (still travelling,
  queued, charging, or never departed because ``unserved``) are the ``arrival_shortfall``;
  ``arrival_penalty = penalty_per_vehicle * arrival_shortfall`` is an expression the caller
  adds to the objective (the hard rule "all arrive by T" is the limit of a large penalty).
- Station load ``station_p_kw[y, t] = sum_{j,l} p_l x_{l,j}^t`` (kW) couples to the grid.
- Travel cost ``travel_cost = w * vehicle_steps`` with ``vehicle_steps`` the sum over steps of
  the vehicles on segments (``x_tot``), waiting and charging at stations (seed 003's C_T).

Optional time windows (``max_delay_steps``) drop flows that would be more than that many
steps late against free flow; states after a window stay constant (vehicles stuck there
count as not arrived and keep accruing vehicle-steps to ``T-1``); vehicles must have left a
station by the end of its window. This is the model with those flows fixed to zero, not a
different model.

References
----------
Seed 003 (robust dynamic tariff with linear DTA, FCS queues and SOC flows); the point-queue
DTA is the linear model of Ziliaskopoulos (2000) / Carey's path-based form.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyomo.environ as pyo
import scipy.sparse as sp
from pyomo.core.expr.numeric_expr import LinearExpression

from common.gc import paused_gc
from traffic.network import (
    RoadNetwork,
    Stations,
    TrafficDataError,
    TravelDemand,
    check_departure_soc,
    validate_traffic,
)
from traffic.paths import PathSet


@dataclass(frozen=True)
class DtaOptions:
    """Parameters of the DTA block.

    Attributes
    ----------
    cost_per_vehicle_step : w, currency per vehicle and step spent in the network.
    soc_min, soc_max : SOC bounds (fractions of a battery) of every vehicle quantity.
    arrival_soc_min : SOC floor of arriving vehicles (None: ``soc_min``).
    penalty_per_vehicle : currency per vehicle not at its destination by the end of the
        horizon (``arrival_penalty``); keep it well above w times the horizon.
    max_delay_steps : drop flows later than free flow by more than this many steps (None:
        keep every step of the horizon).
    """

    cost_per_vehicle_step: float = 1.0
    soc_min: float = 0.2
    soc_max: float = 1.0
    arrival_soc_min: float | None = None
    penalty_per_vehicle: float = 1.0e4
    max_delay_steps: int | None = None


@dataclass
class DtaIndex:
    """What each variable and row of a DTA block means (attached as ``blk.dta_index``).

    ``variables`` has one row per index ``i`` of ``veh_min``/``veh_max``: kind (flow, queued,
    enter, bypass, to_charger, leave, waiting, charging, unserved), path, od, element
    (position on the path), boundary (for flows), segment, station, charger (kW), t,
    soc_floor, vehicle_steps (weight in ``vehicle_steps``).
    ``rows`` has one row per index of ``balance_veh``/``balance_soc``.
    """

    variables: pd.DataFrame
    rows: pd.DataFrame
    paths: PathSet
    steps: int
    dt_h: float
    battery_kwh: float
    options: DtaOptions
    stations: list[str]
    segment_free_flow: dict[str, int]
    demand_total: float


@dataclass
class DtaStructure:
    """The DTA as sparse matrices over the ``N`` vehicle quantities ``i`` of ``index``
    (columns ``veh_min[i]``, ``veh_max[i]``; vehicles ``veh_min + veh_max``, SOC
    ``floor_i veh_min + soc_max veh_max``).

    a_veh (R x N) : balance rows on vehicles, ``a_veh (vmin + vmax) = rhs_veh``;
    a_soc_extra (R x N) : the SOC-only terms (energy use, charging) of the SOC twins,
        ``a_veh (floor vmin + soc_max vmax) + a_soc_extra (vmin + vmax) = rhs_soc``;
    fixed : quantities fixed to 0 (time windows);
    exit_rows / exit_cap (veh/step), plug_rows / plug_cap : capacity rows ``<=`` (only where
        they can bind), keyed by ``exit_keys`` (segment, t) and ``plug_keys`` (station, t);
    station_load ((stations x T) x N, kW per vehicle, row ``station_pos[y] * T + t``);
    vehicle_steps (N) : weight of each quantity in the vehicle-steps;
    arrival, unserved (N, bool) : arrival flows and the never-departed slack.
    """

    index: DtaIndex
    a_veh: sp.csr_matrix
    a_soc_extra: sp.csr_matrix
    rhs_veh: np.ndarray
    rhs_soc: np.ndarray
    floor: np.ndarray
    soc_max: float
    fixed: np.ndarray
    exit_keys: list[tuple[str, int]]
    exit_rows: sp.csr_matrix
    exit_cap: np.ndarray
    plug_keys: list[tuple[str, int]]
    plug_rows: sp.csr_matrix
    plug_cap: np.ndarray
    station_load: sp.csr_matrix
    station_pos: dict[str, int]
    vehicle_steps: np.ndarray
    arrival: np.ndarray
    unserved: np.ndarray

    # What the Pyomo block (:func:`add_linear_dta`) and the engine builders
    # (:mod:`traffic.dta_engine`) both read: one formula each, no second copy.

    @property
    def n(self) -> int:
        """Number ``N`` of vehicle quantities (columns of each of ``veh_min``, ``veh_max``)."""
        return len(self.floor)

    def upper_bounds(self) -> np.ndarray:
        """Upper bound of each ``veh_min``/``veh_max`` column (vehicles): ``inf``, ``0`` where
        ``fixed`` (time windows); every lower bound is 0."""
        ub = np.full(self.n, np.inf)
        ub[self.fixed] = 0.0
        return ub

    def soc_terms(self) -> tuple[sp.csr_matrix, sp.csr_matrix]:
        """Coefficients (R x N, battery equivalents per vehicle) of ``veh_min`` and ``veh_max``
        in the SOC twins ``balance_soc``: ``a_veh diag(floor) + a_soc_extra`` and
        ``soc_max a_veh + a_soc_extra``; the rows read ``... = rhs_soc``."""
        a, x = self.a_veh, self.a_soc_extra
        return a @ sp.diags(self.floor) + x, a * self.soc_max + x

    def capacity_sets(
        self,
    ) -> list[tuple[str, list[tuple[str, int]], sp.csr_matrix, np.ndarray]]:
        """``(name, keys, rows, cap)`` of the capacity rows ``rows (vmin + vmax) <= cap``:
        ``exit_capacity`` keyed (segment, t), vehicles per step, and ``plugs`` keyed
        (station, t), vehicles; only the rows that can bind (possibly none)."""
        return [
            ("exit_capacity", self.exit_keys, self.exit_rows, self.exit_cap),
            ("plugs", self.plug_keys, self.plug_rows, self.plug_cap),
        ]

    def cost_coefficients(
        self, price_per_kwh: np.ndarray | list[float] | float | None = None
    ) -> tuple[np.ndarray, float]:
        """The traffic cost as ``c (vmin + vmax) + offset`` (currency; ``c`` per vehicle,
        the same on both columns): ``w vehicle_steps + penalty (demand - arrivals)`` and, with
        ``price_per_kwh`` (scalar or one value per step, currency/kWh), the charging energy
        ``sum_{y,t} price_t dt station_p_kw[y, t]``."""
        idx, opts = self.index, self.index.options
        w, pen = opts.cost_per_vehicle_step, opts.penalty_per_vehicle
        c = w * self.vehicle_steps - pen * self.arrival
        if price_per_kwh is not None:
            price = np.broadcast_to(np.asarray(price_per_kwh, dtype=float), (idx.steps,))
            per_row = np.tile(price * idx.dt_h, len(idx.stations))  # row y*T + t
            c = c + self.station_load.T @ per_row
        return c, opts.penalty_per_vehicle * idx.demand_total


class _Builder:
    def __init__(self) -> None:
        self.cols: dict[str, list[Any]] = defaultdict(list)
        self.n = 0
        self.rows: list[tuple[dict[int, float], dict[int, float], float, float]] = []
        self.row_info: dict[str, list[Any]] = defaultdict(list)

    def var(self, kind: str, t: int, floor: float, **info: Any) -> int:
        c = self.cols
        c["kind"].append(kind)
        c["t"].append(t)
        c["soc_floor"].append(floor)
        c["vehicle_steps"].append(0.0)
        for key in ("path", "od", "element", "boundary", "segment", "station", "charger"):
            c[key].append(info.get(key))
        self.n += 1
        return self.n - 1

    def row(
        self,
        kind: str,
        t: int,
        veh: dict[int, float],
        extra: dict[int, float] | None = None,
        rhs_veh: float = 0.0,
        rhs_soc: float = 0.0,
        **info: Any,
    ) -> None:
        self.rows.append((veh, extra or {}, rhs_veh, rhs_soc))
        self.row_info["kind"].append(kind)
        self.row_info["t"].append(t)
        for key in ("path", "od", "element"):
            self.row_info[key].append(info.get(key))


def _energy_per_vehicle_step(p_kw: float, eta: float, dt_h: float, battery_kwh: float) -> float:
    """Battery equivalents one vehicle gains per step on a charger of ``p_kw`` (grid side)."""
    return (eta * p_kw if p_kw > 0 else p_kw / eta) * dt_h / battery_kwh


@paused_gc
def dta_layout(
    network: RoadNetwork,
    stations: Stations | None,
    demand: TravelDemand,
    paths: PathSet,
    steps: int,
    dt_h: float,
    battery_kwh: float,
    opts: DtaOptions | None = None,
    *,
    aggregators: list[str] | tuple[str, ...] | None = None,
) -> DtaStructure:
    """The linear DTA of the module docstring as sparse matrices (:class:`DtaStructure`):
    index bookkeeping and coefficients, no solver objects. :func:`add_linear_dta` emits it as a
    Pyomo block, :func:`traffic.dta_engine.declare_dta` into the matrix engine.

    Parameters
    ----------
    network, stations, demand : traffic data; ``stations`` may be None (no charging).
    paths : path set covering every OD of ``demand`` (see :func:`traffic.paths.k_shortest_paths`).
    steps, dt_h : the time grid, ``steps`` steps of ``dt_h`` hours.
    battery_kwh : usable battery capacity of one vehicle (kWh), converts kW to SOC.
    opts : model parameters (default :class:`DtaOptions`).
    aggregators : the demand of these aggregators only (None: all). The DSO problem builds
        one block with all; each aggregator problem builds its own.

    Raises
    ------
    TrafficDataError : invalid data, an OD without a path in ``paths``, or a departure SOC
        below ``soc_min``.
    """
    opts = opts or DtaOptions()
    if not 0 <= opts.soc_min < opts.soc_max <= 1:
        raise ValueError("need 0 <= soc_min < soc_max <= 1")
    if aggregators is not None:
        demand = demand.for_aggregators(aggregators)
    validate_traffic(network, stations, demand, steps)
    T = int(steps)
    m_lo, m_hi = float(opts.soc_min), float(opts.soc_max)
    m_arr = m_lo if opts.arrival_soc_min is None else float(opts.arrival_soc_min)
    delay = T if opts.max_delay_steps is None else int(opts.max_delay_steps)

    check_departure_soc(demand, m_lo)
    dem = demand.table[demand.table["vehicles"] > 0]
    arrival_floor: dict[str, float] = {}
    if "arrival_soc" in dem:
        per_od = dem.groupby("od")["arrival_soc"].first().dropna()
        arrival_floor = {od: max(m_lo, float(v)) for od, v in per_od.items()}
    departures: dict[str, dict[int, tuple[float, float]]] = defaultdict(dict)
    for od, t, veh, soc in dem[["od", "t", "vehicles", "soc_total"]].itertuples(index=False):
        departures[od][int(t)] = (float(veh), float(soc))
    od_total = {od: sum(v for v, _ in d.values()) for od, d in departures.items()}
    by_od: dict[str, list] = defaultdict(list)
    for p in paths.paths:
        if p.od in departures:
            by_od[p.od].append(p)
    for od in departures:
        if not by_od[od]:
            raise TrafficDataError(
                f"traffic/demand.csv: column od: od '{od}' has no path in the path set"
            )

    seg = network.segments.set_index("segment")
    t0 = seg["free_flow_steps"].astype(int).to_dict()
    use = seg["soc_per_vehicle"].astype(float).to_dict()
    cap = seg["capacity_veh_per_step"].astype(float).to_dict()
    st_ids: list[str] = [] if stations is None else stations.table["station"].tolist()
    chargers = {} if stations is None else stations.chargers
    st_tab = None if stations is None else stations.table.set_index("station")

    b = _Builder()
    dep_terms: dict[tuple[str, int], list[int]] = defaultdict(list)
    arrivals: list[int] = []
    exit_terms: dict[tuple[str, int], list[int]] = defaultdict(list)
    seg_ods: dict[str, set[str]] = defaultdict(set)
    plug_terms: dict[tuple[str, int], list[int]] = defaultdict(list)
    load_terms: dict[tuple[str, int], list[tuple[int, float]]] = defaultdict(list)
    st_ods: dict[str, set[str]] = defaultdict(set)
    vs = b.cols["vehicle_steps"]
    to_fix: list[int] = []

    for od, plist in by_od.items():
        dep_t = sorted(departures[od])
        lo0, hi0 = dep_t[0], dep_t[-1]
        for p in plist:
            elems = p.elements()
            ff = [0]
            for kind, eid in elems:
                ff.append(ff[-1] + (t0[eid] if kind == "segment" else 0))
            windows: list[list[int]] = [dep_t] + [
                list(range(lo0 + f, min(T - 1, hi0 + f + delay) + 1)) for f in ff[1:]
            ]
            last = len(elems)
            flows: list[dict[int, int]] = []
            for k, win in enumerate(windows):
                floor = arrival_floor.get(od, m_arr) if k == last else m_lo
                flows.append(
                    {t: b.var("flow", t, floor, path=p.path, od=od, boundary=k) for t in win}
                )
            for t, i in flows[0].items():
                dep_terms[(od, t)].append(i)
            arrivals.extend(flows[last].values())
            info = {"path": p.path, "od": od}
            for e, (kind, eid) in enumerate(elems):
                fin, fout = flows[e], flows[e + 1]
                if kind == "segment":
                    d0, c = t0[eid], use[eid]
                    seg_ods[eid].add(od)
                    for s, i in fin.items():
                        vs[i] += min(d0, T - s)
                    prev = None
                    for t in windows[e + 1]:
                        q = b.var("queued", t, m_lo, element=e, segment=eid, **info)
                        vs[q] += 1.0
                        veh = {q: 1.0, fout[t]: 1.0}
                        extra = {}
                        if prev is not None:
                            veh[prev] = -1.0
                        if t - d0 in fin:
                            veh[fin[t - d0]] = -1.0
                            extra[fin[t - d0]] = c
                        b.row("segment", t, veh, extra, element=e, **info)
                        exit_terms[(eid, t)].append(fout[t])
                        prev = q
                    if prev is not None:
                        vs[prev] += T - 1 - windows[e + 1][-1]
                else:
                    y = eid
                    st_ods[y].add(od)
                    eta = float(st_tab.at[y, "efficiency"])
                    sinfo = {"element": e, "station": y, **info}
                    enter = {t: b.var("enter", t, m_lo, **sinfo) for t in fin}
                    bypass = {t: b.var("bypass", t, m_lo, **sinfo) for t in fin}
                    for t, i in fin.items():
                        b.row(
                            "split_in",
                            t,
                            {i: 1.0, enter[t]: -1.0, bypass[t]: -1.0},
                            element=e,
                            **info,
                        )
                    prev_w, prev_x = None, []
                    for t in windows[e + 1]:
                        w = b.var("waiting", t, m_lo, **sinfo)
                        cd = b.var("to_charger", t, m_lo, **sinfo)
                        lv = b.var("leave", t, m_lo, **sinfo)
                        xs = [b.var("charging", t, m_lo, charger=pl, **sinfo) for pl in chargers[y]]
                        vs[w] += 1.0
                        veh = {fout[t]: 1.0, lv: -1.0}
                        if t in bypass:
                            veh[bypass[t]] = -1.0
                        b.row("split_out", t, veh, element=e, **info)
                        veh = {w: 1.0, cd: 1.0}
                        if prev_w is not None:
                            veh[prev_w] = -1.0
                        if t in enter:
                            veh[enter[t]] = -1.0
                        b.row("waiting", t, veh, element=e, **info)
                        veh = {cd: -1.0, lv: 1.0}
                        extra = {}
                        for x, pl in zip(xs, chargers[y], strict=True):
                            veh[x] = 1.0
                            vs[x] += 1.0
                            extra[x] = -_energy_per_vehicle_step(pl, eta, dt_h, battery_kwh)
                            plug_terms[(y, t)].append(x)
                            load_terms[(y, t)].append((x, pl))
                        for x in prev_x:
                            veh[x] = -1.0
                        b.row("charging", t, veh, extra, element=e, **info)
                        prev_w, prev_x = w, xs
                    if prev_w is not None and windows[e + 1][-1] < T - 1:
                        to_fix.extend([prev_w, *prev_x])  # leave the station within the window

    unserved: list[int] = []
    for od, dep in departures.items():
        for t, (veh, soc) in sorted(dep.items()):
            u = b.var("unserved", t, m_lo, od=od)
            unserved.append(u)
            terms = dict.fromkeys(dep_terms[(od, t)], 1.0)
            terms[u] = 1.0
            b.row("departure", t, terms, rhs_veh=veh, rhs_soc=soc, od=od)

    # ---------------------------------------------------------------- matrices
    N, R = b.n, len(b.rows)
    floor = np.asarray(b.cols["soc_floor"], dtype=float)

    def csr(entries: list[dict[int, float]], n_rows: int) -> sp.csr_matrix:
        lens = np.fromiter((len(e) for e in entries), dtype=np.int64, count=len(entries))
        cols = np.fromiter((i for e in entries for i in e), dtype=np.int64, count=int(lens.sum()))
        vals = np.fromiter((c for e in entries for c in e.values()), float, count=len(cols))
        indptr = np.concatenate([[0], np.cumsum(lens)])
        return sp.csr_matrix((vals, cols, indptr), shape=(n_rows, N))

    rows = b.rows
    cap_keys = [
        (a, t) for a, t in exit_terms if sum(od_total[o] for o in seg_ods[a]) > cap[a] + 1e-9
    ]
    plug_keys = []
    for y, t in plug_terms:
        if sum(od_total[o] for o in st_ods[y]) > float(st_tab.at[y, "plugs"]) + 1e-9:
            plug_keys.append((y, t))
    st_pos = {y: k for k, y in enumerate(st_ids)}
    load_rows = [dict(load_terms.get((y, t), ())) for y in st_ids for t in range(T)]
    weights = np.asarray(vs, dtype=float)
    flags = np.zeros(N, bool)
    arrival = flags.copy()
    arrival[arrivals] = True
    unserved_mask = flags.copy()
    unserved_mask[unserved] = True
    variables = pd.DataFrame(b.cols)
    variables["t"] = variables["t"].astype(int)
    demand_total = float(sum(od_total.values()))
    index = DtaIndex(
        variables=variables,
        rows=pd.DataFrame(b.row_info),
        paths=PathSet(tuple(p for pl in by_od.values() for p in pl)),
        steps=T,
        dt_h=float(dt_h),
        battery_kwh=float(battery_kwh),
        options=opts,
        stations=st_ids,
        segment_free_flow=t0,
        demand_total=demand_total,
    )
    return DtaStructure(
        index=index,
        a_veh=csr([r[0] for r in rows], R),
        a_soc_extra=csr([r[1] for r in rows], R),
        rhs_veh=np.fromiter((r[2] for r in rows), float, count=R),
        rhs_soc=np.fromiter((r[3] for r in rows), float, count=R),
        floor=floor,
        soc_max=m_hi,
        fixed=np.asarray(to_fix, dtype=np.int64),
        exit_keys=cap_keys,
        exit_rows=csr([dict.fromkeys(exit_terms[k], 1.0) for k in cap_keys], len(cap_keys)),
        exit_cap=np.array([cap[a] for a, _ in cap_keys], dtype=float),
        plug_keys=plug_keys,
        plug_rows=csr([dict.fromkeys(plug_terms[k], 1.0) for k in plug_keys], len(plug_keys)),
        plug_cap=np.array([float(st_tab.at[y, "plugs"]) for y, _ in plug_keys], dtype=float),
        station_load=csr(load_rows, len(st_ids) * T),
        station_pos=st_pos,
        vehicle_steps=weights,
        arrival=arrival,
        unserved=unserved_mask,
    )


@paused_gc
def add_linear_dta(blk: pyo.Block, st: DtaStructure) -> None:
    """Add the linear DTA with FCS queues and SOC flows (DESIGN §4.1), laid out by
    :func:`dta_layout`, to the Pyomo block (or model) ``blk``.

    Adds
    ----
    veh_min[i], veh_max[i] : vehicles at SOC floor / at soc_max of each vehicle quantity
        (meaning in ``blk.dta_index.variables``), >= 0.
    balance_veh[r], balance_soc[r] : the balance rows (``blk.dta_index.rows``).
    exit_capacity[segment, t], plugs[station, t] : the capacity rows.
    station_p_kw[station, t] : station load (kW, consumption positive), Expression.
    vehicle_steps, travel_cost (currency), vehicles_departed, vehicles_arrived,
    arrival_shortfall (vehicles), arrival_penalty (currency) : Expressions.

    The cyclic garbage collector is paused during construction (it otherwise dominates the
    build time of large blocks).
    """
    opts = st.index.options
    N, T = st.n, st.index.steps
    blk.veh_min = pyo.Var(range(N), domain=pyo.NonNegativeReals, initialize=0.0)
    blk.veh_max = pyo.Var(range(N), domain=pyo.NonNegativeReals, initialize=0.0)
    vmin, vmax = blk.veh_min, blk.veh_max
    for i in np.flatnonzero(st.upper_bounds() == 0.0).tolist():
        vmin[i].fix(0.0)
        vmax[i].fix(0.0)

    def veh_expr(a: sp.csr_matrix, r: int) -> LinearExpression:
        s, e = a.indptr[r], a.indptr[r + 1]
        cols, c = a.indices[s:e].tolist(), a.data[s:e].tolist()
        return LinearExpression(
            constant=0.0,
            linear_coefs=[x for x in c for _ in (0, 1)],
            linear_vars=[v for i in cols for v in (vmin[i], vmax[i])],
        )

    a = st.a_veh
    s_lo, s_hi = st.soc_terms()

    def soc_expr(r: int) -> LinearExpression:
        coefs, vars_ = [], []
        for m, v in ((s_lo, vmin), (s_hi, vmax)):
            s, e = m.indptr[r], m.indptr[r + 1]
            coefs += m.data[s:e].tolist()
            vars_ += [v[i] for i in m.indices[s:e].tolist()]
        return LinearExpression(constant=0.0, linear_coefs=coefs, linear_vars=vars_)

    R = a.shape[0]
    blk.balance_veh = pyo.Constraint(range(R), rule=lambda _, r: veh_expr(a, r) == st.rhs_veh[r])
    blk.balance_soc = pyo.Constraint(range(R), rule=lambda _, r: soc_expr(r) == st.rhs_soc[r])
    for name, keys, m, cap in st.capacity_sets():
        pos = {k: r for r, k in enumerate(keys)}
        blk.add_component(
            name,
            pyo.Constraint(
                keys,
                rule=lambda _, k, t, m=m, cap=cap, pos=pos: (
                    veh_expr(m, pos[k, t]) <= cap[pos[k, t]]
                ),
            ),
        )

    def load_rule(_: Any, y: str, t: int) -> Any:
        r = st.station_pos[y] * T + t
        if st.station_load.indptr[r] == st.station_load.indptr[r + 1]:
            return 0.0
        return veh_expr(st.station_load, r)

    blk.station_p_kw = pyo.Expression(st.index.stations, range(T), rule=load_rule)

    def weighted(mask_or_w: np.ndarray) -> LinearExpression:
        w = np.asarray(mask_or_w, dtype=float)
        nz = np.flatnonzero(w)
        return LinearExpression(
            constant=0.0,
            linear_coefs=[c for c in w[nz].tolist() for _ in (0, 1)],
            linear_vars=[v for i in nz.tolist() for v in (vmin[i], vmax[i])],
        )

    demand_total = st.index.demand_total
    blk.vehicle_steps = pyo.Expression(expr=weighted(st.vehicle_steps))
    blk.travel_cost = pyo.Expression(expr=opts.cost_per_vehicle_step * blk.vehicle_steps)
    blk.vehicles_departed = pyo.Expression(expr=demand_total - weighted(st.unserved))
    blk.vehicles_arrived = pyo.Expression(expr=weighted(st.arrival))
    blk.arrival_shortfall = pyo.Expression(expr=demand_total - blk.vehicles_arrived)
    blk.arrival_penalty = pyo.Expression(expr=opts.penalty_per_vehicle * blk.arrival_shortfall)
    blk.dta_index = st.index


def traffic_cost_expr(blk: pyo.Block, price_per_kwh: np.ndarray | list[float] | float) -> Any:
    """``travel_cost + arrival_penalty + sum_{y,t} price_t * station_p_kw[y, t] * dt_h``.

    The objective of a traffic-only run (routing and charging against energy prices, no
    grid). ``price_per_kwh`` is a scalar or one value per step (currency/kWh).
    """
    idx: DtaIndex = blk.dta_index
    price = np.broadcast_to(np.asarray(price_per_kwh, dtype=float), (idx.steps,))
    energy = sum(
        float(price[t]) * idx.dt_h * blk.station_p_kw[y, t]
        for y in idx.stations
        for t in range(idx.steps)
    )
    return blk.travel_cost + blk.arrival_penalty + energy
