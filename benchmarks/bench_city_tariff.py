"""``evtp tariff`` on city-size coupled cases, stage by stage, and the solver per problem class.

    python -m benchmarks.bench_city_tariff                      # the 13 x 13 grid city
    python -m benchmarks.bench_city_tariff --case FOLDER ...    # any case folder
    python -m benchmarks.bench_city_tariff --solvers            # + solver methods per class
    python -m benchmarks.bench_city_tariff --aggregators 2 --workers 0 1 2 --max-iter 3

The grid city is the one of ``benchmarks/bench_cities.py`` (169 nodes, 4,290 OD pairs, ieee33,
1 % EVs, 24 x 1 h, 6 stations, ``--min-od-vehicles 1``). Per case, in one process each: case
build (s), the tariff job's stages (building the models, the DSO stage with its AC re-solves,
the loop, reporting: AC check, out-of-sample draws and tables), the wall time and the peak
memory (max RSS, MB), the rounds and what the solvers were.

``--aggregators K`` builds the grid city with its demand split among K aggregators (by origin
zone, ``evtp build --aggregators``); ``--workers 0 1 2`` runs the tariff job once per count:
0 in process (aggregators in threads), N on a local Dask cluster of N worker processes
(``evtp tariff --workers N``). ``place_s`` is the time to start the cluster and send the
aggregators' problems (part of ``loop_s``); ``worker_peak_mb`` the largest worker's max RSS.

``--solvers`` takes the DSO problem of the first case apart (``engine/split.py``) and times each
problem class with the candidate methods: the grid-coupled QP part with Clarabel at 1e-10 and
1e-8 and with its faer solver on two threads; the traffic-only LP parts with HiGHS' interior
point and dual simplex, in chunks of 2,000 columns, and the whole problem in one Clarabel call.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def grid_city(out: Path, aggregators: int = 1) -> Path:
    """The grid city coupled to ieee33 (its demand split among ``aggregators``), written as a
    case folder ``out``."""
    from cases.builtin import load_case
    from cases.folder import write_case
    from cases.tntp_case import TntpBuild, build_tntp_case
    from traffic.ev_demand import EvDemandModel
    from traffic.grid_city import write_grid_city

    f = write_grid_city(out.parent / "tntp", n=13, zones=66)
    case = build_tntp_case(
        load_case("ieee33"),
        f["net"],
        f["trips"],
        f["nodes"],
        EvDemandModel(ev_share=0.01),
        TntpBuild(stations=6, steps=24, dt_h=1.0, aggregators=aggregators),
    )
    write_case(case, out)
    return out


class ChildPeak:
    """Largest resident memory (MB) of any child process (the Dask workers), sampled every
    0.2 s in a thread (``ru_maxrss`` of children counts the parent's memory at fork)."""

    def __init__(self) -> None:
        import threading

        self.mb, self._stop = 0.0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        import psutil

        me = psutil.Process()
        while not self._stop.wait(0.2):
            for child in me.children(recursive=True):
                try:
                    self.mb = max(self.mb, child.memory_info().rss / 2**20)
                except psutil.Error:
                    pass

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.mb


def one(folder: str, workers: int = 0, max_iter: int | None = None) -> dict:
    """The tariff job on ``folder``, stage by stage (run in a process of its own), with the
    aggregators on ``workers`` Dask workers (0: in process), at most ``max_iter`` rounds
    (None: the case's)."""
    from cases.builtin import load_case
    from coupling.jobs.tariff import TariffOptions, finish_tariff, loop_options, solve_tariff
    from coupling.problems.dso import aggregators

    children = ChildPeak()
    t0 = time.perf_counter()
    case = load_case(folder)
    opts = TariffOptions(workers=workers, loop=loop_options(case, max_iter=max_iter))
    t1 = time.perf_counter()
    sol = solve_tariff(case, opts)
    t2 = time.perf_counter()
    run = finish_tariff(case, opts, sol)
    t3 = time.perf_counter()
    s = run.summary
    return {
        "case": case.name,
        "aggregators": len(aggregators(case)),
        "workers": workers,
        "load_s": t1 - t0,
        "build_s": sol.timings["build_s"],
        "dso_s": sol.timings["dso_solve_s"],
        "ac_resolves": s["ac_resolves"],
        "loop_s": sol.timings["loop_s"],
        "place_s": sol.timings["place_s"],
        "rounds": s["iterations"],
        "report_s": t3 - t2,
        "wall_s": t3 - t0,
        "peak_mb": peak_mb(),
        "worker_peak_mb": children.stop(),
        "max_line_loading_ac": s["max_line_loading_ac"],
        "solver": s["solver_method"],
        "lp_parts_reused": s["lp_parts_reused"],
    }


def solvers(folder: str) -> list[dict]:
    """The DSO problem of ``folder`` by problem class and solver method (module docstring)."""
    from dataclasses import replace

    import clarabel
    import numpy as np

    from cases.builtin import load_case
    from coupling.problems.case_dta import case_dta, case_paths
    from coupling.problems.dso import MarketParams, aggregators, station_bus
    from coupling.problems.market import declare_dso
    from engine.assemble import assemble
    from engine.clarabel_qp import solve_clarabel
    from engine.highs import solve_highs
    from engine.split import _chunks, coupled_parts, parts, subproblem
    from power.limits import effective_limits, fixed_q_flows

    case = load_case(folder)
    f = case.feeder
    paths = case_paths(case)
    structs = {a: case_dta(case, paths, aggregators=[a]) for a in aggregators(case)}
    mp = MarketParams.from_case(case)
    lim = effective_limits(f, fixed_q_flows(f))
    asm = assemble(declare_dso(structs, f, station_bus(case), lim, mp.beta, mp.eps))
    pt = parts(asm)
    hot = coupled_parts(asm, pt, ["charge_kw"])  # as coupling.problems.market solves it

    def sub(ids: np.ndarray, q: bool = True):
        part = subproblem(asm, pt, ids)[0]
        return part if q else replace(part, q=None)

    rows: list[dict] = []

    def timed(cls: str, method: str, size: tuple[int, int], fn) -> None:
        t = time.perf_counter()
        try:
            obj = fn()
            out = f"{obj:.9g}"
        except Exception as exc:  # noqa: BLE001 - a method that fails is a measurement too
            out = f"failed: {exc}"[:60]
        rows.append(
            {"class": cls, "method": method, "rows x cols": f"{size[0]:,} x {size[1]:,}",
             "s": time.perf_counter() - t, "objective": out}
        )  # fmt: skip
        print(rows[-1], flush=True)

    qp = sub(np.flatnonzero(hot))
    timed("grid-coupled QP", "Clarabel 1e-10", qp.shape, lambda: solve_clarabel(qp).objective)
    timed("grid-coupled QP", "Clarabel 1e-8", qp.shape, lambda: solve_clarabel(qp, 1e-8).objective)
    default = clarabel.DefaultSettings

    def faer() -> float:
        def settings():
            s = default()
            s.direct_solve_method, s.max_threads = "faer", 2
            return s

        clarabel.DefaultSettings = settings
        try:
            return solve_clarabel(qp, 1e-8).objective
        finally:
            clarabel.DefaultSettings = default

    timed("grid-coupled QP", "Clarabel 1e-8, faer x 2 threads", qp.shape, faer)
    lp_ids = np.flatnonzero(~hot)
    sizes = [(int(i), int(pt.col_start[i + 1] - pt.col_start[i])) for i in lp_ids]
    chunks = _chunks(sizes, 2000)
    n_lp = int(sum(n for _, n in sizes))
    for method, opts in (("ipm", {"run_crossover": "off"}), ("simplex", {})):

        def lps(method=method, opts=opts) -> float:
            return sum(solve_highs(sub(np.asarray(c), q=False), method, **opts).objective
                       for c in chunks)  # fmt: skip

        timed(f"{len(lp_ids)} LP parts", f"HiGHS {method}, chunks of 2,000", (0, n_lp), lps)
    timed("whole problem", "Clarabel 1e-8, one call", asm.shape,
          lambda: solve_clarabel(asm, 1e-8).objective)  # fmt: skip
    return rows


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--case", nargs="*", default=None, help="case folders (default: grid city)")
    ap.add_argument("--solvers", action="store_true", help="also time solver methods per class")
    ap.add_argument("--aggregators", type=int, default=1, help="grid city's aggregators")
    ap.add_argument(
        "--workers", type=int, nargs="*", default=[0], help="Dask workers per run (0: none)"
    )
    ap.add_argument("--max-iter", type=int, help="loop rounds at most (default: the case's)")
    ap.add_argument("--one", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.one:
        print(json.dumps(one(args.one, args.workers[0], args.max_iter)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        folders = args.case
        if not folders:
            t = time.perf_counter()
            folders = [str(grid_city(Path(tmp) / "gridcity", args.aggregators))]
            print(f"grid city built in {time.perf_counter() - t:.1f} s", flush=True)
        rows = []
        for folder in folders:
            for w in args.workers:
                out = subprocess.run(
                    [sys.executable, "-m", "benchmarks.bench_city_tariff", "--one", folder]
                    + ["--workers", str(w)]
                    + ([] if args.max_iter is None else ["--max-iter", str(args.max_iter)]),
                    capture_output=True,
                    text=True,
                    check=True,
                )
                rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
                print(rows[-1], flush=True)
        keys = [k for k in rows[0] if k != "solver"]
        print("| " + " | ".join(keys) + " |")
        print("|" + "---|" * len(keys))
        for r in rows:
            cells = [f"{r[k]:.2f}" if isinstance(r[k], float) else str(r[k]) for k in keys]
            print("| " + " | ".join(cells) + " |")
        for r in rows:
            print(f"{r['case']}: {r['solver']}")
        if args.solvers:
            res = solvers(folders[0])
            print("| class | method | rows x cols | s | objective |\n|---|---|---|---|---|")
            for r in res:
                print(f"| {r['class']} | {r['method']} | {r['rows x cols']} | {r['s']:.1f} | "
                      f"{r['objective']} |")  # fmt: skip


if __name__ == "__main__":
    main()
