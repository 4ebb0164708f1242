"""One thread per source: read frames and push them into the source's ring buffer."""

from __future__ import annotations

import logging
import threading
import time
from enum import Enum

from streams.frame import Frame
from streams.ring_buffer import BufferPolicy, RingBuffer
from streams.sources import SourceError, SourceInfo, SourceSpec, open_reader

log = logging.getLogger(__name__)


class StreamStatus(str, Enum):
    STARTING = "starting"
    UP = "up"
    ENDED = "ended"
    STOPPED = "stopped"
    FAILED = "failed"


def buffer_for(spec: SourceSpec, live_capacity: int, file_capacity: int, on_put=None) -> RingBuffer[Frame]:
    """Live sources drop their oldest frames; files and folders make the reader wait."""
    if spec.live:
        return RingBuffer(live_capacity, BufferPolicy.DROP_OLDEST, on_put)
    return RingBuffer(file_capacity, BufferPolicy.BLOCK, on_put)


class CaptureThread(threading.Thread):
    """Reads one source until it ends, fails or is stopped, then closes its buffer.

    The buffer being closed is the consumer's signal that this stream will produce nothing more.
    """

    def __init__(self, spec: SourceSpec, buffer: RingBuffer[Frame]) -> None:
        super().__init__(name=f"capture-{spec.stream_id}", daemon=True)
        self.spec = spec
        self.buffer = buffer
        self.status = StreamStatus.STARTING
        self.error: str | None = None
        self.warning: str | None = None
        self.info: SourceInfo | None = None
        self.frames_read = 0
        self._stop_event = threading.Event()

    def stop(self) -> None:
        self._stop_event.set()
        self.buffer.close()

    def run(self) -> None:
        try:
            reader = open_reader(self.spec)
        except SourceError as exc:
            self._finish(StreamStatus.FAILED, error=str(exc))
            return
        except Exception as exc:  # a backend error must not kill the pipeline
            self._finish(StreamStatus.FAILED, error=f"source '{self.spec.uri}': {exc}")
            return
        self.info = reader.info
        self.status = StreamStatus.UP
        try:
            self._read_all(reader)
        except Exception as exc:
            self._finish(StreamStatus.FAILED, error=f"source '{self.spec.uri}': read failed: {exc}")
            return
        finally:
            reader.close()
        if self._stop_event.is_set():
            self._finish(StreamStatus.STOPPED)
            return
        expected = self.info.frame_count
        if expected and self.frames_read < expected:
            self.warning = (
                f"source '{self.spec.uri}': ended at frame {self.frames_read} of {expected} announced by its header "
                "(truncated or damaged file); processed up to the last good frame"
            )
            log.warning(self.warning)
        self._finish(StreamStatus.ENDED)

    def _read_all(self, reader) -> None:
        while not self._stop_event.is_set():
            got = reader.read()
            if got is None:
                return
            image, pts = got
            frame = Frame(
                stream_id=self.spec.stream_id,
                index=self.frames_read,
                pts=pts,
                captured_at=time.time(),
                dropped=self.buffer.dropped,
                image=image,
            )
            self.frames_read += 1
            # A BLOCK buffer waits in short slices so a stop request is seen promptly.
            while not self.buffer.put(frame, timeout=0.1):
                if self._stop_event.is_set() or self.buffer.closed:
                    return

    def _finish(self, status: StreamStatus, error: str | None = None) -> None:
        self.error = error
        if error:
            log.error(error)
        self.status = status
        self.buffer.close()
