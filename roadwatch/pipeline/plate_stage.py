"""The plate stage in the loop: which vehicle boxes of a batch to search, one forward pass for all of them,
and which readings become `plate.read` (plate_schedule.py keeps each track's schedule and best reading)."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from roadwatch.config import PlatesConfig
from roadwatch.detector.plates import PlateReader
from roadwatch.pipeline.plate_schedule import PlateNews, PlateSchedule
from roadwatch.pipeline.plate_watchlist import Watchlist
from roadwatch.pipeline.stream_state import StreamState
from roadwatch.streams import Frame
from roadwatch.trackers import TrackView

Search = tuple[Frame, TrackView]


class PlateStage:
    def __init__(self, reader: PlateReader, config: PlatesConfig, category_names: list[str]) -> None:
        self.reader = reader
        self.config = config
        self.watchlist = Watchlist(config.watchlist, config.watchlist_max_edits) if config.watchlist else None
        # plates are searched on vehicle tracks only; a category map without vehicles turns the stage off
        self.vehicle = category_names.index("vehicle") if "vehicle" in category_names else None

    def schedule(self) -> PlateSchedule:
        """A new stream's per-track plate state."""
        c = self.config
        return PlateSchedule(c.every_n_frames, c.min_vehicle_px, self.reader.ocr is not None, c.min_chars,
                             c.agree_reads)

    def searches(self, frame: Frame, visible: list[TrackView], state: StreamState) -> list[Search]:
        """The vehicle tracks of a frame whose box is due a search."""
        if state.plates is None or self.vehicle is None:
            return []
        return [
            (frame, t) for t in visible
            if t.category == self.vehicle and state.plates.due(t.track_id, t.xyxy[2] - t.xyxy[0])
        ]

    def read(self, searches: list[Search], streams: Mapping[str, StreamState],
             on_news: Callable[[Frame, TrackView, StreamState, PlateNews], None]) -> None:
        """All vehicle crops of a batch through the plate model at once; news goes to `on_news`."""
        readings = self.reader.read([frame.image for frame, _ in searches], [t.xyxy for _, t in searches])
        for (frame, track), reading in zip(searches, readings):
            state = streams[frame.stream_id]
            # a track that ended later in this batch has been forgotten: no event may bring it back
            if reading is None or state.finished or track.track_id not in state.plates.tracks:
                continue
            news = state.plates.offer(track.track_id, reading)
            if news is not None:
                if self.watchlist is not None and news.reading.text is not None:
                    news.matched = self.watchlist.match(news.reading.text)
                on_news(frame, track, state, news)
