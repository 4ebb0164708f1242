"""Zone and line events from confirmed tracks, debounced so that flicker never double-counts.

A track's anchor is the bottom centre of its box (where it touches the road). A track enters or exits
a zone only once its anchor has been inside (outside) for `min_frames` consecutive frames, and it
crosses a line only once its anchor has stayed on the new side for `min_frames` consecutive frames
while within the segment's extent. A box oscillating across a line therefore counts at most once per
real crossing (supervision #2598), and only confirmed tracks are ever fed here (supervision #2578).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import supervision as sv


@dataclass(frozen=True)
class Zone:
    zone_id: str
    polygon: tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class Line:
    """A counting line from `start` to `end`. Direction "in" is from the left of start->end to its
    right as seen on screen (for a line drawn left to right: moving down), "out" the other way. With
    `zone_id`, only tracks inside that zone when they cross count: a line per lane."""

    line_id: str
    start: tuple[float, float]
    end: tuple[float, float]
    zone_id: str | None = None


@dataclass(frozen=True)
class ZoneEvent:
    track_id: int
    zone_id: str
    entered: bool  # False: exited


@dataclass(frozen=True)
class LineEvent:
    track_id: int
    line_id: str
    direction: str  # "in" or "out"


@dataclass
class _Debounced:
    """A boolean per (track, item) that flips only after `min_frames` consecutive contrary observations."""

    state: np.ndarray  # (K,) int8: 1, -1, or 0 before anything is known
    candidate: np.ndarray  # (K,) int8: the value being observed
    streak: np.ndarray  # (K,) int: how many frames in a row it has been observed

    @classmethod
    def new(cls, k: int) -> _Debounced:
        return cls(np.zeros(k, np.int8), np.zeros(k, np.int8), np.zeros(k, np.int64))

    def observe(self, value: np.ndarray, valid: np.ndarray, min_frames: int) -> np.ndarray:
        """Feed one frame's values (1 / -1) where `valid`; returns where the state flipped (from a known side)."""
        same = valid & (value == self.candidate)
        self.streak = np.where(same, self.streak + 1, np.where(valid, 1, self.streak))
        self.candidate = np.where(valid, value, self.candidate)
        settle = valid & (self.streak >= min_frames) & (self.candidate != self.state)
        flipped = settle & (self.state != 0)
        self.state = np.where(settle, self.candidate, self.state)
        return flipped


@dataclass
class ZoneLineMonitor:
    """Per-stream zone membership and line sides of every confirmed track."""

    zones: list[Zone] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)
    min_frames: int = 3

    def __post_init__(self) -> None:
        self._polygons = [
            sv.PolygonZone(np.array(z.polygon, dtype=np.int64), triggering_anchors=[sv.Position.BOTTOM_CENTER])
            for z in self.zones
        ]
        self._zone_state: dict[int, _Debounced] = {}
        self._line_state: dict[int, _Debounced] = {}
        zone_index = {z.zone_id: i for i, z in enumerate(self.zones)}
        unknown = [l.zone_id for l in self.lines if l.zone_id is not None and l.zone_id not in zone_index]
        if unknown:
            raise ValueError(f"a line names zone '{unknown[0]}', which this stream does not have")
        self._line_zone = [zone_index.get(l.zone_id, -1) for l in self.lines]  # -1: the whole frame

    def update(self, track_ids: np.ndarray, xyxy: np.ndarray) -> tuple[list[ZoneEvent], list[LineEvent]]:
        """One frame of confirmed tracks seen in it; returns the zone and line events it caused."""
        track_ids = np.asarray(track_ids).reshape(-1)
        if not len(track_ids) or not (self.zones or self.lines):
            return [], []
        detections = sv.Detections(xyxy=np.asarray(xyxy, dtype=np.float64).reshape(-1, 4))
        zone_events: list[ZoneEvent] = []
        line_events: list[LineEvent] = []
        if self.zones:
            inside = np.column_stack([p.trigger(detections) for p in self._polygons])  # (N, Z)
            for row, track_id in enumerate(track_ids.tolist()):
                state = self._zone_state.setdefault(track_id, _Debounced.new(len(self.zones)))
                was = state.state.copy()
                state.observe(
                    np.where(inside[row], 1, -1).astype(np.int8), np.ones(len(self.zones), bool), self.min_frames
                )
                # Entering counts from a first sighting inside, too; exiting only from inside.
                for z in np.flatnonzero((state.state == 1) & (was != 1)):
                    zone_events.append(ZoneEvent(track_id, self.zones[z].zone_id, True))
                for z in np.flatnonzero((state.state == -1) & (was == 1)):
                    zone_events.append(ZoneEvent(track_id, self.zones[z].zone_id, False))
        if self.lines:
            side, within = self._line_sides(detections.get_anchors_coordinates(sv.Position.BOTTOM_CENTER))
            for row, track_id in enumerate(track_ids.tolist()):
                state = self._line_state.setdefault(track_id, _Debounced.new(len(self.lines)))
                flipped = state.observe(side[row], within[row], self.min_frames)
                zones = self._zone_state.get(track_id)
                for l in np.flatnonzero(flipped):
                    lane = self._line_zone[l]
                    if lane >= 0 and (zones is None or zones.state[lane] != 1):
                        continue  # crossed outside the line's lane
                    direction = "in" if state.state[l] == 1 else "out"
                    line_events.append(LineEvent(track_id, self.lines[l].line_id, direction))
        return zone_events, line_events

    def forget(self, track_id: int) -> list[ZoneEvent]:
        """A track ended: drop its state; it exits the zones it was in, so entries and exits pair up."""
        self._line_state.pop(track_id, None)
        state = self._zone_state.pop(track_id, None)
        if state is None:
            return []
        return [ZoneEvent(track_id, self.zones[z].zone_id, False) for z in np.flatnonzero(state.state == 1)]

    def zones_of(self, track_id: int) -> list[str]:
        state = self._zone_state.get(track_id)
        return [] if state is None else [self.zones[z].zone_id for z in np.flatnonzero(state.state == 1)]

    def _line_sides(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Side (1: right of start->end on screen, -1: left) of each point for each line, and whether the
        point lies within the segment's extent (its projection falls between the two ends)."""
        start = np.array([l.start for l in self.lines], dtype=np.float64)  # (L, 2)
        end = np.array([l.end for l in self.lines], dtype=np.float64)
        d = end - start
        rel = points[:, None, :] - start[None, :, :]  # (N, L, 2)
        cross = d[None, :, 0] * rel[..., 1] - d[None, :, 1] * rel[..., 0]
        t = (rel * d[None]).sum(-1) / np.maximum((d**2).sum(-1), 1e-9)[None]
        side = np.where(cross > 0, 1, -1).astype(np.int8)
        within = (t >= 0) & (t <= 1) & (cross != 0)
        return side, within
