"""Wiring: source -> ring buffer -> batcher -> detector -> tracker -> events and sinks.

Capture runs in one thread per source; everything after the buffers runs in the caller's thread,
batch by batch, so per-stream order is kept without locks.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from detector import Batcher, YoloDetector
from roadwatch.config import Config
from roadwatch.events import Event, EventFactory, EventType
from roadwatch.sinks import AnnotatedVideo, EventLog, RunSummary, write_json_atomic
from roadwatch.zmq_io import EventPublisher
from streams import CaptureThread, Frame, SourceInfo, SourceSpec, StreamStatus, buffer_for
from trackers import Tracker, TrackerConfig, TrackView

log = logging.getLogger(__name__)


def stream_ids_for(uris: list[str], given: list[str | None] | None = None) -> list[str]:
    """Readable, unique stream ids: the given id, else a file's stem, else cam<N> / url<N>."""
    given = given or [None] * len(uris)
    ids: list[str] = []
    for i, (uri, explicit) in enumerate(zip(uris, given)):
        if explicit:
            base = explicit
        elif uri.isdigit():
            base = f"cam{uri}"
        elif "://" in uri:
            base = f"url{i}"
        else:
            base = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(uri.rstrip("/*")).stem) or f"src{i}"
        name, n = base, 1
        while name in ids:
            n += 1
            name = f"{base}-{n}"
        ids.append(name)
    return ids


@dataclass
class StreamState:
    """Everything the pipeline keeps for one source."""

    spec: SourceSpec
    capture: CaptureThread
    tracker: Tracker
    video: AnnotatedVideo | None
    frames: int = 0
    last_frame: Frame | None = None
    last_update_pts: dict[int, float] = field(default_factory=dict)
    last_class: dict[int, int] = field(default_factory=dict)
    finished: bool = False


class Pipeline:
    """Runs the sources to their end (files) or until `stop` is set (live sources, Ctrl-C, SIGTERM)."""

    def __init__(
        self,
        config: Config,
        specs: list[SourceSpec],
        infos: dict[str, SourceInfo],
        detector: YoloDetector,
        publisher: EventPublisher | None,
        out_dir: Path,
    ) -> None:
        self.config = config
        self.detector = detector
        self.publisher = publisher
        self.out_dir = out_dir
        self.events = EventFactory()
        self.event_log = EventLog(out_dir / "events.jsonl")
        self.summary = RunSummary()
        self.batcher: Batcher[Frame] = Batcher(config.detector.max_batch, config.detector.max_wait_ms / 1000)
        tracker_config = TrackerConfig(
            min_hits=config.tracker.min_hits,
            max_age_s=config.tracker.max_age_s,
            iou_threshold=config.tracker.iou_threshold,
            new_track_confidence=config.tracker.new_track_confidence,
        )
        self.streams: dict[str, StreamState] = {}
        for spec in specs:
            buffer = buffer_for(spec, config.streams.live_buffer, config.streams.file_buffer, self.batcher.wake)
            video = None
            if config.output.video:
                name = "annotated.mp4" if len(specs) == 1 else f"annotated_{spec.stream_id}.mp4"
                fps = infos[spec.stream_id].fps if spec.stream_id in infos else 0.0
                video = AnnotatedVideo(out_dir / name, fps, config.output.codec, detector.category_names)
            self.streams[spec.stream_id] = StreamState(spec, CaptureThread(spec, buffer), Tracker(tracker_config), video)
            self.batcher.add(spec.stream_id, buffer)
            self.summary.add_stream(spec.stream_id, spec.uri)
        self.started_at = 0.0

    def run(self, stop: threading.Event, on_batch: Callable[[dict[str, int]], None] | None = None) -> dict:
        """Process until every source is done or `stop` is set; always finalises outputs. Returns the summary."""
        self.started_at = time.monotonic()
        for state in self.streams.values():
            state.capture.start()
        try:
            while not stop.is_set():
                batch = self.batcher.next_batch(stop)
                if batch is None:
                    break
                if not batch:
                    continue
                results = self.detector.detect([frame.image for frame in batch])
                counts: dict[str, int] = {}
                for frame, detections in zip(batch, results):
                    self._process(frame, detections)
                    counts[frame.stream_id] = counts.get(frame.stream_id, 0) + 1
                self._finish_ended_streams()
                self.event_log.flush()
                if on_batch is not None:
                    on_batch(counts)
        finally:
            summary = self._shutdown()
        return summary

    def _process(self, frame: Frame, detections) -> None:
        state = self.streams[frame.stream_id]
        category_id = detections.data.get("category_id", np.zeros(0, dtype=np.int64))
        step = state.tracker.update(
            frame.pts, detections.xyxy, detections.confidence, detections.class_id, category_id
        )
        size = (frame.image.shape[1], frame.image.shape[0])
        for track in step.ended:
            self._emit_track(EventType.TRACK_ENDED, frame, track, size, state, reason="lost")
        for track in step.started:
            self._emit_track(EventType.TRACK_STARTED, frame, track, size, state)
        started_ids = {t.track_id for t in step.started}
        interval = self.config.tracker.update_interval_s
        for track in step.tracks:
            if track.track_id in started_ids:
                continue
            due = frame.pts - state.last_update_pts.get(track.track_id, -np.inf) >= interval
            reclassified = state.last_class.get(track.track_id) != track.class_id
            if due or reclassified:
                self._emit_track(EventType.TRACK_UPDATED, frame, track, size, state)
        if state.video is not None:
            state.video.write(frame.image, step.tracks, [self.detector.names[t.class_id] for t in step.tracks])
        state.frames += 1
        state.last_frame = frame

    def _emit_track(self, type: EventType, frame: Frame, track: TrackView, size, state: StreamState, **extra) -> None:
        event = self.events.track(
            type,
            frame.stream_id,
            frame.index,
            frame.captured_at,
            frame.pts,
            track,
            category=self.detector.category_names[track.category],
            class_name=self.detector.names[track.class_id],
            frame_size=size,
            **extra,
        )
        if type is EventType.TRACK_ENDED:
            state.last_update_pts.pop(track.track_id, None)
            state.last_class.pop(track.track_id, None)
        else:
            state.last_update_pts[track.track_id] = frame.pts
            state.last_class[track.track_id] = track.class_id
        self._emit(event)

    def _emit(self, event: Event) -> None:
        self.event_log.write(event)
        self.summary.observe(event)
        if self.publisher is not None:
            self.publisher.publish(event)

    def _finish_ended_streams(self) -> None:
        for state in self.streams.values():
            if not state.finished and state.capture.buffer.exhausted:
                self._finish_stream(state, reason="end_of_stream")

    def _finish_stream(self, state: StreamState, reason: str) -> None:
        """End the stream's open tracks and finalise its video; safe to call once per stream."""
        state.finished = True
        state.capture.stop()
        last = state.last_frame
        for track in state.tracker.finish():
            if last is None:
                break
            size = (last.image.shape[1], last.image.shape[0])
            self._emit_track(EventType.TRACK_ENDED, last, track, size, state, reason=reason)
        if state.video is not None:
            state.video.close()

    def _shutdown(self) -> dict:
        for state in self.streams.values():
            if not state.finished:
                reason = "end_of_stream" if state.capture.buffer.exhausted else "shutdown"
                self._finish_stream(state, reason=reason)
        for state in self.streams.values():
            state.capture.join(timeout=5)
        elapsed = time.monotonic() - self.started_at
        for stream_id, state in self.streams.items():
            entry = self.summary.streams[stream_id]
            entry.update(frames=state.frames, dropped=state.capture.buffer.dropped, status=state.capture.status.value)
            if state.capture.status is StreamStatus.FAILED:
                entry["error"] = state.capture.error
            if state.capture.warning:
                entry["warning"] = state.capture.warning
        self.event_log.close()
        summary = self.summary.to_dict(elapsed)
        write_json_atomic(self.out_dir / "summary.json", summary)
        return summary
