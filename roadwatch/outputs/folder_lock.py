"""One run per output folder: two runs writing one events.jsonl interleave their lines into a file nobody can
parse, and both used to exit 0.

The lock is an flock on `.roadwatch.lock` in the folder, so the kernel releases it when the process ends, however
it ends (a `kill -9` leaves no stale lock). Creating the file is also the check that the folder is writable, made
before the model loads: a read-only folder is a one-line error, not a traceback at the first write.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from roadwatch.errors import UserError

LOCK_NAME = ".roadwatch.lock"


class OutputFolderLock:
    """Held for the length of a job (`with OutputFolderLock(folder):`); the file holds the owner's pid."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._fd: int | None = None

    def __enter__(self) -> OutputFolderLock:
        path = self.folder / LOCK_NAME
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise UserError(
                f"output folder '{self.folder}': cannot write there ({exc.strerror}); pass another --output"
            ) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise UserError(
                f"output folder '{self.folder}' is in use by another roadwatch run (pid {owner}); "
                "pass another --output, or stop that run first"
            ) from None
        try:  # the owner's pid, for the message another run gets; a full disk only loses that
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        except OSError:
            pass
        self._fd = fd
        return self

    def __exit__(self, *exc) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing releases the flock; the file stays (unlinking it would race a new owner)
            self._fd = None
