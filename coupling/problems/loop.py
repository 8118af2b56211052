"""The DSO-aggregator tariff loop (DESIGN §4.6).

State: prices of the grid limits, in currency/kWh per unit of the limited quantity —
``mu_up``/``mu_down`` (lines x steps) for the upper/lower downstream-flow limits and
``nu_low``/``nu_high`` (buses x steps) for the lower/upper squared-voltage limits. The
tariff at bus j is ``R_j = c_t (F_j - 1) + sum_l D[l, j] (mu_up - mu_down)_l + 2 sum_k
R[k, j] (nu_low - nu_high)_k`` — exactly the loss, congestion and voltage parts of the DLMP
when the prices are the DSO's bound duals (see :mod:`power.dlmp`; ``F = 1`` and the lossless
D, R without AC correction, their loss-aware forms with it).

Loop: tariffs -> every EVA solves its own problem (in parallel threads) -> the sum of their
station loads is evaluated on the (robust) grid with the linear evaluator of
:mod:`power.limits` (and, once it passes, with the AC power flow, which may correct the
linear model and its limits, :mod:`coupling.problems.ac_correction`) -> if a limit is
exceeded by more than the tolerance, projected subgradient step on every limit price,
``mu <- [mu + alpha_k * (quantity - limit)]^+`` with ``alpha_k = alpha`` (constant, seed 000)
or ``alpha / sqrt(k)`` (diminishing) -> repeat. Stop when no limit is exceeded.

``adaptive`` scales the constant step per limit price (``alpha`` times a scale in (0, 1]):
the scale halves whenever the price's excess turns sign and grows back by 1.5 (at most to 1)
while it keeps its sign. A limit approached from one side keeps the full step; a limit whose
price overshoots, where one constant step would settle into a two-cycle or herd the load
from step to step, has its step cut until it settles.

Mechanisms: ``dlmp`` (seed 003) starts from the DSO's centralised duals; ``subgradient``
(seed 000) starts from zero prices and never solves a DSO model of the aggregators.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from power.duals import GridDuals
from power.feeder import Feeder
from power.limits import Evaluation, Limits, LinearGrid, net_load


@dataclass(frozen=True)
class LoopOptions:
    """Loop configuration.

    step_kw : alpha for flow limits (currency/kWh per kW of excess).
    step_w : alpha for voltage limits (currency/kWh per pu^2 of excess).
    step_rule : 'constant' (seed 000), 'diminishing' (alpha / sqrt(k)) or 'adaptive' (alpha
        scaled per limit price, see the module docstring).
    tol_kw, tol_w : violation tolerances (kW, pu^2).
    max_iter : iterations at most.
    loss_part : charge the loss part ``c_t (F_j - 1)`` of the corrected model in the tariff
        (the DLMP's loss part); seed 000's capacity market prices capacity only.
    """

    step_kw: float = 1e-3
    step_w: float = 50.0
    step_rule: Literal["constant", "diminishing", "adaptive"] = "constant"
    tol_kw: float = 0.5
    tol_w: float = 1e-5
    max_iter: int = 30
    loss_part: bool = True


# the loop's limit prices are the grid's multipliers without a balance (power/duals.py)
LimitPrices = GridDuals


# (p_net, q_net) -> (AC-feasible, linear model, limits, figures for the loop table)
ACAccept = Callable[[np.ndarray, np.ndarray], tuple[bool, LinearGrid, Limits, dict]]


def loop_progress(say: Callable[[str], None]) -> Callable[[dict], None]:
    """A ``progress`` callback of :func:`run_loop` that prints one line per iteration."""

    def report(row: dict) -> None:
        say(
            f"iteration {row['iteration']}: max violation {row['max_violation']:.3f} kW, "
            f"price change {row['price_change']:.4g} ({row['wall_s']:.2f} s)"
        )

    return report


def solve_independently(
    models: Mapping[str, Any], solve_one: Callable[[str, Any], Any], parallel: bool = True
) -> dict[str, Any]:
    """``solve_one(key, model)`` for every aggregator's problem, in parallel threads (the
    interior-point solver releases the GIL), results keyed like ``models``. Sweeps run one
    point per Dask worker process and pass ``parallel=False`` (no nested parallelism)."""
    if len(models) < 2 or not parallel:
        return {k: solve_one(k, m) for k, m in models.items()}
    with ThreadPoolExecutor(max_workers=min(len(models), os.cpu_count() or 1)) as pool:
        futures = {k: pool.submit(solve_one, k, m) for k, m in models.items()}
        return {k: f.result() for k, f in futures.items()}


GROW, SHRINK = 1.5, 0.5  # the adaptive rule's factors on a price's step scale


@dataclass
class StepScales:
    """The adaptive rule's scale of each limit price's step (in (0, 1], times alpha) and the
    signed excess each price last moved by, in the order of :func:`_excesses`."""

    scale: list[np.ndarray] = field(default_factory=list)
    last: list[np.ndarray] = field(default_factory=list)

    def move(
        self, prices: list[np.ndarray], excess: list[np.ndarray], alpha: list[float]
    ) -> list[np.ndarray]:
        """New prices ``[mu + s alpha excess]^+``: a price with a positive value or excess
        halves its scale ``s`` when its excess turns sign and grows it back (at most to 1)
        while the sign is kept."""
        if not self.scale:
            self.scale = [np.ones(x.shape) for x in excess]
            self.last = [np.zeros(x.shape) for x in excess]
        out = []
        for mu, x, al, s, last in zip(prices, excess, alpha, self.scale, self.last, strict=True):
            active = (x > 0) | (mu > 0)
            turn = np.sign(x) * np.sign(last)
            s[active & (turn < 0)] *= SHRINK
            kept = active & (turn > 0)
            s[kept] = np.minimum(1.0, s[kept] * GROW)
            out.append(np.maximum(mu + al * s * x, 0.0))
            last[active] = x[active]
        return out


def _excesses(ev: Evaluation) -> list[np.ndarray]:
    """Signed excesses of the four limit families (kW, kW, pu^2, pu^2; 0 where a bus has no
    voltage limit), in the order of :class:`power.duals.GridDuals`' limit prices."""
    low = np.where(np.isfinite(ev.ex_low), ev.ex_low, 0.0)
    high = np.where(np.isfinite(ev.ex_high), ev.ex_high, 0.0)
    return [ev.ex_up, ev.ex_down, low, high]


def _next_prices(
    prices: LimitPrices, ev: Evaluation, k: int, opts: LoopOptions, scales: StepScales
) -> LimitPrices:
    """The limit prices after iteration ``k`` (a new object: the caller's stay as they were):
    projected subgradient step, constant, diminishing or adaptive (scaled per price)."""
    mu = [prices.mu_up, prices.mu_down, prices.nu_low, prices.nu_high]
    alpha = [opts.step_kw, opts.step_kw, opts.step_w, opts.step_w]
    g = _excesses(ev)
    if opts.step_rule == "adaptive":
        new = scales.move(mu, g, alpha)
    else:
        a = 1.0 if opts.step_rule == "constant" else 1.0 / np.sqrt(k)
        new = [np.maximum(m + a * al * x, 0.0) for m, al, x in zip(mu, alpha, g, strict=True)]
    return GridDuals(None, *new)


@dataclass
class LoopResult:
    """Outcome of the loop: final prices and tariffs, EVA responses, iteration history, and
    the linear model and limits the final schedule was accepted with."""

    prices: LimitPrices
    bus_tariff: np.ndarray
    responses: dict
    history: list[dict] = field(default_factory=list)
    converged: bool = False
    grid: LinearGrid | None = None
    limits: Limits | None = None


def run_loop(
    feeder: Feeder,
    grid: LinearGrid,
    lim: Limits,
    prices: LimitPrices,
    respond: Callable[[np.ndarray], tuple[np.ndarray, dict]],
    opts: LoopOptions,
    progress: Callable[[dict], None] | None = None,
    ac_accept: ACAccept | None = None,
) -> LoopResult:
    """Iterate tariffs and aggregator responses until no grid limit is exceeded.

    ``respond(bus_tariff)`` solves every aggregator against the tariff per bus and step
    (currency/kWh) and returns the summed EV load per bus and step (kW) and the responses.
    The summed loads are evaluated on the linear model ``grid`` against ``lim``. With
    ``ac_accept``, a schedule that passes is AC-checked too: when the AC power flow finds a
    limit exceeded, the loop goes on with the corrected model and limits it returns.
    ``prices`` is not changed: the loop's final prices are in the result.
    """
    history: list[dict] = []
    converged = False
    responses: dict = {}
    price = feeder.price_per_kwh
    tariff = prices.bus_tariff(grid, price, opts.loss_part)
    scales = StepScales()  # the adaptive rule's step scales (unused by the other rules)
    for k in range(1, opts.max_iter + 1):
        t0 = time.perf_counter()
        ev_bus, responses = respond(tariff)
        t1 = time.perf_counter()
        p_net, q_net = net_load(feeder, ev_bus)
        ev = grid.evaluate(p_net, q_net, lim)
        violated = ev.max_flow_excess_kw > opts.tol_kw or ev.max_w_excess > opts.tol_w
        extra: dict = {}
        if not violated and ac_accept is not None:
            ok, grid, lim, extra = ac_accept(p_net, q_net)
            if not ok:
                violated = True
                ev = grid.evaluate(p_net, q_net, lim)  # the corrected model's excesses
        change = 0.0
        if violated and k < opts.max_iter:
            prices = _next_prices(prices, ev, k, opts, scales)
            new = prices.bus_tariff(grid, price, opts.loss_part)
            change = float(np.abs(new - tariff).max(initial=0.0))
        row = {
            "iteration": k,
            "max_violation": ev.max_flow_excess_kw,
            "max_voltage_violation_pu2": ev.max_w_excess,
            "price_change": change,
            "eva_s": t1 - t0,
            "wall_s": time.perf_counter() - t0,
        } | extra
        history.append(row)
        if progress is not None:
            progress(row)
        if not violated:
            converged = True
            break
        if k < opts.max_iter:
            tariff = new
    return LoopResult(prices, tariff, responses, history, converged, grid, lim)
