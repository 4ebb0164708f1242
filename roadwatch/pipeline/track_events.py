"""What the tracker says about a frame, as events: track lifecycle, zones, lines, plates, road rules.

The pipeline decides what runs when (batches, tracker updates, the plate model, stream lifecycles); this
module decides which events a frame's tracker step makes and keeps each track on its update schedule
(`update_interval_s`, sooner on a class or zone change). Where events go is the fanout's job (fanout.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import cv2
import numpy as np

from roadwatch.events.schema import Event, EventFactory, EventType, FrameFields, fields_of
from roadwatch.pipeline.plate_schedule import PlateNews
from roadwatch.pipeline.road_step import forget_track, road_step
from roadwatch.pipeline.stream_state import StreamState
from roadwatch.streams import Frame
from roadwatch.trackers import TrackerStep, TrackView

# moments in a track's life rather than updates: they leave its update schedule alone
MOMENTS = (EventType.ZONE_ENTERED, EventType.ZONE_EXITED, EventType.LINE_CROSSED, EventType.PLATE_READ,
           EventType.RULE_SPEEDING, EventType.RULE_WRONG_WAY, EventType.ZONE_DWELL)
RULE_EVENTS = {
    "speeding": EventType.RULE_SPEEDING, "wrong_way": EventType.RULE_WRONG_WAY, "dwell": EventType.ZONE_DWELL,
}


def thumbnail(image: np.ndarray, xyxy, height: int = 96) -> bytes:
    """A JPEG of the box (with a little context), scaled to `height` pixels: the first sighting of a track."""
    x1, y1, x2, y2 = xyxy
    pad_x, pad_y = 0.1 * (x2 - x1), 0.1 * (y2 - y1)
    h, w = image.shape[:2]
    left, top = int(max(0, x1 - pad_x)), int(max(0, y1 - pad_y))
    right, bottom = int(min(w, x2 + pad_x)), int(min(h, y2 + pad_y))
    crop = image[top:max(bottom, top + 1), left:max(right, left + 1)]
    scale = height / crop.shape[0]
    crop = cv2.resize(crop, (max(1, int(crop.shape[1] * scale)), height))
    return cv2.imencode(".jpg", crop, [cv2.IMWRITE_JPEG_QUALITY, 85])[1].tobytes()


class TrackEvents:
    """Turns tracker steps into track, zone, line and plate events, handed to `emit`."""

    def __init__(
        self,
        factory: EventFactory,
        emit: Callable[[Event], None],
        class_names: Mapping[int, str],
        category_names: list[str],
        horizon_s: float,
        update_interval_s: float,
    ) -> None:
        self.factory = factory
        self.emit = emit
        self.class_names = class_names
        self.category_names = category_names
        self.horizon_s = horizon_s
        self.update_interval_s = update_interval_s

    def frame(self, frame: Frame, state: StreamState, step: TrackerStep) -> list[TrackView]:
        """The events of one frame's tracker step; returns its visible tracks."""
        size = (frame.image.shape[1], frame.image.shape[0])
        fields = FrameFields(step.tracks, size, self.horizon_s)
        for track in step.ended:
            self.end_track(frame, track, size, state, reason="lost")
        state.classes.observe(step.tracks, frame.pts)
        if state.best is not None:
            state.best.observe(frame.image, step.tracks, frame.pts)
        visible = step.tracks.views()
        by_id = {t.track_id: t for t in visible}
        zone_events, line_events = state.zones.update(step.tracks.track_id, step.tracks.xyxy)
        analytics = road_step(frame.pts, state, step.tracks, zone_events, size[1])
        road = analytics.extra
        for track in step.started:
            self._emit(EventType.TRACK_STARTED, frame, track, state, fields[track.track_id],
                       **road.get(track.track_id, {}))
        for ze in zone_events:
            kind = EventType.ZONE_ENTERED if ze.entered else EventType.ZONE_EXITED
            self._emit(kind, frame, by_id[ze.track_id], state, fields[ze.track_id], zone_id=ze.zone_id,
                       **road.get(ze.track_id, {}))
        for le in line_events:
            self._emit(EventType.LINE_CROSSED, frame, by_id[le.track_id], state, fields[le.track_id],
                       line_id=le.line_id, direction=le.direction, **road.get(le.track_id, {}))
        for re in analytics.rule_events:
            self._emit(RULE_EVENTS[re.kind], frame, by_id[re.track_id], state, fields[re.track_id],
                       rule_id=re.rule_id, **{**road.get(re.track_id, {}), **re.fields})
        for report in analytics.reports:
            self.emit(self.factory.make(
                EventType.ZONE_OCCUPANCY, frame.stream_id, frame.index, frame.captured_at, frame.pts,
                zone_id=report.zone_id, rule_id=report.rule_id, queued=report.queued, queue_m=report.queue_m,
                counts={self.category_names[c]: n for c, n in report.counts.items()},
            ))
        started_ids = {t.track_id for t in step.started}
        zone_changed = {ze.track_id for ze in zone_events}
        for track in visible:
            if track.track_id in started_ids:
                continue
            due = frame.pts - state.last_update_pts.get(track.track_id, -np.inf) >= self.update_interval_s
            reclassified = state.last_class.get(track.track_id) != state.classes.class_of(track)
            if due or reclassified or track.track_id in zone_changed:
                self._emit(EventType.TRACK_UPDATED, frame, track, state, fields[track.track_id],
                           **road.get(track.track_id, {}))
        return visible

    def end_track(self, frame: Frame, track: TrackView, size: tuple[int, int], state: StreamState, reason: str) -> None:
        """A track ends: it first leaves the zones it was in, so zone entries and exits always pair up."""
        fields = fields_of(track, size, self.horizon_s)
        for ze in state.zones.forget(track.track_id):
            self._emit(EventType.ZONE_EXITED, frame, track, state, fields, zone_id=ze.zone_id)
        forget_track(state, track.track_id)
        extra = state.best.save(track.track_id) if state.best is not None else {}
        if state.plates is not None:
            if plate := state.plates.text_of(track.track_id):
                extra["plate_text"] = plate
            state.plates.forget(track.track_id)
        self._emit(EventType.TRACK_ENDED, frame, track, state, fields, reason=reason, **extra)

    def plate_read(self, frame: Frame, track: TrackView, state: StreamState, news: PlateNews) -> None:
        size = (frame.image.shape[1], frame.image.shape[0])
        reading = news.reading
        extra = {"plate_reads": news.reads} if news.reads is not None else {}
        self._emit(
            EventType.PLATE_READ, frame, track, state, fields_of(track, size, self.horizon_s),
            plate_bbox=[round(float(v), 2) for v in reading.xyxy],
            plate_confidence=round(reading.confidence, 4),
            plate_text=reading.text,
            plate_score=None if reading.text_confidence is None else round(reading.text_confidence, 4),
            **extra,
        )
        if news.matched is not None:
            self._emit(EventType.PLATE_MATCHED, frame, track, state, fields_of(track, size, self.horizon_s),
                       plate_text=reading.text, watch_plate=news.matched.plate, watch_label=news.matched.label,
                       edits=news.matched.edits)

    def labels(self, tracks: list[TrackView], state: StreamState) -> list[str]:
        """The annotated video's label of each track: its class, and its plate once read."""
        out = []
        for track in tracks:
            plate = state.plates.text_of(track.track_id) if state.plates is not None else None
            name = self.class_names[state.classes.class_of(track)]
            out.append(f"{name} {plate}" if plate else name)
        return out

    def _emit(self, type: EventType, frame: Frame, track: TrackView, state: StreamState, fields: dict, **extra) -> None:
        """`fields`: the track's event fields (track_fields / fields_of), computed for a frame's tracks at once."""
        if state.zones.zones and type not in (EventType.ZONE_ENTERED, EventType.ZONE_EXITED):
            extra["zones"] = state.zones.zones_of(track.track_id)
        event = self.factory.track(
            type,
            frame.stream_id,
            frame.index,
            frame.captured_at,
            frame.pts,
            fields,
            category=self.category_names[track.category],
            class_name=self.class_names[state.classes.class_of(track)],
            **extra,
        )
        if type not in MOMENTS:
            if type is EventType.TRACK_STARTED and state.thumbnails is not None:
                state.thumbnails[track.track_id] = thumbnail(frame.image, track.xyxy)
            if type is EventType.TRACK_ENDED:
                state.last_update_pts.pop(track.track_id, None)
                state.last_class.pop(track.track_id, None)
                state.classes.forget(track.track_id)
            else:
                state.last_update_pts[track.track_id] = frame.pts
                state.last_class[track.track_id] = state.classes.class_of(track)
        self.emit(event)
