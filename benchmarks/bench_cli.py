"""Benchmark: start-up time of the command line (issue 14, "a CLI that talks").

    python -m benchmarks.bench_cli [--repeat 7]

Times ``evtp --help``, ``evtp cases`` and bare ``evtp`` as fresh processes (``python -m
coupling.cli``, the code of this checkout) and prints the median and minimum wall time (s) of
each, beside two references run the same way: a bare Python interpreter, and importing the
model stack (``coupling.jobs.tariff``, i.e. Pyomo, pandapower, pandas), which is what every
start-up cost before the command line imported its model code lazily. The target is < 1 s.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

CASES = {
    "evtp --help": [sys.executable, "-m", "coupling.cli", "--help"],
    "evtp cases": [sys.executable, "-m", "coupling.cli", "cases"],
    "evtp": [sys.executable, "-m", "coupling.cli"],
    "python (reference)": [sys.executable, "-c", "pass"],
    "import model stack (reference)": [sys.executable, "-c", "import coupling.jobs.tariff"],
}


def wall(cmd: list[str]) -> float:
    """Wall time (s) of one run of ``cmd`` (output discarded; a failure raises)."""
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    for cmd in CASES.values():  # warm the file cache once
        wall(cmd)
    times: dict[str, list[float]] = {name: [] for name in CASES}
    for _ in range(args.repeat):  # interleaved, so that a busy phase hits every case alike
        for name, cmd in CASES.items():
            times[name].append(wall(cmd))
    print(f"{'command':<32} {'median s':>9} {'min s':>7}")
    for name, ts in times.items():
        print(f"{name:<32} {statistics.median(ts):>9.3f} {min(ts):>7.3f}")


if __name__ == "__main__":
    main()
