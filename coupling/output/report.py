"""One self-contained HTML report of a run folder (``evtp report``): summary and figures
embedded as base64 PNGs, and the interactive result map (:mod:`coupling.output.maps`).

The map needs the run's case: ``--case`` (a built-in name or a case folder), else the case
folder on the run's command line (``summary.json``) when it is still there and holds the run's
case, else the built-in case of the run's case name. It is embedded in the report and written
alone to ``RUN/figures/map.html``; a run whose case cannot be found gets a report without a
map that says how to add one.

The report is ``RUN/report.html``. Like every evtp output it replaces an existing file only
with ``force`` and only when evtp wrote it (its generator tag, ``GENERATOR``); the run folder
is validated first (:mod:`coupling.output.runread`) and must be writable before figures are drawn.
"""

from __future__ import annotations

import base64
import html
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cases.atomic import OutputError, atomic_file, identity
from cases.output_policy import check_writable
from coupling.output.figures import figures_for
from coupling.output.runread import read_run
from coupling.output.summary_view import summary_html

if TYPE_CHECKING:
    import pandas as pd

    from cases.case import Case

GENERATOR = "<meta name='generator' content='evtp report'>"
MAP_FILE = "map.html"  # the interactive map, in the run folder's figures/

FIGURE_TITLES = {  # headings of the report's figures (the PNG names are in figures/)
    "tariffs": "Tariffs and their DLMP parts, per station (or bus) and hour",
    "line_loading": "Line loading, fraction of each line's limit",
    "voltage_bands": "Bus voltages against the voltage band",
    "stations": "Charging stations: queued and charging vehicles, load",
    "soc": "State of charge of the fleet's EVs",
    "map": "Road network, stations and feeder",
}


def written_by_evtp(page: Path) -> bool:
    """True when the HTML file ``page`` carries evtp's generator tag in its head."""
    try:
        with open(page, encoding="utf-8", errors="replace") as fh:
            return GENERATOR in fh.read(4096)
    except OSError:
        return False


def _check_target(out: Path, force: bool) -> None:
    if out.is_symlink() or (out.exists() and not out.is_file()):
        raise OutputError(f"{out}: exists and is not a file; remove it or rename it")
    if out.exists():
        if not force:
            raise OutputError(f"{out}: exists; pass --force to replace a report evtp wrote")
        if not written_by_evtp(out):
            raise OutputError(
                f"{out}: was not written by evtp, so --force does not replace it; move it away"
            )


def _map_case(
    summary: dict[str, Any], tables: dict[str, pd.DataFrame], case: str | Path | None
) -> tuple[Case | None, str]:
    """The case to draw the run's map on, or None and a sentence saying why there is none.
    A ``case`` given by the user that is no case, or not the run's, is an error (CaseError)."""
    from cases.builtin import load_case
    from coupling.output.maps import MapCaseError, check_case_fits, run_case_spec

    spec = str(case) if case is not None else run_case_spec(summary)
    if spec is None:
        why = (
            f"No map: the run's case {summary.get('case')!r} is neither built in nor a case "
            "folder found from its command line; pass --case CASE (a built-in name or folder)."
        )
        return None, why
    loaded = load_case(spec)
    try:
        check_case_fits(loaded, tables, spec)
    except MapCaseError as exc:
        if case is not None:
            raise
        return None, f"No map: {exc}"
    return loaded, ""


def write_report(
    run_dir: str | Path, case_dir: str | Path | None = None, *, force: bool = False
) -> Path:
    """Write ``report.html`` into ``run_dir`` (atomically) and return its path; with the
    interactive map (also written to ``figures/map.html``) when the run's case is found.
    ``case_dir`` is a built-in case name or a case folder (None: found from the run)."""
    from coupling.output.maps import map_div, map_figure, map_page

    run_dir = Path(run_dir)
    summary, tables = read_run(run_dir)
    out = run_dir / "report.html"
    map_out = run_dir / "figures" / MAP_FILE
    _check_target(out, force)
    _check_target(map_out, force)
    check_writable(run_dir, str(out))
    before = identity(out)
    case, no_map = _map_case(summary, tables, case_dir)
    # the interactive map replaces the static network figure; the summary gives clock time
    figs = figures_for(tables, None, summary)
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'>{GENERATOR}",
        f"<title>evtp report: {html.escape(str(summary.get('case')))}</title>",
        "<style>body{font-family:sans-serif;max-width:1000px;margin:auto}"
        "td,th{padding:2px 8px;text-align:left}img{max-width:100%}</style></head><body>",
        f"<h1>evtp run: {html.escape(str(summary.get('case')))}</h1>",
        f"<p><code>{html.escape(str(summary.get('command')))}</code></p>",
        summary_html(summary),
    ]
    with tempfile.TemporaryDirectory() as tmp:
        for name, draw in figs.items():
            png = Path(tmp) / f"{name}.png"
            draw(png)
            data = base64.b64encode(png.read_bytes()).decode("ascii")
            parts.append(
                f"<h2>{html.escape(FIGURE_TITLES.get(name, name))}</h2>"
                f"<img alt='{name}' src='data:image/png;base64,{data}'>"
            )
    if case is not None:
        title = f"{summary.get('case')}: results on the map"
        fig = map_figure(case, tables, title)
        parts.append(f"<h2>Map</h2>{map_div(fig)}")
        map_out.parent.mkdir(exist_ok=True)
        atomic_file(map_out, map_page(fig, title).encode("utf-8"))
    else:
        parts.append(f"<h2>Map</h2><p>{html.escape(no_map)}</p>")
    parts.append("</body></html>\n")
    if identity(out) != before:
        raise OutputError(
            f"{out}: changed while the report was drawn (another evtp report?); not written"
        )
    return atomic_file(out, "\n".join(parts).encode("utf-8"))
