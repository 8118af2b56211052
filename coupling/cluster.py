"""Dask clusters for evtp's jobs: a local cluster of single-threaded worker processes, or a
running scheduler given by its address.

Sweeps (``evtp sweep``) place whole runs on the workers; ``evtp tariff --workers N`` /
``--scheduler ADDRESS`` places the aggregators' problems (:mod:`coupling.problems.remote`).
To use several machines, start a scheduler on one (``dask scheduler``) and a worker on each
(``dask worker ADDRESS --nthreads 1``); every worker needs evtp installed, and a case given as
a folder must be readable at the same path on every machine.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class ClusterError(RuntimeError):
    """The Dask cluster cannot be used (unreachable scheduler, no workers)."""


def connect(address: str, timeout_s: float = 30.0) -> Any:
    """A client of the running scheduler at ``address`` (10 s to connect) with at least one
    worker (``timeout_s`` to wait for it)."""
    from dask.distributed import Client

    try:
        client = Client(address, timeout=10)
    except (OSError, TimeoutError) as exc:
        raise ClusterError(f"--scheduler {address}: cannot connect ({exc})") from None
    try:
        client.wait_for_workers(1, timeout=timeout_s)
    except TimeoutError:
        client.close()
        raise ClusterError(
            f"--scheduler {address}: no worker connected within {timeout_s:g} s "
            "(start one with: dask worker ADDRESS --nthreads 1)"
        ) from None
    return client


@contextmanager
def dask_client(workers: int = 2, scheduler: str | None = None) -> Iterator[Any]:
    """A client of the scheduler at ``scheduler``, else of a new local cluster of ``workers``
    single-threaded processes (closed on exit)."""
    from dask.distributed import Client, LocalCluster

    if scheduler is None and workers < 1:
        raise ClusterError(f"--workers {workers}: a local cluster needs at least 1 worker")
    cluster = client = None
    try:
        if scheduler:
            client = connect(scheduler)
        else:
            cluster = LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
            )
            client = Client(cluster)
        yield client
    finally:
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()


def worker_addresses(client: Any) -> list[str]:
    """The addresses of the client's workers, sorted."""
    return sorted(client.scheduler_info()["workers"])
