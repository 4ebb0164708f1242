"""What every roadwatch command shares: one-line errors, and Ctrl-C that ends a blocking loop."""

from __future__ import annotations

import signal
import sys

import typer


def fail(message: str) -> None:
    """One line on stderr and exit status 2: the contract for every input a user can fix."""
    print(f"roadwatch: error: {' '.join(str(message).split())}", file=sys.stderr, flush=True)
    raise typer.Exit(2)


def interrupt_on_signals() -> None:
    """Ctrl-C and SIGTERM raise KeyboardInterrupt, even in a process started with SIGINT ignored (as a
    shell's background jobs are), so a blocking loop ends cleanly."""

    def interrupt(_signum, _frame) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)
