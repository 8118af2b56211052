"""Parameter sweeps of the tariff and strategy jobs on Dask (``evtp sweep``).

Each point is one independent ``evtp tariff`` run with one parameter changed: ``gamma`` (the
robust budget) or any scalar of the case's ``[parameters]`` (e.g. ``beta``, ``eps``); or, with
a strategy (``evtp sweep CASE --strategy grid --param ev_share=0.1:1:0.1``), one ``evtp
strategy`` run per EV share, judged in AC like ``evtp hosting``
(:mod:`coupling.studies.hosting`; its
row has the columns of ``hosting.csv``). Points
run on a Dask ``LocalCluster`` of ``workers`` single-threaded processes, or on a running
scheduler when its address is given (start one with ``dask scheduler`` and workers with
``dask worker ADDRESS --nthreads 1`` on each machine; every worker needs evtp installed and
the case folder at the same path; the sweep folder is written by this process only).
Results do not depend on where a point runs.

A point is several Dask tasks in three stages: the optimisation (DSO problem, tariffs,
aggregator loop; :func:`coupling.jobs.tariff.solve_tariff`), the reporting (AC check,
out-of-sample evaluation, tables, summary; :func:`coupling.jobs.tariff.finish_tariff`) and one
task per figure. Each stage receives the previous stage's arrays, so the reporting and the
figures of one point run beside the optimisation of another and a few points load the workers
evenly (5 indivisible points on 2 workers could not run faster than 5 / 3 = 1.67x of one).

A strategy point is one stage (the whole run) followed by its figures.

The sweep folder holds one run folder per point (``gamma=0.5/``), ``sweep.csv`` with the
headline figures of every point (results only: identical sweeps give identical files) and
``sweep.json`` with the job (``tariff``, or ``strategy`` and its name) and the timings
(``wall_s``, the whole sweep; ``points``, each point's ``build_s`` and ``solve_s``); it is
written atomically like every run folder. ``evtp report SWEEP_DIR`` draws it
(:mod:`coupling.studies.sweep_report`).
"""

from __future__ import annotations

import json
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
from cases.parameters import ParameterError, lookup
from coupling.cluster import ClusterError, dask_client
from coupling.output.clean import clean_table
from coupling.output.runfolder import Run, write_run
from coupling.output.summary import columns

SweepError = ClusterError  # the sweep's cluster cannot be used (its earlier name)


# summary keys of a tariff point in sweep.csv (the sweep= positions of the typed summary)
SWEEP_COLUMNS = columns("sweep")
POINT_TIMINGS = ("build_s", "solve_s")  # per point, in sweep.json


MAX_POINTS = 10_000  # a sweep of more points is a typing error (each point is a tariff run)


def parse_param(spec: str, max_points: int = MAX_POINTS) -> tuple[str, list[float]]:
    """``NAME=start:stop:step`` (stop included) or ``NAME=v1,v2,...`` -> (name, values).

    The points are counted before any is built or validated: more than ``max_points``, or a
    bound that is not a finite number, is refused at once.
    """
    if "=" not in spec:
        raise CaseError(f"--param {spec!r}: expected NAME=start:stop:step or NAME=v1,v2,...")
    name, rng = spec.split("=", 1)
    name = name.strip()
    if not name:
        raise CaseError(f"--param {spec!r}: the parameter name is empty (NAME=start:stop:step)")
    values = parse_values(rng, f"--param {spec!r}", max_points)
    labels = [point_label(name, v) for v in values]
    dup = next((lab for i, lab in enumerate(labels) if lab in labels[:i]), None)
    if dup is not None:
        raise CaseError(
            f"--param {spec!r}: two points share the folder name {dup!r} (give distinct values)"
        )
    return name, values


def parse_values(rng: str, what: str, max_points: int = MAX_POINTS) -> list[float]:
    """``start:stop:step`` (stop included) or ``v1,v2,...`` -> values; errors name ``what``
    (e.g. ``--shares '0:1'``)."""
    try:
        nums = [float(x) for x in rng.split(":" if ":" in rng else ",")]
    except ValueError:
        raise CaseError(
            f"{what}: give numbers, as start:stop:step with step > 0 or v1,v2,..."
        ) from None
    bad = next((x for x in nums if not np.isfinite(x)), None)
    if bad is not None:
        raise CaseError(f"{what}: {bad} is not a finite number (give finite bounds)")
    if ":" in rng:
        if len(nums) != 3:
            raise CaseError(f"{what}: the range must be start:stop:step")
        start, stop, step = nums
        if step <= 0 or stop < start:
            raise CaseError(
                f"{what}: the range must be start:stop:step with step > 0 and stop >= start"
            )
        count = np.floor((stop - start) / step + 1e-9) + 1
        if not np.isfinite(count) or count > max_points:
            raise CaseError(
                f"{what}: {count:.3g} points, more than the {max_points} a sweep "
                "may have (use a larger step)"
            )
        return [round(start + i * step, 12) for i in range(int(count))]
    if len(nums) > max_points:
        raise CaseError(f"{what}: {len(nums)} points, more than the {max_points} a sweep may have")
    return nums


def with_param(case: Case, name: str, value: float) -> Case:
    """``case`` with ``gamma`` or ``[parameters] name`` set to ``value`` (validated)."""
    if name != "gamma":
        try:
            lookup(name)
        except ParameterError as exc:
            msg = str(exc).split(": ", 1)[-1].replace("[parameters] ", "")
            raise CaseError(f"--param {name}: {msg} (gamma or a [parameters] key)") from None
    try:
        if name == "gamma":
            return replace(case, gamma=value)
        return replace(case, parameters={**case.parameters, name: value})
    except CaseError as exc:
        msg = str(exc).split(": ", 1)[-1]
        raise CaseError(f"--param {name}={value:g}: {msg}") from None


def point_label(name: str, value: float) -> str:
    """Folder name of a sweep point: ``name=value`` with value in shortest exact form."""
    short = f"{value:g}"
    return f"{name}={short if float(short) == value else repr(float(value))}"


def _point(case_spec: str, name: str, value: float, samples: int, ac_correction: bool = True):
    """The case and tariff options of a tariff point."""
    from coupling.jobs.tariff import TariffOptions, loop_options

    case = with_param(load_case(case_spec), name, value)
    # the loop options of `evtp tariff CASE`; one core per Dask worker
    opts = TariffOptions(
        samples=samples, parallel=False, loop=loop_options(case), ac_correction=ac_correction
    )
    return case, opts


def _command(name: str, value: float, strategy: str | None = None) -> str:
    if strategy is not None:
        return f"evtp sweep --strategy {strategy} {point_label(name, value)}"
    return f"evtp sweep {point_label(name, value)}"


def check_strategy_sweep(case: Case, strategy: str, name: str, values: list[float]) -> None:
    """A strategy sweep sweeps ``ev_share`` in (0, 1] of a case with a stationary fleet."""
    from coupling.jobs.strategy import STRATEGIES
    from coupling.studies.hosting import check_shares

    if strategy not in STRATEGIES:
        raise CaseError(f"--strategy {strategy}: unknown ({', '.join(STRATEGIES)})")
    if case.fleet is None:
        raise CaseError(
            f"--strategy {strategy}: case {case.name!r} has no stationary fleet (fleet/evs.csv)"
        )
    if name != "ev_share":
        raise CaseError(
            f"--param {name}: a strategy sweep sweeps ev_share (e.g. ev_share=0.1:1:0.1); "
            "the strategies read no other parameter"
        )
    try:
        check_shares(values)
    except CaseError as exc:
        raise CaseError(str(exc).replace("--shares", f"--param {name}")) from None


def solve_point(
    case_spec: str,
    name: str,
    value: float,
    samples: int,
    ac_correction: bool = True,
    strategy: str | None = None,
) -> Any:
    """Stage 1 of a point: the optimisation (a :class:`~coupling.jobs.tariff.TariffSolution`);
    a fleet-market case (seed 000) and a strategy point (``strategy``: EV share ``value``,
    judged in AC by :func:`coupling.studies.hosting.judged_run`) run whole here and return a
    :class:`Run`."""
    if strategy is not None:
        from coupling.studies.hosting import judged_run

        cmd = _command(name, value, strategy)
        return judged_run(
            load_case(case_spec), strategy, value, ac_correction=ac_correction, command=cmd
        )
    from coupling.jobs.tariff import is_fleet_market, run_tariff, solve_tariff

    case, opts = _point(case_spec, name, value, samples, ac_correction)
    if is_fleet_market(case):
        return run_tariff(case, opts, command=_command(name, value))
    return solve_tariff(case, opts)


def finish_point(
    case_spec: str,
    name: str,
    value: float,
    samples: int,
    solved: Any,
    ac_correction: bool = True,
) -> Run:
    """Stage 2 of a point: AC check, out-of-sample evaluation, tables and summary, with the
    clock time and limits the figures draw (as ``evtp tariff``/``strategy`` write them)."""
    from coupling.jobs.tariff import finish_tariff
    from coupling.output.figures import figure_context

    if isinstance(solved, Run):
        run, case = solved, load_case(case_spec)
    else:
        case, opts = _point(case_spec, name, value, samples, ac_correction)
        run = finish_tariff(case, opts, solved, command=_command(name, value))
    run.summary.update(figure_context(case))
    return run


def _figure_names(run: Run) -> list[str]:
    from coupling.output.figures import figures_for

    return list(figures_for(run.tables))


def render_figure(name: str, run: Run) -> bytes:
    """Stage 3 of a point, one task per figure: PNG bytes, in clock time with limit lines."""
    from coupling.output.figures import render_png

    return render_png(name, run.tables[_table_of(name)], run.summary)


def _table_of(fig: str) -> str:
    from coupling.output.figures import TABLE_FIGURES

    return TABLE_FIGURES[fig][0]


def write_point(run: Run, pngs: dict[str, bytes], folder: Path, name: str, value: float) -> dict:
    """Write a point's run folder (tables, figures, summary); return its sweep row (the
    columns ``SWEEP_COLUMNS`` of a tariff point, ``coupling.studies.hosting.POINT_COLUMNS`` of a
    strategy point)."""
    from coupling.studies.hosting import POINT_COLUMNS

    figures = {k: (lambda path, b=b: Path(path).write_bytes(b)) for k, b in pngs.items()}
    write_run(run, Path(folder) / point_label(name, value), figures=figures)
    row = {name: value}
    strategy = (run.summary.get("parameters") or {}).get("strategy")
    row.update({k: run.summary.get(k) for k in (POINT_COLUMNS if strategy else SWEEP_COLUMNS)})
    row.update({k: run.summary.get(k) for k in POINT_TIMINGS})
    return row


def run_point(
    case_spec: str,
    name: str,
    value: float,
    folder: str,
    samples: int,
    ac_correction: bool = True,
    strategy: str | None = None,
) -> dict[str, Any]:
    """One sweep point in this process (every stage); return the sweep row."""
    solved = solve_point(case_spec, name, value, samples, ac_correction, strategy)
    run = finish_point(case_spec, name, value, samples, solved, ac_correction)
    pngs = {f: render_figure(f, run) for f in _figure_names(run)}
    return write_point(run, pngs, Path(folder), name, value)


def _warm_up(case_spec: str) -> None:
    """Import the model stack and build the case once in a worker process."""
    import coupling.jobs.tariff  # noqa: F401
    import coupling.output.figures  # noqa: F401

    load_case(case_spec)


def _run_stages(
    client: Any,
    spec: str,
    name: str,
    values: list[float],
    samples: int,
    folder: Path,
    say: Callable[[str], None],
    ac_correction: bool = True,
    strategy: str | None = None,
) -> list[dict[str, Any]]:
    """Run every point's stages on ``client``; write each point folder as it completes.

    Each point is a chain of Dask futures: solve, finish, then one task per figure (its names
    are known once the run is). Dask runs the ready task of highest ``priority`` first: the
    earliest stage (it has the most work behind it), then the earliest point. Runs pass from
    stage to stage between workers; this process gathers the finished runs and figures and
    writes the folders, so workers need no shared file system.
    """
    from dask.distributed import as_completed

    n = len(values)

    def priority(stage: int, i: int) -> int:
        return (2 - stage) * n + (n - i)

    finishing: dict[str, int] = {}  # future key of a point's run -> point
    done = as_completed()
    for i, v in enumerate(values):
        args = (spec, name, v, samples)
        solved = client.submit(
            solve_point, *args, ac_correction, strategy, priority=priority(0, i), pure=False
        )
        fut = client.submit(
            finish_point, *args, solved, ac_correction, priority=priority(1, i), pure=False
        )
        finishing[fut.key] = i
        done.add(fut)
    runs: dict[int, Run] = {}
    pngs: dict[int, dict[str, bytes]] = {}
    drawing: dict[str, tuple[int, str]] = {}  # future key of a figure -> (point, figure)
    rows: list[dict[str, Any]] = []

    def point_done(i: int) -> None:
        rows.append(write_point(runs.pop(i), pngs.pop(i), folder, name, values[i]))
        row = rows[-1]
        judged = "" if "passed" not in row else (", AC pass" if row["passed"] else ", AC FAIL")
        label = point_label(name, values[i])
        say(f"[{len(rows)}/{n}] {label}: objective {row['objective']:.2f}{judged}")

    for fut in done:
        if fut.key in finishing:
            i = finishing.pop(fut.key)
            runs[i], pngs[i] = fut.result(), {}
            for fig in _figure_names(runs[i]):
                g = client.submit(render_figure, fig, fut, priority=priority(2, i), pure=False)
                drawing[g.key] = (i, fig)
                done.add(g)
        else:
            i, fig = drawing.pop(fut.key)
            pngs[i][fig] = fut.result()
        if i in runs and not any(j == i for j, _ in drawing.values()):
            point_done(i)
    return rows


def run_sweep(
    case_spec: str,
    param: str,
    out: str | Path,
    *,
    workers: int = 2,
    scheduler: str | None = None,
    samples: int = 0,
    ac_correction: bool = True,
    strategy: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> pd.DataFrame:
    """Run every point of ``param`` on Dask and write the sweep folder ``out`` atomically.

    Returns ``sweep.csv`` as a table; ``table.attrs["sweep_wall_s"]`` is the wall time of the
    runs (s) and ``table.attrs["points_s"]`` the timings of each point (as in sweep.json)."""
    say = progress or (lambda _: None)
    if scheduler is None and workers < 1:  # before the case is read
        raise ClusterError(f"--workers {workers}: a local cluster needs at least 1 worker")
    name, values = parse_param(param)
    base = load_case(case_spec)
    if strategy is not None:  # fail fast, before any cluster starts, on a bad name or value
        check_strategy_sweep(base, strategy, name, values)
    else:
        for v in values:
            with_param(base, name, v)
    out = Path(out)
    spec = str(Path(case_spec).resolve()) if Path(case_spec).is_dir() else case_spec
    with dask_client(workers, scheduler) as client, atomic_folder(out, kind="sweep") as tmp:
        # workers import the model stack before the clock starts: sweep_wall_s is the time
        # of the runs themselves, comparable between worker counts
        client.run(_warm_up, spec)
        t0 = time.perf_counter()
        rows = _run_stages(client, spec, name, values, samples, tmp, say, ac_correction, strategy)
        wall = time.perf_counter() - t0
        table = pd.DataFrame(rows).sort_values(name, ignore_index=True)
        timings = {
            point_label(name, v): {k: table[k].iloc[i] for k in POINT_TIMINGS}
            for i, v in enumerate(table[name])
        }
        table = table.drop(columns=list(POINT_TIMINGS))
        clean_table(table, keep=(name,)).to_csv(
            tmp / "sweep.csv", index=False, lineterminator="\n", float_format="%.10g"
        )
        info = {
            "param": name,
            "values": values,
            "job": "tariff" if strategy is None else "strategy",
            **({} if strategy is None else {"strategy": strategy}),
            "wall_s": wall,
            "points": timings,
        }
        (tmp / "sweep.json").write_text(json.dumps(info, indent=2, default=float) + "\n")
    table.attrs.update(sweep_wall_s=wall, points_s=timings)
    return table
