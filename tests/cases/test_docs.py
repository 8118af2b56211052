"""The case-folder reference is generated from the registries and is up to date."""

from __future__ import annotations

from pathlib import Path

from cases.docs import reference
from power.feeder import TABLES
from traffic.network import TABLES as TRAFFIC_TABLES


def test_reference_is_current():
    doc = Path(__file__).resolve().parents[2] / "docs" / "case-folder.md"
    assert doc.read_text() == reference(), "run: python -m cases.docs > docs/case-folder.md"


def test_every_validated_column_is_documented():
    text = reference()
    for file, ids, nums in list(TABLES.values()) + list(TRAFFIC_TABLES.values()):
        section = text.split(f"## {file}")[1].split("\n## ")[0]
        for col in ids + nums:
            assert f"| `{col}` |" in section, (file, col)
