"""Bounded frame buffer between one capture thread and the consumer."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from enum import Enum
from typing import Generic, TypeVar

T = TypeVar("T")


class BufferPolicy(str, Enum):
    """What a full buffer does with a new item.

    DROP_OLDEST suits live cameras: the newest frames win, so latency stays bounded by capacity/fps.
    BLOCK suits files: the reader waits, so no frame is ever lost.
    """

    DROP_OLDEST = "drop_oldest"
    BLOCK = "block"


class RingBuffer(Generic[T]):
    """A fixed-capacity FIFO shared by one producer and one consumer thread."""

    def __init__(self, capacity: int, policy: BufferPolicy, on_put: Callable[[], None] | None = None) -> None:
        if capacity < 1:
            raise ValueError("capacity must be >= 1")
        self.capacity = capacity
        self.policy = policy
        self.dropped = 0
        self.high_water = 0
        self._items: deque[T] = deque()
        self._cond = threading.Condition()
        self._closed = False
        self._on_put = on_put

    def put(self, item: T, timeout: float | None = None) -> bool:
        """Add an item; False if the buffer was closed (or a BLOCK put timed out) and the item was not added."""
        with self._cond:
            if self.policy is BufferPolicy.BLOCK:
                if not self._cond.wait_for(lambda: self._closed or len(self._items) < self.capacity, timeout):
                    return False
            if self._closed:
                return False
            if len(self._items) >= self.capacity:
                self._items.popleft()
                self.dropped += 1
            self._items.append(item)
            self.high_water = max(self.high_water, len(self._items))
            self._cond.notify_all()
        if self._on_put is not None:
            self._on_put()
        return True

    def poll(self) -> T | None:
        """Take the oldest item without waiting, or None."""
        with self._cond:
            if not self._items:
                return None
            item = self._items.popleft()
            self._cond.notify_all()
            return item

    def poll_newest(self) -> T | None:
        """Take the newest item and drop the older ones (counted in `dropped`), or None: for live sources,
        where a frame that waited while a newer one arrived is no longer worth detecting."""
        with self._cond:
            if not self._items:
                return None
            item = self._items.pop()
            self.dropped += len(self._items)
            self._items.clear()
            self._cond.notify_all()
            return item

    def get(self, timeout: float | None = None) -> T | None:
        """Take the oldest item, waiting up to `timeout`; None if none came or the buffer is closed and empty."""
        with self._cond:
            self._cond.wait_for(lambda: self._items or self._closed, timeout)
            if not self._items:
                return None
            item = self._items.popleft()
            self._cond.notify_all()
            return item

    def add_dropped(self, n: int) -> None:
        """Count frames lost before they reached this buffer (a capture process out of free slots)."""
        with self._cond:
            self.dropped += n

    def close(self) -> None:
        """No more puts; wakes every waiter. Items already in the buffer can still be taken."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if self._on_put is not None:
            self._on_put()

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def exhausted(self) -> bool:
        """Closed and empty: nothing will ever come out again."""
        with self._cond:
            return self._closed and not self._items

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)
