"""LinDistFlow OPF, 96 steps, three ways on the same LP: the matrix engine, the Pyomo path and
linopy (reference; skipped when not installed). One command prints the table:

    python -m benchmarks.bench_engine                 # 1000 and 3000 buses, 3 rounds
    python -m benchmarks.bench_engine --sizes 1000 --rounds 1

Each measurement runs in its own process, so peak memory (max RSS, MB) is its own; the rounds
interleave the three variants, and the table holds medians. Times (s): ``build`` the model
declaration, ``handover`` assembling and passing it to HiGHS, ``solve`` HiGHS, ``extract``
reading flows, voltages and the balance duals back into tables; linopy's ``solve`` includes its
hand-over. ``ratio`` is the variant's total over linopy's in the same rounds. Every variant's
objective is checked against the engine's (relative 1e-7). The feeders are
``benchmarks.synthetic.synthetic_feeder`` with the loads scaled (see ``_feeder``).
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time


def _feeder(n: int):
    """The synthetic feeder of ``n`` buses with its loads scaled by (1000 / n)^2: the tree
    deepens with n, and at 3000 buses the unscaled (or 1/3-scaled) feeder has no voltage
    solution; scaled, its lowest voltage is 0.92 pu."""
    import dataclasses

    from benchmarks.synthetic import synthetic_feeder

    f = synthetic_feeder(n)
    loads = f.loads.copy()
    loads[["p_kw", "q_kvar"]] *= min(1.0, (1000.0 / n) ** 2)
    return dataclasses.replace(f, loads=loads)


def _engine(n: int) -> dict:
    from engine.assemble import assemble
    from engine.highs import handover
    from engine.problem import Problem
    from power.lindistflow_engine import declare_lindistflow

    f = _feeder(n)
    t0 = time.perf_counter()
    prob = Problem()
    declare_lindistflow(prob, f)
    t1 = time.perf_counter()
    asm = assemble(prob)
    h = handover(asm, solver="choose")
    t2 = time.perf_counter()
    h.run()
    t3 = time.perf_counter()
    import highspy
    import numpy as np

    assert h.getModelStatus() == highspy.HighsModelStatus.kOptimal, h.getModelStatus()

    from engine.highs import Solved
    from engine.router import table

    sol = h.getSolution()
    solved = Solved(
        asm,
        np.asarray(sol.col_value),
        np.asarray(sol.row_dual),
        np.asarray(sol.col_dual),
        h.getInfo().objective_function_value,
        "",
        "choose",
        t2 - t1,
        t3 - t2,
    )
    lines = table(solved, p_kw="p")
    buses = table(solved, w="w", dlmp="y:p_bal")
    t4 = time.perf_counter()
    assert len(lines) and len(buses)
    return {
        "build_s": t1 - t0,
        "handover_s": t2 - t1,
        "solve_s": t3 - t2,
        "extract_s": t4 - t3,
        "objective": solved.objective,
    }


def _pyomo(n: int) -> dict:
    import pyomo.environ as pyo

    from power.lindistflow import GridOptions, add_lindistflow
    from power.solve import solve

    f = _feeder(n)
    t0 = time.perf_counter()
    m = pyo.ConcreteModel()
    add_lindistflow(m, f, GridOptions())
    m.obj = pyo.Objective(expr=m.cost)
    t1 = time.perf_counter()
    res = solve(m, duals=True)
    t2 = time.perf_counter()
    rows = [(k, t, m.p[k, t].value) for k in f.line_ids for t in range(f.steps)]
    duals = res.duals
    y = [duals[m.p_bal[b, t]] for b in f.bus_ids for t in range(f.steps)]
    t3 = time.perf_counter()
    assert rows and y
    hand = res.solve_s - res.readback_s  # compile + pass + HiGHS; HiGHS alone not separable
    return {
        "build_s": t1 - t0,
        "handover_s": float("nan"),
        "solve_s": hand,
        "extract_s": (t2 - t1 - hand) + (t3 - t2),
        "objective": res.objective,
    }


def _linopy(n: int) -> dict:
    from benchmarks.linopy_lindistflow import build_and_solve

    r = build_and_solve(_feeder(n))
    return {"handover_s": float("nan"), "extract_s": float("nan"), **r}


VARIANTS = {"engine": _engine, "pyomo": _pyomo, "linopy": _linopy}


def _child(variant: str, n: int) -> None:
    import warnings

    warnings.filterwarnings("ignore")
    out = VARIANTS[variant](n)
    out["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))


def _measure(variant: str, n: int) -> dict | None:
    r = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_engine", "--child", variant, str(n)],
        capture_output=True,
        text=True,
        check=False,
    )
    if r.returncode != 0:
        if "No module named 'linopy'" in r.stderr:
            return None
        raise RuntimeError(f"{variant} {n}: {r.stderr[-2000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 3000])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        _child(a.child[0], int(a.child[1]))
        return
    cols = ("build_s", "handover_s", "solve_s", "extract_s", "peak_mb")
    print(f"{'buses':>6} {'variant':<8}" + "".join(f"{c:>11}" for c in cols) + "  total_s  ratio")
    for n in a.sizes:
        runs: dict[str, list[dict]] = {v: [] for v in VARIANTS}
        for _ in range(a.rounds):
            for v in VARIANTS:
                r = _measure(v, n)
                if r is not None:
                    runs[v].append(r)
        med = {
            v: {k: statistics.median(r[k] for r in rs) for k in (*cols, "objective")}
            for v, rs in runs.items()
            if rs
        }
        tot = {
            v: sum(x for k, x in m.items() if k.endswith("_s") and x == x) for v, m in med.items()
        }
        ref = med["engine"]["objective"]
        for v, m in med.items():
            assert abs(m["objective"] - ref) <= 1e-7 * abs(ref), (v, m["objective"], ref)
            ratio = tot[v] / tot["linopy"] if "linopy" in tot else float("nan")
            print(
                f"{n:>6} {v:<8}"
                + "".join(f"{m[c]:>11.2f}" for c in cols)
                + f"{tot[v]:>9.2f}{ratio:>7.2f}"
            )


if __name__ == "__main__":
    main()
