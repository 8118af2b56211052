"""The aggregators' problems of the tariff loop on a Dask cluster (``evtp tariff --workers N``
or ``--scheduler ADDRESS``).

Each aggregator's assembled problem is sent once to one worker (round robin over the sorted
worker addresses), where a Dask actor (:class:`AggregatorActor`) keeps it with its LP-part
cache (:class:`engine.split.PartCache`, seeded with the DSO stage's parts) and its last
response. Each round of the loop then sends only the aggregator's tariff (stations x steps,
currency/kWh) and gets back the solution vectors; the actor re-prices the same matrices
(:func:`coupling.problems.market.set_tariff`), accepts its last response when it still meets
the KKT conditions (:func:`engine.certify.certify`) and otherwise solves
(:func:`coupling.problems.market.solve_market`). The answers are those of the in-process run,
the same solvers on the same data; only where the work runs changes.

The first round's known solution (the DSO's schedule, for one aggregator) is carried onto
the aggregator's sets in this process (:func:`engine.certify.carry`) and sent as vectors.
"""

from __future__ import annotations

import os
from dataclasses import replace
from typing import Any

import numpy as np

from coupling.cluster import worker_addresses
from coupling.problems.market import set_tariff, solve_market
from engine.assemble import Assembled
from engine.certify import carry, certify
from engine.highs import Solved
from engine.split import PartCache


class AggregatorActor:
    """One aggregator's problem on a worker (a Dask actor): ``respond(tariff)`` per round.

    asm : the assembled EVA problem. cache : LP parts already solved. price : (steps,)
    energy price (currency/kWh). dt : step (h). known : ``(x, y, z)`` of a candidate
    solution on ``asm``'s sets, or None; known_method : how it was found. threads :
    Clarabel's threads (None: the solver's default by problem size)."""

    def __init__(
        self,
        asm: Assembled,
        cache: PartCache,
        price: np.ndarray,
        dt: float,
        known: tuple[np.ndarray, np.ndarray, np.ndarray] | None,
        known_method: str,
        threads: int | None,
    ) -> None:
        self.asm, self.cache, self.price, self.dt, self.threads = asm, cache, price, dt, threads
        self.last = None if known is None else Solved(asm, *known, np.nan, "", known_method, 0, 0)

    def respond(self, tariff: np.ndarray) -> tuple[Solved, int]:
        """The aggregator's optimal response to ``tariff`` (stations x steps, currency/kWh),
        without its problem (the caller holds a copy; only the vectors travel back), and the
        LP parts taken from the actor's cache so far."""
        set_tariff(self.asm, self.price, tariff, self.dt)
        sol = certify(self.asm, self.last) if self.last is not None else None
        if sol is None:
            sol = solve_market(self.asm, self.cache, threads=self.threads)
        self.last = sol
        return replace(sol, assembled=None), self.cache.hits


class DaskAggregators:
    """The aggregators' actors on ``client``'s workers; calling it with one tariff per
    aggregator returns their responses as :class:`engine.highs.Solved` on this process's
    copies of the problems (so tables are read as in-process)."""

    def __init__(
        self,
        client: Any,
        evas: dict[str, Assembled],
        cache: PartCache,
        price: np.ndarray,
        dt: float,
        known: Solved | None,
    ) -> None:
        workers = worker_addresses(client)
        cores = client.run(os.cpu_count)  # Clarabel's threads: the host's cores, shared
        host = [w.rsplit(":", 1)[0] for w in workers]
        self.evas, self.base_hits = evas, cache.hits
        self.hits = {a: cache.hits for a in evas}
        self.placement: dict[str, str] = {}
        futures = {}
        for i, (a, asm) in enumerate(evas.items()):
            w = workers[i % len(workers)]
            self.placement[a] = w
            threads = max(1, (cores[w] or 1) // host.count(host[i % len(workers)]))
            start = None if known is None else carry(asm, known)
            # the problem and a cache of its own (hash=False: never one instance shared by
            # two actors) go to the worker as data, not in the task graph
            data = client.scatter([asm, cache], workers=[w], hash=False)
            futures[a] = client.submit(
                AggregatorActor,
                *data,
                price,
                dt,
                start,
                "" if known is None else known.method,
                threads,
                workers=[w],
                actor=True,
                pure=False,
            )
        self.actors = {a: f.result() for a, f in futures.items()}

    def __call__(self, tariffs: dict[str, np.ndarray]) -> dict[str, Solved]:
        """Responses to one tariff (stations x steps) per aggregator, solved on the workers
        at the same time."""
        pending = {a: self.actors[a].respond(t) for a, t in tariffs.items()}
        out = {}
        for a, fut in pending.items():
            sol, self.hits[a] = fut.result()
            out[a] = replace(sol, assembled=self.evas[a])
        return out

    @property
    def parts_cached(self) -> int:
        """LP parts taken from a cache instead of solved, over the DSO stage and every
        actor (as the in-process run's one cache counts them)."""
        return self.base_hits + sum(h - self.base_hits for h in self.hits.values())
