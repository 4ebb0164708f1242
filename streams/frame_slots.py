"""A segment of shared memory cut into equal slots, one decoded image each: how frames cross processes.

A capture process writes a frame into a free slot and sends only the slot's number through a pipe; the
pipeline process copies the image out and hands the slot back. The pixels never go through pickle.
"""

from __future__ import annotations

import os
from multiprocessing import resource_tracker
from multiprocessing.shared_memory import SharedMemory

import numpy as np

from .sources import SourceError


class FrameSlots:
    """`count` slots of `slot_bytes` each in one named shared-memory segment.

    The process that creates a segment announces its name; the one that attaches unlinks the name at once,
    so nothing is left in /dev/shm once both have closed it, whichever way either of them ends.
    """

    def __init__(self, shm: SharedMemory, count: int, slot_bytes: int) -> None:
        self.shm = shm
        self.count = count
        self.slot_bytes = slot_bytes

    @property
    def name(self) -> str:
        return self.shm.name

    @classmethod
    def create(cls, count: int, slot_bytes: int) -> FrameSlots:
        """A new segment, its memory reserved now: a full /dev/shm (Docker gives 64 MB unless told
        otherwise) is a clear error here rather than a SIGBUS at the first write.

        The name belongs to the process that attaches (it unlinks it), so this process's resource tracker
        forgets it; otherwise the tracker would warn of a leak, and unlink it a second time, when we exit.
        """
        size = count * slot_bytes
        shm = SharedMemory(create=True, size=size)
        try:
            if hasattr(os, "posix_fallocate"):  # Linux; SharedMemory itself has no way to reserve its pages
                os.posix_fallocate(shm._fd, 0, size)
        except OSError as exc:
            shm.close()
            shm.unlink()
            raise SourceError(
                f"cannot reserve {size / 2**20:.0f} MB of shared memory for frames ({exc.strerror}); "
                "give /dev/shm more room (docker run --shm-size) or use streams.capture: thread"
            ) from exc
        resource_tracker.unregister(shm._name, "shared_memory")  # Python 3.13 has SharedMemory(track=False)
        return cls(shm, count, slot_bytes)

    @classmethod
    def attach(cls, name: str, count: int, slot_bytes: int) -> FrameSlots:
        """Map a segment another process created, and remove its name (see the class docstring)."""
        shm = SharedMemory(name=name)
        shm.unlink()
        return cls(shm, count, slot_bytes)

    def view(self, slot: int, shape: tuple[int, ...]) -> np.ndarray:
        """The image in `slot`, as a uint8 array over the shared memory itself (no copy)."""
        return np.ndarray(shape, dtype=np.uint8, buffer=self.shm.buf, offset=slot * self.slot_bytes)

    def close(self) -> None:
        """Unmap it; every view must be gone (numpy arrays over it keep the buffer exported)."""
        self.shm.close()
