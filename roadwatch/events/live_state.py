"""The current state an event stream describes (active tracks, stream statuses), for late joiners.

The pipeline keeps one, serves it as a snapshot on request (ZeroMQ guide's Clone pattern), and a late
subscriber rebuilds the same one: subscribe first, fetch the snapshot (valid at its `seq`), then apply
only the events newer than that `seq`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from roadwatch.events.schema import HEARTBEAT, STREAM_TYPES, TRACK_STATE_TYPES, Event, EventType

TRACK_ENDED = EventType.TRACK_ENDED.value


@dataclass
class LiveState:
    """Latest event of every active track and of every stream, as of event `seq`."""

    producer_id: str = ""
    seq: int = 0
    tracks: dict[tuple[str, int], Event] = field(default_factory=dict)
    streams: dict[str, Event] = field(default_factory=dict)

    def apply(self, event: Event) -> bool:
        """Fold one event in; False (and nothing changes) for heartbeats and events not newer than `seq`."""
        if event["type"] == HEARTBEAT or event["seq"] <= self.seq:
            return False
        self.seq = event["seq"]
        self.producer_id = event["producer_id"]
        if event["type"] in TRACK_STATE_TYPES:
            self.tracks[(event["stream_id"], event["track_id"])] = event
        elif event["type"] == TRACK_ENDED:
            self.tracks.pop((event["stream_id"], event["track_id"]), None)
        elif event["type"] in STREAM_TYPES:
            self.streams[event["stream_id"]] = event
        return True

    def active_tracks(self) -> set[tuple[str, int]]:
        return set(self.tracks)

    def to_snapshot(self) -> dict[str, Any]:
        return {"producer_id": self.producer_id, "seq": self.seq,
                "tracks": list(self.tracks.values()), "streams": list(self.streams.values())}

    @classmethod
    def from_snapshot(cls, snapshot: dict[str, Any]) -> LiveState:
        state = cls(producer_id=snapshot["producer_id"], seq=snapshot["seq"])
        state.tracks = {(e["stream_id"], e["track_id"]): e for e in snapshot["tracks"]}
        state.streams = {e["stream_id"]: e for e in snapshot["streams"]}
        return state
