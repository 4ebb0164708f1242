"""What the bridge keeps retained on the broker, folded from the events as they pass: each camera's status,
objects in view per category, objects in each zone, line crossings; and the discovery configs of the sensors
that show them. Everything retained is kept here too, so a broker that restarts empty gets it all again."""

from __future__ import annotations

from collections import Counter
from typing import Any

from roadwatch.events.live_state import LiveState
from roadwatch.events.schema import HEARTBEAT, STREAM_TYPES, EventType
from roadwatch.mqtt.topics import Topics

LINE_CROSSED = EventType.LINE_CROSSED.value
Message = tuple[str, Any]  # (topic, payload: a str, or a dict sent as JSON)


class RetainedState:
    def __init__(self, topics: Topics, categories: list[str]) -> None:
        self.topics = topics
        self.categories = list(categories)  # each camera gets a sensor for these from the start
        self.live = LiveState()  # active tracks' latest events
        self.values: dict[str, Any] = {}  # topic -> the retained value last published there
        self.configs: dict[str, dict] = {}  # discovery topic -> config
        self._crossings: Counter[tuple[str, str, str]] = Counter()

    def apply(self, event: dict[str, Any]) -> list[Message]:
        """Fold one event in; the retained messages (discovery configs first) that it changed."""
        if event["type"] == HEARTBEAT:  # every stream's status, even for a bridge that started late
            out: list[Message] = []
            for stream, entry in event.get("streams", {}).items():
                out += self._stream_seen(stream) + self._set(self.topics.status(stream), entry.get("status", ""))
            return out
        stream = event["stream_id"]
        out = self._stream_seen(stream)
        self.live.apply(event)
        if event["type"] in STREAM_TYPES:
            out += self._set(self.topics.status(stream), event.get("status") or event["type"].split(".")[1])
        if event["type"] == LINE_CROSSED:
            key = (stream, event["line_id"], event["direction"])
            self._crossings[key] += 1
            out += self._config(*self.topics.line_sensor(*key))
            out += self._set(self.topics.line(*key), self._crossings[key])
        return out + self._counts(stream)

    def everything(self) -> list[Message]:
        """All discovery configs, then all retained values: what a (re)connected broker is given."""
        return list(self.configs.items()) + list(self.values.items())

    def _counts(self, stream: str) -> list[Message]:
        tracks = [e for (sid, _), e in self.live.tracks.items() if sid == stream]
        by_category = Counter(e.get("category") for e in tracks)
        out: list[Message] = []
        for category in sorted(set(self.categories) | {c for c in by_category if c}):
            out += self._config(*self.topics.objects_sensor(stream, category))
            out += self._set(self.topics.objects(stream, category), by_category.get(category, 0))
        in_zone = Counter(zone for e in tracks for zone in e.get("zones", ()))
        known = {t.rsplit("/", 1)[1] for t in self.values if t.startswith(self.topics.zone(stream, ""))}
        for zone in sorted(set(in_zone) | known):
            out += self._config(*self.topics.zone_sensor(stream, zone))
            out += self._set(self.topics.zone(stream, zone), in_zone.get(zone, 0))
        return out

    def _stream_seen(self, stream: str) -> list[Message]:
        return self._config(*self.topics.status_sensor(stream))

    def _config(self, topic: str, config: dict) -> list[Message]:
        if topic in self.configs:
            return []
        self.configs[topic] = config
        return [(topic, config)]

    def _set(self, topic: str, value: Any) -> list[Message]:
        if self.values.get(topic) == value:
            return []
        self.values[topic] = value
        return [(topic, value)]
