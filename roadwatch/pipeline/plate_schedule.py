"""When to look for a vehicle's plate, and when a reading is news worth a `plate.read` event.

The plate model is a second forward pass per vehicle crop, so it runs on a track's box at most every
`every_n_frames` of that track's frames, and only on vehicles wide enough to hold readable pixels. A track
keeps its best reading: `plate.read` is emitted for the first plate found and again only when OCR reads a
different text with a higher score, so subscribers get corrections, not a reading per frame.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from roadwatch.detector.plates import PlateReading


@dataclass
class _TrackPlate:
    frames_since_search: int = 0
    best: PlateReading | None = None


@dataclass
class PlateSchedule:
    """Per-track plate state of one stream."""

    every_n_frames: int
    min_vehicle_px: int
    tracks: dict[int, _TrackPlate] = field(default_factory=dict)

    def due(self, track_id: int, width: float) -> bool:
        """Count one more frame of this vehicle track; True when its box should be searched now."""
        state = self.tracks.setdefault(track_id, _TrackPlate(frames_since_search=self.every_n_frames))
        if width < self.min_vehicle_px:
            return False
        state.frames_since_search += 1
        if state.frames_since_search < self.every_n_frames:
            return False
        state.frames_since_search = 0
        return True

    def offer(self, track_id: int, reading: PlateReading) -> bool:
        """Keep `reading` if it beats the track's best; True when it is news (emit `plate.read`)."""
        state = self.tracks.setdefault(track_id, _TrackPlate())
        best = state.best
        if best is None:
            state.best = reading
            return True
        if reading.text is None:
            if best.text is None and reading.confidence > best.confidence:
                state.best = reading  # a better box, same (absent) news
            return False
        if best.text is None or reading.text_confidence > best.text_confidence:
            state.best = reading
            return reading.text != best.text
        return False

    def text_of(self, track_id: int) -> str | None:
        state = self.tracks.get(track_id)
        return state.best.text if state is not None and state.best is not None else None

    def forget(self, track_id: int) -> None:
        self.tracks.pop(track_id, None)
