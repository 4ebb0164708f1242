"""Every event goes to the same places, in this order: the live state (late joiners' snapshot), the status
board's recent events (the HTTP API), the run's files (RunOutputs: events.jsonl and summaries), then ZeroMQ."""

from __future__ import annotations

from roadwatch.events.live_state import LiveState
from roadwatch.events.schema import Event
from roadwatch.events.zmq_io import EventPublisher
from roadwatch.outputs.run_outputs import RunOutputs
from roadwatch.pipeline.status_board import StatusBoard


class EventFanout:
    def __init__(self, live: LiveState, outputs: RunOutputs, publisher: EventPublisher | None,
                 board: StatusBoard) -> None:
        self.live = live
        self.board = board
        self.outputs = outputs
        self.publisher = publisher

    def emit(self, event: Event) -> None:
        self.live.apply(event)
        self.board.record(event)
        self.outputs.record(event)
        if self.publisher is not None:
            self.publisher.publish(event)
