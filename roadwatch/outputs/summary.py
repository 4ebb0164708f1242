"""summary.json's counts, built from the very events that were written."""

from __future__ import annotations

from collections import Counter
from typing import Any

from roadwatch.events.schema import Event, EventType

# plain strings: an Enum member's .value is a property lookup, and this runs for every event
TRACK_STARTED, LINE_CROSSED = EventType.TRACK_STARTED.value, EventType.LINE_CROSSED.value
TRACK_ENDED, ZONE_ENTERED = EventType.TRACK_ENDED.value, EventType.ZONE_ENTERED.value
ZONE_TYPES = (ZONE_ENTERED, EventType.ZONE_EXITED.value)
PLATE_READ, PLATE_MATCHED = EventType.PLATE_READ.value, EventType.PLATE_MATCHED.value
MAX_PLATES = 10_000  # plates kept in summary.json (the latest); a 24/7 run's are all in its events files


class RunSummary:
    """Counts for summary.json, built from the very events that were written, so the two always agree."""

    def __init__(self) -> None:
        self.streams: dict[str, dict[str, Any]] = {}
        self.events_by_type: Counter[str] = Counter()
        self.events_by_category: Counter[str] = Counter()
        self.tracks_by_category: Counter[str] = Counter()
        self.zones: dict[str, Counter[str]] = {}
        self.lines: dict[str, Counter[str]] = {}
        self.line_classes: dict[str, dict[str, Counter[str]]] = {}  # line -> direction -> class -> crossings
        self.od: dict[str, Counter[str]] = {}  # first zone entered -> last zone entered -> tracks (when they end)
        self._paths: dict[tuple[str, int], list[str | None]] = {}  # a live track's [first zone in, last zone in]
        self.output_errors: list[str] = []  # outputs that could not be written, one line each
        self.plates: dict[tuple[str, int], dict[str, Any]] = {}  # a vehicle track's agreed plate, the latest kept

    def add_output_error(self, error: str) -> None:
        if error not in self.output_errors:
            self.output_errors.append(error)

    def add_stream(self, stream_id: str, uri: str) -> None:
        self.streams[stream_id] = {"source": uri, "frames": 0, "dropped": 0, "status": "starting"}

    def observe(self, event: Event) -> None:
        kind = event["type"]
        self.events_by_type[kind] += 1
        category = event.get("category")
        if category is not None:
            self.events_by_category[category] += 1
            if kind == TRACK_STARTED:
                self.tracks_by_category[category] += 1
        if kind in ZONE_TYPES:
            self.zones.setdefault(event["zone_id"], Counter())[kind.split(".")[1]] += 1
            if kind == ZONE_ENTERED:
                path = self._paths.setdefault((event["stream_id"], event["track_id"]), [None, None])
                path[0] = path[0] or event["zone_id"]
                path[1] = event["zone_id"]
        elif kind == LINE_CROSSED:
            self.lines.setdefault(event["line_id"], Counter())[event["direction"]] += 1
            by_class = self.line_classes.setdefault(event["line_id"], {}).setdefault(event["direction"], Counter())
            by_class[event["class"]] += 1
        elif kind == PLATE_READ and event.get("plate_text"):
            key = (event["stream_id"], event["track_id"])
            self.plates.pop(key, None)
            self.plates[key] = {"stream_id": key[0], "track_id": key[1], "plate_text": event["plate_text"],
                                "pts": event["pts"], "ts": event["ts"], "watch_plate": None}
            if len(self.plates) > MAX_PLATES:
                del self.plates[next(iter(self.plates))]
        elif kind == PLATE_MATCHED:
            plate = self.plates.get((event["stream_id"], event["track_id"]))
            if plate is not None:
                plate["watch_plate"] = event["watch_plate"]
        elif kind == TRACK_ENDED:
            origin, destination = self._paths.pop((event["stream_id"], event["track_id"]), (None, None))
            if origin is not None and destination is not None and origin != destination:
                self.od.setdefault(origin, Counter())[destination] += 1

    def to_dict(self, elapsed_s: float) -> dict[str, Any]:
        frames = sum(s["frames"] for s in self.streams.values())
        return {
            "streams": self.streams,
            "frames": frames,
            "elapsed_s": round(elapsed_s, 3),
            "fps": round(frames / elapsed_s, 2) if elapsed_s > 0 else 0.0,
            "tracks": dict(self.tracks_by_category),
            "events": dict(self.events_by_type),
            "events_by_category": dict(self.events_by_category),
            "zones": {zone: dict(counts) for zone, counts in self.zones.items()},
            "lines": {line: dict(counts) for line, counts in self.lines.items()},
            "line_classes": {line: {d: dict(c) for d, c in by.items()} for line, by in self.line_classes.items()},
            "od": {origin: dict(to) for origin, to in self.od.items()},
            "plates": list(self.plates.values()),
            "output_errors": list(self.output_errors),
        }
