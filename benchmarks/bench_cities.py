"""City-size coupled cases: what ``evtp build --tntp`` makes of real and synthetic cities.

``python -m benchmarks.bench_cities [--solve] [--only NAME ...]`` prints one table. Per city
(synthetic 13 x 13 grid city, Sioux Falls, Anaheim, Chicago-Sketch from ``../shared/data``;
a missing data set is skipped) coupled to ieee33 at 1 % EVs, 24 x 1 h, 6 stations:

- build time (s) and peak memory of the process so far (MB);
- OD pairs of the trip table, demand ODs (3 classes per pair) before and after aggregation,
  and the vehicle-km error of the merge;
- EV driving energy and the least charging energy (kWh), its share of the feeder's energy;
- whether a grid limit can bind (every station at full power);
- with ``--solve``: ``evtp traffic`` (price-only routing and charging) wall time, the station
  energy it charges and its share of the feeder, and whether that schedule breaks a line
  limit of the feeder (then the grid-constrained tariff must bind).
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import numpy as np

from cases.builtin import load_case
from cases.energy import energy_report
from cases.tntp_case import TntpBuild, build_tntp_case
from traffic.ev_demand import EvDemandModel
from traffic.grid_city import write_grid_city

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "transportation-networks"
CITIES = {
    "SiouxFalls": ("SiouxFalls/SiouxFalls_net.tntp", "SiouxFalls/SiouxFalls_trips.tntp",
                   "SiouxFalls/SiouxFalls_node.tntp"),
    "Anaheim": ("Anaheim/Anaheim_net.tntp", "Anaheim/Anaheim_trips.tntp",
                "Anaheim/anaheim_nodes.geojson"),
    "Chicago-Sketch": ("Chicago-Sketch/ChicagoSketch_net.tntp",
                       "Chicago-Sketch/ChicagoSketch_trips.tntp",
                       "Chicago-Sketch/ChicagoSketch_node.tntp"),
}  # fmt: skip


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def files(name: str, tmp: Path) -> tuple[Path, Path, Path] | None:
    if name == "GridCity":
        f = write_grid_city(tmp, n=13, zones=66)
        return f["net"], f["trips"], f["nodes"]
    rel = CITIES[name]
    paths = tuple(DATA / r for r in rel)
    return paths if all(p.is_file() for p in paths) else None  # type: ignore[return-value]


def line_breaks(case, station_kw: np.ndarray) -> bool:
    """Does the price-only station load (stations x steps, kW) push a line over its limit?"""
    from power.sensitivity import sensitivities

    f = case.feeder
    st = case.traffic.stations.table
    load = np.zeros((len(f.bus_ids), f.steps))
    np.add.at(load, st["bus"].map(f.bus_pos).to_numpy(), station_kw)
    flow = np.abs(sensitivities(f).line_flows_kw(f.load_p_kw - f.renewable_p_kw() + load))
    return bool((flow > f.line_p_max_kw * (1 + 1e-6)).any())


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--solve", action="store_true", help="also run evtp traffic on each")
    ap.add_argument("--only", nargs="*", default=None, help="city names")
    ap.add_argument("--min-od-vehicles", type=float, default=1.0)
    ap.add_argument("--max-ods", type=int, default=None)
    args = ap.parse_args(argv)
    names = args.only or ["GridCity", *CITIES]
    feeder = load_case("ieee33")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            fs = files(name, Path(tmp))
            if fs is None:
                print(f"{name}: data not found, skipped")
                continue
            t0 = time.perf_counter()
            case = build_tntp_case(
                feeder,
                *fs,
                EvDemandModel(ev_share=0.01),
                TntpBuild(
                    stations=6,
                    steps=24,
                    dt_h=1.0,
                    min_od_vehicles=args.min_od_vehicles,
                    max_ods=args.max_ods,
                ),
            )
            build_s = time.perf_counter() - t0
            rep = energy_report(case)
            b = case.build
            row = {
                "city": name,
                "build s": f"{build_s:.1f}",
                "OD pairs": b["demand"]["ods"] + b["demand"]["ods_unreachable"],
                "demand ODs before -> after": (
                    f"{b['aggregation']['ods_before']} -> {b['aggregation']['ods_after']}"
                ),
                "veh-km error": f"{b['aggregation']['km_error']:+.1%}",
                "EVs": f"{b['demand']['ev_trips']:.0f}",
                "driving kWh": f"{b['demand']['driving_kwh']:.0f}",
                "charge kWh >=": f"{rep.charge_kwh_min:.0f}",
                "share of feeder": f"{rep.share:.1%}",
                "limit can bind": "yes" if rep.line_can_bind or rep.voltage_can_bind else "no",
            }
            if args.solve:
                from coupling.jobs.traffic import run_traffic

                t1 = time.perf_counter()
                run = run_traffic(case)
                st = run.tables["stations"]
                kw = (
                    st.pivot_table(index="station", columns="t", values="p_kw", aggfunc="sum")
                    .reindex(case.traffic.stations.table["station"])
                    .reindex(columns=range(case.time.steps))
                    .fillna(0.0)
                    .to_numpy()
                )
                kwh = float(kw.sum() * case.time.dt_h)
                row |= {
                    "traffic s": f"{time.perf_counter() - t1:.0f}",
                    "charged kWh": f"{kwh:.0f}",
                    "charged share": f"{kwh / rep.feeder_kwh:.1%}",
                    "arrived": f"{run.summary['vehicles_arrived']:.0f}",
                    "price-only breaks a line": "yes" if line_breaks(case, kw) else "no",
                }
            row["peak MB"] = f"{peak_mb():.0f}"
            rows.append(row)
            print(" | ".join(f"{k}: {v}" for k, v in row.items()), flush=True)
    if rows:
        keys = list(dict.fromkeys(k for r in rows for k in r))
        print("\n| " + " | ".join(keys) + " |")
        print("|" + "---|" * len(keys))
        for r in rows:
            print("| " + " | ".join(str(r.get(k, "")) for k in keys) + " |")


if __name__ == "__main__":
    main()
