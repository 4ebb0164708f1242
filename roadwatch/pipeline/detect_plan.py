"""Detect less, track more: which frames of each stream go through the network, and which parts of them.

Per stream: a detection rate (`detect_fps`; frames between detections only advance the tracker), and
optionally motion gating: a detection due on a frame where nothing moves and nothing is tracked is skipped;
otherwise it looks only at regions around what moved and where the stream's tracks are predicted, with a
whole-frame pass every `full_frame_s` so still objects are found. A detection comes early (at most at twice
the rate) when motion appears away from every track and from the motion the last detection already looked
at (a clock overlay or a waving tree is looked at once per period, not on every frame), or when a track is
about to leave the frame.

The plan is made in the detection thread, from the tracks the pipeline thread last published for the
stream (`tracks_seen`: one reference swapped, no lock needed).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from roadwatch.config import ScheduleConfig, SourceConfig
from roadwatch.detector.filters import ExclusionMask
from roadwatch.detector.motion import MotionDetector, MotionSettings
from roadwatch.detector.regions import plan_regions, region_area
from roadwatch.streams import Frame
from roadwatch.trackers import TrackArrays

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Plan:
    """What the detector does with one frame: nothing (`detect` False), the whole frame (`regions` None), or
    only the (R, 4) regions."""

    detect: bool
    regions: np.ndarray | None = None


SKIP = Plan(False)
WHOLE = Plan(True)


@dataclass(frozen=True)
class StreamRate:
    """One stream's schedule: detections a second (None: every frame) and whether motion gates them."""

    fps: float | None
    motion: bool

    @property
    def scheduled(self) -> bool:
        """Not every frame goes through the network whole."""
        return self.fps is not None or self.motion

    @classmethod
    def of(cls, schedule: ScheduleConfig, live: bool, source: SourceConfig | None = None) -> StreamRate:
        fps = schedule.live_detect_fps if live else schedule.file_detect_fps
        motion = schedule.live_motion if live else schedule.file_motion
        if source is not None:
            fps = None if source.every_frame else (source.detect_fps or fps)
            motion = motion if source.motion is None else source.motion
        return cls(fps, motion)


class _Stream:
    """The planner's state for one stream."""

    def __init__(self, rate: StreamRate, motion: MotionDetector | None) -> None:
        self.rate = rate
        self.period = None if rate.fps is None else 1.0 / rate.fps
        self.motion = motion
        self.next_due = -np.inf
        self.last_detection = -np.inf
        self.last_full = -np.inf
        self.looked_at = np.zeros((0, 4))  # the motion boxes the last detection saw
        self.next_motion = -np.inf  # between detections motion is looked at twice a period, not every frame
        self.tracks: tuple[float, TrackArrays] | None = None  # (media time, confirmed tracks seen then)

    def due_by_clock(self, t: float) -> bool:
        """Its rate says detect at `t` (every frame, or the period since the last one is up)."""
        return self.period is None or t >= self.next_due - 1e-6


class DetectPlanner:
    """Plans each frame's detection from its stream's rate, its motion and its tracks."""

    def __init__(self, schedule: ScheduleConfig, imgsz: int, stride: int = 32) -> None:
        self.schedule = schedule
        self.imgsz = imgsz
        self.stride = stride
        self.motion_settings = MotionSettings(threshold=schedule.motion_threshold, min_area=schedule.motion_min_area)
        self._streams: dict[str, _Stream] = {}
        self._masks: dict[str, ExclusionMask | None] = {}  # per stream, read by the detection thread

    def add(self, stream_id: str, rate: StreamRate, mask: ExclusionMask | None = None) -> None:
        motion = MotionDetector(self.motion_settings, mask) if rate.motion else None
        self._streams[stream_id] = _Stream(rate, motion)
        self._masks[stream_id] = mask

    def rate_of(self, stream_id: str) -> StreamRate | None:
        stream = self._streams.get(stream_id)
        return None if stream is None else stream.rate

    def reschedule(self, stream_id: str, rate: StreamRate) -> bool:
        """A running stream's new rate (a reload changed its settings): planned afresh from its next frame,
        the first of which is detected. False where it had that rate already, or is not planned here."""
        if stream_id not in self._streams or self._streams[stream_id].rate == rate:
            return False
        self.add(stream_id, rate, self._masks.get(stream_id))
        log.info("stream '%s': detection rate now %s, motion gating %s", stream_id,
                 "every frame" if rate.fps is None else f"{rate.fps:g}/s", "on" if rate.motion else "off")
        return True

    def mask_of(self, stream_id: str) -> ExclusionMask | None:
        """The stream's exclusion mask, which its detections and its motion ignore."""
        return self._masks.get(stream_id)

    def remove(self, stream_id: str) -> None:
        self._streams.pop(stream_id, None)
        self._masks.pop(stream_id, None)

    def tracks_seen(self, stream_id: str, t: float, tracks: TrackArrays) -> None:
        """The stream's confirmed tracks at media time `t` (the pipeline thread, after each frame)."""
        stream = self._streams.get(stream_id)
        if stream is not None and stream.motion is not None:
            stream.tracks = (t, tracks)

    def plan(self, frame: Frame) -> Plan:
        stream = self._streams.get(frame.stream_id)
        if stream is None or (stream.period is None and stream.motion is None):
            return WHOLE
        t = frame.pts
        height, width = frame.image.shape[:2]
        tracked = self._predicted(stream, t)
        moving = self._motion(stream, frame, t)
        if moving is None or not self._due(stream, t, moving, tracked, width, height):
            return SKIP
        stream.next_due = t + (stream.period or 0.0)
        stream.looked_at = moving
        if stream.motion is None:
            stream.last_detection = t
            return WHOLE
        if t - stream.last_full >= self.schedule.full_frame_s:
            stream.last_full = stream.last_detection = t
            return WHOLE
        boxes = np.concatenate([moving, tracked])
        if not len(boxes):
            return SKIP  # nothing moves and nothing is tracked: no forward pass
        stream.last_detection = t
        regions = plan_regions(boxes, height, width, self.imgsz, self.stride)
        if region_area(regions) > self.schedule.max_region_share * height * width:
            stream.last_full = t
            return WHOLE
        return Plan(True, regions)

    def _due(self, stream: _Stream, t: float, moving: np.ndarray, tracked: np.ndarray, width: int, height: int) -> bool:
        if stream.due_by_clock(t):
            return True
        if stream.motion is None or t < stream.last_detection + stream.period / 2:
            return False
        known = np.concatenate([tracked, stream.looked_at])
        return bool(_unexplained(moving, known) or _leaving(stream, t, width, height))

    @staticmethod
    def _motion(stream: _Stream, frame: Frame, t: float) -> np.ndarray | None:
        """The frame's motion boxes; None on a frame between detections where motion is not looked at (at
        720p it costs about 2.5 ms a frame, the most of a quiet camera's cost when run on all 30 a second)."""
        if stream.motion is None:
            return np.zeros((0, 4))
        if not stream.due_by_clock(t) and t < stream.next_motion:
            return None
        if stream.period is not None:
            stream.next_motion = t + stream.period / 2
        return stream.motion.boxes(frame.image)

    @staticmethod
    def _predicted(stream: _Stream, t: float) -> np.ndarray:
        """(N, 4) boxes of the stream's tracks moved on to `t`."""
        if stream.tracks is None or not len(stream.tracks[1]):
            return np.zeros((0, 4))
        seen_at, tracks = stream.tracks
        return tracks.predicted_xyxy(max(0.0, t - seen_at))


def _unexplained(moving: np.ndarray, tracked: np.ndarray) -> bool:
    """Some motion is centred outside every known box (tracks, motion already looked at): something new may
    have come in."""
    if not len(moving):
        return False
    if not len(tracked):
        return True
    cx = (moving[:, 0] + moving[:, 2]) / 2
    cy = (moving[:, 1] + moving[:, 3]) / 2
    inside = (
        (cx[:, None] >= tracked[None, :, 0]) & (cx[:, None] <= tracked[None, :, 2])
        & (cy[:, None] >= tracked[None, :, 1]) & (cy[:, None] <= tracked[None, :, 3])
    )
    return bool((~inside.any(axis=1)).any())


def _leaving(stream: _Stream, t: float, width: int, height: int) -> bool:
    """A track will be out of the frame by the next due detection: see it once more before it goes."""
    if stream.tracks is None or not len(stream.tracks[1]) or stream.period is None:
        return False
    seen_at, tracks = stream.tracks
    ahead = tracks.predicted_xyxy(max(0.0, t + stream.period - seen_at))
    cx, cy = (ahead[:, 0] + ahead[:, 2]) / 2, (ahead[:, 1] + ahead[:, 3]) / 2
    return bool(((cx < 0) | (cx > width) | (cy < 0) | (cy > height)).any())
