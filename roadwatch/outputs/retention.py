"""Retention for evidence files (snapshots and clips, counted together): files older than `days`, then the oldest
until the folders hold at most `max_gb`, are deleted, so a 24/7 run keeps its disk. Never a file being written:
those are temporaries (`.tmp`, `.part`) until renamed whole, and are left alone; never through a link.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

log = logging.getLogger(__name__)

BEING_WRITTEN = (".tmp", ".part")


def evidence_files(folder: Path) -> list[tuple[float, int, Path]]:
    """(modification time, size, path) of every whole regular file under `folder`, oldest first."""
    found = []
    for root, _, files in os.walk(folder, followlinks=False):
        for name in files:
            if name.endswith(BEING_WRITTEN):
                continue
            path = Path(root) / name
            try:
                st = path.lstat()
            except OSError:
                continue  # deleted meanwhile
            if not path.is_symlink():
                found.append((st.st_mtime, st.st_size, path))
    return sorted(found)


def prune_evidence(
    folders: Path | list[Path], days: float | None, max_gb: float | None, now: float | None = None
) -> int:
    """Delete what `days` and `max_gb` do not keep, the files of all `folders` together; returns how many went."""
    folders = [folders] if isinstance(folders, Path) else folders
    if days is None and max_gb is None:
        return 0
    now = time.time() if now is None else now
    files = sorted(f for folder in folders if folder.is_dir() for f in evidence_files(folder))
    total = sum(size for _, size, _ in files)
    budget = None if max_gb is None else max_gb * 2**30
    removed = 0
    for mtime, size, path in files:
        too_old = days is not None and now - mtime > days * 86400
        too_much = budget is not None and total > budget
        if not (too_old or too_much):
            break  # oldest first: what follows is newer, and the total is within budget
        try:
            path.unlink()
        except OSError as exc:
            log.warning("retention: cannot delete '%s' (%s)", path, exc)
            continue
        total -= size
        removed += 1
    return removed
