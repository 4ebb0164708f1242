"""The capture process's side of `CaptureProcess`: `main(fd)` in a new interpreter.

A fresh interpreter that imports only `streams` (OpenCV, numpy): it neither inherits the pipeline's CUDA
state and threads, as a forked child would, nor re-imports the pipeline's main module, as multiprocessing's
spawn and forkserver children do (with the `roadwatch` script that would load torch into every child).
It runs an ordinary `CaptureThread` whose buffer is a `SlotWriter`, and talks to its parent over the
socket FD with `multiprocessing.connection` messages.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection

import numpy as np

from .capture import CaptureThread, ReconnectPolicy, StatusChange
from .frame import Frame
from .frame_slots import FrameSlots
from .sources import SourceInfo, SourceSpec


@dataclass(frozen=True)
class CaptureState:
    """What a child reports of its capture with every status change."""

    info: SourceInfo | None
    error: str | None
    warning: str | None
    reconnects: int
    frames_read: int


def _state_of(capture: CaptureThread) -> CaptureState:
    return CaptureState(capture.info, capture.error, capture.warning, capture.reconnects, capture.frames_read)


class SlotWriter:
    """In the child: the `CaptureThread`'s buffer. A put sends the number of the slot holding the image;
    the parent's "free" messages hand slots back (`release`).

    It is also the thread's frame allocator (`allocate`): the next frame is decoded straight into a free
    slot, so a put only sends its number. An image decoded elsewhere (no slot was free for a live source,
    or the frame grew) is copied into a free slot instead. A replaced segment is unmapped at the end (a
    frame may still be a view of it), not when it is replaced.
    """

    def __init__(self, send: Callable[[tuple], None], slots: int, live: bool) -> None:
        self.dropped = 0
        self.high_water = 0
        self._send = send
        self._count = slots
        self._live = live
        self._segment: FrameSlots | None = None
        self._generation = 0  # a bigger frame than the slots hold gets a new segment, with a new number
        self._free: list[int] = []
        self._cond = threading.Condition()
        self._closed = False
        self._reserved: tuple[int, int, np.ndarray] | None = None  # (generation, slot, view) handed to the decoder
        self._retired: list[FrameSlots] = []
        self.decoded_in_place = 0  # frames that needed no copy here

    def allocate(self, shape: tuple[int, ...]) -> np.ndarray | None:
        """A free slot, as an array of `shape`, for the decoder to write the next frame into; None when a live
        source has no free slot (its frame is then dropped at the put) or the writer is closed. A file waits
        for a slot, as its put would."""
        with self._cond:
            nbytes = int(np.prod(shape))
            if self._segment is None or nbytes > self._segment.slot_bytes:
                self._new_segment(nbytes)
            if not self._free and not self._live:
                self._cond.wait_for(lambda: self._closed or bool(self._free))
            if self._closed or not self._free:
                return None
            slot = self._free.pop()
            view = self._segment.view(slot, shape)
            self._reserved = (self._generation, slot, view)
            return view

    def put(self, frame: Frame, timeout: float | None = None) -> bool:
        in_place = None
        with self._cond:
            reserved, self._reserved = self._reserved, None
            if self._closed:
                return False
            if reserved is not None and reserved[0] == self._generation:
                if frame.image is reserved[2]:  # decoded in place: nothing to copy
                    self.decoded_in_place += 1
                    in_place = reserved[:2]
                else:
                    self._free.append(reserved[1])  # decoded elsewhere (the frame changed size): the slot goes back
        if in_place is not None:
            generation, slot = in_place
            self._send(
                ("frame", generation, slot, frame.image.shape, frame.index, frame.pts, frame.captured_at, self.dropped)
            )
            return True
        with self._cond:
            if self._closed:
                return False
            if self._segment is not None and not self._free:
                if self._live:  # every slot is still being copied out: this frame is the one to lose
                    self.dropped += 1
                    return True
                if not self._cond.wait_for(lambda: self._closed or self._free, timeout) or self._closed:
                    return False
            image = frame.image
            if self._segment is None or image.nbytes > self._segment.slot_bytes:
                self._new_segment(image.nbytes)
            slot = self._free.pop()
            segment, generation = self._segment, self._generation
        np.copyto(segment.view(slot, image.shape), image)
        self._send(("frame", generation, slot, image.shape, frame.index, frame.pts, frame.captured_at, self.dropped))
        return True

    def _new_segment(self, nbytes: int) -> None:
        if self._segment is not None:
            self._retired.append(self._segment)  # the parent has its own mapping, and its name is already gone
        self._generation += 1
        self._segment = FrameSlots.create(self._count, nbytes)
        self._free = list(range(self._count))
        self._send(("segment", self._generation, self._segment.name, self._count, nbytes))

    def release(self, generation: int, slot: int) -> None:
        with self._cond:
            if generation == self._generation:  # slots of a replaced segment are gone with it
                self._free.append(slot)
                self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    @property
    def closed(self) -> bool:
        return self._closed

    def unmap(self) -> None:
        """After the capture thread has ended: no frame of it is left to view the slots."""
        with self._cond:
            self._reserved = None
            for segment in [*self._retired, *([self._segment] if self._segment is not None else [])]:
                segment.close()
            self._retired, self._segment = [], None


def _child_main(spec: SourceSpec, policy: ReconnectPolicy, decode_threads: int, conn: Connection, slots: int) -> None:
    """The capture process: a `CaptureThread` writing into shared slots; this thread serves the pipe."""
    lock = threading.Lock()
    parent_gone = threading.Event()

    def send(message: tuple) -> None:
        with lock:
            try:
                conn.send(message)
            except (BrokenPipeError, ConnectionResetError):  # nobody is listening any more: stop reading
                parent_gone.set()

    writer = SlotWriter(send, slots, spec.live)
    capture: CaptureThread | None = None

    def report(change: StatusChange) -> None:
        send(("status", change, _state_of(capture)))

    capture = CaptureThread(spec, writer, policy, report, decode_threads, allocate=writer.allocate)  # type: ignore[arg-type]
    capture.start()
    try:
        while capture.is_alive():
            if parent_gone.is_set():
                capture.stop()
            if not conn.poll(0.1):
                continue
            try:
                message = conn.recv()
            except (EOFError, ConnectionResetError):  # the parent is gone (a killed one's socket may read as reset)
                capture.stop()
                break
            if message[0] == "free":
                writer.release(message[1], message[2])
            elif message[0] == "stop":
                capture.stop()
        capture.join()
        send(("closed", _state_of(capture)))
    finally:
        writer.unmap()


def main(fd: int) -> None:
    conn = Connection(fd)
    try:
        _, spec, policy, decode_threads, slots = conn.recv()
    except (EOFError, ConnectionResetError):  # the parent died before it said what to read
        return
    _child_main(spec, policy, decode_threads, conn, slots)
