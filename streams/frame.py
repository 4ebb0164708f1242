"""The unit of data that leaves a capture thread."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

# Where decoded images go: given a (height, width, 3) shape, a uint8 array of it. The pipeline passes one
# that returns page-locked (pinned) host memory on CUDA, so frames upload to the GPU straight from where
# they were decoded, without a staging copy in the detection thread. None: ordinary numpy memory.
FrameAllocator = Callable[[tuple[int, ...]], np.ndarray]


@dataclass(slots=True)
class Frame:
    """One decoded picture and where it came from.

    `pts` is media time in seconds: the file's presentation timestamp for files, seconds since the
    stream opened for live sources. Trackers use it, so a file tracks the same at any processing speed.
    `captured_at` is the wall-clock time (``time.time()``) the frame was read, used for latency and events.
    """

    stream_id: str
    index: int
    pts: float
    captured_at: float
    dropped: int
    image: np.ndarray
