"""The event schema: what subscribers receive, one dict per event, the same on ZeroMQ and in events.jsonl.

Every event carries `schema_version`, `event_id`, `type`, `seq` (per producer, starts at 1, no gaps),
`producer_id`, `stream_id`, `frame`, `ts` (capture wall-clock time, Unix seconds), `pts` (media time,
seconds) and `published_ts`. Track events add `track_id` (unique within its stream), `category`,
`class`, `confidence`, `bbox` [x1, y1, x2, y2] in pixels, `bbox_norm` (the same divided by width and
height), `velocity` [vx, vy] of the box centre in pixels per second, `speed_px_s`, `heading_deg`
(0 right, 90 down) and `predicted_bbox`, where the box will be `predicted_in_s` seconds later at
constant velocity. `track.ended` adds `reason`. Zone events add `zone_id`, `line.crossed` adds
`line_id` and `direction` ("in" or "out"). On a calibrated camera track events add `speed_kmh`, and inside a
zone with a lane direction `lane_heading_deg`; rule events (`rule.speeding`, `rule.wrong_way`, `zone.dwell`) add
`rule_id` and what the rule measured; `zone.occupancy` (no track) reports a zone's tracks per category and
its queue.
Stream events (`stream.up`, `stream.down`, `stream.stalled`) add `source`, `reason` and, while a live
source is retrying, `retry_in_s`; their `frame` is the number of frames the stream had read.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from enum import Enum
from typing import Any

import numpy as np

from roadwatch.trackers import TrackArrays, TrackView

SCHEMA_VERSION = "1.4"

Event = dict[str, Any]


class EventType(str, Enum):
    TRACK_STARTED = "track.started"
    TRACK_UPDATED = "track.updated"
    TRACK_ENDED = "track.ended"
    ZONE_ENTERED = "zone.entered"
    ZONE_EXITED = "zone.exited"
    LINE_CROSSED = "line.crossed"
    PLATE_READ = "plate.read"
    PLATE_MATCHED = "plate.matched"  # a track's agreed plate is on the watchlist
    RULE_SPEEDING = "rule.speeding"
    RULE_WRONG_WAY = "rule.wrong_way"
    ZONE_DWELL = "zone.dwell"
    ZONE_OCCUPANCY = "zone.occupancy"  # a zone's periodic report: no track
    CLIP_SAVED = "clip.saved"  # a clip around events, written whole
    STREAM_UP = "stream.up"
    STREAM_DOWN = "stream.down"
    STREAM_STALLED = "stream.stalled"
    HEARTBEAT = "heartbeat"  # the producer's pulse, on ZeroMQ only (no stream, no events file)


_VALUES = {t: t.value for t in EventType}  # an Enum's .value is a property lookup; make() runs per event
ALL_TYPES = list(_VALUES.values())
HEARTBEAT = EventType.HEARTBEAT.value
# what a late subscriber's live state keeps: the latest event of each active track, and of each stream
TRACK_STATE_TYPES = frozenset(_VALUES[t] for t in (
    EventType.TRACK_STARTED, EventType.TRACK_UPDATED, EventType.ZONE_ENTERED, EventType.ZONE_EXITED,
    EventType.LINE_CROSSED, EventType.PLATE_READ, EventType.PLATE_MATCHED, EventType.RULE_SPEEDING,
    EventType.RULE_WRONG_WAY, EventType.ZONE_DWELL))
STREAM_TYPES = frozenset(_VALUES[t] for t in (EventType.STREAM_UP, EventType.STREAM_DOWN, EventType.STREAM_STALLED))


def default_producer_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class EventFactory:
    """Stamps events with the producer's identity and a gap-free sequence number."""

    def __init__(self, producer_id: str | None = None) -> None:
        self.producer_id = producer_id or default_producer_id()
        self._seq = 0
        self._lock = threading.Lock()
        # event_id: 16 random hex digits for this factory, then the seq in 16 more. Unique like a uuid4
        # (64 random bits per producer run, and seq never repeats within one), at a tenth of its cost.
        self._id_prefix = os.urandom(8).hex()

    def make(self, type: EventType, stream_id: str, frame: int, ts: float, pts: float, **fields: Any) -> Event:
        event = self._head(type, stream_id, frame, ts, pts)
        event.update(fields)
        return event

    def _head(self, type: EventType, stream_id: str, frame: int, ts: float, pts: float) -> Event:
        """The fields every event starts with, the next seq among them."""
        with self._lock:
            self._seq += 1
            seq = self._seq
        return {
            "schema_version": SCHEMA_VERSION,
            "event_id": f"{self._id_prefix}{seq:016x}",
            "type": _VALUES[type],
            "seq": seq,
            "producer_id": self.producer_id,
            "stream_id": stream_id,
            "frame": frame,
            "ts": round(ts, 6),
            "pts": round(pts, 6),
            "published_ts": round(time.time(), 6),
        }

    def heartbeat(self, **fields: Any) -> Event:
        """A heartbeat repeats the seq of the last event made, so seq stays gap-free for state events
        and a subscriber that missed the latest ones notices even when nothing else happens."""
        with self._lock:
            seq = self._seq
        now = round(time.time(), 6)
        return {
            "schema_version": SCHEMA_VERSION,
            "event_id": os.urandom(16).hex(),  # a heartbeat repeats a seq, so its id cannot be built from it
            "type": HEARTBEAT,
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
        fields: dict[str, Any],
        category: str,
        class_name: str,
        **extra: Any,
    ) -> Event:
        """A track event; `fields` is the track's entry from `track_fields` (or `fields_of`). Built as one dict
        (not through `make`'s keyword arguments): it runs for every track of every frame in live monitoring."""
        event = self._head(type, stream_id, frame, ts, pts)
        event["track_id"] = fields["track_id"]
        event["category"] = category
        event["class"] = class_name
        event.update(fields)
        if extra:
            event.update(extra)
        return event


def track_fields(tracks: TrackArrays, frame_size: tuple[int, int], horizon_s: float = 1.0) -> dict[int, dict[str, Any]]:
    """The per-track fields of track events, by track id, for many tracks at once.

    Rounding and prediction run on whole arrays: done per event with Python's round() they cost about
    40 us an event, most of the pipeline's time per frame when every frame publishes (live monitoring).
    """
    width, height = frame_size
    xyxy = tracks.xyxy.reshape(-1, 4)
    velocity = tracks.velocity.reshape(-1, 2)
    columns = zip(
        tracks.track_id.tolist(),
        np.round(tracks.confidence, 4).tolist(),
        np.round(xyxy, 2).tolist(),
        np.round(xyxy / np.array([width, height, width, height], dtype=np.float64), 5).tolist(),
        np.round(velocity, 2).tolist(),
        np.round(np.hypot(velocity[:, 0], velocity[:, 1]), 2).tolist(),
        np.round(np.degrees(np.arctan2(velocity[:, 1], velocity[:, 0])), 1).tolist(),
        np.round(tracks.predicted_xyxy(horizon_s), 2).tolist(),
    )
    return {
        track_id: {
            "track_id": track_id, "confidence": confidence, "bbox": bbox, "bbox_norm": norm, "velocity": v,
            "speed_px_s": speed, "heading_deg": heading, "predicted_bbox": predicted, "predicted_in_s": horizon_s,
        }
        for track_id, confidence, bbox, norm, v, speed, heading, predicted in columns
    }


class FrameFields:
    """`track_fields` of one frame's tracks, computed for all of them the first time one is asked for:
    at the default update interval most frames publish nothing, and those that do publish most tracks."""

    def __init__(self, tracks: TrackArrays, frame_size: tuple[int, int], horizon_s: float) -> None:
        self.tracks, self.frame_size, self.horizon_s = tracks, frame_size, horizon_s
        self._fields: dict[int, dict[str, Any]] | None = None

    def __getitem__(self, track_id: int) -> dict[str, Any]:
        if self._fields is None:
            self._fields = track_fields(self.tracks, self.frame_size, self.horizon_s)
        return self._fields[track_id]


def fields_of(track: TrackView, frame_size: tuple[int, int], horizon_s: float = 1.0) -> dict[str, Any]:
    """`track_fields` for a single track (an ended track, a plate reading)."""
    return track_fields(TrackArrays.from_views([track]), frame_size, horizon_s)[track.track_id]
