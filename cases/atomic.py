"""Atomic folder and file writes that never destroy what evtp did not write.

A folder is built in a hidden temporary sibling ``.NAME.xxxxxxxx`` and renamed into place at
the end, so an interrupted or failed writer leaves no partial ``NAME``. The temporary folder
holds a writer record (``.evtp-writer``: host, boot, pid and process start time); a writer
killed by SIGKILL leaves it behind and the next writer into the same parent folder removes it
once that process is gone (:func:`clean_stale`). Every finished folder holds the marker
``.evtp`` naming its kind (``case``, ``run``, ``compare``, ``sweep``); an existing folder is
replaced only when it is empty or carries the marker of the same kind, and only when it is
still the folder that was there when the command started (:func:`expect`), so two runs
writing to the same target cannot both succeed. Folders and files get the permissions of the
process umask (``0o777 & ~umask``, ``0o666 & ~umask``), not ``mkdtemp``'s 0700.

Only the standard library is imported: the command line imports this before any model code.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import socket
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

MARKER = ".evtp"  # in every folder evtp writes: "evtp <kind>\n"
WRITER = ".evtp-writer"  # in a temporary folder while it is written: who writes it
_SHORT = 120  # characters of the target name kept in temporary names (NAME_MAX is 255 bytes)
# errors of the file system, not of the input: turned into one line (OutputError)
_WRITE_ERRNOS = {
    errno.ENOSPC,
    errno.EDQUOT,
    errno.EROFS,
    errno.EACCES,
    errno.EPERM,
    errno.ENAMETOOLONG,
}


class OutputError(ValueError):
    """An output target cannot be written; the message is one line naming it and the fix."""


# absolute target -> identity (st_dev, st_ino) of the folder it may replace, or None when it
# must not exist; recorded by the command line before computing (see ``expect``)
_expected: dict[str, tuple[int, int] | None] = {}


def umask() -> int:
    """The process umask, read without changing it where /proc allows."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def identity(path: str | Path) -> tuple[int, int] | None:
    """(device, inode) of ``path`` itself (symbolic links not followed); None if absent."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    return st.st_dev, st.st_ino


def marker_kind(folder: str | Path) -> str | None:
    """The kind named by ``folder``'s evtp marker, or None when it has none."""
    f = Path(folder) / MARKER
    try:
        if not f.is_file() or f.is_symlink():
            return None
        with open(f, encoding="utf-8", errors="replace") as fh:
            text = fh.read(200).strip()
    except OSError:
        return None
    return text[5:] if text.startswith("evtp ") else None


def replaceable(target: str | Path, kind: str, *, force: bool, what: str | None = None) -> None:
    """Refuse (OutputError) when writing ``target`` would destroy something: an existing
    non-empty folder needs ``force``, and even then it must carry evtp's marker of ``kind``."""
    target = Path(target)
    name = what or str(target)
    if target.is_symlink():
        raise OutputError(f"{name}: is a symbolic link; give the folder itself or a new name")
    if not target.exists():
        return
    if not target.is_dir():
        raise OutputError(f"{name}: exists and is not a folder; choose another name")
    try:
        if not any(target.iterdir()):
            return
    except OSError as exc:
        raise OutputError(f"{name}: cannot be read ({exc.strerror}); choose another name") from None
    if not force:
        raise OutputError(
            f"{name}: exists and is not empty; choose another name, or pass --force to replace "
            f"a {kind} folder evtp wrote"
        )
    found = marker_kind(target)
    if found is None:
        raise OutputError(
            f"{name}: was not written by evtp (no {MARKER} marker), so --force does not replace "
            "it; choose another name"
        )
    if found != kind:
        raise OutputError(
            f"{name}: is an evtp {found} folder; --force replaces it only with another {found} "
            "folder; choose another name"
        )


def expect(target: str | Path, ident: tuple[int, int] | None) -> None:
    """Record that ``target`` may replace the folder ``ident`` (None: nothing may be there)
    when it is written; a different folder found there at the end fails the write."""
    _expected[os.path.abspath(target)] = ident


def forget_expectations() -> None:
    """Drop every recorded expectation (the end of one command)."""
    _expected.clear()


def _start_ticks(pid: int) -> int | None:
    """Start time of process ``pid`` in clock ticks since boot (Linux), None if unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return int(stat.rsplit(")", 1)[1].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def _boot_id() -> str | None:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return None


def _writer_record() -> dict:
    pid = os.getpid()
    return {
        "pid": pid,
        "start": _start_ticks(pid),
        "host": socket.gethostname(),
        "boot": _boot_id(),
    }


def _write_writer(folder: Path) -> None:
    (folder / WRITER).write_text(json.dumps(_writer_record()) + "\n")


def writer_is_dead(record: dict) -> bool:
    """True when the process of a writer record has surely ended (same host; its pid gone,
    reused by a later process, or the machine rebooted since)."""
    if record.get("host") != socket.gethostname():
        return False
    boot = _boot_id()
    if record.get("boot") and boot and record["boot"] != boot:
        return True
    pid = record.get("pid")
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass  # alive, another user's
    start, now = record.get("start"), _start_ticks(pid)
    return start is not None and now is not None and start != now


def clean_stale(parent: str | Path) -> list[Path]:
    """Remove the hidden temporary folders in ``parent`` left by evtp writers that were
    killed (their writer record names a process that has ended); return what was removed."""
    removed: list[Path] = []
    try:
        entries = list(os.scandir(parent))
    except OSError:
        return removed
    for entry in entries:
        if not entry.name.startswith(".") or not entry.is_dir(follow_symlinks=False):
            continue
        rec_file = Path(entry.path) / WRITER
        try:
            if rec_file.is_symlink() or rec_file.stat().st_size > 4096:
                continue
            record = json.loads(rec_file.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(record, dict) and writer_is_dead(record):
            shutil.rmtree(entry.path, ignore_errors=True)
            if not os.path.lexists(entry.path):
                removed.append(Path(entry.path))
    return removed


def _changed(target: Path) -> OutputError:
    return OutputError(
        f"{target}: changed while this command was running (another evtp run writing to the "
        "same place?); this result was not written"
    )


def _commit(tmp: Path, target: Path, expected: tuple[int, int] | None) -> None:
    """Rename ``tmp`` to ``target``; fail when ``target`` is not what was ``expected``."""
    if expected is None:
        try:
            os.mkdir(target)  # claims the name: a second writer fails here
        except FileExistsError:
            raise _changed(target) from None
        try:
            os.rename(tmp, target)  # replaces the empty folder just made
        except OSError:
            os.rmdir(target)
            raise
        return
    if identity(target) != expected:
        raise _changed(target)
    try:
        os.rename(tmp, target)  # the expected folder is empty
        return
    except OSError as exc:
        if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
            raise
    aside = Path(tempfile.mkdtemp(prefix=f".{target.name[:_SHORT]}.old.", dir=target.parent))
    os.rename(target, aside)  # take the old folder away in one step
    if identity(aside) != expected:  # someone replaced it just before: put theirs back
        try:
            os.rename(aside, target)
        except OSError:
            _write_writer(aside)
        raise _changed(target)
    _write_writer(aside)  # removable by clean_stale should this process die now
    try:
        os.rename(tmp, target)
    except OSError:
        try:
            os.rename(aside, target)
        except OSError:
            pass
        raise _changed(target) from None
    shutil.rmtree(aside, ignore_errors=True)


def _is_write_error(exc: OSError, parent: Path) -> bool:
    """A file-system error of writing below ``parent`` (full disk, read-only, permission)."""
    if exc.errno not in _WRITE_ERRNOS:
        return False
    names = [n for n in (exc.filename, exc.filename2) if n is not None]
    here = os.path.abspath(parent)
    return not names or any(os.path.abspath(str(n)).startswith(here) for n in names)


@contextmanager
def atomic_folder(target: str | Path, *, kind: str = "case") -> Iterator[Path]:
    """Yield a temporary folder beside ``target``; on success it becomes ``target``, on any
    error or interrupt it is deleted and ``target`` is untouched.

    ``kind`` names what the folder is (``case``, the default, for case folders; ``run``,
    ``compare``, ``sweep``); it is written to the marker. An existing ``target`` is replaced
    only when it is empty or an evtp folder of the same kind (the command line asks for
    ``--force`` first), and only if it is still the one recorded by :func:`expect`.
    """
    target = Path(target)
    key = os.path.abspath(target)
    if key in _expected:
        expected = _expected.pop(key)
    else:
        replaceable(target, kind, force=True)
        expected = identity(target)
    parent = target.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        clean_stale(parent)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name[:_SHORT]}.", dir=parent))
    except OSError as exc:
        if _is_write_error(exc, parent):
            raise OutputError(f"{target}: cannot write ({exc.strerror})") from None
        raise
    try:
        _write_writer(tmp)
        yield tmp
        (tmp / MARKER).write_text(f"evtp {kind}\n")
        (tmp / WRITER).unlink()
        os.chmod(tmp, 0o777 & ~umask())
        _commit(tmp, target, expected)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if _is_write_error(exc, parent):
            raise OutputError(f"{target}: cannot write ({exc.strerror})") from None
        raise
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def atomic_file(target: str | Path, data: bytes) -> Path:
    """Write ``data`` to file ``target`` through a temporary sibling renamed into place, with
    the permissions of the umask; the replacement policy is the caller's."""
    target = Path(target)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name[:_SHORT]}.", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o666 & ~umask())
        os.replace(tmp, target)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        if _is_write_error(exc, target.parent):
            raise OutputError(f"{target}: cannot write ({exc.strerror})") from None
        raise
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target
