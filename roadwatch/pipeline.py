"""Wiring: source -> ring buffer -> batcher -> detector -> tracker -> events and sinks.

Capture runs in one thread per source; everything after the buffers runs in the caller's thread,
batch by batch, so per-stream order is kept without locks. Other threads talk to that loop only
through queues: stream status changes, and requests to add, remove or reload sources. Which events a
frame makes, and where events go, is track_events.py's job.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from detector import Batcher
from detector.filters import ExclusionMask
from detector.yolo import YoloDetector
from detector.plates import PlateReader
from roadwatch.config import Config
from roadwatch.detect_worker import END, DetectedBatch, DetectionWorker
from roadwatch.events import EventFactory, EventType
from roadwatch.segments import prune, segment_path, segment_start
from roadwatch.sinks import AnnotatedVideo, EventLog, RunSummary, write_json_atomic
from roadwatch.live_state import LiveState
from roadwatch.plates import PlateSchedule
from roadwatch.stream_state import StreamState
from roadwatch.track_events import EventSinks, TrackEvents
from roadwatch.zmq_io import EventPublisher, SnapshotServer
from streams import (
    ERROR_STATES,
    Frame,
    ReconnectPolicy,
    SourceInfo,
    SourceSpec,
    StatusChange,
    StreamManager,
    StreamStatus,
    stream_ids_for,
)
from trackers import CameraMotionEstimator, Line, MultiStreamTracker, TrackView, Zone, ZoneLineMonitor

log = logging.getLogger(__name__)

def _applies(item, stream_id: str) -> bool:
    """A zone, line or mask of the config applies to every stream, or to those it names."""
    return item.streams is None or stream_id in item.streams


def rounds(frames: list[Frame], detections: list) -> list[tuple[list[Frame], list]]:
    """A batch split into rounds of at most one frame per stream, each stream's frames in order: the tracker
    updates every stream of a round at once, and a stream's next frame must wait for its previous one."""
    out: list[tuple[list[Frame], list]] = []
    taken: dict[str, int] = {}
    for frame, dets in zip(frames, detections):
        k = taken.get(frame.stream_id, 0)
        taken[frame.stream_id] = k + 1
        if k == len(out):
            out.append(([], []))
        out[k][0].append(frame)
        out[k][1].append(dets)
    return out


def _drain(q: queue.SimpleQueue) -> Iterator:
    """Everything queued now, without waiting."""
    while True:
        try:
            yield q.get_nowait()
        except queue.Empty:
            return


STATUS_EVENTS = {
    StreamStatus.UP: EventType.STREAM_UP,
    StreamStatus.DOWN: EventType.STREAM_DOWN,
    StreamStatus.FAILED: EventType.STREAM_DOWN,
    StreamStatus.STALLED: EventType.STREAM_STALLED,
}


def file_read_ahead(configured: int, max_batch: int, files: int) -> int:
    """Frames read ahead per file when `files` files run at once: `streams.file_buffer` for one or a few, fewer
    each for many, so that the frames held in all stay near max(file_buffer, two batches) instead of growing
    with the number of files (64 files of 720p read 64 frames ahead each hold 11 GB; on a GPU that is pinned
    memory, which is slow to allocate and scarce). Never under 4, which keeps every decoder a few frames
    ahead of the batches that take one frame of each file at a time."""
    if files <= 1:
        return configured
    budget = max(configured, 2 * max_batch)
    return min(configured, max(4, -(-budget // files)))


class FilesWaitingTurn:
    """Stands in the batcher for the files waiting their turn (streams.max_open_files): it never has a frame
    and is never exhausted, so the batcher cannot end the run before they have run; the pipeline removes it
    once the last of them has joined the batcher. The files join when they start, so the batcher never polls
    hundreds of idle buffers. (Never exhausted, not "exhausted once none waits": a batcher pass that listed
    its buffers before the last file joined must not see it exhausted.)"""

    KEY = "\x00files waiting their turn"  # no stream id can be this

    def poll(self) -> None:
        return None

    def poll_newest(self) -> None:
        return None

    @property
    def exhausted(self) -> bool:
        return False


class Pipeline:
    """Runs the sources to their end (files) or until `stop` is set (live sources, Ctrl-C, SIGTERM).

    Sources can be added, removed or reloaded from any thread while it runs; the others carry on.
    """

    def __init__(
        self,
        config: Config,
        specs: list[SourceSpec],
        infos: dict[str, SourceInfo],
        detector: YoloDetector,
        publisher: EventPublisher | None,
        out_dir: Path,
        per_stream_outputs: bool = False,
        thumbnails: bool = False,
        plates: PlateReader | None = None,
    ) -> None:
        self.config = config
        self.detector = detector
        self.publisher = publisher
        self.out_dir = out_dir
        # Footage analysis writes each input's outputs in a folder of its own (out_dir/<stream_id>/);
        # live monitoring writes one events.jsonl for all streams.
        self.per_stream_outputs = per_stream_outputs
        self.thumbnails = thumbnails
        self.plates = plates
        # plates are searched on vehicle tracks only; a category map without vehicles turns the stage off
        self._vehicle = detector.category_names.index("vehicle") if "vehicle" in detector.category_names else None
        self.events = EventFactory()
        # 24/7 runs may cut their events file and videos into segments on the clock (roadwatch/segments.py);
        # footage analysis writes one of each per input
        self._segment_s = None if per_stream_outputs else config.output.segment_s
        self._segment = segment_start(time.time(), self._segment_s) if self._segment_s else 0.0
        self.event_log = None if per_stream_outputs else EventLog(self._output_path(out_dir / "events.jsonl"))
        self.summary = RunSummary()
        self.batcher: Batcher[Frame] = Batcher(config.detector.max_batch, config.detector.max_wait_ms / 1000)
        s = config.streams
        files = min(sum(1 for spec in specs if not spec.live), s.max_open_files)  # decoded at once
        self.manager = StreamManager(
            live_capacity=s.live_buffer,
            file_capacity=file_read_ahead(s.file_buffer, config.detector.max_batch, files),
            policy=ReconnectPolicy(
                base_s=s.reconnect_base_s,
                cap_s=s.reconnect_cap_s,
                open_timeout_s=s.open_timeout_s,
                stall_timeout_s=s.stall_timeout_s,
                max_retries=s.max_retries,
            ),
            on_put=self.batcher.wake,
            on_status=self._on_status,
            decode_threads=s.decode_threads,
            capture=s.capture,
            allocate=detector.allocate_frame,  # frames decoded where the detector uploads them from (pinned on CUDA)
        )
        self.tracker = MultiStreamTracker(config.tracker.tracker_config())  # every stream's tracks, batched
        self._slots = 0
        # files beyond streams.max_open_files wait here, in order, their buffers already in the batcher (so
        # the run cannot end before them); one starts as a running file ends
        self._waiting_files: deque[str] = deque()
        self._open_files: set[str] = set()
        self.streams: dict[str, StreamState] = {}
        self._masks: dict[str, ExclusionMask | None] = {}  # per stream, read by the detection thread
        self._single_output = len(specs) == 1
        self._infos = dict(infos)
        self._status_changes: queue.SimpleQueue[StatusChange] = queue.SimpleQueue()
        self._requests: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._running = False
        self._ended_streams: list[str] = []  # finished since the loop last told `on_end`
        self._heartbeat_at = 0.0
        self._heartbeat_frames = 0
        self.live = LiveState()  # what a late subscriber gets as a snapshot
        self.sinks = EventSinks(self.live, self.event_log, self.summary, publisher, self.streams)
        self.track_events = TrackEvents(
            self.events, self.sinks, detector.names, detector.category_names,
            config.tracker.prediction_horizon_s, config.tracker.update_interval_s,
        )
        self.snapshots: SnapshotServer | None = None
        self.reload_sources_hook: Callable[[], list[SourceSpec]] | None = None
        for spec in specs:
            self._add(spec, start=False)
        self.started_at = 0.0
        self.stage_s: dict[str, float] = {}  # seconds spent per stage of the loop, for benchmarks and profiling
        self.batches = 0  # batches detected, and the frames in them: how full the GPU's batches were
        self.batched_frames = 0
        self.detect_cpu_s = 0.0  # of `detect`, the CPU time of the thread that ran it (DetectedBatch.detect_cpu_s)

    # --- control from any thread -------------------------------------------------------------------

    def add_source(self, uri: str, stream_id: str | None = None) -> str:
        """Start reading another source; returns its stream id. Safe from any thread while running."""
        taken = set(self.streams)
        sid = stream_ids_for([uri], [stream_id], taken)[0]
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
            self._requests.put(action)
            self.batcher.wake()
        else:
            action()

    def _on_status(self, change: StatusChange) -> None:
        """Called in capture threads: hand over to the pipeline thread, which owns the event stream."""
        self._status_changes.put(change)
        self.batcher.wake()

    # --- the loop ----------------------------------------------------------------------------------

    def run(self, stop: threading.Event, on_batch: Callable[[dict[str, int]], None] | None = None,
            on_end: Callable[[str], None] | None = None) -> dict:
        """Process until every source is done or `stop` is set; always finalises outputs. Returns the summary.
        `on_batch` is told each batch's frames per stream, then `on_end` each stream that has finished.

        On a GPU, detection runs one batch ahead in its own thread (detect_worker.py); this thread tracks,
        publishes, writes, and owns every stream's state.
        """
        self.started_at = self._heartbeat_at = time.monotonic()
        self._running = True
        for state in self.streams.values():
            if not state.capture.is_alive() and state.capture.status is StreamStatus.STARTING:
                self._start_or_wait(state)
        overlap = self.config.detector.overlap
        threaded = self.detector.device.startswith("cuda") if overlap is None else overlap
        worker = DetectionWorker(self.batcher, self.detector, lambda sid: self._masks.get(sid), threaded)
        worker.start()
        try:
            while not stop.is_set():
                self._handle_requests()
                self._emit_status_changes()
                t = time.perf_counter()
                item = worker.get(timeout=0.1)
                t = self._lap("wait", t)
                if item == END:
                    break
                # A capture thread reports `up` before its first frame, so draining here keeps each
                # stream's status events ahead of the track events of its frames.
                self._emit_status_changes()
                counts: dict[str, int] = {}
                if item is not None:
                    self._count_batch(item, threaded)
                    searches: list[tuple[Frame, TrackView]] = []
                    for frames, detections in rounds(item.frames, item.detections):
                        for frame, visible in zip(frames, self.process_frames(frames, detections)):
                            searches += self._plate_searches(frame, visible)
                            counts[frame.stream_id] = counts.get(frame.stream_id, 0) + 1
                    t = self._lap("track_and_publish", t)
                    if searches:
                        self._read_plates(searches)
                        t = self._lap("plates", t)
                    self._emit_status_changes()
                    self._finish_streams(item.ended)
                self._flush_logs()
                if self._segment_s:
                    self._roll_segments()
                self._heartbeat()
                if self.snapshots is not None:
                    self.snapshots.serve(self.live.to_snapshot)
                self._lap("housekeeping", t)
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

    def _count_batch(self, item: DetectedBatch, threaded: bool) -> None:
        """The detection side's share of a batch: `collect` (waiting for frames) and `detect`, timed where
        detection runs; threaded, they overlap this thread's stages, inline they are part of its wait."""
        for stage, seconds in (("collect", item.collect_s), ("detect", item.detect_s)):
            self.stage_s[stage] = self.stage_s.get(stage, 0.0) + seconds
            if not threaded:
                self.stage_s["wait"] -= seconds
        self.detect_cpu_s += item.detect_cpu_s
        if item.frames:
            self.batches += 1
            self.batched_frames += len(item.frames)

    def _lap(self, stage: str, since: float) -> float:
        """Add the time since `since` to `stage` (wait: for detected frames; track_and_publish, plates,
        housekeeping); returns now, the start of the next stage. `collect` and `detect` are timed in the
        detection thread (see `_count_batch`)."""
        now = time.perf_counter()
        self.stage_s[stage] = self.stage_s.get(stage, 0.0) + now - since
        return now

    def _zones_for(self, stream_id: str) -> ZoneLineMonitor:
        zones = [Zone(z.id, tuple(z.polygon)) for z in self.config.zones if _applies(z, stream_id)]
        lines = [Line(l.id, l.start, l.end) for l in self.config.lines if _applies(l, stream_id)]
        return ZoneLineMonitor(zones, lines, self.config.tracker.zone_min_frames)

    def _mask_for(self, stream_id: str) -> ExclusionMask | None:
        polygons = [np.array(m.polygon) for m in self.config.masks if _applies(m, stream_id)]
        return ExclusionMask(polygons) if polygons else None

    def _output_path(self, series: Path) -> Path:
        """Where an output of `series` (its unsegmented name) goes now: that name, or the current segment's."""
        return segment_path(series, self._segment) if self._segment_s else series

    def _new_video(self, spec: SourceSpec, zones: ZoneLineMonitor, stream_dir: Path | None) -> AnnotatedVideo:
        if stream_dir is not None:
            series = stream_dir / "annotated.mp4"
        else:
            series = self.out_dir / ("annotated.mp4" if self._single_output else f"annotated_{spec.stream_id}.mp4")
        fps = self._infos[spec.stream_id].fps if spec.stream_id in self._infos else 0.0
        return AnnotatedVideo(self._output_path(series), fps, self.config.output.codec, self.detector.category_names,
                              zones.zones, zones.lines, series=series)

    def _roll_segments(self) -> None:
        """With output.segment_s, at a segment boundary: close the events file and the videos (whole, playable),
        begin the next ones, and delete the oldest beyond output.keep_segments."""
        start = segment_start(time.time(), self._segment_s)
        if start <= self._segment:  # the same segment, or the clock set back: go on writing this one
            return
        self._segment = start
        if self.event_log is not None:
            self.event_log.close()
            self._note_output_errors(self.event_log)
            self.event_log = self.sinks.event_log = EventLog(self._output_path(self.out_dir / "events.jsonl"), lazy=True)
        for state in self.streams.values():
            if state.video is not None and not state.finished:
                state.video.close()
                self._note_output_errors(state.video)
                state.video = self._new_video(state.spec, state.zones, state.out_dir)
        keep = self.config.output.keep_segments
        if keep is not None:  # the new segments' files appear with their first write: they are the keep-th
            prune(self.out_dir / "events.jsonl", keep - 1)
            for series in {state.video.series for state in self.streams.values() if state.video is not None}:
                prune(series, keep - 1)

    def _note_output_errors(self, *sinks: AnnotatedVideo | EventLog | None, state: StreamState | None = None) -> None:
        """An output that could not be written goes into the summary (and its stream's, in footage analysis)."""
        for sink in sinks:
            if sink is not None and sink.error is not None:
                self.summary.add_output_error(sink.error)
                if state is not None and state.summary is not None:
                    state.summary.add_output_error(sink.error)

    def _add(self, spec: SourceSpec, start: bool) -> None:
        if spec.stream_id in self.streams and not self.streams[spec.stream_id].finished:
            log.error("cannot add source '%s': stream id '%s' is in use", spec.uri, spec.stream_id)
            return
        zones = self._zones_for(spec.stream_id)
        stream_dir = self.out_dir / spec.stream_id if self.per_stream_outputs else None
        if stream_dir is not None:
            stream_dir.mkdir(parents=True, exist_ok=True)
        video = self._new_video(spec, zones, stream_dir) if self.config.output.video else None
        if spec.stream_id in self.streams:  # re-added after removal: a fresh state, a fresh id space
            self.manager.remove(spec.stream_id)
        capture = self.manager.add(spec, start=False)
        camera = CameraMotionEstimator() if self.config.tracker.camera_motion else None
        state = StreamState(spec, capture, self._slots, video, zones, camera, stream_dir)
        self._slots += 1
        self._masks[spec.stream_id] = self._mask_for(spec.stream_id)
        if self.plates is not None:
            p = self.config.detector.plates
            state.plates = PlateSchedule(p.every_n_frames, p.min_vehicle_px)
        self.streams[spec.stream_id] = state
        self.summary.add_stream(spec.stream_id, spec.uri)
        if stream_dir is not None:
            state.log = EventLog(stream_dir / "events.jsonl", lazy=True)
            state.summary = RunSummary()
            state.summary.streams[spec.stream_id] = self.summary.streams[spec.stream_id]  # one entry, shared
        if self.thumbnails:
            state.thumbnails = {}
        if start:
            self._start_or_wait(state)

    def _start_or_wait(self, state: StreamState) -> None:
        """Live sources start at once; a file starts if fewer than streams.max_open_files are being decoded,
        else it waits its turn. A folder of hundreds of clips is then decoded a few at a time, not all at once
        (a decoder, a thread and a read-ahead buffer each)."""
        if not state.spec.live and len(self._open_files) >= self.config.streams.max_open_files:
            if not self._waiting_files:
                self.batcher.add(FilesWaitingTurn.KEY, FilesWaitingTurn())
            self._waiting_files.append(state.spec.stream_id)
            return
        self._start(state)

    def _start(self, state: StreamState) -> None:
        """Its buffer joins the batcher, and its capture starts."""
        if not state.spec.live:
            self._open_files.add(state.spec.stream_id)
        self.batcher.add(state.spec.stream_id, state.capture.buffer, newest_only=state.spec.live)
        state.capture.start()

    def _start_waiting_files(self) -> None:
        while self._waiting_files and len(self._open_files) < self.config.streams.max_open_files:
            state = self.streams.get(self._waiting_files[0])
            if state is not None and not state.finished:
                self._start(state)  # in the batcher before it leaves the queue: the run cannot end in between
            self._waiting_files.popleft()
        if not self._waiting_files:
            self.batcher.remove(FilesWaitingTurn.KEY)

    def _remove(self, stream_id: str, reason: str) -> None:
        state = self.streams.get(stream_id)
        if state is None or state.finished:
            log.warning("cannot remove stream '%s': no such running stream", stream_id)
            return
        self.batcher.remove(stream_id)
        self._finish_stream(state, reason=reason)
        self.manager.remove(stream_id)

    def _reload(self) -> None:
        if self.reload_sources_hook is None:
            return
        try:
            wanted = {spec.stream_id: spec for spec in self.reload_sources_hook()}
        except Exception as exc:  # a bad edit must not stop the sources that are running
            log.error("reload ignored: %s", exc)
            return
        running = {sid: s.spec for sid, s in self.streams.items() if not s.finished}
        for sid, spec in running.items():
            if sid not in wanted or wanted[sid].uri != spec.uri:
                self._remove(sid, reason="removed")
        for sid, spec in wanted.items():
            if sid not in running or running[sid].uri != spec.uri:
                self._add(spec, start=True)
        log.warning("reloaded sources: %s", ", ".join(wanted) or "(none)")

    def _handle_requests(self) -> None:
        for action in _drain(self._requests):
            action()

    def _emit_status_changes(self) -> None:
        for change in _drain(self._status_changes):
            event_type = STATUS_EVENTS.get(change.status)
            state = self.streams.get(change.stream_id)
            if event_type is None or state is None:
                continue
            extra = {"retry_in_s": round(change.retry_in_s, 3)} if change.retry_in_s is not None else {}
            pts = state.last_frame.pts if state.last_frame is not None else 0.0
            self.sinks.emit(
                self.events.make(
                    event_type, change.stream_id, change.frames, change.at, pts,
                    source=state.spec.uri, status=change.status.value, reason=change.reason, **extra,
                )
            )

    def process_frame(self, frame: Frame, detections) -> list[TrackView]:
        """Track one frame's detections and emit what changed; returns the tracks visible in it."""
        return self.process_frames([frame], [detections])[0]

    def process_frames(self, frames: list[Frame], detections: list) -> list[list[TrackView]]:
        """Track frames of different streams (at most one each) in one tracker update, then emit what changed
        in each; returns the tracks visible in each frame."""
        todo = [i for i, frame in enumerate(frames) if not self.streams[frame.stream_id].finished]  # not removed meanwhile
        states = [self.streams[frames[i].stream_id] for i in todo]
        for i, state in zip(todo, states):
            if state.camera is not None:
                self.tracker.apply_camera_motion(state.slot, state.camera.estimate(frames[i].image))
        steps = self.tracker.update(
            [state.slot for state in states],
            [frames[i].pts for i in todo],
            [detections[i].xyxy for i in todo],
            [detections[i].confidence for i in todo],
            [detections[i].class_id for i in todo],
            [detections[i].data.get("category_id", np.zeros(len(detections[i]), dtype=np.int64)) for i in todo],
        )
        visible: list[list[TrackView]] = [[] for _ in frames]
        for i, state, step in zip(todo, states, steps):
            visible[i] = self.track_events.frame(frames[i], state, step)
        return visible

    def _plate_searches(self, frame: Frame, visible: list[TrackView]) -> list[tuple[Frame, TrackView]]:
        state = self.streams[frame.stream_id]
        if state.plates is None or self._vehicle is None:
            return []
        return [
            (frame, t) for t in visible
            if t.category == self._vehicle and state.plates.due(t.track_id, t.xyxy[2] - t.xyxy[0])
        ]

    def _read_plates(self, searches: list[tuple[Frame, TrackView]]) -> None:
        """All vehicle crops of a batch through the plate model at once; news becomes `plate.read`."""
        readings = self.plates.read([frame.image for frame, _ in searches], [t.xyxy for _, t in searches])
        for (frame, track), reading in zip(searches, readings):
            state = self.streams[frame.stream_id]
            # a track that ended later in this batch has been forgotten: no event may bring it back
            if reading is None or state.finished or track.track_id not in state.plates.tracks:
                continue
            if state.plates.offer(track.track_id, reading):
                self.track_events.plate_read(frame, track, state, reading)

    def _heartbeat(self, final: bool = False) -> None:
        """Every events.heartbeat_s, and a `final` one when the pipeline stops, on ZeroMQ only: throughput and
        each stream's state. It describes the running process, not the footage, so it goes in no events file
        or summary. The final one carries the last seq and every stream's last status, so a subscriber knows
        whether it missed the run's last events even when the run was shorter than one interval."""
        now = time.monotonic()
        interval = now - self._heartbeat_at
        if self.publisher is None or (interval < self.config.events.heartbeat_s and not final):
            return
        interval = max(interval, 1e-3)
        frames = sum(state.frames for state in self.streams.values())
        streams = {
            sid: {"status": st.capture.status.value, "frames": st.frames, "dropped": st.capture.buffer.dropped,
                  "buffer_depth": len(st.capture.buffer)}
            for sid, st in self.streams.items()
        }
        self.publisher.publish(self.events.heartbeat(
            interval_s=round(interval, 3), fps=round((frames - self._heartbeat_frames) / interval, 2),
            events_sent=self.publisher.sent, subscriber_overflows=self.publisher.overflows, streams=streams,
        ))
        self._heartbeat_at, self._heartbeat_frames = now, frames

    def _flush_logs(self) -> None:
        if self.event_log is not None:
            self.event_log.flush()
        for state in self.streams.values():
            if state.log is not None:
                state.log.flush()

    def _finish_streams(self, stream_ids: list[str]) -> None:
        """Finish streams whose buffers ended; the detection thread says which, once their last frames are processed."""
        for stream_id in stream_ids:
            state = self.streams.get(stream_id)
            if state is not None and not state.finished and state.capture.buffer.exhausted:
                self._finish_stream(state, reason="end_of_stream")

    def _finish_stream(self, state: StreamState, reason: str) -> None:
        """End the stream's open tracks and finalise its video; safe to call once per stream."""
        # A capture thread reports its last status before closing its buffer; emit it while this stream's
        # log is still open, or it would be written after the close.
        self._emit_status_changes()
        state.finished = True
        self._ended_streams.append(state.spec.stream_id)
        state.capture.stop()
        self.batcher.remove(state.spec.stream_id)  # nothing more will come: the batcher stops polling it
        last = state.last_frame
        for track in self.tracker.finish(state.slot):
            if last is None:
                break
            size = (last.image.shape[1], last.image.shape[0])
            self.track_events.end_track(last, track, size, state, reason=reason)
        if state.video is not None:
            state.video.close()
        if state.log is not None:
            state.log.close()
        self._record_stream(state)
        state.log = None  # anything later about this stream still reaches subscribers, not a closed file
        self._open_files.discard(state.spec.stream_id)
        if self._running:
            self._start_waiting_files()

    def _record_stream(self, state: StreamState) -> None:
        entry = self.summary.streams[state.spec.stream_id]
        capture = state.capture
        entry.update(frames=state.frames, dropped=capture.buffer.dropped, status=capture.status.value)
        if capture.spec.live:
            entry["reconnects"] = capture.reconnects
        if capture.status in ERROR_STATES and capture.error:
            entry["error"] = capture.error
        if capture.warning:
            entry["warning"] = capture.warning
        self._note_output_errors(state.video, state.log, state=state)

    def _shutdown(self) -> dict:
        for state in self.streams.values():
            if not state.finished:
                reason = "end_of_stream" if state.capture.buffer.exhausted else "shutdown"
                self._finish_stream(state, reason=reason)
        self.manager.stop_all(timeout_s=5)
        self._emit_status_changes()
        for state in self.streams.values():
            self._record_stream(state)  # final statuses, after the threads have stopped
        self._heartbeat(final=True)
        elapsed = time.monotonic() - self.started_at
        if self.event_log is not None:
            self.event_log.close()
            self._note_output_errors(self.event_log)
        for state in self.streams.values():
            if state.summary is not None:
                self._write_summary(state.out_dir / "summary.json", state.summary, elapsed)
        return self._write_summary(self.out_dir / "summary.json", self.summary, elapsed)

    def _write_summary(self, path: Path, summary: RunSummary, elapsed: float) -> dict:
        """Write it; one that cannot be written (a full disk) is an output error in the summary returned."""
        try:
            write_json_atomic(path, summary.to_dict(elapsed))
        except OSError as exc:
            error = f"cannot write '{path}': {exc.strerror or exc}"
            log.error("%s", error)
            summary.add_output_error(error)
            self.summary.add_output_error(error)
        return summary.to_dict(elapsed)
