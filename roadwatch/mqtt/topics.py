"""Where each thing goes on the broker, and the Home Assistant discovery configs that describe it.

    <prefix>/<stream>/<event type>              every event, as JSON (not retained)
    <prefix>/<stream>/status                    retained: up, down, stalled, failed, ended...
    <prefix>/<stream>/objects/<category>        retained: tracks of that category in view now
    <prefix>/<stream>/zone/<zone>               retained: tracks inside the zone now
    <prefix>/<stream>/line/<line>/<direction>   retained: crossings since the bridge started
    <prefix>/bridge/status                      retained: online, or offline (the last will)
    <prefix>/bridge/dropped                     retained: events dropped while the broker was away
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

BRIDGE = "bridge"
_NOT_IN_TOPIC = re.compile(r"[+#\x00/]")  # MQTT wildcards, the null and the level separator
_NOT_IN_ID = re.compile(r"[^A-Za-z0-9_-]")  # Home Assistant's object ids


def level(name: str) -> str:
    """A name as one topic level."""
    return _NOT_IN_TOPIC.sub("_", name) or "_"


def object_id(*parts: str) -> str:
    return _NOT_IN_ID.sub("_", "_".join(parts))


@dataclass(frozen=True)
class Topics:
    prefix: str = "roadwatch"
    discovery_prefix: str = "homeassistant"

    def event(self, event: dict[str, Any]) -> str:
        return f"{self.prefix}/{level(event['stream_id'])}/{level(event['type'])}"

    def status(self, stream: str) -> str:
        return f"{self.prefix}/{level(stream)}/status"

    def objects(self, stream: str, category: str) -> str:
        return f"{self.prefix}/{level(stream)}/objects/{level(category)}"

    def zone(self, stream: str, zone: str) -> str:
        return f"{self.prefix}/{level(stream)}/zone/{level(zone)}"

    def line(self, stream: str, line: str, direction: str) -> str:
        return f"{self.prefix}/{level(stream)}/line/{level(line)}/{level(direction)}"

    @property
    def bridge_status(self) -> str:
        return f"{self.prefix}/{BRIDGE}/status"

    @property
    def bridge_dropped(self) -> str:
        return f"{self.prefix}/{BRIDGE}/dropped"

    def discovery(self, stream: str, key: str, name: str, state_topic: str, **extra: Any) -> tuple[str, dict]:
        """A Home Assistant MQTT discovery config for one sensor of a camera's device (retained)."""
        unique = object_id(self.prefix, stream, key)
        config = {
            "name": name, "unique_id": unique, "object_id": unique, "state_topic": state_topic,
            "availability_topic": self.bridge_status,
            "device": {"identifiers": [object_id(self.prefix, stream)], "name": f"roadwatch {stream}",
                       "manufacturer": "roadwatch", "model": "camera"},
            **extra,
        }
        return f"{self.discovery_prefix}/sensor/{unique}/config", config

    def status_sensor(self, stream: str) -> tuple[str, dict]:
        return self.discovery(stream, "status", "Stream status", self.status(stream), icon="mdi:cctv")

    def objects_sensor(self, stream: str, category: str) -> tuple[str, dict]:
        return self.discovery(stream, f"objects_{category}", f"{category.capitalize()} in view",
                              self.objects(stream, category), unit_of_measurement="objects",
                              state_class="measurement")

    def zone_sensor(self, stream: str, zone: str) -> tuple[str, dict]:
        return self.discovery(stream, f"zone_{zone}", f"Objects in zone {zone}", self.zone(stream, zone),
                              unit_of_measurement="objects", state_class="measurement")

    def line_sensor(self, stream: str, line: str, direction: str) -> tuple[str, dict]:
        return self.discovery(stream, f"line_{line}_{direction}", f"Line {line} crossings {direction}",
                              self.line(stream, line, direction), unit_of_measurement="crossings",
                              state_class="total_increasing")
