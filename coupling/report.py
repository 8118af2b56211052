"""One self-contained HTML report of a run folder (``evtp report``): summary and figures
embedded as base64 PNGs."""

from __future__ import annotations

import base64
import html
import json
import os
import tempfile
from pathlib import Path

import pandas as pd

from coupling.figures import figures_for


def write_report(run_dir: str | Path, case_dir: str | Path | None = None) -> Path:
    """Write ``report.html`` into ``run_dir`` (atomically) and return its path."""
    run_dir = Path(run_dir)
    summary_file = run_dir / "summary.json"
    if not summary_file.is_file():
        raise FileNotFoundError(f"{run_dir}: not a run folder (no summary.json)")
    summary = json.loads(summary_file.read_text())
    tables = {
        p.stem: pd.read_csv(p, dtype={"bus": str, "line": str, "station": str, "ev": str})
        for p in run_dir.glob("*.csv")
    }
    figs = figures_for(tables, Path(case_dir) if case_dir else None)
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
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
    out = run_dir / "report.html"
    fd, tmp_path = tempfile.mkstemp(prefix=".report.", dir=run_dir)
    with os.fdopen(fd, "w") as fh:
        fh.write("\n".join(parts))
    os.replace(tmp_path, out)
    return out
