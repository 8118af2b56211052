"""DistFlow OPF (SOC relaxation), the Pyomo path against the matrix engine, on built-in feeders:

    python -m benchmarks.bench_distflow_engine                      # ieee33 and feeder1000-ev
    python -m benchmarks.bench_distflow_engine --cases ieee33 --rounds 3

Each case and path runs in its own process, one after the other; the table holds the medians
over the rounds. Times (s): ``build`` the model declaration (Pyomo block with its cone list /
engine sets), ``handover`` compiling and stacking it for Clarabel (Pyomo: standard form and
cone rows; engine: ``assemble`` plus the cone rows of ``solve_clarabel``), ``solve`` Clarabel,
``dlmp`` the DLMP decomposition. The engine's objective is checked against Pyomo's (1e-7,
when both report "Solved").
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time


def _pyomo(name: str) -> dict:
    from cases.builtin import load_case
    from coupling.problems.grid import build_opf_distflow
    from power.distflow import _cone_matrix
    from power.dlmp import distflow_dlmp_arrays
    from power.solve import ConicForm, _compile_constraints, objective_of

    case = load_case(name)
    f = case.feeder
    t0 = time.perf_counter()
    m = build_opf_distflow(case)
    t1 = time.perf_counter()
    obj, sign, repn, qvars = objective_of(m)
    info = _compile_constraints(m, obj, qvars)
    pos = {id(v): i for i, v in enumerate(info.columns)}
    form = ConicForm.build(info, sign, repn, extra=_cone_matrix(m.grid.socs, pos, len(pos)))
    t2 = time.perf_counter()
    sol = form.solve_stable()
    t3 = time.perf_counter()
    # the DLMP decomposition needs the ConicResult of solve_socp: time that part on a re-solve
    from power.distflow import solve_socp

    res = solve_socp(m, m.grid.socs)
    t4 = time.perf_counter()
    distflow_dlmp_arrays(m.grid, f, res)
    t5 = time.perf_counter()
    return {
        "build": t1 - t0,
        "handover": t2 - t1,
        "solve": t3 - t2,
        "dlmp": t5 - t4,
        "objective": res.objective,
        "status": str(sol.status),
    }


def _engine(name: str) -> dict:
    from cases.builtin import load_case
    from engine.assemble import assemble
    from engine.clarabel_qp import solve_clarabel
    from engine.problem import Problem
    from power.distflow_engine import declare_distflow
    from power.distflow_engine_dlmp import distflow_dlmp_parts

    f = load_case(name).feeder
    t0 = time.perf_counter()
    prob = Problem()
    declare_distflow(prob, f)
    t1 = time.perf_counter()
    asm = assemble(prob)
    t2 = time.perf_counter()
    sol = solve_clarabel(asm)
    t3 = time.perf_counter()
    distflow_dlmp_parts(sol, f)
    t4 = time.perf_counter()
    return {
        "build": t1 - t0,
        "handover": t2 - t1 + sol.handover_s,
        "solve": sol.solve_s,
        "dlmp": t4 - t3,
        "objective": sol.objective,
        "status": sol.status,
        "size": list(asm.shape) + [asm.cone_a.shape[0]],
    }


def _run(name: str, path: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_distflow_engine", "--one", name, path],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", nargs="+", default=["ieee33", "feeder1000-ev"])
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--one", nargs=2, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.one:
        name, path = a.one
        print(json.dumps((_pyomo if path == "pyomo" else _engine)(name)))
        return
    keys = ("build", "handover", "solve", "dlmp")
    print(f"{'case':<15}{'path':<8}" + "".join(f"{k:>10}" for k in keys) + "   objective")
    for name in a.cases:
        runs = {p: [_run(name, p) for _ in range(a.rounds)] for p in ("pyomo", "engine")}
        for p, rs in runs.items():
            med = {k: statistics.median(r[k] for r in rs) for k in keys}
            line = f"{name:<15}{p:<8}" + "".join(f"{med[k]:>10.2f}" for k in keys)
            print(f"{line}   {rs[0]['objective']:.6f} {rs[0]['status']} {rs[0].get('size', '')}")
        ref, got = runs["pyomo"][0]["objective"], runs["engine"][0]["objective"]
        rel = abs(got - ref) / abs(ref)
        print(f"{name:<15}objective relative difference {rel:.2e}")
        # Clarabel's "AlmostSolved" (reduced tolerances, feeder1000-ev) is not held to 1e-7
        if all(r[0]["status"] == "Solved" for r in runs.values()):
            assert rel <= 1e-7, rel


if __name__ == "__main__":
    main()
