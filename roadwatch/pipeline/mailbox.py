"""What other threads hand the pipeline's thread: status changes from captures, and requests (add, remove,
reload a source) from any thread. The pipeline's thread owns every stream's state and the event stream, so
others never touch them: they post here, and each post wakes the batcher so the loop sees it at once."""

from __future__ import annotations

import queue
from collections.abc import Callable, Iterator

from roadwatch.streams import StatusChange


def _drain(q: queue.SimpleQueue) -> Iterator:
    """Everything queued now, without waiting."""
    while True:
        try:
            yield q.get_nowait()
        except queue.Empty:
            return


class Mailbox:
    def __init__(self, wake: Callable[[], None]) -> None:
        self._wake = wake
        self._statuses: queue.SimpleQueue[StatusChange] = queue.SimpleQueue()
        self._requests: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()

    def post_status(self, change: StatusChange) -> None:
        """Called in capture threads."""
        self._statuses.put(change)
        self._wake()

    def post_request(self, action: Callable[[], None]) -> None:
        self._requests.put(action)
        self._wake()

    def statuses(self) -> Iterator[StatusChange]:
        return _drain(self._statuses)

    def run_requests(self) -> None:
        for action in _drain(self._requests):
            action()
