"""The ``evtp`` command line.

Every CASE argument is a built-in case name (``evtp cases``) or a case folder. Bad input ends
with one line on stderr naming the file, column and element at fault and exit code 2; no run
folder is written. Every command that writes follows one output policy
(:mod:`cases.output_policy`): an existing target is replaced only with ``--force`` and only when
evtp wrote it, inputs and the current directory are never targets, and the target is checked
before anything is computed.

Only click and the standard library are imported here; every command imports the model code it
needs, so ``evtp --help`` and ``evtp cases`` answer at once.
"""

from __future__ import annotations

import functools
import math
import os
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from cases.builtin import BUILTIN, load_case

if TYPE_CHECKING:
    from cases.case import Case
    from coupling.output.runfolder import Run
    from coupling.output.summary import RunSummary

DEFAULT_CASE = "tn20-dn17"  # seed 003

# errors that are the user's input (exit 2) or a failed run (exit 3), as (module, class): they
# are looked up when raised, in the modules already imported, so none is imported at start-up
INPUT_ERRORS: tuple[tuple[str, str], ...] = (
    ("cases.case", "CaseError"),
    ("power.feeder", "FeederDataError"),
    ("robust.uncertainty", "UncertaintyDataError"),
    ("robust.sets", "RobustSetError"),
    ("traffic.network", "TrafficDataError"),
    ("power.fleet", "FleetDataError"),
    ("builtins", "FileExistsError"),
    ("builtins", "FileNotFoundError"),
    ("coupling.studies.compare", "CompareError"),
    ("coupling.cluster", "ClusterError"),
    ("cases.atomic", "OutputError"),
    ("coupling.output.runread", "RunFolderError"),
)
RUN_ERRORS: tuple[tuple[str, str], ...] = (
    ("power.solve", "SolveError"),
    ("engine.highs", "EngineSolveError"),
    ("power.ac_check", "ACCheckError"),
)


def _loaded(names: Iterable[tuple[str, str]]) -> tuple[type[BaseException], ...]:
    """The exception classes of ``names`` whose modules are imported."""
    return tuple(getattr(sys.modules[m], c) for m, c in names if m in sys.modules)


def _guard(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn known input and solver errors into one line on stderr and exit code 2 / 3."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from cases.atomic import forget_expectations
        from common.progress import reporting

        try:
            with reporting(fn.__name__.removesuffix("_cmd")):
                return fn(*args, **kwargs)
        except Exception as exc:
            if isinstance(exc, _loaded(INPUT_ERRORS)):
                click.echo(f"evtp: error: {exc}", err=True)
                sys.exit(2)
            if isinstance(exc, _loaded(RUN_ERRORS)):
                click.echo(f"evtp: failed: {exc}", err=True)
                sys.exit(3)
            raise
        finally:
            forget_expectations()

    return wrapper


def _command_line() -> str:
    return " ".join(["evtp", *sys.argv[1:]])


def force_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The --force option of every command that writes."""
    return click.option(
        "--force",
        is_flag=True,
        help="Replace an existing output that evtp wrote (never anything else).",
    )(fn)


def _prepare(
    out: str | os.PathLike[str], kind: str, force: bool, inputs: Iterable[str | None] = ()
) -> Path:
    """Check an output target before computing (``cases.output_policy``); say what stale
    partial folders of killed runs were removed on the way."""
    from cases.output_policy import prepare_output

    prep = prepare_output(out, kind=kind, force=force, inputs=inputs)
    for p in prep.removed:
        click.echo(f"removed {p}, left by an interrupted evtp run", err=True)
    return prep.path


def _out_folder(out: str | None, case: str, command: str, force: bool = False) -> Path:
    """Target run folder, ``--out`` or ``runs/<case>-<command>``, checked before computing:
    an existing one is replaced only with ``--force`` and only when it is an evtp run folder;
    the case folder, the current directory and folders containing them are refused."""
    path = out if out is not None else str(Path("runs") / f"{Path(case).name}-{command}")
    return _prepare(path, "run", force, inputs=[case])


def _finite(low: float | None = None, high: float | None = None, *, low_open: bool = False):
    """A click callback: the option, when given, is a finite number in the range."""

    def check(ctx: click.Context, param: click.Parameter, value: float | None) -> float | None:
        if value is None:
            return value
        ok = math.isfinite(value)
        if ok and low is not None:
            ok = value > low if low_open else value >= low
        if ok and high is not None:
            ok = value <= high
        if not ok:
            lo = "" if low is None else f"{'>' if low_open else '>='} {low:g}"
            hi = "" if high is None else f"<= {high:g}"
            rng = " and ".join(x for x in (lo, hi) if x)
            raise click.BadParameter(f"{value!r}: give a finite number{' ' + rng if rng else ''}")
        return value

    return check


def _fail_unconverged(s: RunSummary, out: Path) -> None:
    """Exit 3 when the tariff loop ended unconverged or with a limit exceeded; the run folder
    (summary ``converged`` false, ``limit_excess``) is written first so the user can look."""
    loop = s.loop
    if loop.converged is False or loop.limit_excess:
        what = loop.limit_excess["text"] if loop.limit_excess else "the prices still changed"
        click.echo(
            f"evtp: not converged: after {loop.iterations} iteration(s) {what} "
            f"(results written to {out}, summary.json has converged false)",
            err=True,
        )
        sys.exit(3)


def _finish(run: Run, out: Path, case: Any = None) -> None:
    from coupling.output.figures import figure_context, figures_for
    from coupling.output.runfolder import write_run
    from coupling.output.summary_view import console_lines

    if case is not None:  # clock time and limits for the figures (and later evtp report)
        run.summary.update(figure_context(case))
    write_run(run, out, overwrite=True, figures=figures_for(run.tables, summary=run.summary))
    s = run.summary
    for line in console_lines(s):
        click.echo(line)
    _warn_unserved(s)
    _warn_loop_ac(s)
    click.echo(f"wrote {out}")


def _warn_loop_ac(s: RunSummary) -> None:
    """Say so when the tariff loop accepted its schedule at the cap of AC corrections with a
    limit still exceeded in AC (``converged`` then holds for the linear model only)."""
    if s.ac.loop_ac_feasible is False:
        excess = s.ac.loop_ac_excess or {}
        kind = excess.get("kind", "limit")
        n = s.loop.ac_loop_corrections or 0
        click.echo(
            f"warning: the tariff loop accepted its schedule at its cap of {n} AC "
            f"correction(s) with an AC {kind} excess: {excess.get('text', 'a limit exceeded')}; "
            "the schedule is not AC-feasible (summary.json loop_ac_feasible false)",
            err=True,
        )


def _warn_unserved(s: RunSummary) -> None:
    """Name the demand that is not served (from the documented slack variables)."""
    ch = s.charging
    short = ch.arrival_shortfall or 0.0
    total = (ch.vehicles_arrived or 0.0) + short
    if "vehicles_arrived" in s and total > 0 and short > 0.5 * total:
        click.echo(
            f"warning: most EVs do not arrive ({short:.4g} of {total:.4g}): this case is broken, "
            "not a result; check the network's units (evtp build --length-unit), the horizon "
            "and the stations",
            err=True,
        )
    if short > 1e-6:
        by_od = ch.unserved_vehicles_by_od or {}
        detail = ", ".join(f"{k}: {v:.1f}" for k, v in by_od.items())
        click.echo(
            f"warning: {short:.1f} vehicles do not reach their destination in the horizon"
            + (f" (never departed, per OD: {detail})" if detail else ""),
            err=True,
        )
    if (ch.unserved_kwh or 0.0) > 1e-6:
        click.echo(
            f"warning: {ch.unserved_kwh:.1f} kWh of EV departure targets are not met", err=True
        )


def ac_correction_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The --no-ac-correction switch of every command that schedules with grid limits."""
    return click.option(
        "--no-ac-correction",
        "no_ac_correction",
        is_flag=True,
        help="Keep the linear (lossless) schedule: no AC correction loop, only the AC check.",
    )(fn)


def grid_model_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The --grid-model switch: LinDistFlow (default) or DistFlow with losses (SOC)."""
    return click.option(
        "--grid-model",
        type=click.Choice(["lindistflow", "distflow"]),
        default="lindistflow",
        show_default=True,
        help="lindistflow: linear, AC-corrected; distflow: DistFlow with losses, its "
        "second-order-cone relaxation (Clarabel), relaxation gap reported.",
    )(fn)


def _warn_relaxation(s: RunSummary) -> None:
    """Say so when DistFlow's cone relaxation is not tight (its voltages and flows are then
    not an AC power flow)."""
    g = s.grid
    if g.relaxation_tight is False:
        at = g.relaxation_gap_at or {}
        click.echo(
            f"warning: the DistFlow relaxation is not tight: gap {g.relaxation_gap_max:.3g} "
            f"(of the line rating squared) > {g.relaxation_tol:g} at line {at.get('line')} "
            f"step {at.get('t')}; see relaxation_gap.csv and the AC columns",
            err=True,
        )


def _run_job(
    case: str,
    out: str | None,
    force: bool,
    kind: str,
    headline: Callable[[Case], str],
    job: Callable[[Case], Run],
) -> tuple[Run, Path]:
    """What every run command does: check ``--out`` before any work, read the case, say what
    runs (``headline``), run ``job``, warn about a loose relaxation, write the run folder and
    print its summary. Returns the run and its folder."""
    target = _out_folder(out, case, kind, force)
    c = load_case(case)
    click.echo(headline(c))
    run = job(c)
    _warn_relaxation(run.summary)
    _finish(run, target, c)
    return run, target


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
        "--gamma",
        type=float,
        callback=_finite(0.0),
        help="Robust budget (default: the case's [robust] gamma).",
    )(fn)


# the charging strategies of coupling.jobs.strategy, in the order of its table
STRATEGY_NAMES = ["uncoordinated", "price", "grid", "smart", "v2g", "smart-q", "v2g-q"]

# commands in the order of a study
WORKFLOW = (
    "cases",
    "build",
    "check",
    "powerflow",
    "opf",
    "traffic",
    "strategy",
    "tariff",
    "sweep",
    "hosting",
    "compare",
    "report",
)


class WorkflowGroup(click.Group):
    """A group listing its commands in workflow order, not alphabetically."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        rank = {name: i for i, name in enumerate(WORKFLOW)}
        return sorted(self.commands, key=lambda n: (rank.get(n, len(rank)), n))


@click.group(
    cls=WorkflowGroup,
    invoke_without_command=True,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(package_name="evtp")
@click.pass_context
def main(ctx: click.Context) -> None:
    """evtp: EV traffic coupled with distribution grids (DLMP, robust dynamic tariffs).

    \b
    A study: pick or build a case, check it, run it, compare runs, report:
      evtp cases
      evtp build ieee33 --out my-case
      evtp check my-case
      evtp tariff tn20-dn17 --gamma 1 --out runs/robust
      evtp tariff tn20-dn17 --gamma 0 --out runs/det
      evtp compare runs/det runs/robust --out runs/det-vs-robust
      evtp report runs/robust

    Each command's --help has an example; `evtp strategy --help` describes the seven charging
    strategies of stationary fleets.

    Run folders are written atomically and never replace anything without --force (and then
    only a folder evtp wrote). Bad input: one line on stderr, exit code 2; a failed solve or
    AC check: exit code 3.
    """
    if ctx.invoked_subcommand is None:
        click.echo(ctx.get_help())
        ctx.exit(0)


@main.command("cases")
def cases_cmd() -> None:
    """List the built-in cases.

    \b
    Example:
      evtp cases
    """
    for name, (desc, _) in sorted(BUILTIN.items()):
        click.echo(f"{name:<16} {desc}")


def _tntp_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The options of ``evtp build --tntp`` (network, time grid, EV demand, grid, stations)."""
    opts = [
        click.option(
            "--tntp", type=click.Path(exists=True, dir_okay=False), help="TNTP _net file."
        ),
        click.option(
            "--trips", type=click.Path(exists=True, dir_okay=False), help="TNTP _trips file."
        ),
        click.option(
            "--nodes",
            type=click.Path(exists=True, dir_okay=False),
            help="TNTP _node file or GeoJSON of node points (coordinates for station placement).",
        ),
        click.option("--feeder", help="Feeder case (built-in name or folder) for --tntp."),
        click.option(
            "--length-unit",
            type=click.Choice(["km", "m", "mi", "ft"]),
            help="Unit of TNTP lengths [default: from the file header or known network, else mi].",
        ),
        click.option(
            "--time-unit",
            type=click.Choice(["min", "h", "0.01h", "s"]),
            help="Unit of TNTP free-flow times [default: from the header, else min].",
        ),
        click.option("--steps", type=int, help="Steps of the horizon [default: the feeder's]."),
        click.option("--dt-h", type=float, help="Step length in h [default: the feeder's]."),
        click.option(
            "--stations", type=int, default=4, show_default=True, help="Stations (--tntp)."
        ),
        click.option("--plugs", type=int, default=20, show_default=True, help="Plugs per station."),
        click.option(
            "--charger-kw", type=float, default=50.0, show_default=True, help="kW per plug."
        ),
        click.option(
            "--ev-share", type=float, default=0.01, show_default=True, help="EV share of trips."
        ),
        click.option(
            "--trips-scale",
            type=float,
            default=1.0,
            show_default=True,
            help="Trips over the horizon per trip-table unit.",
        ),
        click.option(
            "--departures",
            type=click.Path(exists=True, dir_okay=False),
            help="CSV hour,share of trip starts per clock hour [default: weekday profile].",
        ),
        click.option(
            "--soc-mean", type=float, default=0.6, show_default=True, help="Mean departure SOC."
        ),
        click.option(
            "--soc-sd", type=float, default=0.15, show_default=True, help="Its standard deviation."
        ),
        click.option(
            "--kwh-per-km",
            type=float,
            default=0.17,
            show_default=True,
            help="Consumption (kWh/km).",
        ),
        click.option(
            "--charge-share",
            type=float,
            default=0.2,
            show_default=True,
            help="Share of EVs that intend to charge on the way.",
        ),
        click.option(
            "--target-soc", type=float, default=0.8, show_default=True, help="Their arrival SOC."
        ),
        click.option(
            "--battery-kwh", type=float, default=60.0, show_default=True, help="Battery (kWh)."
        ),
        click.option(
            "--seed", type=int, default=0, show_default=True, help="Seed of the SOC sample."
        ),
        click.option(
            "--line-headroom",
            type=float,
            default=1.5,
            show_default=True,
            help="Ratings of unrated lines = this x their base-load peak flow.",
        ),
        click.option(
            "--min-od-vehicles",
            type=float,
            default=1.0,
            show_default=True,
            help="Merge ODs with fewer EVs over the horizon onto the nearest kept OD (0: off).",
        ),
        click.option("--max-ods", type=int, help="Keep at most this many ODs (merging the rest)."),
        click.option(
            "--aggregators",
            type=int,
            default=1,
            show_default=True,
            help="Aggregators (EV operators) the demand is split among, by origin zone.",
        ),
    ]
    for opt in reversed(opts):
        fn = opt(fn)
    return fn


@main.command()
@click.argument("case", required=False)
@click.option("--out", required=True, type=click.Path(), help="Case folder to write.")
@_tntp_options
@force_option
@_guard
def build(case: str | None, out: str, tntp: str | None, force: bool, **kw: Any) -> None:
    """Write CASE (built-in name or folder) as a case folder OUT, or, with --tntp, a coupled
    case from a TNTP network and trips and a feeder (--feeder): units checked, the feeder's
    profiles on the chosen time grid, ratings where its lines have none, an EV demand model
    (departure times, SOC, trip energy, who must or wants to charge), small ODs merged.

    \b
    Examples:
      evtp build ieee33 --out my-ieee33
      evtp build --tntp SiouxFalls_net.tntp --trips SiouxFalls_trips.tntp \\
          --nodes SiouxFalls_node.tntp --feeder ieee33 --stations 6 --out sioux-ieee33
    """
    from cases.case import CaseError
    from cases.folder import write_case

    _prepare(
        out,
        "case",
        force,
        inputs=[case, tntp, kw["trips"], kw["nodes"], kw["departures"], kw["feeder"]],
    )
    if tntp:
        import warnings

        from cases.tntp_case import TntpBuild, build_tntp_case
        from traffic.ev_demand import EvDemandModel, read_departures

        if not (kw["trips"] and kw["feeder"]):
            raise CaseError("--tntp needs --trips and --feeder")
        model = EvDemandModel(
            ev_share=kw["ev_share"],
            trips_scale=kw["trips_scale"],
            soc_mean=kw["soc_mean"],
            soc_sd=kw["soc_sd"],
            kwh_per_km=kw["kwh_per_km"],
            charge_share=kw["charge_share"],
            target_soc=kw["target_soc"],
            battery_kwh=kw["battery_kwh"],
            charger_kw=kw["charger_kw"],
            seed=kw["seed"],
            **({"departures": read_departures(kw["departures"])} if kw["departures"] else {}),
        )
        opts = TntpBuild(
            stations=kw["stations"],
            plugs=kw["plugs"],
            charger_kw=kw["charger_kw"],
            steps=kw["steps"],
            dt_h=kw["dt_h"],
            length_unit=kw["length_unit"],
            time_unit=kw["time_unit"],
            line_headroom=kw["line_headroom"],
            min_od_vehicles=kw["min_od_vehicles"],
            max_ods=kw["max_ods"],
            aggregators=kw["aggregators"],
        )
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            c = build_tntp_case(
                load_case(kw["feeder"]), tntp, kw["trips"], kw["nodes"], model, opts
            )
        for w in caught:
            click.echo(f"warning: {w.message}", err=True)
        _echo_build(c)
        _echo_energy(c)
    elif case:
        c = load_case(case)
    else:
        raise CaseError("give a CASE to write, or --tntp with --trips and --feeder")
    write_case(c, out, overwrite=True)  # the output policy was applied above
    click.echo(f"wrote case {c.name!r} to {out}")


def _echo_energy(c: Any) -> None:
    """The charging share and the limits that can bind (``cases/energy.py``), with its
    warnings on stderr; nothing for a case without stations."""
    from cases.energy import energy_report

    report = energy_report(c)
    if report is not None:
        click.echo(f"  {report.line()}")
        for w in report.warnings():
            click.echo(f"warning: {w}", err=True)


def _echo_build(c: Any) -> None:
    """What ``evtp build --tntp`` decided, from the case's build record."""
    b = c.build
    d, a = b["demand"], b["aggregation"]
    click.echo(f"  units: {b['units']}")
    click.echo(
        f"  EV trips {d['ev_trips']:.6g} ({d['vehicles_charge']:.4g} intend to charge, "
        f"{d['vehicles_need']:.4g} must stop), driving {d['driving_kwh']:.4g} kWh"
        + (
            f"; {d['ods_unreachable']} ODs cannot arrive in the horizon"
            if d["ods_unreachable"]
            else ""
        )
    )
    click.echo(
        f"  ODs {a['ods_before']} -> {a['ods_after']} ({a['merged_ods']} merged, "
        f"{a['vehicles_moved']:.4g} vehicles moved, vehicle-km error {a['km_error']:+.2%})"
    )
    if len(b.get("aggregators") or {}) > 1:
        split = ", ".join(f"{k} {v:.4g}" for k, v in b["aggregators"].items())
        click.echo(f"  aggregators by origin zone (EVs): {split}")
    if b.get("rated_lines"):
        click.echo(
            f"  {b['rated_lines']} lines had no rating that can bind: rated at "
            f"{b['line_headroom']:g} x their base-load peak flow (--line-headroom)"
        )
    if b.get("fleet_left_out"):
        click.echo(
            f"  the feeder case's stationary fleet ({b['fleet_left_out']} EVs) is left out: "
            "the city's EVs are its travel demand"
        )


@main.command()
@click.argument("case")
@_guard
def check(case: str) -> None:
    """Validate CASE; exit 0 and print its size when it is consistent, else print every
    problem found (one line each) and exit 2. For a coupled case, also state how much it
    charges against its feeder and which grid limits can bind.

    \b
    Example:
      evtp check my-ieee33
    """
    if case not in BUILTIN and Path(case).is_dir():
        from cases.folder import case_problems

        problems = case_problems(case)
        for p in problems:
            click.echo(f"evtp: error: {p}", err=True)
        if len(problems) > 1:
            click.echo(f"evtp: {len(problems)} problems in {case}", err=True)
        if problems:
            sys.exit(2)
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
    _echo_energy(c)


@main.command()
@click.argument("case")
@click.option("--out", type=click.Path(), help="Run folder (default runs/CASE-powerflow).")
@force_option
@_guard
def powerflow(case: str, out: str | None, force: bool) -> None:
    """Linear (LinDistFlow) power flow of the fixed loads, with pandapower's AC check.

    \b
    Example:
      evtp powerflow ieee33 --out runs/ieee33-pf
    """
    from coupling.jobs.grid import run_powerflow

    _run_job(
        case,
        out,
        force,
        "powerflow",
        lambda c: f"power flow of {c.name}: {c.feeder.steps} steps",
        lambda c: run_powerflow(c, command=_command_line()),
    )


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
@click.option(
    "--samples",
    type=click.IntRange(min=0),
    default=0,
    help="Out-of-sample realisations to evaluate.",
)
@click.option(
    "--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Sampling seed."
)
@force_option
@ac_correction_option
@grid_model_option
@_guard
def opf(
    case: str,
    out: str | None,
    thermal: str,
    gamma: float | None,
    uncertainty_set: str,
    samples: int,
    seed: int,
    force: bool,
    no_ac_correction: bool,
    grid_model: str,
) -> None:
    """Multi-period (robust) OPF with generators and import; DLMPs and AC check.

    \b
    Example:
      evtp opf ieee33 --gamma 1 --samples 200 --out runs/ieee33-opf
    """
    from coupling.jobs.grid import run_opf
    from power.lindistflow import GridOptions

    _run_job(
        case,
        out,
        force,
        "opf",
        lambda c: f"OPF of {c.name}: {c.feeder.steps} steps",
        lambda c: run_opf(
            c,
            GridOptions(thermal=thermal),
            gamma=gamma,
            uncertainty_set=uncertainty_set,
            samples=samples,
            seed=seed,
            ac_correction=not no_ac_correction,
            grid_model=grid_model,
            command=_command_line(),
        ),
    )


@main.command()
@click.argument("case")
@click.option("--out", type=click.Path(), help="Run folder (default runs/CASE-traffic).")
@force_option
@_guard
def traffic(case: str, out: str | None, force: bool) -> None:
    """EV routing and charging against the case's energy prices only (no grid).

    \b
    Example:
      evtp traffic tn20-dn17 --out runs/tn20-traffic
    """
    from coupling.jobs.traffic import run_traffic

    _run_job(
        case,
        out,
        force,
        "traffic",
        lambda c: f"traffic assignment of {c.name}: {c.time.steps} steps",
        lambda c: run_traffic(c, command=_command_line()),
    )


@main.command()
@click.argument("case", required=False, default=DEFAULT_CASE)
@click.option("--out", type=click.Path(), help="Run folder (default runs/CASE-tariff).")
@robust_options
@click.option(
    "--mechanism",
    type=click.Choice(["auto", "dlmp", "subgradient", "fleet-market"]),
    default="auto",
    show_default=True,
    help="dlmp: start from the DSO's DLMPs (seed 003); subgradient: from zero; fleet-market: "
    "seed 000's capacity market of a stationary fleet (no roads). auto: fleet-market for a "
    "case with a fleet and no roads, else dlmp.",
)
@click.option(
    "--samples",
    type=click.IntRange(min=0),
    default=200,
    show_default=True,
    help="Out-of-sample draws.",
)
@click.option(
    "--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Sampling seed."
)
@click.option(
    "--max-iter",
    type=click.IntRange(min=1),
    help="Loop iterations at most; default: the case's [parameters] max_iter, else 30.",
)
@click.option(
    "--step-rule",
    type=click.Choice(["constant", "diminishing", "adaptive"]),
    help="Subgradient step: constant (seed 000), step / sqrt(iteration), or adaptive (the "
    "constant step scaled per limit price: halved when its excess turns sign, grown back while "
    "it keeps it); default: the case's [parameters] step_rule, else constant.",
)
@click.option(
    "--step-kw",
    type=float,
    callback=_finite(0.0, low_open=True),
    help="Subgradient step for flow limits (currency/kWh per kW of excess); default: the "
    "case's [parameters] step_kw, else 0.001.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Solve the aggregators' problems on a local Dask cluster of this many worker "
    "processes (0: in this process, in threads).",
)
@click.option(
    "--scheduler",
    help="Solve the aggregators' problems on the running Dask scheduler at this address.",
)
@force_option
@ac_correction_option
@grid_model_option
@_guard
def tariff(
    case: str,
    out: str | None,
    gamma: float | None,
    uncertainty_set: str,
    mechanism: str,
    samples: int,
    seed: int,
    max_iter: int | None,
    step_rule: str | None,
    step_kw: float | None,
    workers: int,
    scheduler: str | None,
    force: bool,
    no_ac_correction: bool,
    grid_model: str,
) -> None:
    """Robust dynamic tariffs: DSO problem, DLMP tariffs and the DSO-aggregator loop.

    A case with roads (tn20-dn17, TNTP cases) runs seed 003's loop (dlmp or subgradient); a
    case with a stationary fleet and no roads (hu2014-lv) runs seed 000's capacity market
    (fleet-market, by subgradient). --mechanism auto picks by the case; a mechanism the case
    cannot run is refused.

    \b
    Example:
      evtp tariff tn20-dn17 --gamma 1 --samples 200 --out runs/tn20-robust
    """
    from coupling.jobs.tariff import TariffOptions, loop_options, mechanism_of, run_tariff

    def headline(c: Case) -> str:
        g = c.gamma if gamma is None else gamma
        if mechanism_of(c, mechanism) == "fleet-market":  # as summary.json will say
            mech = "subgradient mechanism (fleet capacity market)"
        else:
            mech = f"{mechanism_of(c, mechanism)} mechanism"
        return f"tariff of {c.name}: gamma {g}, {mech}, {c.time.steps} steps"

    def job(c: Case) -> Run:
        opts = TariffOptions(
            gamma=gamma,
            uncertainty_set=uncertainty_set,
            mechanism=mechanism,
            samples=samples,
            seed=seed,
            loop=loop_options(c, max_iter=max_iter, step_rule=step_rule, step_kw=step_kw),
            ac_correction=not no_ac_correction,
            grid_model=grid_model,
            workers=workers,
            scheduler=scheduler,
        )
        return run_tariff(c, opts, command=_command_line(), progress=click.echo)

    run, target = _run_job(case, out, force, "tariff", headline, job)
    _fail_unconverged(run.summary, target)


@main.command()
@click.argument("case")
@click.option(
    "--strategy",
    "strategy_name",
    required=True,
    type=click.Choice(STRATEGY_NAMES),
    help="Charging strategy of the stationary fleet (see above).",
)
@click.option(
    "--ev-share",
    type=float,
    default=1.0,
    show_default=True,
    callback=_finite(0.0, 1.0),
    help="Share of the fleet.",
)
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Seed of the fleet subset.",
)
@click.option("--out", type=click.Path(), help="Run folder (default runs/CASE-strategy).")
@force_option
@ac_correction_option
@grid_model_option
@_guard
def strategy(
    case: str,
    strategy_name: str,
    ev_share: float,
    seed: int,
    out: str | None,
    force: bool,
    no_ac_correction: bool,
    grid_model: str,
) -> None:
    """Stationary-fleet charging strategies (seeds 001 and 002), AC-checked.

    \b
    Strategies:
      uncoordinated  full power from arrival until full, no optimisation (power flow only)
      price          cheapest energy (plus a small loss proxy), grid limits ignored
      grid           cheapest energy within the line and voltage limits
      smart          closest to the departure SOC targets within the grid limits (seed 002)
      v2g            as smart, EVs may also discharge into the grid
      smart-q        as smart, chargers also supply or absorb reactive power
      v2g-q          as smart, with both discharging and reactive power

    \b
    Example:
      evtp strategy cigre-mv-ev --strategy smart --ev-share 0.5 --out runs/cigre-smart
    """
    from coupling.jobs.strategy import run_strategy

    _run_job(
        case,
        out,
        force,
        f"strategy-{strategy_name}",
        lambda c: f"strategy {strategy_name} on {c.name}: {c.time.steps} steps",
        lambda c: run_strategy(
            c,
            strategy_name,
            ev_share=ev_share,
            seed=seed,
            ac_correction=not no_ac_correction,
            grid_model=grid_model,
            command=_command_line(),
        ),
    )


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
    "--samples",
    type=click.IntRange(min=0),
    default=200,
    show_default=True,
    help="Out-of-sample draws per point.",
)
@click.option(
    "--strategy",
    "strategy_name",
    type=click.Choice(STRATEGY_NAMES),
    help="Sweep this charging strategy over --param ev_share=... instead of tariff runs.",
)
@force_option
@ac_correction_option
@_guard
def sweep(
    case: str,
    param: str,
    out: str,
    workers: int,
    scheduler: str | None,
    samples: int,
    strategy_name: str | None,
    force: bool,
    no_ac_correction: bool,
) -> None:
    """Tariff runs over a parameter range on Dask: one run folder per point + sweep.csv
    (timings in sweep.json). With --strategy, strategy runs over EV shares, each judged in
    AC as by evtp hosting.

    \b
    Examples:
      evtp sweep tn20-dn17 --param gamma=0:1:0.25 --workers 2 --out runs/gamma-sweep
      evtp sweep feeder1000-ev --strategy grid --param ev_share=0.1:1:0.1 --out runs/grid-sweep
    """
    target = _prepare(out, "sweep", force, inputs=[case])
    from coupling.studies.sweep import run_sweep

    where = scheduler or f"a local cluster of {workers} workers"
    job = f"strategy {strategy_name} " if strategy_name else ""
    click.echo(f"sweep of {job}{case} over {param} on {where}")
    table = run_sweep(
        case,
        param,
        target,
        workers=workers,
        scheduler=scheduler,
        samples=samples,
        ac_correction=not no_ac_correction,
        strategy=strategy_name,
        progress=click.echo,
    )
    click.echo(table.to_string(index=False))
    click.echo(f"wrote {target} ({table.attrs['sweep_wall_s']:.1f} s)")


@main.command()
@click.argument("case")
@click.option(
    "--strategy",
    "strategies",
    required=True,
    multiple=True,
    type=click.Choice(STRATEGY_NAMES),
    help="Charging strategy (repeat for several; see evtp strategy --help).",
)
@click.option(
    "--shares",
    default="0.1:1:0.1",
    show_default=True,
    help="EV shares, start:stop:step (stop included) or v1,v2,...; each in (0, 1].",
)
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Seed of the fleet subsets.",
)
@click.option("--out", type=click.Path(), help="Study folder (default runs/CASE-hosting).")
@force_option
@ac_correction_option
@_guard
def hosting(
    case: str,
    strategies: tuple[str, ...],
    shares: str,
    seed: int,
    out: str | None,
    force: bool,
    no_ac_correction: bool,
) -> None:
    """Hosting capacity per charging strategy (seed 001, Tables 3-4), AC-checked.

    Runs each strategy at each EV share and judges the schedule in pandapower's AC power
    flow: a share passes when every line loading stays <= 1 + 1e-3 and every voltage within
    its band +- 1e-3 pu. The hosting capacity is the largest share up to which all shares
    pass. Writes hosting.csv (share x strategy: violations, max loading, min voltage, served
    energy, pass/fail), hosting.json and hosting.png.

    \b
    Example:
      evtp hosting feeder1000-ev --strategy uncoordinated --strategy price --strategy grid \\
          --shares 0.2:1:0.2 --out runs/feeder1000-hosting
    """
    path = out if out is not None else str(Path("runs") / f"{Path(case).name}-hosting")
    target = _prepare(path, "hosting", force, inputs=[case])
    from coupling.studies.hosting import check_shares, hosting_study, write_hosting
    from coupling.studies.sweep import parse_values

    values = check_shares(parse_values(shares, f"--shares {shares!r}"))
    c = load_case(case)
    click.echo(
        f"hosting capacity of {c.name}: {', '.join(strategies)} at {len(values)} EV share(s)"
    )
    study = hosting_study(
        c,
        strategies,
        values,
        seed=seed,
        ac_correction=not no_ac_correction,
        progress=click.echo,
    )
    write_hosting(study, c.feeder, target)
    from coupling.output.clean import clean_table

    shown = clean_table(study.table, keep=("ev_share",))
    shown = shown.assign(passed=shown.passed.map({True: "pass", False: "FAIL"}))
    click.echo(shown.to_string(index=False, float_format=lambda x: f"{x:.4g}"))
    n = c.fleet.n
    for s, cap in study.capacity.items():
        click.echo(f"  hosting capacity {s:<14} {cap:.3g} ({round(cap * n)} of {n} EVs)")
    click.echo(f"wrote {target} ({study.wall_s:.1f} s)")


@main.command()
@click.argument("run_a", type=click.Path())
@click.argument("run_b", type=click.Path())
@click.option("--out", type=click.Path(), help="Folder for the comparison tables and figure.")
@force_option
@_guard
def compare(run_a: str, run_b: str, out: str | None, force: bool) -> None:
    """Routing and charging shifts between two runs of the same case.

    \b
    Example:
      evtp compare runs/tn20-det runs/tn20-robust --out runs/det-vs-robust
    """
    target = None if out is None else _prepare(out, "compare", force, inputs=[run_a, run_b])
    from coupling.studies.compare import compare_runs, write_comparison

    cmp = compare_runs(run_a, run_b)
    click.echo(cmp.text())
    if target is not None:
        write_comparison(cmp, target)
        click.echo(f"wrote {target}")


@main.command()
@click.argument("run", type=click.Path())
@click.option(
    "--case",
    "case_dir",
    type=click.Path(),
    help="The run's case (built-in name or folder) for the map; found by itself when omitted.",
)
@click.option("--force", is_flag=True, help="Replace a report.html that evtp wrote.")
@_guard
def report(run: str, case_dir: str | None, force: bool) -> None:
    """Self-contained HTML report (summary and figures) in the run folder: RUN/report.html.

    Given a sweep folder (evtp sweep), the report draws cost and violations against the
    swept parameter and the robustness-price curve, with the table of points.

    \b
    Examples:
      evtp report runs/tn20-robust
      evtp report runs/gamma-sweep
    """
    from coupling.studies.sweep_report import is_sweep_folder

    if is_sweep_folder(run):
        from cases.case import CaseError
        from coupling.studies.sweep_report import write_sweep_report

        if case_dir is not None:
            raise CaseError(f"--case {case_dir}: a sweep report has no map; leave --case out")
        click.echo(f"wrote {write_sweep_report(run, force=force)}")
        return
    from coupling.output.report import write_report

    click.echo(f"wrote {write_report(run, case_dir, force=force)}")


if __name__ == "__main__":  # pragma: no cover
    main()
