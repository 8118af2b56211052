"""Progress lines on stderr for long runs.

Library code marks what it is doing with :func:`phase` (a context manager) and reports finished
steps with :func:`note`; both are silent unless a command switched reporting on with
:func:`reporting` (the CLI does, for every command). While reporting is on, a background thread
prints a line ``interval_s`` seconds (default 5 s) after the last one, naming the current phase
and the elapsed time, so a long solve is never silent::

    evtp tariff: solving LP, 61,440 variables (HiGHS) ... 10 s (23 s in all)

Within one phase the gap between these lines doubles (5, 10, 20, 40 s, at most
``MAX_GAP_S``), so a phase of two minutes prints 4 lines, not 24; a new phase or a finished
step starts again from ``interval_s``.

``EVTP_PROGRESS=0`` in the environment switches the lines off; ``EVTP_PROGRESS_S`` sets the
interval (s).
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

INTERVAL_S = 5.0  # seconds before the first progress line of a phase
MAX_GAP_S = 60.0  # most seconds between two progress lines of a running command


class _Reporter:
    """Prints heartbeat lines for one command; the phases form a stack (innermost shown)."""

    def __init__(self, label: str, interval_s: float) -> None:
        self.label = label
        self.interval_s = interval_s
        self.start = time.monotonic()
        self.last_line = self.start
        self.beats = 0  # heartbeat lines since the last phase change or finished step
        self.phases: list[tuple[str, float]] = []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._beat, name="evtp-progress", daemon=True)

    def line(self, text: str, beat: bool = False) -> None:
        """Print ``text``; a heartbeat (``beat``) doubles the gap to the next one, any other
        line resets it."""
        with self.lock:
            self.last_line = time.monotonic()
            self.beats = self.beats + 1 if beat else 0
            print(f"evtp {self.label}: {text}", file=sys.stderr, flush=True)

    def reset(self) -> None:
        """A phase began or ended: the next heartbeat comes ``interval_s`` after the last
        line again."""
        with self.lock:
            self.beats = 0

    def gap(self) -> float:
        """Seconds from the last line to the next heartbeat."""
        return min(self.interval_s * 2.0**self.beats, max(MAX_GAP_S, self.interval_s))

    def _beat(self) -> None:
        while not self.stop.wait(min(0.5, self.interval_s / 4)):
            now = time.monotonic()
            if now - self.last_line < self.gap():
                continue
            with self.lock:
                name, since = self.phases[-1] if self.phases else ("running", self.start)
            text = f"{name} ... {now - since:.0f} s ({now - self.start:.0f} s in all)"
            self.line(text, beat=True)


_active: _Reporter | None = None


@contextmanager
def reporting(label: str, interval_s: float | None = None) -> Iterator[None]:
    """Switch progress lines on for the duration of a command called ``label``; a line at
    least every ``interval_s`` s (default ``EVTP_PROGRESS_S`` or ``INTERVAL_S``)."""
    global _active
    if _active is not None or os.environ.get("EVTP_PROGRESS", "1") == "0":
        yield
        return
    if interval_s is None:
        try:
            interval_s = float(os.environ.get("EVTP_PROGRESS_S", INTERVAL_S))
        except ValueError:
            interval_s = INTERVAL_S
        if not interval_s > 0:  # also nan
            interval_s = INTERVAL_S
    rep = _Reporter(label, interval_s)
    _active = rep
    rep.thread.start()
    try:
        yield
    finally:
        rep.stop.set()
        rep.thread.join()
        _active = None


@contextmanager
def phase(name: str) -> Iterator[None]:
    """Mark the enclosed work as phase ``name`` (e.g. "solving LP (HiGHS)") in progress lines."""
    rep = _active
    if rep is None:
        yield
        return
    with rep.lock:
        rep.phases.append((name, time.monotonic()))
    rep.reset()
    try:
        yield
    finally:
        with rep.lock:
            rep.phases.pop()
        rep.reset()


def note(text: str) -> None:
    """Print a finished step (e.g. "iteration 3: price change 0.02 $/kWh") when reporting."""
    if _active is not None:
        _active.line(text)
