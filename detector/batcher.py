"""Collect frames from many buffers into one batch without waiting for the slowest stream."""

from __future__ import annotations

import threading
import time
from typing import Generic, Protocol, TypeVar

T = TypeVar("T")


class Buffer(Protocol[T]):
    """What the batcher needs of a buffer (streams.RingBuffer is one)."""

    def poll(self) -> T | None: ...

    @property
    def exhausted(self) -> bool: ...


class Batcher(Generic[T]):
    """Round-robin over buffers: one item per buffer per pass, until `max_batch` items or `max_wait_s`
    after the first item of the batch, whichever comes first.

    Taking one item per buffer per pass keeps streams fair; taking several passes lets a single file
    stream fill a batch with consecutive frames, still in order. Buffers call `wake()` on every put so
    the batcher sleeps rather than spins.
    """

    def __init__(self, max_batch: int, max_wait_s: float) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be >= 1")
        self.max_batch = max_batch
        self.max_wait_s = max_wait_s
        self._buffers: dict[str, Buffer[T]] = {}
        self._lock = threading.Lock()
        self._signal = threading.Event()
        self._start = 0

    def wake(self) -> None:
        self._signal.set()

    def add(self, key: str, buffer: Buffer[T]) -> None:
        with self._lock:
            self._buffers[key] = buffer
        self.wake()

    def remove(self, key: str) -> None:
        with self._lock:
            self._buffers.pop(key, None)
        self.wake()

    def next_batch(self, stop: threading.Event | None = None, idle_s: float | None = None) -> list[T] | None:
        """The next batch; None once every buffer is exhausted (or `stop` is set) and nothing is left;
        an empty list after `idle_s` seconds without any item, so the caller can do other work."""
        batch: list[T] = []
        deadline: float | None = None
        idle_deadline = None if idle_s is None else time.monotonic() + idle_s
        while True:
            self._signal.clear()  # cleared before polling, so a put during the pass is not missed
            with self._lock:
                buffers = list(self._buffers.values())
            self._fill(batch, buffers)
            if len(batch) >= self.max_batch:
                return batch
            if stop is not None and stop.is_set():
                return batch or None
            if all(b.exhausted for b in buffers):
                return batch or None
            now = time.monotonic()
            if batch:
                if deadline is None:
                    deadline = now + self.max_wait_s
                if now >= deadline:
                    return batch
                self._signal.wait(deadline - now)
            elif idle_deadline is not None and now >= idle_deadline:
                return batch
            else:
                self._signal.wait(0.1 if idle_deadline is None else min(0.1, max(0.0, idle_deadline - now)))

    def _fill(self, batch: list[T], buffers: list[Buffer[T]]) -> None:
        if not buffers:
            return
        n = len(buffers)
        order = buffers[self._start % n :] + buffers[: self._start % n]
        self._start += 1
        took = True
        while took and len(batch) < self.max_batch:
            took = False
            for buffer in order:
                if len(batch) >= self.max_batch:
                    break
                item = buffer.poll()
                if item is not None:
                    batch.append(item)
                    took = True
