"""What the pipeline keeps for one source while it runs."""

from __future__ import annotations

from dataclasses import dataclass, field

from roadwatch.outputs.best_frames import BestFrames
from roadwatch.pipeline.class_votes import ClassVotes
from roadwatch.pipeline.plate_schedule import PlateSchedule
from roadwatch.streams import ERROR_STATES, Capture, Frame, SourceSpec, StreamStatus
from roadwatch.trackers import CameraMotionEstimator, GroundMotion, RoadRules, ZoneLineMonitor


@dataclass
class StreamState:
    """One source's capture, tracker slot and per-track bookkeeping; its files belong to RunOutputs."""

    spec: SourceSpec
    capture: Capture
    slot: int  # its stream index in the pipeline's MultiStreamTracker; a re-added stream gets a new one
    zones: ZoneLineMonitor
    camera: CameraMotionEstimator | None = None
    ground: GroundMotion | None = None  # a calibrated camera: each track's position and speed on the road
    rules: RoadRules | None = None  # road rules (speeding, wrong way, dwell) and lane directions
    plates: PlateSchedule | None = None  # with the plate stage on
    thumbnails: dict[int, bytes] | None = None  # first sighting of each track, JPEG (footage analysis' report)
    best: BestFrames | None = None  # each track's best picture, saved when it ends (output.snapshots)
    frames: int = 0
    detected: int = 0  # of its frames, those that went through the detector (the others were predicted)
    last_frame: Frame | None = None
    last_update_pts: dict[int, float] = field(default_factory=dict)
    last_class: dict[int, int] = field(default_factory=dict)
    classes: ClassVotes = field(default_factory=ClassVotes)  # each track's class, voted over its life
    finished: bool = False
    # a live stream detected on a schedule: the batcher hands over every frame its buffer holds (that buffer's
    # bound still drops the oldest), so frames between detections are tracked, not dropped for the newest
    tracks_every_frame: bool = False

    def tracked(self, frame: Frame, detected: bool) -> None:
        """One of its frames went through the tracker (`detected`: and through the detector first)."""
        self.frames += 1
        self.detected += detected
        self.last_frame = frame

    def summary_entry(self) -> dict:
        """Its line in summary.json: frames processed, drops, status, and what went wrong."""
        capture = self.capture
        status = capture.status.value
        if capture.status is StreamStatus.ENDED and not self.spec.live and self.frames < capture.frames_read:
            status = StreamStatus.STOPPED.value  # read to its end, not processed to it: the run was stopped first
        entry = {"frames": self.frames, "detected": self.detected, "dropped": capture.buffer.dropped, "status": status}
        if self.spec.live:
            entry["reconnects"] = capture.reconnects
        if capture.status in ERROR_STATES and capture.error:
            entry["error"] = capture.error
        if capture.warning:
            entry["warning"] = capture.warning
        return entry
