"""The producer's pulse on ZeroMQ: throughput, every stream's state and the run's counts (line crossings per
class and direction, flows between zones), every `events.heartbeat_s`.

It describes the running process, not the footage, so it goes in no events file or summary. The final one,
when the pipeline stops, carries the last seq and every stream's last status, so a subscriber knows whether
it missed the run's last events even when the run was shorter than one interval.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from roadwatch.events.schema import EventFactory
from roadwatch.events.zmq_io import EventPublisher
from roadwatch.outputs.summary import RunSummary
from roadwatch.pipeline.stream_state import StreamState


class Heartbeat:
    def __init__(self, publisher: EventPublisher | None, factory: EventFactory, interval_s: float,
                 summary: RunSummary | None = None) -> None:
        self.publisher = publisher
        self.summary = summary
        self.factory = factory
        self.interval_s = interval_s
        self._at = time.monotonic()
        self._frames = 0

    def restart(self) -> None:
        """The run starts: the first interval counts from now."""
        self._at = time.monotonic()

    def beat(self, streams: Mapping[str, StreamState], final: bool = False) -> None:
        """Publish one if an interval has passed (or `final`)."""
        now = time.monotonic()
        interval = now - self._at
        if self.publisher is None or (interval < self.interval_s and not final):
            return
        interval = max(interval, 1e-3)
        frames = sum(state.frames for state in streams.values())
        status = {
            sid: {"status": st.capture.status.value, "frames": st.frames, "dropped": st.capture.buffer.dropped,
                  "buffer_depth": len(st.capture.buffer)}
            for sid, st in streams.items()
        }
        self.publisher.publish(self.factory.heartbeat(
            interval_s=round(interval, 3), fps=round((frames - self._frames) / interval, 2),
            events_sent=self.publisher.sent, subscriber_overflows=self.publisher.overflows, streams=status,
            **self._counts(),
        ))
        self._at, self._frames = now, frames

    def _counts(self) -> dict:
        if self.summary is None:
            return {}
        lines = {line: {d: dict(c) for d, c in by.items()} for line, by in self.summary.line_classes.items()}
        return {"lines": lines, "od": {origin: dict(to) for origin, to in self.summary.od.items()}}
