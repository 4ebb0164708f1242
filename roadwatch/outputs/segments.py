"""Output segments for 24/7 runs: an events file and annotated videos that end on a clock, not with the run.

One file for a run that never ends grows until the disk is full, and an mp4 killed before it is finalised
does not play. With `output.segment_s`, each output is closed (whole, playable) at every multiple of that
many seconds of UTC time and a new one begun, named by its start (`events_20261201T120000Z.jsonl`); with
`output.keep_segments`, the oldest of each series beyond that many are deleted as new ones begin.
"""

from __future__ import annotations

import math
import os
import re
import time
from pathlib import Path

STAMP = "%Y%m%dT%H%M%SZ"
STAMP_GLOB = "????????T??????Z"


def segment_start(t: float, seconds: float) -> float:
    """The start of the segment that wall-clock time `t` falls in: boundaries on multiples of `seconds` since
    the epoch, so hourly segments begin on the hour."""
    return math.floor(t / seconds) * seconds


def segment_path(series: Path, start: float) -> Path:
    """The file of `series` (the unsegmented name, e.g. events.jsonl) for the segment starting at `start`.
    A run restarted within a segment (a crash, a service restart) must not overwrite what the previous one
    wrote there: an existing name gets a count, `events_20261201T120000Z-1.jsonl`."""
    base = f"{series.stem}_{time.strftime(STAMP, time.gmtime(start))}"
    path, n = series.with_name(base + series.suffix), 0
    while os.path.lexists(path):  # a dangling link planted there counts as taken too
        n += 1
        path = series.with_name(f"{base}-{n}{series.suffix}")
    return path


def prune(series: Path, keep: int) -> list[Path]:
    """Delete all but the newest `keep` (0 or more) segments of `series`; returns the deleted ones, oldest
    first (by start, then count: the stamps sort as times do)."""
    pattern = re.compile(rf"{re.escape(series.stem)}_(\d{{8}}T\d{{6}}Z)(?:-(\d+))?{re.escape(series.suffix)}")
    segments = []
    for path in series.parent.glob(f"{series.stem}_{STAMP_GLOB}*{series.suffix}"):
        match = pattern.fullmatch(path.name)
        if match:
            segments.append((match[1], int(match[2] or 0), path))
    segments.sort()
    doomed = [path for _, _, path in segments[: max(0, len(segments) - keep)]]
    for path in doomed:
        path.unlink(missing_ok=True)
    return doomed
