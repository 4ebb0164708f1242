"""The plate stage in the loop: which vehicle boxes of a batch to search, one forward pass for all of them,
and which readings become `plate.read` (plate_schedule.py keeps each track's schedule and best reading)."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from roadwatch.config import PlatesConfig
from roadwatch.detector.plates import PlateReader, PlateReading
from roadwatch.pipeline.plate_schedule import PlateSchedule
from roadwatch.pipeline.stream_state import StreamState
from roadwatch.streams import Frame
from roadwatch.trackers import TrackView

Search = tuple[Frame, TrackView]


class PlateStage:
    def __init__(self, reader: PlateReader, config: PlatesConfig, category_names: list[str]) -> None:
        self.reader = reader
        self.config = config
        # plates are searched on vehicle tracks only; a category map without vehicles turns the stage off
        self.vehicle = category_names.index("vehicle") if "vehicle" in category_names else None

    def schedule(self) -> PlateSchedule:
        """A new stream's per-track plate state."""
        return PlateSchedule(self.config.every_n_frames, self.config.min_vehicle_px)

    def searches(self, frame: Frame, visible: list[TrackView], state: StreamState) -> list[Search]:
        """The vehicle tracks of a frame whose box is due a search."""
        if state.plates is None or self.vehicle is None:
            return []
        return [
            (frame, t) for t in visible
            if t.category == self.vehicle and state.plates.due(t.track_id, t.xyxy[2] - t.xyxy[0])
        ]

    def read(self, searches: list[Search], streams: Mapping[str, StreamState],
             on_news: Callable[[Frame, TrackView, StreamState, PlateReading], None]) -> None:
        """All vehicle crops of a batch through the plate model at once; news goes to `on_news`."""
        readings = self.reader.read([frame.image for frame, _ in searches], [t.xyxy for _, t in searches])
        for (frame, track), reading in zip(searches, readings):
            state = streams[frame.stream_id]
            # a track that ended later in this batch has been forgotten: no event may bring it back
            if reading is None or state.finished or track.track_id not in state.plates.tracks:
                continue
            if state.plates.offer(track.track_id, reading):
                on_news(frame, track, state, reading)
