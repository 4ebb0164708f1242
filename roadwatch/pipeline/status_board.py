"""What the pipeline shows other threads (the HTTP API, /metrics): a copy it posts a few times a second.

The pipeline's thread owns every stream's state; readers in other threads must never iterate it while it
changes. So that thread posts plain, JSON-ready copies here (`post`), and readers take them under a lock.
Events go in as they are emitted (`record`), into a bounded list of recent ones. A stream's latest frame is
kept (`offer`, a copy with its tracks) only while someone watches it (`watch`), and at most `live_fps` times
a second: a camera nobody looks at costs one dictionary lookup a frame.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from roadwatch.events.live_state import LiveState
from roadwatch.events.schema import Event
from roadwatch.events.zmq_io import EventPublisher
from roadwatch.outputs.summary import RunSummary
from roadwatch.pipeline.loop_metrics import LoopMetrics
from roadwatch.pipeline.roster import SourceRoster
from roadwatch.pipeline.stream_state import StreamState
from roadwatch.trackers import TrackView, ZoneLineMonitor

POST_EVERY_S = 0.25  # how stale the board may be while the loop runs (the final post is always made)
FPS_WINDOW_S = 1.0  # a stream's frames/s is counted over at least this long
WATCHED_FOR_S = 2.0  # a stream's frames are kept this long after the last request for one


@dataclass(frozen=True)
class BoardPost:
    """One posting: every stream's report, the active tracks' latest events, the run's counts so far."""

    at: float = 0.0  # time.time() of the post
    last_batch_at: float | None = None  # time.time() the loop last processed frames
    running: bool = False
    streams: dict[str, dict[str, Any]] = field(default_factory=dict)
    tracks: dict[str, list[Event]] = field(default_factory=dict)
    counts: dict[str, Any] = field(default_factory=dict)  # summary.json's counts so far (RunSummary.to_dict)
    publisher: dict[str, int] = field(default_factory=dict)  # events sent on ZeroMQ, subscriber overflows


@dataclass(frozen=True)
class Picture:
    """A stream's frame as the pipeline tracked it: the image (a copy), its visible tracks and their labels."""

    at: float  # time.monotonic() it was taken
    image: np.ndarray
    tracks: list[TrackView]
    labels: list[str]
    zones: ZoneLineMonitor  # the stream's zones and lines, to draw


def stream_report(state: StreamState, fps: float, now: float) -> dict[str, Any]:
    """One stream as GET /api/streams shows it; the source with its credentials masked."""
    capture, spec = state.capture, state.spec
    last = state.last_frame
    report = {
        "id": spec.stream_id, "source": spec.shown, "live": spec.live, "fps": round(fps, 2),
        "last_frame_age_s": round(now - last.captured_at, 3) if last is not None else None,
        "buffer_depth": len(capture.buffer), "frames_read": capture.frames_read,
    }
    report.update(state.summary_entry())  # status, frames, detected, dropped, reconnects, error, warning
    return report


class StatusBoard:
    def __init__(self, recent_events: int = 1000, live_fps: float = 5.0) -> None:
        self._lock = threading.Lock()
        self._picture_every_s = 1.0 / live_fps
        self._watched: dict[str, float] = {}  # stream -> time.monotonic() until which its frames are kept
        self._pictures: dict[str, Picture] = {}
        self._post = BoardPost()
        self._recent: deque[Event] = deque(maxlen=recent_events)
        self._rates: dict[str, tuple[float, int, float]] = {}  # per stream: (since, frames then, frames/s)
        self._last_post = 0.0

    # --- the pipeline's thread ---------------------------------------------------------------------

    def record(self, event: Event) -> None:
        with self._lock:
            self._recent.append(event)

    def offer(self, stream_id: str, image: np.ndarray, tracks: list[TrackView], labels: list[str],
              zones: ZoneLineMonitor) -> None:
        """A tracked frame; kept (copied) only while the stream is watched and its last one is old enough."""
        until = self._watched.get(stream_id)
        if until is None:
            return
        now = time.monotonic()
        if now > until:
            with self._lock:
                self._watched.pop(stream_id, None)
                self._pictures.pop(stream_id, None)
            return
        last = self._pictures.get(stream_id)
        if last is None or now - last.at >= self._picture_every_s:
            picture = Picture(now, image.copy(), list(tracks), list(labels), zones)
            with self._lock:
                self._pictures[stream_id] = picture

    def due(self) -> bool:
        """POST_EVERY_S has passed since the last posting."""
        return time.time() - self._last_post >= POST_EVERY_S

    def post(self, streams: Mapping[str, StreamState], live: LiveState, counts: dict[str, Any],
             publisher: dict[str, int], last_batch_at: float | None, running: bool) -> None:
        """Replace the posting."""
        now = self._last_post = time.time()
        reports = {sid: stream_report(state, self._fps(sid, state.frames, now), now) for sid, state in streams.items()}
        tracks: dict[str, list[Event]] = {sid: [] for sid in reports}
        for (sid, _), event in live.tracks.items():
            tracks.setdefault(sid, []).append(event)
        post = BoardPost(now, last_batch_at, running, reports, tracks, counts, publisher)
        with self._lock:
            self._post = post

    def _fps(self, stream_id: str, frames: int, now: float) -> float:
        since, before, fps = self._rates.get(stream_id, (now, frames, 0.0))
        if now - since >= FPS_WINDOW_S:
            since, before, fps = now, frames, (frames - before) / (now - since)
        self._rates[stream_id] = (since, before, fps)
        return fps

    # --- any thread --------------------------------------------------------------------------------

    def current(self) -> BoardPost:
        with self._lock:
            return self._post

    def recent(self) -> list[Event]:
        with self._lock:
            return list(self._recent)

    def watch(self, stream_id: str) -> Picture | None:
        """Keep the stream's frames for WATCHED_FOR_S more; its latest kept frame, if any."""
        with self._lock:
            self._watched[stream_id] = time.monotonic() + WATCHED_FOR_S
            return self._pictures.get(stream_id)


class StatusPoster:
    """The pipeline's side: gathers a posting from what holds it (the roster's streams, the live state, the run's
    summary, the publisher's counts), at most every POST_EVERY_S while running, and once more at the end."""

    def __init__(self, board: StatusBoard, roster: SourceRoster, live: LiveState, summary: RunSummary,
                 publisher: EventPublisher | None, metrics: LoopMetrics) -> None:
        self.board, self.roster, self.live, self.summary = board, roster, live, summary
        self.publisher, self.metrics = publisher, metrics

    def post(self, elapsed_s: float, final: dict[str, Any] | None = None) -> None:
        """While running (`final` None) when due; `final`: the run's summary, posted as the last word."""
        if final is None and not self.board.due():
            return
        counts = final or self.summary.to_dict(elapsed_s)
        p = self.publisher
        sent = {"sent": p.sent, "overflows": p.overflows} if p is not None else {}
        self.board.post(self.roster.streams, self.live, counts, sent, self.metrics.last_batch_at, final is None)
