"""summary.json's counts, built from the very events that were written."""

from __future__ import annotations

from collections import Counter
from typing import Any

from roadwatch.events.schema import Event, EventType

# plain strings: an Enum member's .value is a property lookup, and this runs for every event
TRACK_STARTED, LINE_CROSSED = EventType.TRACK_STARTED.value, EventType.LINE_CROSSED.value
ZONE_TYPES = (EventType.ZONE_ENTERED.value, EventType.ZONE_EXITED.value)


class RunSummary:
    """Counts for summary.json, built from the very events that were written, so the two always agree."""

    def __init__(self) -> None:
        self.streams: dict[str, dict[str, Any]] = {}
        self.events_by_type: Counter[str] = Counter()
        self.events_by_category: Counter[str] = Counter()
        self.tracks_by_category: Counter[str] = Counter()
        self.zones: dict[str, Counter[str]] = {}
        self.lines: dict[str, Counter[str]] = {}
        self.output_errors: list[str] = []  # outputs that could not be written, one line each

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
        elif kind == LINE_CROSSED:
            self.lines.setdefault(event["line_id"], Counter())[event["direction"]] += 1

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
            "output_errors": list(self.output_errors),
        }
