"""The ``evtp`` console script: imports the CLI inside a guard, so Ctrl-C while the heavy
modules load ends with "Aborted!" (exit 130) rather than a traceback."""

from __future__ import annotations

import sys


def run() -> None:
    """Entry point of the ``evtp`` command."""
    try:
        from coupling.cli import main
    except KeyboardInterrupt:
        sys.stderr.write("\nAborted!\n")
        sys.exit(130)
    main()
