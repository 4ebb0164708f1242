"""Collect frames from many buffers into one batch without waiting for the slowest stream."""

from __future__ import annotations

import threading
import time
from typing import Generic, Protocol, TypeVar

T = TypeVar("T")


class Buffer(Protocol[T]):
    """What the batcher needs of a buffer (streams.RingBuffer is one)."""

    def poll(self) -> T | None: ...

    def poll_newest(self) -> T | None: ...

    @property
    def exhausted(self) -> bool: ...


class Batcher(Generic[T]):
    """Round-robin over buffers: one item per buffer per pass, until `max_batch` items or `max_wait_s`
    after the first item of the batch, whichever comes first; never waits for a stream with nothing ready.

    Taking one item per buffer per pass keeps streams fair; taking several passes lets a single file
    stream fill a batch with consecutive frames, still in order. A `newest_only` buffer (a live camera)
    gives at most its newest item per batch and drops what is older, so a camera's frames never queue
    behind each other. Buffers call `wake()` on every put so the batcher sleeps rather than spins.
    """

    def __init__(self, max_batch: int, max_wait_s: float) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be >= 1")
        self.max_batch = max_batch
        self.max_wait_s = max_wait_s
        self._buffers: dict[str, Buffer[T]] = {}
        self._newest_only: set[str] = set()
        self._lock = threading.Lock()
        self._signal = threading.Event()
        self._start = 0

    def wake(self) -> None:
        self._signal.set()

    def add(self, key: str, buffer: Buffer[T], newest_only: bool = False) -> None:
        with self._lock:
            self._buffers[key] = buffer
            if newest_only:
                self._newest_only.add(key)
            else:
                self._newest_only.discard(key)
        self.wake()

    def remove(self, key: str) -> None:
        with self._lock:
            self._buffers.pop(key, None)
            self._newest_only.discard(key)
        self.wake()

    def __len__(self) -> int:
        """How many buffers each pass polls."""
        with self._lock:
            return len(self._buffers)

    def exhausted_keys(self) -> list[str]:
        """Keys of the buffers that are closed and empty: nothing more will come from them."""
        with self._lock:
            buffers = list(self._buffers.items())
        return [key for key, buffer in buffers if buffer.exhausted]

    def next_batch(self, stop: threading.Event | None = None, idle_s: float | None = None) -> list[T] | None:
        """The next batch; None once every buffer is exhausted (or `stop` is set) and nothing is left;
        an empty list after `idle_s` seconds without any item, so the caller can do other work."""
        batch: list[T] = []
        taken: set[str] = set()  # newest-only buffers that already gave their item to this batch
        deadline: float | None = None
        idle_deadline = None if idle_s is None else time.monotonic() + idle_s
        while True:
            self._signal.clear()  # cleared before polling, so a put during the pass is not missed
            with self._lock:
                buffers = list(self._buffers.items())
                newest_only = set(self._newest_only)
            self._fill(batch, buffers, newest_only, taken)
            if len(batch) >= self.max_batch:
                return batch
            if batch and all(key in taken for key, _ in buffers):
                return batch  # every stream is live and has given its newest frame: nothing to wait for
            if stop is not None and stop.is_set():
                return batch or None
            if all(b.exhausted for _, b in buffers):
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

    def _fill(
        self, batch: list[T], buffers: list[tuple[str, Buffer[T]]], newest_only: set[str], taken: set[str]
    ) -> None:
        if not buffers:
            return
        n = len(buffers)
        order = buffers[self._start % n :] + buffers[: self._start % n]
        self._start += 1
        took = True
        while took and len(batch) < self.max_batch:
            took = False
            for key, buffer in order:
                if len(batch) >= self.max_batch:
                    break
                if key in newest_only:
                    if key in taken:
                        continue
                    item = buffer.poll_newest()
                else:
                    item = buffer.poll()
                if item is not None:
                    batch.append(item)
                    took = True
                    if key in newest_only:
                        taken.add(key)
