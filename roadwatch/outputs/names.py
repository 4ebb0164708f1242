"""Where a run's files go, so that no run harms what it did not write.

- An output folder may hold an earlier run's files (a restart after a crash, `kill -9` included, or a second run
  into the same folder): this run's names then carry a suffix, `events-1.jsonl`, `summary-1.json`,
  `annotated-1.mp4` (analysis folders `<id>-1/`), the first count free, as segments do. With segments the
  events and videos are already named by their start and counted (segments.py), so only the summary needs one.
- Files are opened without following a symbolic link planted under an output name: roadwatch writes its own
  files, never a file a link points to.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO

from roadwatch.outputs.folder_lock import LOCK_NAME


def run_suffix(out_dir: Path, per_stream: bool, segmented: bool) -> str:
    """"" when the folder holds no earlier run's outputs, else "-N" with the first N none of them uses."""
    try:
        entries = [p for p in out_dir.iterdir() if p.name != LOCK_NAME]
    except OSError:
        return ""
    n = 0
    while any(_would_write(p, f"-{n}" if n else "", per_stream, segmented) for p in entries):
        n += 1
    return f"-{n}" if n else ""


def _would_write(path: Path, suffix: str, per_stream: bool, segmented: bool) -> bool:
    """Whether a run with `suffix` would write over `path`. Errs on the safe side: a stream id that happens to
    end in "-2" only moves this run to another count."""
    name = path.name
    if name == f"summary{suffix}.json":
        return True
    if per_stream:  # footage analysis: a folder per input, <id><suffix>
        return path.is_dir() and name.endswith(suffix)
    if segmented:  # events and videos are named by their segment, and never overwritten (segments.py)
        return False
    return name == f"events{suffix}.jsonl" or (name.startswith("annotated") and name.endswith(f"{suffix}.mp4"))


def open_new(path: Path) -> BinaryIO:
    """For writing from the start, refusing to follow a symbolic link at `path` (OSError ELOOP)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    return os.fdopen(fd, "wb")


def refuse_link(path: Path) -> None:
    """For writers that open by name themselves (OpenCV's VideoWriter): a link at `path` is an error."""
    if path.is_symlink():
        raise OSError(f"'{path}' is a symbolic link; roadwatch writes only its own files")
