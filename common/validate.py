"""The one helper family of the input validators: where a problem sits, and how it is told.

A :class:`Where` names a file (or a table, e.g. ``grid/lines.csv`` or ``demand aggregation``)
and the error class of the package that checks it. Its methods find the first bad row, name
that row and report one line ``<file>: column <column>: <message>``: they raise the error,
or, when a ``problems`` list is given (``evtp check``), append the line and go on.

This is the bottom layer: it imports nothing of ours.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd


def shown(v: Any) -> str:
    """A cell value as a user reads it (``0.5``, ``'E4'``, ``inf``), never a numpy repr."""
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float):
        return f"{v:g}"
    return repr(v)


def as_text(v: Any) -> str:
    """An id quoted as text whatever its type (``'7'`` for the number 7)."""
    return repr(str(v))


def bare(v: Any) -> str:
    """An id between plain single quotes, without escaping (``'T1'``)."""
    return f"'{v}'"


def first(mask: pd.Series | np.ndarray | Sequence[bool]) -> int | None:
    """Position of the first true entry of ``mask``; None when there is none."""
    idx = np.flatnonzero(np.asarray(mask))
    return int(idx[0]) if len(idx) else None


@dataclass(frozen=True)
class Where:
    """Where problems are reported: ``file`` (a case-folder file or a table name), the
    ``error`` class raised, and ``problems``: None to raise the first problem, a list to
    collect every problem instead. ``key`` is the id column that names a row (see
    :meth:`label`); ``tag`` stands before a column name in a message."""

    file: str
    error: type[Exception] = ValueError
    problems: list[str] | None = None
    key: str | None = None
    tag: str = "column "

    # ------------------------------------------------------------------ reporting
    def message(self, column: str | None, msg: str) -> str:
        """``<file>: column <column>: <msg>`` (without the column part when it is None)."""
        where = self.file + (f": {self.tag}{column}" if column is not None else "")
        return f"{where}: {msg}"

    def error_for(self, column: str | None, msg: str) -> Exception:
        """The error of :meth:`message`, to raise (``raise where.error_for(...) from None``)."""
        return self.error(self.message(column, msg))

    def report(self, text: str) -> None:
        """Raise ``text`` as the error, or append it to ``problems``."""
        if self.problems is None:
            raise self.error(text)
        self.problems.append(text)

    def fail(self, column: str | None, msg: str) -> None:
        """Report :meth:`message` (raise, or collect in ``problems``)."""
        self.report(self.message(column, msg))

    # ------------------------------------------------------------------ naming a row
    def label(
        self,
        df: pd.DataFrame,
        i: int,
        key: str | None = None,
        *,
        show: Callable[[Any], str] = shown,
        col: str | None = None,
        line: bool = False,
    ) -> str:
        """Name row ``i`` of ``df`` by its id column ``key`` (default: the one of this
        :class:`Where`): ``bus 'E4'``.

        ``line=False``: ``row <line>`` when ``key`` is not a column. ``line=True`` (cells of
        a CSV file): also the step and the file line, ``od 'A' t=3 (line 5)``, leaving out
        the id and step of the column ``col`` at fault."""
        key = key or self.key
        has_key = key is not None and key in df.columns
        if not line:
            return f"{key} {show(df[key].iloc[i])}" if has_key else f"row {i + 2}"
        parts = []
        if has_key and key != col:
            parts.append(f"{key} {show(df[key].iloc[i])}")
        if "t" in df.columns and col != "t":
            parts.append(f"t={df['t'].iloc[i]}")
        parts.append(f"(line {i + 2})")
        return " ".join(parts)

    # ------------------------------------------------------------------ checks
    def check(self, column: str | None, bad: Any, msg: Callable[[int], str]) -> bool:
        """Report ``msg(i)`` for the first row ``i`` where ``bad`` is true; True when none."""
        i = first(bad)
        if i is None:
            return True
        self.fail(column, msg(i))
        return False

    def missing_columns(self, df: pd.DataFrame, required: Collection[str], msg: str) -> bool:
        """Report ``msg`` for the first column of ``required`` absent from ``df``."""
        for col in required:
            if col not in df.columns:
                self.fail(col, msg)
                return False
        return True

    def unique(self, df: pd.DataFrame, cols: list[str]) -> bool:
        """Report the first row that repeats the values of ``cols``:
        ``duplicate entry bus='E4', t=3`` on column ``cols[0]``."""
        return self.check(
            cols[0],
            df.duplicated(cols),
            lambda i: "duplicate entry " + ", ".join(f"{c}={shown(df[c].iloc[i])}" for c in cols),
        )

    def ref(
        self,
        df: pd.DataFrame,
        col: str,
        known: Collection[Any],
        what: str,
        key: str | None = None,
        *,
        show: Callable[[Any], str] = shown,
    ) -> bool:
        """Report the first row whose ``col`` is not in ``known``:
        ``line '7' refers to unknown bus '99'``."""
        return self.check(
            col,
            ~df[col].isin(known),
            lambda i: (
                f"{self.label(df, i, key, show=show)} refers to unknown {what} "
                f"{shown(df[col].iloc[i])}"
            ),
        )

    def range(
        self,
        df: pd.DataFrame,
        col: str,
        ok: Any,
        rule: str,
        key: str | None = None,
        *,
        show: Callable[[Any], str] = shown,
        name: Callable[[int], str] | None = None,
    ) -> bool:
        """Report the first row where ``ok`` is false: ``bus 'E4' value -1 must be positive``
        (``name(i)`` instead of the row's :meth:`label` when given)."""
        name = name or (lambda i: self.label(df, i, key, show=show))
        return self.check(
            col, ~np.asarray(ok), lambda i: f"{name(i)} value {shown(df[col].iloc[i])} {rule}"
        )
