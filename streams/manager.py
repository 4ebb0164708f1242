"""All sources of a pipeline: their capture threads and buffers, added and removed while others run."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Literal

from .capture import Capture, CaptureThread, ReconnectPolicy, StatusChange, buffer_for
from .capture_process import CaptureProcess
from .frame import Frame, FrameAllocator
from .packet_ring import PacketRing
from .ring_buffer import RingBuffer
from .sources import SourceKind, SourceSpec

CaptureMode = Literal["auto", "thread", "process"]


class StreamManager:
    """Starts one capture thread (or process, `capture="process"`) per source and stops it again,
    independently of the others. With `capture="auto"`, URLs get a process each and everything else a thread:
    OpenCV's FFmpeg backend opens under one lock per process, so in threads an unreachable or silent URL
    held every other source's open for its whole timeout (a file beside four silent URLs: 11.5 s to its
    first frame in threads, 0.16 s with the URLs in processes)."""

    def __init__(
        self, live_capacity: int = 4, file_capacity: int = 64, policy: ReconnectPolicy | None = None,
        on_put: Callable[[], None] | None = None, on_status: Callable[[StatusChange], None] | None = None,
        decode_threads: int = 0, capture: CaptureMode = "thread", allocate: FrameAllocator | None = None,
    ) -> None:
        if capture not in ("auto", "thread", "process"):
            raise ValueError(f"capture must be 'auto', 'thread' or 'process', not {capture!r}")
        self.capture = capture
        self.allocate = allocate
        self.live_capacity = live_capacity
        self.decode_threads = decode_threads
        self.file_capacity = file_capacity
        self.policy = policy or ReconnectPolicy()
        self._on_put = on_put
        self._on_status = on_status
        self._captures: dict[str, Capture] = {}
        self._lock = threading.Lock()

    def add(self, spec: SourceSpec, start: bool = True, packets: PacketRing | None = None) -> Capture:
        """With `packets`, a camera URL's compressed packets are kept there as well: it is read by PyAV in a
        thread of this process, where the clip writer can reach them."""
        with self._lock:
            if spec.stream_id in self._captures:
                raise ValueError(f"stream id '{spec.stream_id}' is already in use")
            buffer: RingBuffer[Frame] = buffer_for(spec, self.live_capacity, self.file_capacity, self._on_put)
            in_process = self.capture == "process" or (self.capture == "auto" and spec.kind is SourceKind.URL)
            if packets is not None:
                capture: Capture = CaptureThread(spec, buffer, self.policy, self._on_status, self.decode_threads,
                                                 self.allocate, packets)
            elif in_process:
                capture = CaptureProcess(spec, buffer, self.policy, self._on_status, self.decode_threads, self.allocate)
            else:
                capture = CaptureThread(spec, buffer, self.policy, self._on_status, self.decode_threads, self.allocate)
            self._captures[spec.stream_id] = capture
        if start:
            capture.start()
        return capture

    def remove(self, stream_id: str, timeout_s: float = 10.0) -> Capture:
        """Stop a source and wait for its thread; its buffer is closed, so consumers see it end."""
        with self._lock:
            capture = self._captures.pop(stream_id)
        capture.stop()
        if capture.is_alive():
            capture.join(timeout_s)
        return capture

    def get(self, stream_id: str) -> Capture | None:
        with self._lock:
            return self._captures.get(stream_id)

    @property
    def stream_ids(self) -> list[str]:
        with self._lock:
            return list(self._captures)

    def stop_all(self, timeout_s: float = 10.0) -> None:
        """Every capture is told to stop first, then each is waited for: their stops overlap."""
        with self._lock:
            captures, self._captures = list(self._captures.values()), {}
        for capture in captures:
            capture.stop()
        for capture in captures:
            if capture.is_alive():
                capture.join(timeout_s)
