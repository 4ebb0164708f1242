"""One thread per source: read frames into the source's ring buffer, and keep live sources alive.

Files and folders are read once, to their end. Live sources (cameras, URLs) reconnect after every
failure with exponential backoff and jitter, and report each change of state (up, down, stalled) through
a callback, so one camera going away never stops or slows the others and is never silent.
"""

from __future__ import annotations

import dataclasses
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from .av_reader import PyAVReader
from .frame import Frame, FrameAllocator
from .packet_ring import PacketRing
from .ring_buffer import BufferPolicy, RingBuffer
from .sources import (
    MAX_IMAGE_PIXELS,
    FrameReader,
    RtspTransport,
    SourceError,
    SourceInfo,
    SourceKind,
    SourceSpec,
    open_reader,
)

log = logging.getLogger(__name__)


class StreamStatus(str, Enum):
    STARTING = "starting"
    UP = "up"  # frames are flowing
    DOWN = "down"  # cannot open, or the connection was lost; retrying (live) or given up (FAILED)
    STALLED = "stalled"  # connected but no frame for stall_timeout_s; reconnecting
    ENDED = "ended"  # a file or folder reached its end
    STOPPED = "stopped"  # stopped on request
    FAILED = "failed"  # will not be retried


ERROR_STATES = (StreamStatus.DOWN, StreamStatus.STALLED, StreamStatus.FAILED)  # states that carry an error


@dataclass(frozen=True)
class ReconnectPolicy:
    """How sources are opened and read, and how live ones come back. The n-th retry waits
    min(cap, base * 2**n) scaled by a random factor in [0.5, 1], so cameras that dropped together do not all
    reconnect in the same instant."""

    base_s: float = 0.5
    cap_s: float = 30.0
    open_timeout_s: float = 5.0
    stall_timeout_s: float = 5.0
    max_retries: int | None = None  # None: forever, as a 24/7 monitor wants
    rtsp_transport: RtspTransport = "auto"  # auto: TCP, then UDP when the server refuses TCP
    max_image_pixels: int = MAX_IMAGE_PIXELS  # an image of a folder claiming more is skipped, never decoded

    def delay(self, attempt: int, rng: random.Random) -> float:
        # The exponent is bounded: a camera down for a night is past attempt 1024, where 2.0**attempt overflows.
        return min(self.cap_s, self.base_s * 2.0 ** min(attempt, 64)) * rng.uniform(0.5, 1.0)


@dataclass(frozen=True)
class StatusChange:
    """A stream changed state: what, why, when (wall clock), and how many frames it had read by then."""

    stream_id: str
    status: StreamStatus
    reason: str
    at: float
    frames: int
    retry_in_s: float | None = None


def buffer_for(spec: SourceSpec, live_capacity: int, file_capacity: int, on_put=None) -> RingBuffer[Frame]:
    """Live sources drop their oldest frames; files and folders make the reader wait."""
    if spec.live:
        return RingBuffer(live_capacity, BufferPolicy.DROP_OLDEST, on_put)
    return RingBuffer(file_capacity, BufferPolicy.BLOCK, on_put)


class Capture(threading.Thread):
    """One source read into its ring buffer, in a thread of this process (`CaptureThread`) or in a process of
    its own (`CaptureProcess`): the state the pipeline reads and the way frames enter the buffer, written once.

    The buffer being closed is the consumer's signal that this stream will produce nothing more.
    """

    def __init__(
        self, name: str, spec: SourceSpec, buffer: RingBuffer[Frame], policy: ReconnectPolicy | None = None,
        on_status: Callable[[StatusChange], None] | None = None, decode_threads: int = 0,
        allocate: FrameAllocator | None = None,
    ) -> None:
        super().__init__(name=name, daemon=True)
        self.spec = spec
        self.buffer = buffer
        self.policy = policy or ReconnectPolicy()
        self.decode_threads = decode_threads
        self.allocate = allocate
        self.status = StreamStatus.STARTING
        self.error: str | None = None
        self.warning: str | None = None
        self.info: SourceInfo | None = None
        self.frames_read = 0
        self.reconnects = 0
        self.failed_opens = 0  # in a row, for a live source: how long it has been trying
        self._on_status = on_status
        self._stop_event = threading.Event()

    def stop(self) -> None:
        self._stop_event.set()
        self.buffer.close()
        self._stopping()
        if self.ident is None:  # never started: nothing will report the stop
            self.status = StreamStatus.STOPPED

    def _stopping(self) -> None:
        """What else a stop request needs (a capture process tells its child)."""

    def _report(self, change: StatusChange) -> None:
        """To `on_status`, with the source's credentials masked: every status leaves the capture code here."""
        if self._on_status is not None:
            self._on_status(dataclasses.replace(change, reason=self.spec.redact(change.reason)))

    def _put(self, frame: Frame) -> bool:
        """Into the buffer; a BLOCK buffer waits in short slices so a stop request is seen promptly. False if
        the capture was stopped (or its buffer closed) first."""
        while not self.buffer.put(frame, timeout=0.1):
            if self._stop_event.is_set() or self.buffer.closed:
                return False
        return True


class CaptureThread(Capture):
    """Reads one source in a thread until it ends, fails for good or is stopped, then closes its buffer."""

    def __init__(
        self, spec: SourceSpec, buffer: RingBuffer[Frame], policy: ReconnectPolicy | None = None,
        on_status: Callable[[StatusChange], None] | None = None, decode_threads: int = 0,
        allocate: FrameAllocator | None = None, packets: PacketRing | None = None,
    ) -> None:
        super().__init__(f"capture-{spec.stream_id}", spec, buffer, policy, on_status, decode_threads, allocate)
        self.packets = packets  # a camera URL's compressed packets are kept there too (PyAV reads it)
        self._rng = random.Random()
        self._clock_origin = time.monotonic()

    def run(self) -> None:
        try:
            if self.spec.live:
                self._run_live()
            else:
                self._run_once()
        except Exception as exc:  # a backend error must not kill the pipeline, nor pass unreported
            self._set(StreamStatus.FAILED, f"source '{self.spec.shown}': {type(exc).__name__}: {exc}")
        finally:
            self.buffer.close()

    def _open(self) -> FrameReader:
        if self.packets is not None and self.spec.kind is SourceKind.URL:
            return PyAVReader(self.spec, self.packets, self.policy.open_timeout_s, self.policy.stall_timeout_s,
                              self._clock_origin, self.decode_threads, self.policy.rtsp_transport)
        return open_reader(
            self.spec, self.policy.open_timeout_s, self.policy.stall_timeout_s, self._clock_origin, self.decode_threads,
            self.policy.rtsp_transport, self.policy.max_image_pixels,
        )

    def _run_once(self) -> None:
        try:
            reader = self._open()
        except SourceError as exc:
            self._set(StreamStatus.FAILED, str(exc))
            return
        self.info = reader.info
        self._set(StreamStatus.UP, "opened")
        try:
            self._read_until_end(reader)
        finally:
            reader.close()
        if self._stop_event.is_set():
            self._set(StreamStatus.STOPPED, "stopped")
            return
        expected = self.info.frame_count
        if expected and self.frames_read < expected:
            self.warning = (
                f"source '{self.spec.shown}': ended at frame {self.frames_read} of {expected} announced by its header "
                "(truncated or damaged file); processed up to the last good frame"
            )
            log.warning(self.warning)
        self._set(StreamStatus.ENDED, "end of file")

    def _run_live(self) -> None:
        while not self._stop_event.is_set():
            try:
                reader = self._open()
            except SourceError as exc:
                if self.policy.max_retries is not None and self.failed_opens >= self.policy.max_retries:
                    self._set(StreamStatus.FAILED, str(exc))
                    return
                delay = self.policy.delay(self.failed_opens, self._rng)
                self.failed_opens += 1
                self._set(StreamStatus.DOWN, str(exc), retry_in_s=delay)
                self._stop_event.wait(delay)
                continue
            self.failed_opens = 0
            self.info = reader.info
            try:
                last_frame_at = self._read_until_end(reader, live=True)
            finally:
                reader.close()
            if self._stop_event.is_set():
                break
            silent_for = time.monotonic() - last_frame_at
            delay = self.policy.delay(0, self._rng)
            if silent_for >= 0.9 * self.policy.stall_timeout_s:
                self._set(StreamStatus.STALLED, f"no frame for {silent_for:.1f} s; reconnecting", retry_in_s=delay)
            else:
                self._set(StreamStatus.DOWN, "connection lost (stream ended or camera went away)", retry_in_s=delay)
            self._stop_event.wait(delay)
        self._set(StreamStatus.STOPPED, "stopped")

    def _read_until_end(self, reader: FrameReader, live: bool = False) -> float:
        """Push frames until the reader ends or a stop is requested; returns when the last frame came.

        Live: the stream is `up` at its first frame, not when it opened (a server can accept and send nothing),
        and a frame that comes `stall_timeout_s` or more after the one before ends the connection as stalled
        instead of reaching the buffer: when a feed stops with its connection open, FFmpeg's read timeout
        releases the few frames still in its buffers one per timeout, each seconds late.

        With `allocate`, each frame is decoded into an array from it, shaped as the previous frame (a frame
        of another size gets the reader's own array instead)."""
        last_frame_at = time.monotonic()
        info = reader.info
        shape = (info.height, info.width, 3) if info.height > 0 and info.width > 0 else None
        first = True
        while not self._stop_event.is_set():
            got = reader.read(self.allocate(shape) if self.allocate is not None and shape is not None else None)
            if got is None:
                break
            now = time.monotonic()
            if live and now - last_frame_at >= self.policy.stall_timeout_s:
                break  # stale: the caller reports the stall, measured from the last frame that was on time
            last_frame_at = now
            if live and first:
                first = False
                if self.status is not StreamStatus.STARTING:
                    self.reconnects += 1
                self._set(StreamStatus.UP, f"frames are coming{getattr(reader, 'note', '')}")
            image, pts = got
            shape = image.shape
            frame = Frame(
                stream_id=self.spec.stream_id, index=self.frames_read, pts=pts, captured_at=time.time(),
                dropped=self.buffer.dropped, image=image,
            )
            self.frames_read += 1
            if not self._put(frame):
                break
        return last_frame_at

    def _set(self, status: StreamStatus, reason: str, retry_in_s: float | None = None) -> None:
        """Record a state and report it, once per change: a camera that stays down is not reported every retry."""
        reason = self.spec.redact(reason)  # an exception's text may quote the URI
        changed = status is not self.status  # one event per change: a drop is one `down`, whatever follows
        self.status = status
        if status in ERROR_STATES:
            self.error = reason
        if not changed:
            return
        if status in ERROR_STATES:
            retry = f"; retrying in {retry_in_s:.1f} s" if retry_in_s is not None else ""
            log.warning("stream %s %s: %s%s", self.spec.stream_id, status.value, reason, retry)
        self._report(StatusChange(self.spec.stream_id, status, reason, time.time(), self.frames_read, retry_in_s))
