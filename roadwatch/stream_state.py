"""What the pipeline keeps for one source while it runs."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from roadwatch.plates import PlateSchedule
from roadwatch.sinks import AnnotatedVideo, EventLog, RunSummary
from streams import Capture, Frame, SourceSpec
from trackers import CameraMotionEstimator, ZoneLineMonitor


@dataclass
class StreamState:
    """Everything the pipeline keeps for one source."""

    spec: SourceSpec
    capture: Capture
    slot: int  # its stream index in the pipeline's MultiStreamTracker; a re-added stream gets a new one
    video: AnnotatedVideo | None
    zones: ZoneLineMonitor
    camera: CameraMotionEstimator | None = None
    out_dir: Path | None = None  # its own output folder, with per_stream_outputs
    log: EventLog | None = None
    summary: RunSummary | None = None
    thumbnails: dict[int, bytes] | None = None  # first sighting of each track, JPEG
    frames: int = 0
    last_frame: Frame | None = None
    last_update_pts: dict[int, float] = field(default_factory=dict)
    last_class: dict[int, int] = field(default_factory=dict)
    plates: PlateSchedule | None = None  # with the plate stage on
    finished: bool = False
