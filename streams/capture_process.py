"""Capture in a process of its own per source, for hosts where one process cannot decode every stream.

OpenCV releases the GIL while it decodes, yet one process tops out well below its cores' worth (on the
16-core GPU machine: about 2,800 720p frames/s with 16 threads, against 740 for one thread alone). Here
the same `CaptureThread` (reader, reconnects, status) runs in a child process; each decoded frame goes
into a slot of shared memory, and only the slot's number crosses the pipe. In this process a relay thread
copies the image out (numpy copies without holding the GIL; into pinned memory from the `allocate` given,
on CUDA), hands the slot back, and puts the frame into
the stream's ordinary `RingBuffer`: the batcher and everything after it see no difference, and the
buffer's policy (drop the oldest for live sources, wait for files) is applied here as with threads.

The child needs only a few slots, since each is handed back as soon as it is copied; when a live source
finds all of them still in flight it drops the new frame (counted in the stream's `dropped`), a file
waits. A child that dies is reported as FAILED with its exit code; a stop request reaches it through the
pipe, and a child that does not end in time is killed.
"""

from __future__ import annotations

import logging
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection

import numpy as np

from .capture import Capture, ReconnectPolicy, StatusChange, StreamStatus
from .capture_child import CaptureState
from .frame import Frame, FrameAllocator
from .frame_slots import FrameSlots
from .ring_buffer import RingBuffer
from .sources import SourceSpec

log = logging.getLogger(__name__)

SLOTS = 4  # per stream: frames decoded but not yet copied out; the ring buffer holds the rest
STOP_GRACE_S = 3.0  # after a stop request, how long a child may take to end before it is killed


def _start_child(sock: socket.socket) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", f"from roadwatch.streams.capture_child import main; main({sock.fileno()})"],
        pass_fds=[sock.fileno()], stdin=subprocess.DEVNULL,
    )


class CaptureProcess(Capture):
    """In the pipeline's process: starts the child, relays its frames into `buffer` and its status to
    `on_status`."""

    def __init__(
        self, spec: SourceSpec, buffer: RingBuffer[Frame], policy: ReconnectPolicy | None = None,
        on_status: Callable[[StatusChange], None] | None = None, decode_threads: int = 0,
        allocate: FrameAllocator | None = None, slots: int = SLOTS,
    ) -> None:
        super().__init__(f"relay-{spec.stream_id}", spec, buffer, policy, on_status, decode_threads, allocate)
        self.slots = slots
        self.process: subprocess.Popen | None = None
        self._conn: Connection | None = None
        self._send_lock = threading.Lock()
        self._segments: dict[int, FrameSlots] = {}
        self._source_dropped = 0

    def _stopping(self) -> None:
        self._send(("stop",))

    def run(self) -> None:
        closed = False
        try:
            if self._stop_event.is_set():
                return
            ours, theirs = socket.socketpair()
            try:
                self.process = _start_child(theirs)
            finally:
                theirs.close()  # so that the child's end closing (it exited) reads as EOF here
            conn = Connection(ours.detach())
            with self._send_lock:
                self._conn = conn
            self._send(("start", self.spec, self.policy, self.decode_threads, self.slots))
            if self._stop_event.is_set():  # a stop that came while the child was starting
                self._send(("stop",))
            closed = self._relay(conn)
        except Exception as exc:  # never let the relay die silently
            self._apply(
                StatusChange(
                    self.spec.stream_id, StreamStatus.FAILED,
                    f"source '{self.spec.shown}': capture process: {type(exc).__name__}: {exc}", time.time(),
                    self.frames_read,
                )
            )
        finally:
            if closed:  # the child sent its last status before saying so: the stream may end at once
                self.buffer.close()
            # Otherwise how the child ended is reported before the buffer closes, as a capture thread does: a
            # consumer that sees the stream exhausted and stops it must not turn a death into "stopped".
            try:
                self._end_child(closed)
            finally:
                self.buffer.close()

    def _relay(self, conn: Connection) -> bool:
        """Until the child says it is done (True) or dies (False)."""
        while True:
            if not conn.poll(0.2):
                if self.process is not None and self.process.poll() is not None and not conn.poll(0):
                    return False
                continue
            try:
                message = conn.recv()
            except (EOFError, ConnectionResetError):  # a killed child's socket may also read as reset
                return False
            kind = message[0]
            if kind == "frame":
                self._deliver(*message[1:])
            elif kind == "segment":
                generation, name, count, slot_bytes = message[1:]
                for old in self._segments.values():
                    old.close()  # every frame of it was copied out already
                self._segments = {generation: FrameSlots.attach(name, count, slot_bytes)}
            elif kind == "status":
                self._adopt(message[2])
                self._apply(message[1])
            elif kind == "closed":
                self._adopt(message[1])
                return True

    def _deliver(
        self, generation: int, slot: int, shape: tuple[int, ...], index: int, pts: float, captured_at: float,
        source_dropped: int,
    ) -> None:
        image = self.allocate(shape) if self.allocate is not None else np.empty(shape, np.uint8)
        np.copyto(image, self._segments[generation].view(slot, shape))  # without the GIL: relays copy in parallel
        self._send(("free", generation, slot))
        self.frames_read = index + 1
        if source_dropped > self._source_dropped:
            self.buffer.add_dropped(source_dropped - self._source_dropped)
            self._source_dropped = source_dropped
        self._put(Frame(self.spec.stream_id, index, pts, captured_at, self.buffer.dropped, image))

    def _adopt(self, state: CaptureState) -> None:
        self.info = state.info or self.info
        self.error = self.spec.redact(state.error) if state.error else state.error
        self.warning = self.spec.redact(state.warning) if state.warning else state.warning
        self.reconnects = state.reconnects
        self.frames_read = max(self.frames_read, state.frames_read)

    def _apply(self, change: StatusChange) -> None:
        self.status = change.status
        if change.status is StreamStatus.FAILED:
            self.error = self.spec.redact(change.reason)
        self._report(change)

    def _send(self, message: tuple) -> None:
        with self._send_lock:
            if self._conn is None:
                return
            try:
                self._conn.send(message)
            except (BrokenPipeError, ConnectionResetError, OSError):
                pass  # the child has ended; the relay reports how

    def _end_child(self, closed: bool) -> None:
        """Wait for the child (killing it if it overstays a stop); report a death nobody asked for."""
        process = self.process
        if process is not None:
            try:
                process.wait(STOP_GRACE_S if closed or self._stop_event.is_set() else 0.5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5.0)
            if not closed and not self._stop_event.is_set():
                reason = (
                    f"source '{self.spec.shown}': capture process exited unexpectedly (exit code {process.returncode})"
                )
                log.warning("stream %s failed: %s", self.spec.stream_id, reason)
                self._apply(
                    StatusChange(self.spec.stream_id, StreamStatus.FAILED, reason, time.time(), self.frames_read)
                )
            elif self.status not in (StreamStatus.ENDED, StreamStatus.FAILED, StreamStatus.STOPPED):
                self._apply(
                    StatusChange(self.spec.stream_id, StreamStatus.STOPPED, "stopped", time.time(), self.frames_read)
                )
        with self._send_lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
        for segment in self._segments.values():
            segment.close()
        self._segments = {}
