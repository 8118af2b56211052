"""Radial distribution feeder data: the :class:`Feeder` container and its validation.

Every table is a pandas DataFrame with one row per element and units in the column names
(kW, kvar, ohm, kV, per-unit voltage, currency per kWh). Time series are long tables with
an integer step index ``t`` in ``0 .. steps-1``. Ids (bus, line, gen) are strings.

The feeder is validated on construction; any inconsistency raises
:class:`FeederDataError` whose one-line message names the case-folder file, the column and
the element at fault, e.g. ``grid/lines.csv: column to_bus: line '7' refers to unknown bus
'99'``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import networkx as nx
import numpy as np
import pandas as pd

from common.validate import Where, shown
from power.registry import FILES, required

RENEWABLE_KINDS = ("pv", "wind")

# table name -> (file in a case folder, id columns, required numeric columns)
# table -> (file in a case folder, required id/text columns, required numeric columns), from
# the attribute registry (power/registry.py)
GRID_TABLES = ("buses", "lines", "loads", "renewables", "prices", "generators", "line_limits")
TABLES: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    t: (FILES[t][0], *required(t)) for t in GRID_TABLES
}
OPTIONAL_TABLES = tuple(t for t in GRID_TABLES if FILES[t][1])
V_SLACK_RANGE = (0.5, 1.5)  # pu: a substation voltage outside it is a unit or typing error


class FeederDataError(ValueError):
    """Invalid feeder data; the message is one line naming file, column and element."""


def empty_table(name: str) -> pd.DataFrame:
    """Empty DataFrame with the required columns of table ``name``."""
    _, ids, nums = TABLES[name]
    cols = list(ids) + list(nums)
    return pd.DataFrame({c: pd.Series(dtype=str if c in ids else float) for c in cols})


@dataclass(frozen=True)
class Feeder:
    """A radial distribution feeder with time series over ``steps`` steps of ``dt_h`` hours.

    Parameters
    ----------
    buses : bus, v_min_pu, v_max_pu, base_kv (kV line-to-line) [, x, y]
    lines : line, from_bus, to_bus, r_ohm, x_ohm, p_max_kw [, s_max_kva]; a transformer is a
        line whose impedance is referred to its low-voltage side.
    loads : bus, t, p_kw, q_kvar (consumption positive).
    prices : t, price_per_kwh — price of energy imported at the slack bus.
    renewables : bus, t, kind (pv | wind), p_kw (generation positive).
    generators : gen, bus, p_min_kw, p_max_kw, cost_per_kwh (dispatchable, P only).
    line_limits : line, t, p_max_kw — time-varying limits replacing ``lines.p_max_kw``.
    slack_bus : substation bus with fixed voltage ``v_slack_pu``.
    steps, dt_h : the time grid (number of steps, hours per step).
    """

    buses: pd.DataFrame
    lines: pd.DataFrame
    loads: pd.DataFrame
    prices: pd.DataFrame
    slack_bus: str
    steps: int
    dt_h: float = 1.0
    v_slack_pu: float = 1.0
    renewables: pd.DataFrame = field(default_factory=lambda: empty_table("renewables"))
    generators: pd.DataFrame = field(default_factory=lambda: empty_table("generators"))
    line_limits: pd.DataFrame = field(default_factory=lambda: empty_table("line_limits"))

    def __post_init__(self) -> None:
        validate_feeder(self)

    # ------------------------------------------------------------------ topology
    @cached_property
    def bus_ids(self) -> list[str]:
        """Bus ids in table order."""
        return self.buses["bus"].tolist()

    @cached_property
    def line_ids(self) -> list[str]:
        """Line ids in table order."""
        return self.lines["line"].tolist()

    @cached_property
    def bus_pos(self) -> dict[str, int]:
        """Bus id -> row position."""
        return {b: i for i, b in enumerate(self.bus_ids)}

    @cached_property
    def tree(self) -> FeederTree:
        """Orientation of the radial feeder away from the slack bus."""
        return FeederTree.from_feeder(self)

    # ------------------------------------------------------------------ arrays (b x t)
    def _bus_time(self, df: pd.DataFrame, col: str) -> np.ndarray:
        out = np.zeros((len(self.bus_ids), self.steps))
        if len(df):
            rows = df["bus"].map(self.bus_pos).to_numpy()
            np.add.at(out, (rows, df["t"].to_numpy(dtype=int)), df[col].to_numpy(dtype=float))
        return out

    @cached_property
    def load_p_kw(self) -> np.ndarray:
        """Active load per bus and step (kW), shape (buses, steps)."""
        return self._bus_time(self.loads, "p_kw")

    @cached_property
    def load_q_kvar(self) -> np.ndarray:
        """Reactive load per bus and step (kvar), shape (buses, steps)."""
        return self._bus_time(self.loads, "q_kvar")

    def renewable_p_kw(self, kind: str | None = None) -> np.ndarray:
        """Renewable generation per bus and step (kW), optionally of one kind."""
        df = self.renewables if kind is None else self.renewables[self.renewables.kind == kind]
        return self._bus_time(df, "p_kw")

    @cached_property
    def price_per_kwh(self) -> np.ndarray:
        """Import energy price per step (currency/kWh)."""
        return self.prices.sort_values("t")["price_per_kwh"].to_numpy(dtype=float)

    @cached_property
    def line_p_max_kw(self) -> np.ndarray:
        """Active-power limit per line and step (kW), shape (lines, steps)."""
        out = np.repeat(self.lines["p_max_kw"].to_numpy(dtype=float)[:, None], self.steps, 1)
        if len(self.line_limits):
            pos = {line: i for i, line in enumerate(self.line_ids)}
            rows = self.line_limits["line"].map(pos).to_numpy()
            cols = self.line_limits["t"].to_numpy(dtype=int)
            out[rows, cols] = self.line_limits["p_max_kw"].to_numpy(dtype=float)
        return out

    @cached_property
    def line_s_max_kva(self) -> np.ndarray | None:
        """Apparent-power rating per line (kVA) or None when the column is absent."""
        if "s_max_kva" not in self.lines or self.lines["s_max_kva"].isna().all():
            return None
        s = self.lines["s_max_kva"].to_numpy(dtype=float)
        return np.where(np.isnan(s), self.lines["p_max_kw"].to_numpy(dtype=float), s)


@dataclass(frozen=True)
class FeederTree:
    """The feeder as a tree rooted at the slack bus.

    Attributes
    ----------
    parent_line : for each bus position, the position of the line feeding it (-1 at slack).
    child_bus, parent_bus : for each line position, the downstream / upstream bus position.
    sign : +1 where the stored from_bus is the upstream end, -1 otherwise; a stored flow
        ``p_kw`` (from_bus -> to_bus) equals ``sign *`` the downstream flow.
    order : bus positions in breadth-first order from the slack.
    r_pu_kw, x_pu_kw : per line, resistance and reactance in pu on a 1 kVA base at the line's
        lower base voltage, ``r_ohm / (1000 * base_kv**2)`` (1/kW), so that the squared-voltage
        drop is ``dw = 2 (r_pu_kw P + x_pu_kw Q)`` with P in kW and Q in kvar.
    """

    slack: int
    parent_line: np.ndarray
    child_bus: np.ndarray
    parent_bus: np.ndarray
    sign: np.ndarray
    order: np.ndarray
    r_pu_kw: np.ndarray
    x_pu_kw: np.ndarray

    @classmethod
    def from_feeder(cls, f: Feeder) -> FeederTree:
        pos = f.bus_pos
        nb, nl = len(pos), len(f.lines)
        frm = f.lines["from_bus"].map(pos).to_numpy()
        to = f.lines["to_bus"].map(pos).to_numpy()
        g = nx.Graph()
        g.add_nodes_from(range(nb))
        g.add_edges_from((int(a), int(b), {"line": i}) for i, (a, b) in enumerate(zip(frm, to)))
        slack = pos[f.slack_bus]
        parent_line = np.full(nb, -1)
        child = np.empty(nl, dtype=int)
        parent = np.empty(nl, dtype=int)
        order = [slack]
        for u, v in nx.bfs_edges(g, slack):
            li = g.edges[u, v]["line"]
            parent_line[v], child[li], parent[li] = li, v, u
            order.append(v)
        sign = np.where(frm == parent, 1.0, -1.0)
        base_kv = f.buses["base_kv"].to_numpy(dtype=float)
        kv = np.minimum(base_kv[frm], base_kv[to])
        # w in pu^2; P in kW: dw = 2 (r P + x Q) / (1000 kV^2)
        scale = 1.0 / (1000.0 * kv**2)
        return cls(
            slack=slack,
            parent_line=parent_line,
            child_bus=child,
            parent_bus=parent,
            sign=sign,
            order=np.asarray(order),
            r_pu_kw=f.lines["r_ohm"].to_numpy(dtype=float) * scale,
            x_pu_kw=f.lines["x_ohm"].to_numpy(dtype=float) * scale,
        )


# ---------------------------------------------------------------------- validation
# where each table's problems are told; a row is named by the table's first id column
WHERE = {
    name: Where(file, FeederDataError, key=ids[0] if ids else None)
    for name, (file, ids, _) in TABLES.items()
}


def _check_columns(name: str, df: pd.DataFrame) -> None:
    _, ids, nums = TABLES[name]
    w = WHERE[name]
    w.missing_columns(df, ids + nums, "missing column")
    for col in ids:
        empty = df[col].isna() | (df[col].astype(str).str.strip() == "")
        w.check(
            col, empty, lambda i: f"row {i + 2} has an empty id (write one; None or NA is valid)"
        )
    for col in nums:
        vals = pd.to_numeric(df[col], errors="coerce")
        w.check(
            col,
            vals.isna(),
            lambda i, col=col: f"{w.label(df, i)} has non-numeric value {shown(df[col].iloc[i])}",
        )
        w.range(
            df,
            col,
            np.isfinite(vals.to_numpy(float)),
            "is not a finite number (write a finite number)",
        )


def _step_ok(df: pd.DataFrame, steps: int) -> np.ndarray:
    """Rows whose ``t`` is a step index in ``0..steps-1``."""
    t = pd.to_numeric(df["t"])
    return ((t == np.round(t)) & (t >= 0) & (t < steps)).to_numpy()


def validate_feeder(f: Feeder) -> None:
    """Check ids, references, ranges, time indices and radiality; raise FeederDataError."""
    if not isinstance(f.steps, int | np.integer) or f.steps < 1:
        raise FeederDataError(
            f"case.toml: [time] steps must be a positive integer, got {shown(f.steps)}"
        )
    if not (np.isfinite(f.dt_h) and f.dt_h > 0):
        raise FeederDataError(
            f"case.toml: [time] dt_h must be a finite number of hours > 0, got {shown(f.dt_h)}"
        )
    if not (np.isfinite(f.v_slack_pu) and V_SLACK_RANGE[0] <= f.v_slack_pu <= V_SLACK_RANGE[1]):
        lo, hi = V_SLACK_RANGE
        raise FeederDataError(
            f"case.toml: [grid] v_slack_pu must lie in [{lo:g}, {hi:g}] pu (the substation "
            f"voltage in per unit of its base_kv), got {shown(f.v_slack_pu)}"
        )
    for name in TABLES:
        _check_columns(name, getattr(f, name))
    b, ln = f.buses, f.lines
    WHERE["buses"].unique(b, ["bus"])
    WHERE["lines"].unique(ln, ["line"])
    buses = set(b["bus"])
    if f.slack_bus not in buses:
        raise FeederDataError(
            f"case.toml: [grid] slack_bus {f.slack_bus!r} is not in grid/buses.csv"
        )
    vmin, vmax = b["v_min_pu"].to_numpy(float), b["v_max_pu"].to_numpy(float)
    WHERE["buses"].range(b, "v_min_pu", vmin > 0, "must be positive")
    WHERE["buses"].range(b, "v_max_pu", vmax >= vmin, "is below v_min_pu")
    WHERE["buses"].range(b, "base_kv", b["base_kv"].to_numpy(float) > 0, "must be positive")
    for col in ("from_bus", "to_bus"):
        WHERE["lines"].ref(ln, col, buses, "bus")
    WHERE["lines"].range(ln, "to_bus", (ln.from_bus != ln.to_bus).to_numpy(), "equals from_bus")
    for col in ("r_ohm", "x_ohm"):
        WHERE["lines"].range(ln, col, ln[col].to_numpy(float) >= 0, "must be non-negative")
    z = np.hypot(ln["r_ohm"].to_numpy(float), ln["x_ohm"].to_numpy(float))
    WHERE["lines"].range(
        ln,
        "x_ohm",
        z > 0,
        "with r_ohm 0 is a zero-impedance line (give it its impedance, or merge its two buses)",
    )
    WHERE["lines"].range(ln, "p_max_kw", ln["p_max_kw"].to_numpy(float) > 0, "must be positive")
    if "s_max_kva" in ln:
        s = ln["s_max_kva"].to_numpy(float)
        WHERE["lines"].range(
            ln, "s_max_kva", np.isnan(s) | ((s > 0) & (s < np.inf)), "must be positive"
        )
    _check_radial(f)

    t_rule = f"is not a step index in 0..{f.steps - 1}"
    ld = f.loads
    WHERE["loads"].ref(ld, "bus", buses, "bus")
    WHERE["loads"].range(ld, "t", _step_ok(ld, f.steps), t_rule)
    WHERE["loads"].unique(ld, ["bus", "t"])
    rn = f.renewables
    WHERE["renewables"].ref(rn, "bus", buses, "bus")
    WHERE["renewables"].range(
        rn, "kind", rn["kind"].isin(RENEWABLE_KINDS).to_numpy(), "is not pv or wind"
    )
    WHERE["renewables"].range(rn, "t", _step_ok(rn, f.steps), t_rule)
    WHERE["renewables"].range(rn, "p_kw", rn["p_kw"].to_numpy(float) >= 0, "must be non-negative")
    WHERE["renewables"].unique(rn, ["bus", "kind", "t"])
    pr = f.prices
    WHERE["prices"].range(pr, "t", _step_ok(pr, f.steps), t_rule)
    WHERE["prices"].unique(pr, ["t"])
    missing = sorted(set(range(f.steps)) - set(pr["t"].astype(int)))
    if missing:
        raise WHERE["prices"].error_for("t", f"no price for step t={missing[0]}")
    g = f.generators
    WHERE["generators"].unique(g, ["gen"])
    WHERE["generators"].ref(g, "bus", buses, "bus")
    gmin, gmax = g["p_min_kw"].to_numpy(float), g["p_max_kw"].to_numpy(float)
    WHERE["generators"].range(g, "p_min_kw", gmin >= 0, "must be non-negative")
    WHERE["generators"].range(g, "p_max_kw", gmax >= gmin, "is below p_min_kw")
    ll = f.line_limits
    WHERE["line_limits"].ref(ll, "line", set(ln["line"]), "line")
    WHERE["line_limits"].range(ll, "t", _step_ok(ll, f.steps), t_rule)
    WHERE["line_limits"].unique(ll, ["line", "t"])
    WHERE["line_limits"].range(
        ll, "p_max_kw", ll["p_max_kw"].to_numpy(float) > 0, "must be positive"
    )


def _check_radial(f: Feeder) -> None:
    uf = nx.utils.UnionFind(f.buses["bus"])
    for line, a, b in f.lines[["line", "from_bus", "to_bus"]].itertuples(index=False):
        if uf[a] == uf[b]:
            raise WHERE["lines"].error_for(
                "line", f"line {line!r} closes a loop: the feeder must be radial"
            )
        uf.union(a, b)
    root = uf[f.slack_bus]
    lost = next((b for b in f.buses["bus"] if uf[b] != root), None)
    if lost is not None:
        raise WHERE["buses"].error_for(
            "bus", f"bus {lost!r} is not connected to the slack bus {f.slack_bus!r}"
        )
