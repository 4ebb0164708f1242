"""Every event goes to the same places, in this order: the live state (late joiners' snapshot), the run's
files (RunOutputs: events.jsonl and summaries), then ZeroMQ."""

from __future__ import annotations

from roadwatch.events.live_state import LiveState
from roadwatch.events.schema import Event
from roadwatch.events.zmq_io import EventPublisher
from roadwatch.outputs.run_outputs import RunOutputs


class EventFanout:
    def __init__(self, live: LiveState, outputs: RunOutputs, publisher: EventPublisher | None) -> None:
        self.live = live
        self.outputs = outputs
        self.publisher = publisher

    def emit(self, event: Event) -> None:
        self.live.apply(event)
        self.outputs.record(event)
        if self.publisher is not None:
            self.publisher.publish(event)
