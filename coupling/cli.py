"""The ``evtp`` command line.

Every CASE argument is a built-in case name (``evtp cases``) or a case folder. Bad input ends
with one line on stderr naming the file, column and element at fault and exit code 2; no run
folder is written.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from cases.builtin import BUILTIN, load_case
from cases.case import CaseError
from cases.folder import write_case
from coupling.compare import CompareError
from coupling.runfolder import Run, write_run
from coupling.sweep import SweepError
from power.ac_check import ACCheckError
from power.feeder import FeederDataError
from power.fleet import FleetDataError
from power.lindistflow import GridOptions
from power.solve import SolveError
from robust.sets import RobustSetError
from robust.uncertainty import UncertaintyDataError
from traffic.network import TrafficDataError

DEFAULT_CASE = "tn20-dn17"  # seed 003

INPUT_ERRORS: tuple[type[Exception], ...] = (
    CaseError,
    FeederDataError,
    UncertaintyDataError,
    RobustSetError,
    TrafficDataError,
    FleetDataError,
    FileExistsError,
    FileNotFoundError,
    CompareError,
    SweepError,
)
RUN_ERRORS: tuple[type[Exception], ...] = (SolveError, ACCheckError)


def _guard(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn known input and solver errors into one line on stderr and exit code 2 / 3."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except INPUT_ERRORS as exc:
            click.echo(f"evtp: error: {exc}", err=True)
            sys.exit(2)
        except RUN_ERRORS as exc:
            click.echo(f"evtp: failed: {exc}", err=True)
            sys.exit(3)

    return wrapper


def _out_folder(out: str | None, case: str, command: str) -> Path:
    """Target run folder: ``--out`` or ``runs/<case>-<command>``; an existing folder may be
    replaced only when it is a run folder (holds summary.json)."""
    path = Path(out) if out else Path("runs") / f"{Path(case).name}-{command}"
    if path.exists() and not (path / "summary.json").is_file():
        raise FileExistsError(f"{path}: exists and is not a run folder (choose another --out)")
    return path


def _finish(run: Run, out: Path) -> None:
    from coupling.figures import figures_for

    run.figures = run.figures or figures_for(run.tables)
    write_run(run, out, overwrite=True)
    s = run.summary
    keys = [
        k
        for k in (
            "objective",
            "vehicles_departed",
            "vehicles_arrived",
            "travel_cost",
            "charging_cost",
            "centralised_objective",
            "decentralised_objective",
            "iterations",
            "converged",
            "energy_cost",
            "unserved_kwh",
            "n_ev",
            "max_line_loading",
            "max_line_loading_ac",
            "min_voltage_pu",
            "min_voltage_ac_pu",
            "max_voltage_error_pu",
            "ac_resolves",
            "ac_feasible",
            "oos_violation_rate",
            "oos_box_violation_rate",
            "build_s",
            "solve_s",
        )
        if s.get(k) is not None
    ]
    for k in keys:
        v = s[k]
        click.echo(f"  {k:<22} {v:.6g}" if isinstance(v, float) else f"  {k:<22} {v}")
    _warn_unserved(s)
    click.echo(f"wrote {out}")


def _warn_unserved(s: dict[str, Any]) -> None:
    """Name the demand that is not served (from the documented slack variables)."""
    short = s.get("arrival_shortfall") or 0.0
    if short > 1e-6:
        by_od = s.get("unserved_vehicles_by_od") or {}
        detail = ", ".join(f"{k}: {v:.1f}" for k, v in by_od.items())
        click.echo(
            f"warning: {short:.1f} vehicles do not reach their destination in the horizon"
            + (f" (never departed, per OD: {detail})" if detail else ""),
            err=True,
        )
    if (s.get("unserved_kwh") or 0.0) > 1e-6:
        click.echo(
            f"warning: {s['unserved_kwh']:.1f} kWh of EV departure targets are not met", err=True
        )


def ac_correction_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The --no-ac-correction switch of every command that schedules with grid limits."""
    return click.option(
        "--no-ac-correction",
        "no_ac_correction",
        is_flag=True,
        help="Keep the linear (lossless) schedule: no AC correction loop, only the AC check.",
    )(fn)


def robust_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The --gamma and --uncertainty-set options shared by opf and tariff."""
    fn = click.option(
        "--uncertainty-set",
        type=click.Choice(["node", "budget"]),
        default="node",
        show_default=True,
        help="node: per-node Gamma in [0, 1] (seed 003); budget: Bertsimas-Sim Gamma in [0, n].",
    )(fn)
    return click.option(
        "--gamma", type=float, help="Robust budget (default: the case's [robust] gamma)."
    )(fn)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="evtp")
def main() -> None:
    """evtp: EV traffic coupled with distribution grids (DLMP, robust dynamic tariffs)."""


@main.command("cases")
def cases_cmd() -> None:
    """List the built-in cases."""
    for name, (desc, _) in sorted(BUILTIN.items()):
        click.echo(f"{name:<16} {desc}")


@main.command()
@click.argument("case", required=False)
@click.option("--out", required=True, type=click.Path(), help="Case folder to write.")
@click.option("--tntp", type=click.Path(exists=True, dir_okay=False), help="TNTP _net file.")
@click.option("--trips", type=click.Path(exists=True, dir_okay=False), help="TNTP _trips file.")
@click.option("--nodes", type=click.Path(exists=True, dir_okay=False), help="TNTP _node file.")
@click.option("--feeder", help="Feeder case (built-in name or folder) for --tntp.")
@click.option("--stations", type=int, default=4, show_default=True, help="Stations (--tntp).")
@click.option("--ev-share", type=float, default=0.01, show_default=True, help="EV share of trips.")
@_guard
def build(
    case: str | None,
    out: str,
    tntp: str | None,
    trips: str | None,
    nodes: str | None,
    feeder: str | None,
    stations: int,
    ev_share: float,
) -> None:
    """Write CASE (built-in name or folder) as a case folder OUT, or, with --tntp, a coupled
    case from a TNTP network and trips and a feeder (--feeder)."""
    if tntp:
        from cases.tntp_case import build_tntp_case

        if not (trips and feeder):
            raise CaseError("--tntp needs --trips and --feeder")
        c = build_tntp_case(
            load_case(feeder), tntp, trips, nodes, stations=stations, ev_share=ev_share
        )
    elif case:
        c = load_case(case)
    else:
        raise CaseError("give a CASE to write, or --tntp with --trips and --feeder")
    write_case(c, out)
    click.echo(f"wrote case {c.name!r} to {out}")


@main.command()
@click.argument("case")
@_guard
def check(case: str) -> None:
    """Validate CASE; exit 0 and print its size when it is consistent."""
    c = load_case(case)
    f = c.feeder
    msg = f"{c.name}: ok — {len(f.bus_ids)} buses, {len(f.line_ids)} lines"
    if c.traffic is not None:
        tr = c.traffic
        n_st = 0 if tr.stations is None else len(tr.stations.table)
        msg += (
            f", {len(tr.network.nodes)} road nodes, {len(tr.network.segments)} segments, "
            f"{n_st} stations, {tr.demand.table.vehicles.sum():g} EVs in "
            f"{tr.demand.table.od.nunique()} ODs"
        )
    click.echo(f"{msg}, {f.steps} steps of {f.dt_h} h")


@main.command()
@click.argument("case")
@click.option("--out", type=click.Path(), help="Run folder (default runs/CASE-powerflow).")
@_guard
def powerflow(case: str, out: str | None) -> None:
    """Linear (LinDistFlow) power flow of the fixed loads, with pandapower's AC check."""
    from coupling.grid_jobs import run_powerflow

    target = _out_folder(out, case, "powerflow")
    c = load_case(case)
    click.echo(f"power flow of {c.name}: {c.feeder.steps} steps")
    _finish(run_powerflow(c, command=" ".join(["evtp", *sys.argv[1:]])), target)


@main.command()
@click.argument("case")
@click.option("--out", type=click.Path(), help="Run folder (default runs/CASE-opf).")
@click.option(
    "--thermal",
    type=click.Choice(["p", "polygon"]),
    default="p",
    show_default=True,
    help="Line limit |P| <= p_max_kw, or a polygon of P^2+Q^2 <= S^2.",
)
@robust_options
@click.option("--samples", type=int, default=0, help="Out-of-sample realisations to evaluate.")
@click.option("--seed", type=int, default=0, show_default=True, help="Sampling seed.")
@ac_correction_option
@_guard
def opf(
    case: str,
    out: str | None,
    thermal: str,
    gamma: float | None,
    uncertainty_set: str,
    samples: int,
    seed: int,
    no_ac_correction: bool,
) -> None:
    """Multi-period (robust) OPF with generators and import; DLMPs and AC check."""
    from coupling.grid_jobs import run_opf

    target = _out_folder(out, case, "opf")
    c = load_case(case)
    click.echo(f"OPF of {c.name}: {c.feeder.steps} steps")
    run = run_opf(
        c,
        GridOptions(thermal=thermal),
        gamma=gamma,
        uncertainty_set=uncertainty_set,
        samples=samples,
        seed=seed,
        ac_correction=not no_ac_correction,
        command=" ".join(["evtp", *sys.argv[1:]]),
    )
    _finish(run, target)


@main.command()
@click.argument("case")
@click.option("--out", type=click.Path(), help="Run folder (default runs/CASE-traffic).")
@_guard
def traffic(case: str, out: str | None) -> None:
    """EV routing and charging against the case's energy prices only (no grid)."""
    from coupling.traffic_job import run_traffic

    target = _out_folder(out, case, "traffic")
    c = load_case(case)
    click.echo(f"traffic assignment of {c.name}: {c.time.steps} steps")
    _finish(run_traffic(c, command=" ".join(["evtp", *sys.argv[1:]])), target)


@main.command()
@click.argument("case", required=False, default=DEFAULT_CASE)
@click.option("--out", type=click.Path(), help="Run folder (default runs/CASE-tariff).")
@robust_options
@click.option(
    "--mechanism",
    type=click.Choice(["dlmp", "subgradient"]),
    default="dlmp",
    show_default=True,
    help="dlmp: start from the DSO's DLMPs (seed 003); subgradient: from zero (seed 000).",
)
@click.option("--samples", type=int, default=200, show_default=True, help="Out-of-sample draws.")
@click.option("--seed", type=int, default=0, show_default=True, help="Sampling seed.")
@click.option("--max-iter", type=int, default=30, show_default=True, help="Loop iterations.")
@click.option(
    "--step-rule",
    type=click.Choice(["constant", "diminishing"]),
    default="constant",
    show_default=True,
    help="Subgradient step: constant (seed 000) or step / sqrt(iteration).",
)
@click.option(
    "--step-kw",
    type=float,
    help="Subgradient step for flow limits (currency/kWh per kW of excess); default: the "
    "case's [parameters] step_kw, else 0.001.",
)
@ac_correction_option
@_guard
def tariff(
    case: str,
    out: str | None,
    gamma: float | None,
    uncertainty_set: str,
    mechanism: str,
    samples: int,
    seed: int,
    max_iter: int,
    step_rule: str,
    step_kw: float | None,
    no_ac_correction: bool,
) -> None:
    """Robust dynamic tariffs: DSO problem, DLMP tariffs and the DSO-aggregator loop."""
    from coupling.tariff_job import TariffOptions, loop_options, run_tariff

    target = _out_folder(out, case, "tariff")
    c = load_case(case)
    opts = TariffOptions(
        gamma=gamma,
        uncertainty_set=uncertainty_set,
        mechanism=mechanism,
        samples=samples,
        seed=seed,
        loop=loop_options(c, max_iter=max_iter, step_rule=step_rule, step_kw=step_kw),
        ac_correction=not no_ac_correction,
    )
    g = c.gamma if gamma is None else gamma
    click.echo(f"tariff of {c.name}: gamma {g}, {mechanism} mechanism, {c.time.steps} steps")
    run = run_tariff(c, opts, command=" ".join(["evtp", *sys.argv[1:]]), progress=click.echo)
    _finish(run, target)


@main.command()
@click.argument("case")
@click.option(
    "--strategy",
    "strategy_name",
    required=True,
    type=click.Choice(["uncoordinated", "price", "grid", "smart", "v2g", "smart-q", "v2g-q"]),
    help="Charging strategy of the stationary fleet.",
)
@click.option("--ev-share", type=float, default=1.0, show_default=True, help="Share of the fleet.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the fleet subset.")
@click.option("--out", type=click.Path(), help="Run folder (default runs/CASE-strategy).")
@ac_correction_option
@_guard
def strategy(
    case: str,
    strategy_name: str,
    ev_share: float,
    seed: int,
    out: str | None,
    no_ac_correction: bool,
) -> None:
    """Stationary-fleet charging strategies (seeds 001 and 002), AC-checked."""
    from coupling.strategy_job import run_strategy

    target = _out_folder(out, case, f"strategy-{strategy_name}")
    c = load_case(case)
    click.echo(f"strategy {strategy_name} on {c.name}: {c.time.steps} steps")
    run = run_strategy(
        c,
        strategy_name,
        ev_share=ev_share,
        seed=seed,
        ac_correction=not no_ac_correction,
        command=" ".join(["evtp", *sys.argv[1:]]),
    )
    _finish(run, target)


@main.command()
@click.argument("case")
@click.option("--param", "param", required=True, help="NAME=start:stop:step, e.g. gamma=0:1:0.25.")
@click.option("--out", required=True, type=click.Path(), help="Sweep folder.")
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=2,
    show_default=True,
    help="Local Dask workers.",
)
@click.option("--scheduler", help="Address of a running Dask scheduler (instead of local).")
@click.option(
    "--samples", type=int, default=200, show_default=True, help="Out-of-sample draws per point."
)
@ac_correction_option
@_guard
def sweep(
    case: str,
    param: str,
    out: str,
    workers: int,
    scheduler: str | None,
    samples: int,
    no_ac_correction: bool,
) -> None:
    """Tariff runs over a parameter range on Dask: one run folder per point + sweep.csv."""
    from coupling.sweep import run_sweep

    target = Path(out)
    if target.exists() and not (target / "sweep.csv").is_file():
        raise FileExistsError(f"{target}: exists and is not a sweep folder (choose another --out)")
    where = scheduler or f"a local cluster of {workers} workers"
    click.echo(f"sweep of {case} over {param} on {where}")
    table = run_sweep(
        case,
        param,
        target,
        workers=workers,
        scheduler=scheduler,
        samples=samples,
        ac_correction=not no_ac_correction,
        progress=click.echo,
    )
    click.echo(table.drop(columns="sweep_wall_s").to_string(index=False))
    click.echo(f"wrote {target} ({table.sweep_wall_s.iloc[0]:.1f} s)")


@main.command()
@click.argument("run_a", type=click.Path())
@click.argument("run_b", type=click.Path())
@click.option("--out", type=click.Path(), help="Folder for the comparison tables and figure.")
@_guard
def compare(run_a: str, run_b: str, out: str | None) -> None:
    """Routing and charging shifts between two runs of the same case."""
    from coupling.compare import compare_runs, write_comparison

    cmp = compare_runs(run_a, run_b)
    click.echo(cmp.text())
    if out:
        write_comparison(cmp, out)
        click.echo(f"wrote {out}")


@main.command()
@click.argument("run", type=click.Path())
@click.option("--case", "case_dir", type=click.Path(), help="Case folder, for the network map.")
@_guard
def report(run: str, case_dir: str | None) -> None:
    """Self-contained HTML report (summary and figures) in the run folder."""
    from coupling.report import write_report

    click.echo(f"wrote {write_report(run, case_dir)}")


if __name__ == "__main__":  # pragma: no cover
    main()
