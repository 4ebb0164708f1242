"""When to look for a vehicle's plate, and when what was found is news worth a `plate.read` event.

The plate model is a second forward pass per vehicle crop, so it runs on a track's box at most every
`every_n_frames` of that track's frames, and only on vehicles wide enough to hold readable pixels. Without OCR,
the first plate box found is the news (once per track). With OCR, a track's reads are votes (plate_votes.py):
`plate.read` is sent when their agreed text stands, and again only if it changes, so subscribers get one text
per plate and corrections, not a reading per frame, and never a single misread.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from roadwatch.detector.plates import PlateReading
from roadwatch.pipeline.plate_votes import PlateVotes
from roadwatch.pipeline.plate_watchlist import WatchMatch


@dataclass
class PlateNews:
    """What a `plate.read` says: the plate (its latest box, the agreed text) and how many reads agree; and the
    watched plate it matches, if any (a `plate.matched` then follows)."""

    reading: PlateReading
    reads: int | None = None
    matched: WatchMatch | None = None


@dataclass
class _TrackPlate:
    votes: PlateVotes
    frames_since_search: int = 0
    found: bool = False  # a plate box was found (the news without OCR, once)
    sent: str | None = None  # the agreed text last sent


@dataclass
class PlateSchedule:
    """Per-track plate state of one stream."""

    every_n_frames: int
    min_vehicle_px: int
    reads_text: bool = False  # OCR is on: news is an agreed text, not a box
    min_chars: int = 4
    agree_reads: int = 2
    tracks: dict[int, _TrackPlate] = field(default_factory=dict)

    def _track(self, track_id: int) -> _TrackPlate:
        if track_id not in self.tracks:
            self.tracks[track_id] = _TrackPlate(PlateVotes(self.min_chars, self.agree_reads),
                                                frames_since_search=self.every_n_frames)
        return self.tracks[track_id]

    def due(self, track_id: int, width: float) -> bool:
        """Count one more frame of this vehicle track; True when its box should be searched now."""
        state = self._track(track_id)
        if width < self.min_vehicle_px:
            return False
        state.frames_since_search += 1
        if state.frames_since_search < self.every_n_frames:
            return False
        state.frames_since_search = 0
        return True

    def offer(self, track_id: int, reading: PlateReading) -> PlateNews | None:
        """A search's reading of this track's plate; the news to send, if it makes any."""
        state = self._track(track_id)
        if not self.reads_text:
            first, state.found = not state.found, True
            return PlateNews(reading) if first else None
        state.votes.add(reading)
        agreed = state.votes.agreed()
        if agreed is None or agreed[0] == state.sent:
            return None
        state.sent, reads, score = agreed
        return PlateNews(PlateReading(reading.xyxy, reading.confidence, state.sent, score), reads)

    def text_of(self, track_id: int) -> str | None:
        state = self.tracks.get(track_id)
        return state.sent if state is not None else None

    def forget(self, track_id: int) -> None:
        self.tracks.pop(track_id, None)
