"""The output policy of every evtp command that writes (run commands, build, compare, report,
sweep), checked before any computation.

* ``--out ""``, the root folder, the current directory or a folder containing it, an input
  of the command or a folder containing one are refused;
* an existing non-empty target is refused unless ``--force`` is given, and ``--force``
  replaces only a folder evtp wrote of the same kind (its ``.evtp`` marker);
* the target's name must fit the file system and its parent must be writable with some free
  space, so that a bad target fails at once, not after the computation;
* leftovers of killed writers in the parent are removed (:func:`cases.atomic.clean_stale`);
* the folder found now is recorded, so that the final rename fails if another run wrote the
  target meanwhile (:func:`cases.atomic.expect`).

Only the standard library is imported.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from cases.atomic import OutputError, clean_stale, expect, identity, replaceable

MIN_FREE_BYTES = 1 << 20  # refuse a target on a file system with less free space than this
_PATH_SLACK = 64  # bytes left in PATH_MAX for the files written inside the target


@dataclass
class Prepared:
    """A checked output target and the stale partial folders removed from its parent."""

    path: Path
    removed: list[Path] = field(default_factory=list)


def _nearest_existing(path: Path) -> Path:
    for p in (path, *path.parents):
        if os.path.lexists(p):
            return p
    return Path("/")


def _limit(folder: Path, name: str, default: int) -> int:
    try:
        return int(os.pathconf(folder, name))
    except (OSError, ValueError):
        return default


def check_writable(folder: Path, label: str) -> None:
    """Refuse (OutputError) when nothing can be created in ``folder`` (probe folder made and
    removed) or its file system has less than ``MIN_FREE_BYTES`` free."""
    if not folder.is_dir():
        raise OutputError(f"{label}: {folder} is not a folder")
    try:
        probe = tempfile.mkdtemp(prefix=".evtp-probe.", dir=folder)
        os.rmdir(probe)
    except OSError as exc:
        raise OutputError(f"{label}: cannot write in {folder} ({exc.strerror})") from None
    free = shutil.disk_usage(folder).free
    if free < MIN_FREE_BYTES:
        raise OutputError(f"{label}: no space left in {folder} ({free} bytes free)")


def _inside(inner: Path, outer: Path) -> bool:
    return inner == outer or outer in inner.parents


def prepare_output(
    out: str | os.PathLike[str],
    *,
    kind: str,
    force: bool = False,
    inputs: Iterable[str | os.PathLike[str] | None] = (),
    option: str = "--out",
) -> Prepared:
    """Check the output folder ``out`` of a command of ``kind`` before it computes anything
    (see the module docstring); raise OutputError with one line naming it and the fix."""
    text = os.fspath(out)
    label = f"{option} {text!r}" if not text.strip() else f"{option} {text}"
    if not text.strip():
        raise OutputError(f"{label}: empty; give the name of a folder to write")
    if "\0" in text:
        raise OutputError(f"{option}: the name holds a NUL character")
    path = Path(text)
    try:
        real = path.resolve()
    except (OSError, RuntimeError) as exc:  # a symbolic-link loop
        raise OutputError(f"{label}: cannot be resolved ({exc})") from None
    if not real.name:
        raise OutputError(f"{label}: the root folder; give the name of a new folder")
    cwd = Path.cwd().resolve()
    if _inside(cwd, real):
        what = "the current directory" if real == cwd else "a folder containing the current one"
        raise OutputError(
            f"{label}: {what}; evtp writes a folder of its own, give its name "
            f"(e.g. {option} runs/NAME)"
        )
    for inp in inputs:
        if inp is None or not os.path.lexists(inp):
            continue  # a built-in case name, not a path
        r = Path(inp).resolve()
        if _inside(r, real):
            what = "is the input" if r == real else "contains the input"
            raise OutputError(f"{label}: {what} {os.fspath(inp)}; write the result elsewhere")
    ancestor = _nearest_existing(real.parent)
    name_max = _limit(ancestor, "PC_NAME_MAX", 255)
    if len(real.name.encode()) > name_max:
        raise OutputError(
            f"{label}: the name is {len(real.name.encode())} bytes, longer than the "
            f"{name_max} the file system allows"
        )
    path_max = _limit(ancestor, "PC_PATH_MAX", 4096)
    if len(str(real).encode()) + _PATH_SLACK > path_max:
        raise OutputError(f"{label}: the path is too long for the file system ({path_max} bytes)")
    replaceable(path, kind, force=force, what=label)
    check_writable(ancestor, label)
    removed = clean_stale(real.parent) if real.parent.is_dir() else []
    expect(path, identity(path))
    return Prepared(path, removed)
