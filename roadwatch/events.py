"""The event schema: what subscribers receive, one dict per event, the same on ZeroMQ and in events.jsonl.

Every event carries `schema_version`, `event_id`, `type`, `seq` (per producer, starts at 1, no gaps),
`producer_id`, `stream_id`, `frame`, `ts` (capture wall-clock time, Unix seconds), `pts` (media time,
seconds) and `published_ts`. Track events add `track_id` (unique within its stream), `category`,
`class`, `confidence`, `bbox` [x1, y1, x2, y2] in pixels, `bbox_norm` (the same divided by width and
height), `velocity` [vx, vy] of the box centre in pixels per second, `speed_px_s`, `heading_deg`
(0 right, 90 down) and `predicted_bbox`, where the box will be `predicted_in_s` seconds later at
constant velocity. `track.ended` adds `reason`. Zone events add `zone_id`, `line.crossed` adds
`line_id` and `direction` ("in" or "out").
Stream events (`stream.up`, `stream.down`, `stream.stalled`) add `source`, `reason` and, while a live
source is retrying, `retry_in_s`; their `frame` is the number of frames the stream had read.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from enum import Enum
from typing import Any

from trackers import TrackView

SCHEMA_VERSION = "1.1"

Event = dict[str, Any]


class EventType(str, Enum):
    TRACK_STARTED = "track.started"
    TRACK_UPDATED = "track.updated"
    TRACK_ENDED = "track.ended"
    ZONE_ENTERED = "zone.entered"
    ZONE_EXITED = "zone.exited"
    LINE_CROSSED = "line.crossed"
    PLATE_READ = "plate.read"
    STREAM_UP = "stream.up"
    STREAM_DOWN = "stream.down"
    STREAM_STALLED = "stream.stalled"


def default_producer_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class EventFactory:
    """Stamps events with the producer's identity and a gap-free sequence number."""

    def __init__(self, producer_id: str | None = None) -> None:
        self.producer_id = producer_id or default_producer_id()
        self._seq = 0
        self._lock = threading.Lock()

    def make(self, type: EventType, stream_id: str, frame: int, ts: float, pts: float, **fields: Any) -> Event:
        with self._lock:
            self._seq += 1
            seq = self._seq
        return {
            "schema_version": SCHEMA_VERSION,
            "event_id": uuid.uuid4().hex,
            "type": type.value,
            "seq": seq,
            "producer_id": self.producer_id,
            "stream_id": stream_id,
            "frame": frame,
            "ts": round(ts, 6),
            "pts": round(pts, 6),
            "published_ts": round(time.time(), 6),
            **fields,
        }

    def heartbeat(self, **fields: Any) -> Event:
        """A heartbeat repeats the seq of the last event made, so seq stays gap-free for state events
        and a subscriber that missed the latest ones notices even when nothing else happens."""
        with self._lock:
            seq = self._seq
        now = round(time.time(), 6)
        return {
            "schema_version": SCHEMA_VERSION,
            "event_id": uuid.uuid4().hex,
            "type": "heartbeat",
            "seq": seq,
            "producer_id": self.producer_id,
            "ts": now,
            "published_ts": now,
            **fields,
        }

    def track(
        self,
        type: EventType,
        stream_id: str,
        frame: int,
        ts: float,
        pts: float,
        track: TrackView,
        category: str,
        class_name: str,
        frame_size: tuple[int, int],
        horizon_s: float = 1.0,
        **extra: Any,
    ) -> Event:
        width, height = frame_size
        x1, y1, x2, y2 = track.xyxy
        return self.make(
            type,
            stream_id,
            frame,
            ts,
            pts,
            track_id=track.track_id,
            category=category,
            **{"class": class_name},
            confidence=round(track.confidence, 4),
            bbox=[round(v, 2) for v in (x1, y1, x2, y2)],
            bbox_norm=[round(x1 / width, 5), round(y1 / height, 5), round(x2 / width, 5), round(y2 / height, 5)],
            velocity=[round(v, 2) for v in track.velocity],
            speed_px_s=round(track.speed, 2),
            heading_deg=round(track.heading_deg, 1),
            predicted_bbox=[round(v, 2) for v in track.predicted_xyxy(horizon_s)],
            predicted_in_s=horizon_s,
            **extra,
        )
