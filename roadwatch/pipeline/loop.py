"""The loop: source -> ring buffer -> batcher -> detector -> tracker -> events and outputs.

Capture runs in one thread (or process) per source; everything after the buffers runs in the caller's
thread, batch by batch, so per-stream order is kept without locks. Other threads talk to that loop only
through queues: stream status changes, and requests to add, remove or reload sources. Who owns what:
the roster the sources (roster.py), RunOutputs the files, TrackEvents which events a frame makes, the
fanout where they go.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from roadwatch.config import Config, SourceConfig
from roadwatch.detector import Batcher
from roadwatch.detector.plates import PlateReader
from roadwatch.detector.yolo import YoloDetector
from roadwatch.events.live_state import LiveState
from roadwatch.events.schema import Event, EventFactory, EventType
from roadwatch.events.snapshots import SnapshotServer
from roadwatch.events.zmq_io import EventPublisher
from roadwatch.outputs.run_outputs import RunOutputs
from roadwatch.pipeline.clip_stage import ClipStage
from roadwatch.pipeline.detect_plan import DetectPlanner, StreamRate
from roadwatch.pipeline.detect_worker import END, DetectionWorker
from roadwatch.pipeline.fanout import EventFanout
from roadwatch.pipeline.heartbeat import Heartbeat
from roadwatch.pipeline.loop_metrics import LoopMetrics
from roadwatch.pipeline.mailbox import Mailbox
from roadwatch.pipeline.plate_stage import PlateStage, Search
from roadwatch.pipeline.roster import SourceRoster
from roadwatch.pipeline.stage_clock import StageClock
from roadwatch.pipeline.status_board import StatusBoard, StatusPoster
from roadwatch.pipeline.stream_setup import (
    configured_sources,
    mask_for,
    road_analytics,
    settings_by_source,
    wanted_sources,
    zones_for,
)
from roadwatch.pipeline.stream_state import StreamState
from roadwatch.pipeline.track_events import TrackEvents
from roadwatch.streams import Frame, SourceInfo, SourceSpec, StatusChange, StreamStatus, stream_ids_for
from roadwatch.trackers import CameraMotionEstimator, MultiStreamTracker, TrackView

log = logging.getLogger(__name__)

STATUS_EVENTS = {
    StreamStatus.UP: EventType.STREAM_UP,
    StreamStatus.DOWN: EventType.STREAM_DOWN,
    StreamStatus.FAILED: EventType.STREAM_DOWN,
    StreamStatus.STALLED: EventType.STREAM_STALLED,
}


def status_event(factory: EventFactory, change: StatusChange, state: StreamState) -> Event | None:
    """A capture's status change as a stream event; None for changes that are not one (starting, ended...)."""
    event_type = STATUS_EVENTS.get(change.status)
    if event_type is None:
        return None
    extra = {"retry_in_s": round(change.retry_in_s, 3)} if change.retry_in_s is not None else {}
    pts = state.last_frame.pts if state.last_frame is not None else 0.0
    return factory.make(event_type, change.stream_id, change.frames, change.at, pts,
                        source=state.spec.shown, status=change.status.value, reason=change.reason, **extra)


def track(
    tracker: MultiStreamTracker, frames: list[Frame], detections: list, detected: list[bool], states: list[StreamState]
) -> list:
    """One tracker update for frames of different streams, after each one's camera motion where it is estimated;
    a frame that was not `detected` only advances its stream's tracks."""
    for frame, state in zip(frames, states):
        if state.camera is not None:
            tracker.apply_camera_motion(state.slot, state.camera.estimate(frame.image))
    return tracker.update(
        [state.slot for state in states],
        [frame.pts for frame in frames],
        [d.xyxy for d in detections],
        [d.confidence for d in detections],
        [d.class_id for d in detections],
        [d.data.get("category_id", np.zeros(len(d), dtype=np.int64)) for d in detections],
        detected,
    )


def rounds(
    frames: list[Frame], detections: list, detected: list[bool] | None = None
) -> list[tuple[list[Frame], list, list[bool]]]:
    """A batch split into rounds of at most one frame per stream, each stream's frames in order: the tracker
    updates every stream of a round at once, and a stream's next frame must wait for its previous one. Each
    round: its frames, their detections, whether each went through the detector."""
    out: list[tuple[list[Frame], list, list[bool]]] = []
    taken: dict[str, int] = {}
    for frame, dets, seen in zip(frames, detections, detected or [True] * len(frames)):
        k = taken.get(frame.stream_id, 0)
        taken[frame.stream_id] = k + 1
        if k == len(out):
            out.append(([], [], []))
        out[k][0].append(frame)
        out[k][1].append(dets)
        out[k][2].append(seen)
    return out


class Pipeline:
    """Runs the sources to their end (files) or until `stop` is set (live sources, Ctrl-C, SIGTERM).

    Sources can be added, removed or reloaded from any thread while it runs; the others carry on.
    """

    def __init__(
        self, config: Config, specs: list[SourceSpec], infos: dict[str, SourceInfo], detector: YoloDetector,
        publisher: EventPublisher | None, out_dir: Path, per_stream_outputs: bool = False, thumbnails: bool = False,
        plates: PlateReader | None = None,
    ) -> None:
        self.config = config
        self.detector = detector
        self.thumbnails = thumbnails
        self.plates = PlateStage(plates, config.detector.plates, detector.category_names) if plates else None
        self.events = EventFactory()
        self.outputs = RunOutputs(config.output, out_dir, detector.category_names, per_stream=per_stream_outputs,
                                  single_stream=len(specs) == 1)
        self.batcher: Batcher[Frame] = Batcher(config.detector.max_batch, config.detector.max_wait_ms / 1000)
        self.mailbox = Mailbox(self.batcher.wake)  # from other threads: status changes, source requests
        self.roster = SourceRoster(config.streams, self.batcher, specs, self.mailbox.post_status,
                                   detector.allocate_frame)
        self.tracker = MultiStreamTracker(config.tracker.tracker_config())  # every stream's tracks, batched
        self.planner = DetectPlanner(config.schedule, detector.imgsz, detector.letterbox.stride)  # which frames, where
        self.live = LiveState()  # what a late subscriber gets as a snapshot
        self.board = StatusBoard(config.http.recent_events, config.http.live_fps)  # what the HTTP API reads
        self.metrics = LoopMetrics()  # latency, batch size and detector time, for /metrics
        self.status = StatusPoster(self.board, self.roster, self.live, self.outputs.summary, publisher, self.metrics)
        self.clips = ClipStage(config.output.clips, self.outputs, self.events)  # event clips from cameras' packets
        self.fanout = EventFanout(self.live, self.outputs, publisher, self.board, self.clips)
        self.track_events = TrackEvents(
            self.events, self.fanout.emit, detector.names, detector.category_names,
            config.tracker.prediction_horizon_s, config.tracker.update_interval_s,
        )
        self.heartbeat = Heartbeat(publisher, self.events, config.events.heartbeat_s, self.outputs.summary)
        self.clock = StageClock()  # where the loop's time goes, for benchmarks and profiling
        self.snapshots: SnapshotServer | None = None
        self.reload_sources_hook: Callable[[], list[SourceConfig]] | None = None  # the CLI's: the config file's
        self._infos = dict(infos)
        self._settings = settings_by_source(configured_sources(config.sources))  # per-source detection schedules
        self._running = False
        self._ended_streams: list[str] = []  # finished since the loop last told `on_end`
        self.started_at = 0.0
        for spec in specs:
            self._add(spec, start=False)

    @property
    def streams(self) -> dict[str, StreamState]:
        return self.roster.streams

    # --- control from any thread -------------------------------------------------------------------

    def add_source(self, uri: str, stream_id: str | None = None) -> str:
        """Start reading another source; returns its stream id. Safe from any thread while running."""
        sid = stream_ids_for([uri], [stream_id], set(self.streams))[0]
        spec = SourceSpec.from_uri(uri, sid)
        self._request(lambda: self._add(spec, start=True))
        return sid

    def remove_source(self, stream_id: str) -> None:
        """Stop a source: its open tracks end with reason 'removed'; the others are not touched."""
        self._request(lambda: self._remove(stream_id, reason="removed"))

    def request_reload(self) -> None:
        """Re-read the source list through `reload_sources_hook` (the CLI's is SIGHUP -> config file)."""
        self._request(self._reload)

    def _request(self, action: Callable[[], None]) -> None:
        if self._running:
            self.mailbox.post_request(action)
        else:
            action()

    # --- the loop ----------------------------------------------------------------------------------

    def run(self, stop: threading.Event, on_batch: Callable[[dict[str, int]], None] | None = None,
            on_end: Callable[[str], None] | None = None) -> dict:
        """Process until every source is done or `stop` is set; always finalises outputs. Returns the summary.
        `on_batch` is told each batch's frames per stream, then `on_end` each stream that has finished.

        On a GPU, detection runs one batch ahead in its own thread (detect_worker.py); this thread tracks,
        publishes, writes, and owns every stream's state.
        """
        self.started_at = time.monotonic()
        self.heartbeat.restart()
        self._running = True
        self.roster.start_all()
        worker = DetectionWorker(self.batcher, self.detector, self.planner, self.config.detector.overlap)
        worker.start()
        clock = self.clock
        try:
            while not stop.is_set() and not self.roster.done:
                self.mailbox.run_requests()
                self._emit_status_changes()
                t = time.perf_counter()
                item = worker.get(timeout=0.1)
                t = clock.lap("wait", t)
                if item == END:
                    break
                # `up` comes before a stream's first frame: drained here, it precedes that frame's track events
                self._emit_status_changes()
                counts: dict[str, int] = {}
                if item is not None:
                    clock.count_batch(item, worker.threaded)
                    self.metrics.batch(item)
                    searches: list[Search] = []
                    for frames, detections, detected in rounds(item.frames, item.detections, item.detected):
                        for frame, visible, seen in zip(frames, self.process_frames(frames, detections, detected),
                                                        detected):
                            if self.plates is not None and seen:  # a plate is searched in what was just seen
                                searches += self.plates.searches(frame, visible, self.streams[frame.stream_id])
                            counts[frame.stream_id] = counts.get(frame.stream_id, 0) + 1
                    self.metrics.tracked(item.frames)
                    t = clock.lap("track_and_publish", t)
                    if searches:
                        self.plates.read(searches, self.streams, self.track_events.plate_read)
                        t = clock.lap("plates", t)
                    self._emit_status_changes()
                    for state in self.roster.exhausted(item.ended):  # their last frames are processed now
                        self._finish_stream(state, reason="end_of_stream")
                self.fanout.pump_clips()
                self.outputs.flush()
                self.outputs.roll_segments()
                self.heartbeat.beat(self.streams)
                if self.snapshots is not None:
                    self.snapshots.serve(self.live.to_snapshot)
                self.status.post(time.monotonic() - self.started_at)
                clock.lap("housekeeping", t)
                if on_batch is not None and counts:
                    on_batch(counts)
                ended, self._ended_streams = self._ended_streams, []
                if on_end is not None:
                    for stream_id in ended:
                        on_end(stream_id)
        finally:
            self._running = False
            worker.close()
            summary = self._shutdown()
        return summary

    def process_frames(
        self, frames: list[Frame], detections: list, detected: list[bool] | None = None
    ) -> list[list[TrackView]]:
        """Track frames of different streams (at most one each) in one tracker update, then emit what changed
        in each and draw its video frame; returns the tracks visible in each frame. `detected[i]` False: frame
        i went through no detector (its tracks are predicted)."""
        detected = [True] * len(frames) if detected is None else detected
        todo = [i for i, frame in enumerate(frames) if not self.streams[frame.stream_id].finished]  # not removed
        states = [self.streams[frames[i].stream_id] for i in todo]
        steps = track(self.tracker, [frames[i] for i in todo], [detections[i] for i in todo],
                      [detected[i] for i in todo], states)
        visible: list[list[TrackView]] = [[] for _ in frames]
        for i, state, step in zip(todo, states, steps):
            frame = frames[i]
            visible[i] = self.track_events.frame(frame, state, step)
            self.planner.tracks_seen(frame.stream_id, frame.pts, step.tracks)
            labels = self.track_events.labels(visible[i], state)
            self.outputs.draw(frame.stream_id, frame.image, visible[i], labels, frame.pts if state.spec.live else None)
            self.board.offer(frame.stream_id, frame.image, visible[i], labels, state.zones)
            state.tracked(frame, detected[i])
        return visible

    # --- sources -----------------------------------------------------------------------------------

    def _add(self, spec: SourceSpec, start: bool) -> None:
        if self.roster.in_use(spec.stream_id):
            log.error("cannot add source '%s': stream id '%s' is in use", spec.shown, spec.stream_id)
            return
        sid = spec.stream_id
        zones = zones_for(self.config, sid)
        fps = self._infos[sid].fps if sid in self._infos else 0.0
        self.outputs.add_stream(sid, spec.shown, fps, zones.zones, zones.lines)
        rate = StreamRate.of(self.config.schedule, spec.live, self._settings.get((spec.uri, sid)))
        state = self.roster.add(
            spec, self.clips.ring_for(spec), zones=zones, tracks_every_frame=rate.scheduled,
            **road_analytics(self.config, sid),
            camera=CameraMotionEstimator() if self.config.tracker.camera_motion else None,
            plates=self.plates.schedule() if self.plates is not None else None,
            thumbnails={} if self.thumbnails else None, best=self.outputs.best_frames(sid),
        )
        self.planner.add(sid, rate, mask_for(self.config, sid))
        if start:
            self.roster.start_or_wait(state)

    def _remove(self, stream_id: str, reason: str) -> None:
        if not self.roster.in_use(stream_id):
            log.warning("cannot remove stream '%s': no such running stream", stream_id)
            return
        state = self.streams[stream_id]
        self._finish_stream(state, reason=reason)
        self.roster.forget(stream_id)  # its capture stopped and joined, its state (last frame included) dropped
        self._emit_status_changes()
        self.outputs.update_stream(stream_id, **state.summary_entry())  # summary.json keeps the run's record
        self.planner.remove(stream_id)

    def _reload(self) -> None:
        sources = wanted_sources(self.reload_sources_hook)
        if sources is None:
            return
        self._settings = settings_by_source(sources)
        gone, new = self.roster.changes({spec.stream_id: spec for spec, _ in sources})
        for sid in gone:
            self._remove(sid, reason="removed")
        for spec in new:
            self._add(spec, start=True)
        for spec, settings in sources:  # kept running: a changed schedule applies at once, tracks carry on
            rate = StreamRate.of(self.config.schedule, spec.live, settings)
            if spec not in new and self.planner.reschedule(spec.stream_id, rate):
                self.streams[spec.stream_id].tracks_every_frame = rate.scheduled
        log.warning("reloaded sources: %s", ", ".join(spec.stream_id for spec, _ in sources) or "(none)")

    def _emit_status_changes(self) -> None:
        for change in self.mailbox.statuses():
            state = self.streams.get(change.stream_id)
            event = status_event(self.events, change, state) if state is not None else None
            if event is not None:
                self.fanout.emit(event)

    # --- ends --------------------------------------------------------------------------------------

    def _finish_stream(self, state: StreamState, reason: str) -> None:
        """End the stream's open tracks and finalise its outputs; safe to call once per stream."""
        # a capture reports its last status before closing its buffer: emitted while the stream's log is open
        self._emit_status_changes()
        sid = state.spec.stream_id
        self._ended_streams.append(sid)
        last = state.last_frame
        for track in self.tracker.finish(state.slot):
            if last is None:
                break
            size = (last.image.shape[1], last.image.shape[0])
            self.track_events.end_track(last, track, size, state, reason=reason)
        self.roster.finished(state, start_next=self._running)
        self.fanout.end_clips(sid, reason)
        self.outputs.close_stream(sid)
        self.outputs.update_stream(sid, **state.summary_entry())

    def _shutdown(self) -> dict:
        for state in self.streams.values():
            if not state.finished:
                reason = "end_of_stream" if state.capture.buffer.exhausted else "shutdown"
                self._finish_stream(state, reason=reason)
        self.roster.stop_all(timeout_s=5)
        self._emit_status_changes()
        self.fanout.pump_clips(final=True)  # every clip closed whole, its clip.saved in the run's events
        for sid, state in self.streams.items():  # final statuses, after the threads have stopped
            self.outputs.update_stream(sid, **state.summary_entry())
        self.heartbeat.beat(self.streams, final=True)
        summary = self.outputs.close(time.monotonic() - self.started_at)
        self.status.post(0.0, final=summary)
        return summary
