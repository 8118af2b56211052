"""The one reading layer of case folders: every CSV table and ``case.toml`` is read here.

It refuses, with one line ``FILE: [column C: ][element E: ]problem (fix)``, what would
otherwise end in a traceback, a silent misreading or a hang:

* a path that is not a regular file (directory, FIFO, device such as ``/dev/zero``), checked
  with ``stat`` *before* anything opens it, so it cannot block; a file larger than
  :data:`MAX_BYTES`; a file that cannot be read (permissions);
* text that is not UTF-8 (a leading byte-order mark is allowed), NUL bytes;
* an empty (0-byte) file, a header-only file where rows are required, duplicate or empty
  column names, missing required columns;
* numeric cells that are not plain numbers (stray characters), that are not finite
  (``inf``, ``nan``, ``1e309`` overflowing to inf) or of absurd size (``|x| >= 1e15``), whole
  numbers where the registry says ``int``; empty cells where a value is required.

Ids stay text exactly as written: ``None``, ``NA`` and ``nan`` are valid ids, only an empty
cell is not. Columns and their kinds come from the attribute registries
(``power/registry.py``, ``traffic/registry.py``, ``robust/uncertainty.py``): kind ``id`` or
``text`` is kept as text, ``int`` and ``float`` are parsed; a column whose default is
``empty`` or ``empty allowed`` may have empty cells (read as NaN).

Problems are raised as :class:`~cases.case.CaseError`, or, given a ``problems`` list,
appended to it (``evtp check`` reports every problem of a folder).
"""

from __future__ import annotations

import csv
import io
import math
import os
import re
import stat
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cases.case import CaseError
from common.validate import Where

MAX_BYTES = 1 << 30  # 1 GiB: no case table comes near it; a larger file is a mistake
MAX_ABS = 1e15  # |value| of any numeric cell; squares of larger numbers overflow in models
_INT = re.compile(r"^\s*[+-]?\d+\s*$")
_BOM = "\ufeff"


@dataclass(frozen=True)
class Column:
    """One column of a table: ``kind`` id | text | int | float; ``unit`` for messages;
    ``empty_ok`` when empty cells are allowed (NaN); ``required`` when the column must exist."""

    name: str
    kind: str
    unit: str = ""
    empty_ok: bool = False
    required: bool = True


def columns_from_registry(attributes: list[tuple], table: str) -> dict[str, Column]:
    """The :class:`Column` specs of ``table`` from an attribute registry (format of
    ``power/registry.py``: table, column, kind, unit, required, default, description)."""
    return {
        a[1]: Column(
            name=a[1],
            kind=a[2],
            unit=a[3],
            empty_ok=a[5] in ("empty", "empty allowed") or not a[4],
            required=a[4],
        )
        for a in attributes
        if a[0] == table
    }


def plain(v: Any) -> str:
    """A value as a user reads it: ``10`` not ``np.int64(10)``, ``0.5`` not ``np.float64``."""
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float):
        return f"{v:g}" if math.isfinite(v) and v == v else str(v)
    return repr(v) if isinstance(v, str) else str(v)


# ---------------------------------------------------------------------- raw bytes and text
def read_bytes(path: str | Path, rel: str) -> bytes:
    """The bytes of a regular file, refused (one line naming ``rel``) when ``path`` is not a
    regular file, too large or unreadable. The kind and size are checked with ``stat``
    before the file is opened, so a FIFO or device cannot block."""
    path = Path(path)
    try:
        st = path.stat()
    except FileNotFoundError:
        raise CaseError(f"{rel}: file not found ({path})") from None
    except OSError as exc:
        raise CaseError(f"{rel}: cannot be read ({exc.strerror or exc})") from None
    if stat.S_ISDIR(st.st_mode):
        raise CaseError(f"{rel}: is a directory, not a file (put the CSV file there)")
    if not stat.S_ISREG(st.st_mode):
        kind = "a FIFO (named pipe)" if stat.S_ISFIFO(st.st_mode) else "not a regular file"
        raise CaseError(f"{rel}: is {kind} (give a regular file)")
    if st.st_size > MAX_BYTES:
        raise CaseError(
            f"{rel}: is {st.st_size / 2**20:.0f} MiB, above the {MAX_BYTES / 2**20:.0f} MiB "
            "limit of a case file (check that it is the right file)"
        )
    try:
        # O_NONBLOCK: should the file have been swapped for a FIFO since stat, open returns
        # at once instead of waiting for a writer
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except PermissionError:
        raise CaseError(f"{rel}: permission denied (make the file readable)") from None
    except OSError as exc:
        raise CaseError(f"{rel}: cannot be read ({exc.strerror or exc})") from None
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            raise CaseError(f"{rel}: is not a regular file (give a regular file)")
        return fh.read(MAX_BYTES + 1)


def decode(data: bytes, rel: str, *, nul_ok: bool = False) -> str:
    """UTF-8 text (a leading byte-order mark dropped); other encodings and (unless ``nul_ok``)
    NUL bytes refused with the line where they occur."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise CaseError(
            f"{rel}: line {line}: byte 0x{data[exc.start]:02x} is not UTF-8 text "
            "(save the file as UTF-8)"
        ) from None
    if text.startswith(_BOM):
        text = text[1:]
    pos = -1 if nul_ok else text.find("\x00")
    if pos >= 0:
        line = text.count("\n", 0, pos) + 1
        raise CaseError(f"{rel}: line {line}: contains a NUL byte (remove it)")
    return text


def read_text(path: str | Path, rel: str) -> str:
    """A text file through the checks of :func:`read_bytes` and :func:`decode`."""
    return decode(read_bytes(path, rel), rel)


def read_toml(path: str | Path, rel: str = "case.toml") -> dict[str, Any]:
    """A TOML document (``case.toml``) through the same checks as every table."""
    text = read_text(path, rel)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CaseError(f"{rel}: invalid TOML ({exc})") from None


# ---------------------------------------------------------------------- tables
def _fix(c: Column) -> str:
    unit = f" in {c.unit}" if c.unit and c.unit not in ("step", "steps", "fraction") else ""
    if c.kind == "int":
        return "write a whole number"
    return f"write a finite number{unit}"


def _parse_numbers(
    df: pd.DataFrame,
    c: Column,
    w: Where,
    key: str | None,
) -> pd.Series | None:
    """Column ``c`` of the all-text frame ``df`` as numbers (int64 when every cell is a whole
    number, else float64, as pandas would infer); None after a problem."""
    s = df[c.name]
    text = s.str.strip()
    empty = (text == "").to_numpy()
    vals = np.full(len(s), np.nan)
    bad_text = np.zeros(len(s), bool)
    for i, x in enumerate(text.to_numpy()):
        if empty[i]:
            continue
        try:
            vals[i] = float(x)
        except ValueError:
            bad_text[i] = True
    nonfinite = ~empty & ~bad_text & ~np.isfinite(vals)
    huge = ~empty & ~bad_text & np.isfinite(vals) & (np.abs(np.nan_to_num(vals)) >= MAX_ABS)
    whole = np.isfinite(vals) & (vals == np.round(np.nan_to_num(vals)))
    checks = [
        (bad_text, "is non-numeric"),
        (nonfinite, "is not a finite number"),
        (huge, f"is too large (|value| must be below {MAX_ABS:g})"),
    ]
    if not c.empty_ok:
        checks.insert(0, (empty, "is empty"))
    if c.kind == "int":
        checks.append((~empty & np.isfinite(vals) & ~whole, "is not a whole number"))
    ok = True
    for bad, what in checks:
        idx = np.flatnonzero(bad)
        if len(idx):
            ok = False
            i = int(idx[0])
            more = f"; {len(idx) - 1} more rows like it" if len(idx) > 1 else ""
            w.fail(
                c.name,
                f"{w.label(df, i, key, col=c.name, line=True)}: value {s.iloc[i]!r} {what} "
                f"({_fix(c)}{more})",
            )
    if not ok:
        return None
    if not empty.any() and text.str.match(_INT).all():
        return pd.Series(vals.astype(np.int64), index=s.index, name=c.name)
    return pd.Series(vals, index=s.index, name=c.name)


def _infer(s: pd.Series) -> pd.Series:
    """A column not in the registry, typed as pandas' CSV reader would type it."""
    text = s.str.strip()
    empty = text == ""
    if len(s) and not empty.any() and text.str.match(_INT).all():
        return pd.Series([int(x) for x in text], index=s.index, name=s.name, dtype=np.int64)
    try:
        vals = [np.nan if e else float(x) for x, e in zip(text, empty, strict=True)]
        if len(s) and not empty.all():
            return pd.Series(vals, index=s.index, name=s.name, dtype=float)
    except ValueError:
        pass
    return s.where(~empty, np.nan)


def _nul_message(text: str, pos: int, rel: str) -> str:
    """Where a NUL byte sits: line, column (by the header) and the row's first field."""
    lines = text.split("\n")
    n = text.count("\n", 0, pos)
    start = text.rfind("\n", 0, pos) + 1
    field = text.count(",", start, pos)
    header = lines[0].strip("\r").split(",")
    where = f"line {n + 1}"
    if n > 0 and field < len(header):
        first = lines[n].split(",")[0].replace("\x00", "")
        where = f"column {header[field]}: {header[0]} {first!r} (line {n + 1})"
    return f"{rel}: {where}: contains a NUL byte (remove it; a NUL must not end a number)"


def read_table(
    path: str | Path,
    rel: str,
    columns: dict[str, Column],
    *,
    min_rows: int = 0,
    problems: list[str] | None = None,
    error: type[Exception] = CaseError,
) -> pd.DataFrame | None:
    """Read and check the CSV table ``rel`` at ``path`` against ``columns`` (module docstring).

    Returns the table with id/text columns as str (NaN for an empty optional cell) and numeric
    columns parsed. On a problem: raise ``error`` (a :class:`CaseError` by default), or, with
    ``problems`` given, append every problem found (one per column and kind) and return None.
    """
    w = Where(rel, error, problems)
    try:
        text = decode(read_bytes(path, rel), rel, nul_ok=True)
    except CaseError as exc:
        w.report(str(exc))
        return None
    names = list(columns)
    pos = text.find("\x00")
    if pos >= 0:
        w.report(_nul_message(text, pos, rel))
        return None
    if not text.strip():
        w.fail(None, f"file is empty (write the header line {','.join(names)})")
        return None
    header = next(csv.reader(io.StringIO(text.splitlines()[0])), [])
    seen: set[str] = set()
    for h in header:
        if h.strip() == "":
            w.fail(None, "header has an empty column name (name every column)")
            return None
        if h in seen:
            w.fail(h, "appears twice in the header (keep one)")
            return None
        seen.add(h)
    missing = [c for c, spec in columns.items() if spec.required and c not in seen]
    if missing:
        for c in missing:
            w.fail(c, "missing column (add it to the header)")
        return None
    try:
        df = pd.read_csv(
            io.StringIO(text),
            dtype=str,
            keep_default_na=False,
            na_values=[],
            skip_blank_lines=True,
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        w.fail(None, f"cannot be read as CSV ({str(exc).splitlines()[0]})")
        return None
    if len(df) < min_rows:
        w.fail(
            None,
            f"has no rows (give at least {min_rows} row{'s' if min_rows > 1 else ''} "
            "below the header)",
        )
        return None
    key = next((c for c, spec in columns.items() if spec.kind == "id" and c in df.columns), None)
    out: dict[str, pd.Series] = {}
    ok = True
    for col in df.columns:
        s = df[col].fillna("")
        spec = columns.get(col)
        if spec is None:
            out[col] = _infer(s)
        elif spec.kind in ("id", "text"):
            empty = (s.str.strip() == "").to_numpy()
            if empty.any() and not spec.empty_ok:
                ok = False
                i = int(np.flatnonzero(empty)[0])
                what = "id" if spec.kind == "id" else "value"
                w.fail(
                    col,
                    f"{w.label(df, i, key, col=col, line=True)}: "
                    f"empty {what} (write one; text such as None or NA is a valid id)",
                )
            out[col] = s.where(~empty, np.nan) if spec.empty_ok else s
        else:
            parsed = _parse_numbers(df.fillna(""), spec, w, key)
            if parsed is None:
                ok = False
            else:
                out[col] = parsed
    if not ok:
        return None
    return pd.DataFrame(out, columns=list(df.columns))
