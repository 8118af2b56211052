"""Reading run folders back (``evtp compare``, ``evtp report``), validated.

A run folder that was truncated, edited or is not a run folder at all gives one line naming
the file and what is wrong (:class:`RunFolderError`, exit code 2), never a traceback from
deep inside a comparison or a figure.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from coupling.output.summary import RunSummary
from power.dlmp import TARIFF_VALUES

# columns every reader of a table relies on, and which of them hold numbers
TABLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "paths": ("od", "path", "nodes", "t", "inflow"),
    "stations": ("station", "t", "queued", "charging", "p_kw"),
    "fleet": ("ev", "t", "p_kw", "soc"),
    "lines": ("line", "t", "loading"),
    "buses": ("bus", "t", "v_pu"),
    "tariffs": ("bus", "t", *TARIFF_VALUES),
}
NUMERIC = {"t", "inflow", "queued", "charging", "p_kw", "soc", "loading", "v_pu", *TARIFF_VALUES}
NULLABLE = set(TARIFF_VALUES[1:])  # the DLMP parts: empty where a mechanism has no DSO problem
ID_COLUMNS = {"bus": str, "line": str, "station": str, "ev": str}
MAX_SUMMARY_BYTES = 10 << 20  # a summary.json is a few kB


class RunFolderError(ValueError):
    """A run folder cannot be read; the message is one line naming the file and the fix."""


DAMAGED = "the run folder is damaged or was edited; run its command again"


def read_summary(folder: Path, keys: tuple[str, ...] = ()) -> dict[str, Any]:
    """``folder/summary.json`` as a dict holding ``keys``, its known keys of the types the
    typed summary declares (:mod:`coupling.output.summary`), or RunFolderError."""
    f = folder / "summary.json"
    if not folder.is_dir():
        raise RunFolderError(f"{folder}: not a folder (give a run folder written by evtp)")
    if not f.is_file():
        raise RunFolderError(f"{folder}: not a run folder (no summary.json)")
    try:
        if f.stat().st_size > MAX_SUMMARY_BYTES:
            raise RunFolderError(f"{f}: larger than {MAX_SUMMARY_BYTES >> 20} MB; {DAMAGED}")
        summary = json.loads(f.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        msg = f"not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
        raise RunFolderError(f"{f}: {msg}; {DAMAGED}") from None
    except UnicodeDecodeError:
        raise RunFolderError(f"{f}: not UTF-8 text; {DAMAGED}") from None
    except OSError as exc:
        raise RunFolderError(f"{f}: cannot be read ({exc.strerror})") from None
    if not isinstance(summary, dict):
        raise RunFolderError(f"{f}: not a JSON object; {DAMAGED}")
    try:
        RunSummary.read(summary)  # every key this version knows has its type
    except TypeError as exc:
        raise RunFolderError(f"{f}: {exc}; {DAMAGED}") from None
    missing = [k for k in keys if k not in summary]
    if missing:
        raise RunFolderError(f"{f}: key {missing[0]!r} missing; {DAMAGED}")
    return summary


def _check_table(name: str, df: pd.DataFrame, f: Path) -> None:
    need = TABLE_COLUMNS.get(name, ())
    for col in need:
        if col not in df.columns:
            raise RunFolderError(f"{f}: column {col!r} missing; {DAMAGED}")
    for col in (c for c in df.columns if c in NUMERIC):
        values = pd.to_numeric(df[col], errors="coerce")
        bad = values.isna() & df[col].notna() | (df[col].isna() & (col not in NULLABLE))
        if bad.any():
            row = int(bad.to_numpy().argmax())
            value = df[col].iloc[row]
            raise RunFolderError(
                f"{f}: column {col!r}, row {row + 2}: {value!r} is not a number; {DAMAGED}"
            )
        df[col] = values


def read_tables(folder: Path) -> dict[str, pd.DataFrame]:
    """Every ``*.csv`` of ``folder`` by name, its columns checked against ``TABLE_COLUMNS``."""
    tables: dict[str, pd.DataFrame] = {}
    for f in sorted(folder.glob("*.csv")):
        try:
            df = pd.read_csv(f, dtype=ID_COLUMNS)
        except pd.errors.EmptyDataError:
            raise RunFolderError(f"{f}: empty; {DAMAGED}") from None
        except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
            detail = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
            raise RunFolderError(f"{f}: not a readable table ({detail}); {DAMAGED}") from None
        except OSError as exc:
            raise RunFolderError(f"{f}: cannot be read ({exc.strerror})") from None
        _check_table(f.stem, df, f)
        tables[f.stem] = df
    return tables


def read_run(
    folder: str | Path, summary_keys: tuple[str, ...] = ("case",)
) -> tuple[dict[str, Any], dict[str, pd.DataFrame]]:
    """The summary and the tables of a run folder, validated (RunFolderError otherwise)."""
    folder = Path(folder)
    return read_summary(folder, summary_keys), read_tables(folder)
