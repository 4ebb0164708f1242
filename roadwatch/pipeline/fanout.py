"""Every event goes to the same places, in this order: the live state (late joiners' snapshot), the status
board's recent events (the HTTP API), the run's files (RunOutputs: events.jsonl and summaries), ZeroMQ, then the
clip recorders (a trigger starts or extends a clip; a clip written comes back as a clip.saved event)."""

from __future__ import annotations

from roadwatch.events.live_state import LiveState
from roadwatch.events.schema import Event
from roadwatch.events.zmq_io import EventPublisher
from roadwatch.outputs.run_outputs import RunOutputs
from roadwatch.pipeline.clip_stage import ClipStage
from roadwatch.pipeline.status_board import StatusBoard


class EventFanout:
    def __init__(self, live: LiveState, outputs: RunOutputs, publisher: EventPublisher | None,
                 board: StatusBoard, clips: ClipStage) -> None:
        self.live = live
        self.clips = clips
        self.board = board
        self.outputs = outputs
        self.publisher = publisher

    def emit(self, event: Event) -> None:
        self.live.apply(event)
        self.board.record(event)
        self.outputs.record(event)
        if self.publisher is not None:
            self.publisher.publish(event)
        self.clips.offer(event)

    def end_clips(self, stream_id: str, reason: str) -> None:
        """The stream's clip closes; a file's clips are written now, their clip.saved before its events file ends."""
        for event in self.clips.end_stream(stream_id, reason):
            self.emit(event)

    def pump_clips(self, final: bool = False) -> None:
        """Packets to the clips being written, and a clip.saved for each clip written whole (every one, `final`)."""
        for event in self.clips.close() if final else self.clips.pump():
            self.emit(event)
