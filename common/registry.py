"""Attribute registries of case-folder tables (``power/registry.py``, ``traffic/registry.py``):
one row per column ``(table, column, kind, unit, required, default, description)``. They drive
validation (required columns, id vs numeric parsing), the CSV column order and
docs/case-folder.md. Kinds: ``id`` (text id), ``text``, ``int`` (step index or count),
``float``."""

from __future__ import annotations

from dataclasses import dataclass

Attribute = tuple[str, str, str, str, bool, str, str]
TEXT_KINDS = ("id", "text")
NUMBER_KINDS = ("int", "float")


@dataclass(frozen=True)
class Registry:
    """The tables of one package: ``files`` maps a table to (path in the case folder, optional
    table?) and ``attributes`` lists its columns."""

    files: dict[str, tuple[str, bool]]
    attributes: list[Attribute]

    def required(self, table: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """(required text columns, required numeric columns) of ``table``, in registry order."""
        rows = [a for a in self.attributes if a[0] == table and a[4]]
        return (
            tuple(a[1] for a in rows if a[2] in TEXT_KINDS),
            tuple(a[1] for a in rows if a[2] in NUMBER_KINDS),
        )

    def columns(self, table: str) -> tuple[str, ...]:
        """All registered columns of ``table`` in file order."""
        return tuple(a[1] for a in self.attributes if a[0] == table)
