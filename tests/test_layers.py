"""The dependency rules of DESIGN §2 and of the README's layout, read from the import statements.

Every module-level or function-level ``import``/``from`` of one of our packages is checked: a
package may import only the packages listed for it, and inside ``coupling/`` imports run
downwards only (``cli`` → ``studies`` → ``jobs`` → ``problems``/``output``).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OURS = {"traffic", "power", "robust", "cases", "coupling", "engine", "common"}
ALLOWED = {
    "common": set(),
    "engine": {"common"},
    "traffic": {"engine", "common"},
    "power": {"engine", "common"},
    "robust": {"engine", "common"},
    "cases": {"traffic", "power", "robust", "common"},
    "coupling": OURS,
}
# coupling's own layers: who may import whom (a layer may always import itself)
COUPLING = {
    "cluster": set(),  # the Dask clusters of sweeps and tariff runs: infrastructure, at the bottom
    "problems": {"cluster"},
    "output": set(),
    "jobs": {"problems", "output", "cluster"},
    "studies": {"jobs", "problems", "output", "cluster"},
    "cli": {"studies", "jobs", "problems", "output", "cluster"},
    "entry": {"cli"},
}


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.append(node.module)
    return out


def _layer(parts: tuple[str, ...]) -> str:
    return parts[1] if len(parts) > 2 else Path(parts[1]).stem


def test_packages_import_only_what_design_allows() -> None:
    bad = []
    for pkg in sorted(OURS):
        for path in sorted((ROOT / pkg).rglob("*.py")):
            for mod in _imports(path):
                top = mod.split(".")[0]
                if top in OURS and top != pkg and top not in ALLOWED[pkg]:
                    bad.append(f"{path.relative_to(ROOT)} imports {mod}")
    assert not bad, "\n".join(bad)


def test_coupling_imports_run_downwards() -> None:
    bad = []
    for path in sorted((ROOT / "coupling").rglob("*.py")):
        rel = path.relative_to(ROOT).parts
        if rel[-1] == "__init__.py" and len(rel) == 2:
            continue
        me = _layer(rel)
        for mod in _imports(path):
            parts = mod.split(".")
            if parts[0] != "coupling" or len(parts) < 2:
                continue
            other = parts[1]
            if other != me and other not in COUPLING[me]:
                bad.append(f"{path.relative_to(ROOT)} ({me}) imports {mod} ({other})")
    assert not bad, "\n".join(bad)
