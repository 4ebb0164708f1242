"""The roster of sources: which streams exist, which are decoding, which wait their turn, and when the run is over.

A live source starts at once. A file starts if fewer than `streams.max_open_files` are being decoded, else it
waits its turn and starts as a running file ends: a folder of hundreds of clips is decoded a few at a time,
not all at once (a decoder, a thread and a read-ahead buffer each), and the batcher polls only the buffers of
running streams. The run is over when no stream is left running or waiting, which only the roster knows.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable

from roadwatch.config import StreamsConfig
from roadwatch.detector import Batcher
from roadwatch.pipeline.stream_state import StreamState
from roadwatch.streams import Frame, FrameAllocator, PacketRing, SourceSpec, StatusChange, StreamManager

log = logging.getLogger(__name__)


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


class SourceRoster:
    """Owns the captures (through a StreamManager) and every stream's state, in the pipeline's thread."""

    def __init__(
        self,
        config: StreamsConfig,
        batcher: Batcher[Frame],
        specs: list[SourceSpec],
        on_status: Callable[[StatusChange], None],
        allocate: FrameAllocator | None = None,
    ) -> None:
        self.config = config
        self.batcher = batcher
        files = min(sum(1 for spec in specs if not spec.live), config.max_open_files)  # decoded at once
        self.manager = StreamManager(
            live_capacity=config.live_buffer,
            file_capacity=file_read_ahead(config.file_buffer, batcher.max_batch, files),
            policy=config.reconnect_policy(),
            on_put=batcher.wake,
            on_status=on_status,
            decode_threads=config.decode_threads,
            capture=config.capture,
            allocate=allocate,  # frames decoded where the detector uploads them from (pinned on CUDA)
        )
        self.streams: dict[str, StreamState] = {}
        self._slots = 0  # tracker slots handed out: a re-added stream gets a new one, a fresh id space
        self._waiting: deque[str] = deque()  # files waiting their turn, in order
        self._open_files: set[str] = set()

    @property
    def done(self) -> bool:
        """Every stream has finished (a file waiting its turn has not): the run is over."""
        return all(state.finished for state in self.streams.values())

    def running(self) -> dict[str, SourceSpec]:
        return {sid: state.spec for sid, state in self.streams.items() if not state.finished}

    def changes(self, wanted: dict[str, SourceSpec]) -> tuple[list[str], list[SourceSpec]]:
        """Against a new source list (a reload): the running streams to remove, and the specs to add (a
        changed uri is both)."""
        running = self.running()
        gone = [sid for sid, spec in running.items() if sid not in wanted or wanted[sid].uri != spec.uri]
        new = [spec for sid, spec in wanted.items() if sid not in running or running[sid].uri != spec.uri]
        return gone, new

    def in_use(self, stream_id: str) -> bool:
        return stream_id in self.streams and not self.streams[stream_id].finished

    def add(self, spec: SourceSpec, packets: PacketRing | None = None, **state_fields) -> StreamState:
        """A new stream, not started yet; `state_fields` are its StreamState's other fields (zones, camera...).
        With `packets`, its capture keeps its compressed packets there too (clips)."""
        if self.manager.get(spec.stream_id) is not None:  # a file that ended, added again: a fresh capture
            self.manager.remove(spec.stream_id)
        capture = self.manager.add(spec, start=False, packets=packets)
        state = StreamState(spec, capture, self._slots, **state_fields)
        self._slots += 1
        self.streams[spec.stream_id] = state
        return state

    def start_all(self) -> None:
        """At the start of a run: every stream added before it starts, or waits its turn."""
        for state in self.streams.values():
            if not state.capture.is_alive() and not state.finished and state.spec.stream_id not in self._waiting:
                self.start_or_wait(state)

    def start_or_wait(self, state: StreamState) -> None:
        if not state.spec.live and len(self._open_files) >= self.config.max_open_files:
            self._waiting.append(state.spec.stream_id)
            return
        self._start(state)

    def finished(self, state: StreamState, start_next: bool = True) -> None:
        """A stream has ended (or was removed): its capture stops, and a waiting file may take its place."""
        state.finished = True
        state.capture.stop()
        self.batcher.remove(state.spec.stream_id)  # nothing more will come: the batcher stops polling it
        self._open_files.discard(state.spec.stream_id)
        if start_next:
            self._start_waiting()

    def exhausted(self, stream_ids: list[str]) -> list[StreamState]:
        """Of the streams the detection thread says ended, those not finished yet whose buffers are spent."""
        states = [self.streams.get(sid) for sid in stream_ids]
        return [s for s in states if s is not None and not s.finished and s.capture.buffer.exhausted]

    def forget(self, stream_id: str) -> None:
        """A removed stream: its capture stopped and joined, nothing of it kept (the id may come back)."""
        self.manager.remove(stream_id)
        del self.streams[stream_id]

    def stop_all(self, timeout_s: float) -> None:
        self._waiting.clear()
        self.manager.stop_all(timeout_s=timeout_s)

    def _start(self, state: StreamState) -> None:
        """Its buffer joins the batcher, and its capture starts."""
        if not state.spec.live:
            self._open_files.add(state.spec.stream_id)
        newest_only = state.spec.live and not state.tracks_every_frame
        self.batcher.add(state.spec.stream_id, state.capture.buffer, newest_only=newest_only)
        state.capture.start()

    def _start_waiting(self) -> None:
        while self._waiting and len(self._open_files) < self.config.max_open_files:
            state = self.streams.get(self._waiting.popleft())
            if state is not None and not state.finished:
                self._start(state)
