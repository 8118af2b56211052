"""One self-contained HTML report of a run folder (``evtp report``): summary and figures
embedded as base64 PNGs.

The report is ``RUN/report.html``. Like every evtp output it replaces an existing file only
with ``force`` and only when evtp wrote it (its generator tag, ``GENERATOR``); the run folder
is validated first (:mod:`coupling.runread`) and must be writable before figures are drawn.
"""

from __future__ import annotations

import base64
import html
import json
import tempfile
from pathlib import Path

from cases.atomic import OutputError, atomic_file, identity
from cases.output_policy import check_writable
from coupling.figures import figures_for
from coupling.runread import read_run

GENERATOR = "<meta name='generator' content='evtp report'>"


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


def write_report(
    run_dir: str | Path, case_dir: str | Path | None = None, *, force: bool = False
) -> Path:
    """Write ``report.html`` into ``run_dir`` (atomically) and return its path."""
    run_dir = Path(run_dir)
    summary, tables = read_run(run_dir)
    out = run_dir / "report.html"
    _check_target(out, force)
    check_writable(run_dir, str(out))
    before = identity(out)
    figs = figures_for(tables, Path(case_dir) if case_dir else None, summary)
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'>{GENERATOR}",
        f"<title>evtp report: {html.escape(str(summary.get('case')))}</title>",
        "<style>body{font-family:sans-serif;max-width:1000px;margin:auto}"
        "td,th{padding:2px 8px;text-align:left}img{max-width:100%}</style></head><body>",
        f"<h1>evtp run: {html.escape(str(summary.get('case')))}</h1>",
        f"<p><code>{html.escape(str(summary.get('command')))}</code></p><table>",
    ]
    for k, v in summary.items():
        if isinstance(v, dict | list):
            v = json.dumps(v)
        shown = f"{v:.6g}" if isinstance(v, float) else html.escape(str(v))
        parts.append(f"<tr><th>{html.escape(k)}</th><td>{shown}</td></tr>")
    parts.append("</table>")
    with tempfile.TemporaryDirectory() as tmp:
        for name, draw in figs.items():
            png = Path(tmp) / f"{name}.png"
            draw(png)
            data = base64.b64encode(png.read_bytes()).decode("ascii")
            parts.append(
                f"<h2>{html.escape(name)}</h2><img alt='{name}' src='data:image/png;base64,{data}'>"
            )
    parts.append("</body></html>\n")
    if identity(out) != before:
        raise OutputError(
            f"{out}: changed while the report was drawn (another evtp report?); not written"
        )
    return atomic_file(out, "\n".join(parts).encode("utf-8"))
