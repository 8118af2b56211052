"""Parameter sweeps of the tariff job on Dask (``evtp sweep``).

Each point is one independent ``evtp tariff`` run with one parameter changed: ``gamma`` (the
robust budget) or any scalar of the case's ``[parameters]`` (e.g. ``beta``, ``eps``). Points
run on a Dask ``LocalCluster`` of ``workers`` single-threaded processes, or on a running
scheduler when its address is given (start one with ``dask scheduler`` and workers with
``dask worker ADDRESS --nthreads 1`` on each machine; every worker needs evtp installed and
the case folder at the same path). Results do not depend on where a point runs.

A point is two Dask tasks: the optimisation stage (DSO problem, tariffs, aggregator loop;
:func:`coupling.tariff_job.solve_tariff`) and the reporting stage (AC check, out-of-sample
evaluation, tables, figures, the run folder; :func:`coupling.tariff_job.finish_tariff`), which
receives the first stage's arrays. The reporting stage of one point can thus run beside the
optimisation stage of another, so a few points load the workers evenly (5 indivisible points
on 2 workers could not run faster than 5 / 3 = 1.67x of one worker).

The sweep folder holds one run folder per point (``gamma=0.5/``) and ``sweep.csv`` with the
headline figures of every point; it is written atomically like every run folder.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cases.atomic import atomic_folder
from cases.builtin import load_case
from cases.case import Case, CaseError
from coupling.runfolder import Run, write_run

SWEEP_COLUMNS = (
    "objective",
    "travel_cost",
    "charging_cost",
    "centralised_objective",
    "iterations",
    "converged",
    "max_line_loading",
    "min_voltage_pu",
    "oos_violation_rate",
    "oos_worst_flow_excess_kw",
    "oos_box_violation_rate",
    "oos_box_worst_flow_excess_kw",
    "build_s",
    "solve_s",
)


def parse_param(spec: str) -> tuple[str, list[float]]:
    """``NAME=start:stop:step`` (stop included) or ``NAME=v1,v2,...`` -> (name, values)."""
    if "=" not in spec:
        raise CaseError(f"--param {spec!r}: expected NAME=start:stop:step or NAME=v1,v2,...")
    name, rng = spec.split("=", 1)
    try:
        if ":" in rng:
            start, stop, step = (float(x) for x in rng.split(":"))
            if step <= 0 or stop < start:
                raise ValueError
            n = int(np.floor((stop - start) / step + 1e-9)) + 1
            values = [round(start + i * step, 12) for i in range(n)]
        else:
            values = [float(x) for x in rng.split(",")]
    except ValueError:
        raise CaseError(
            f"--param {spec!r}: the range must be start:stop:step with step > 0"
        ) from None
    return name.strip(), values


def with_param(case: Case, name: str, value: float) -> Case:
    """``case`` with ``gamma`` or ``[parameters] name`` set to ``value``."""
    if name == "gamma":
        return replace(case, gamma=value)
    if name not in case.parameters:
        known = ", ".join(["gamma", *sorted(case.parameters)])
        raise CaseError(f"--param {name}: not a parameter of case {case.name!r} ({known})")
    return replace(case, parameters={**case.parameters, name: value})


def point_label(name: str, value: float) -> str:
    return f"{name}={value:g}"


def _point(case_spec: str, name: str, value: float, samples: int):
    from coupling.tariff_job import TariffOptions, loop_options

    case = with_param(load_case(case_spec), name, value)
    # the loop options of `evtp tariff CASE`; one core per Dask worker
    return case, TariffOptions(samples=samples, parallel=False, loop=loop_options(case))


def solve_point(case_spec: str, name: str, value: float, samples: int) -> Any:
    """Optimisation stage of one point (a :class:`~coupling.tariff_job.TariffSolution`); a
    fleet-market case (seed 000) runs whole here and returns its :class:`Run`."""
    from coupling.tariff_job import is_fleet_market, run_tariff, solve_tariff

    case, opts = _point(case_spec, name, value, samples)
    if is_fleet_market(case):
        return run_tariff(case, opts, command=_command(name, value))
    return solve_tariff(case, opts)


def finish_point(
    case_spec: str, name: str, value: float, samples: int, folder: str, solved: Any
) -> dict[str, Any]:
    """Reporting stage of one point: AC check, tables, figures, its run folder; the sweep row."""
    from coupling.figures import figures_for
    from coupling.tariff_job import finish_tariff

    if isinstance(solved, Run):
        run = solved
    else:
        case, opts = _point(case_spec, name, value, samples)
        run = finish_tariff(case, opts, solved, command=_command(name, value))
    run.figures = run.figures or figures_for(run.tables)
    write_run(run, Path(folder) / point_label(name, value))
    row = {name: value}
    row.update({k: run.summary.get(k) for k in SWEEP_COLUMNS})
    return row


def run_point(case_spec: str, name: str, value: float, folder: str, samples: int) -> dict[str, Any]:
    """One sweep point in this process (both stages); return the sweep row."""
    solved = solve_point(case_spec, name, value, samples)
    return finish_point(case_spec, name, value, samples, folder, solved)


def _command(name: str, value: float) -> str:
    return f"evtp sweep {point_label(name, value)}"


def _warm_up(case_spec: str) -> None:
    """Import the model stack and build the case once in a worker process."""
    import coupling.figures  # noqa: F401
    import coupling.tariff_job  # noqa: F401

    load_case(case_spec)


def run_sweep(
    case_spec: str,
    param: str,
    out: str | Path,
    *,
    workers: int = 2,
    scheduler: str | None = None,
    samples: int = 0,
    progress: Callable[[str], None] | None = None,
) -> pd.DataFrame:
    """Run every point of ``param`` on Dask and write the sweep folder ``out`` atomically."""
    from dask.distributed import Client, LocalCluster, as_completed

    say = progress or (lambda _: None)
    name, values = parse_param(param)
    with_param(load_case(case_spec), name, values[0])  # fail fast on a bad name
    out = Path(out)
    spec = str(Path(case_spec).resolve()) if Path(case_spec).is_dir() else case_spec
    cluster = None
    try:
        with atomic_folder(out) as tmp:
            if scheduler:
                client = Client(scheduler)
            else:
                cluster = LocalCluster(
                    n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
                )
                client = Client(cluster)
            # workers import the model stack before the clock starts: sweep_wall_s is the time
            # of the runs themselves, comparable between worker counts
            client.run(_warm_up, spec)
            t0 = time.perf_counter()
            # two tasks per point, so that the reporting stage of one point (AC check,
            # figures, writing) runs beside the optimisation stage of another: 5 points on 2
            # workers are not bound by 5 / 3 = 1.67x. Stages with more work left go first.
            futures = []
            for v in values:
                solved = client.submit(solve_point, spec, name, v, samples, pure=False, priority=1)
                futures.append(
                    client.submit(
                        finish_point, spec, name, v, samples, str(tmp), solved, pure=False
                    )
                )
            rows = []
            for i, fut in enumerate(as_completed(futures), 1):
                row = fut.result()
                rows.append(row)
                label = point_label(name, row[name])
                say(f"[{i}/{len(values)}] {label}: objective {row['objective']:.2f}")
            client.close()
            table = pd.DataFrame(rows).sort_values(name, ignore_index=True)
            table["sweep_wall_s"] = time.perf_counter() - t0
            table.to_csv(tmp / "sweep.csv", index=False, lineterminator="\n", float_format="%.10g")
        return table
    finally:
        if cluster is not None:
            cluster.close()
