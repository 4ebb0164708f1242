"""What is drawn on a frame: zones, lines, each track's box, label, trail and heading. One drawing for the
annotated video and the live view, so both show the same thing."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import supervision as sv

from roadwatch.outputs.palette import CATEGORY_HEX
from roadwatch.trackers import Line, TrackView, Zone

CATEGORY_PALETTE = sv.ColorPalette.from_hex(list(CATEGORY_HEX))
ZONE_BGR, LINE_BGR = (0, 215, 255), (255, 0, 255)


class Overlay:
    """Draws onto a copy of each frame. `trail_frames` > 0 keeps each track's recent centres (a trail), which
    makes an Overlay stateful: one per stream."""

    def __init__(self, zones: Sequence[Zone] = (), lines: Sequence[Line] = (), trail_frames: int = 0) -> None:
        self.zones = [np.array(z.polygon, dtype=np.int32) for z in zones]
        self.zone_names = [(z.zone_id, tuple(int(v) for v in z.polygon[0])) for z in zones]
        self.lines = [(tuple(int(v) for v in l.start), tuple(int(v) for v in l.end), l.line_id) for l in lines]
        self._boxes = sv.BoxAnnotator(color=CATEGORY_PALETTE, thickness=2)
        self._labels = sv.LabelAnnotator(color=CATEGORY_PALETTE, text_scale=0.4, text_padding=4, smart_position=True)
        self._traces = sv.TraceAnnotator(color=CATEGORY_PALETTE, trace_length=trail_frames) if trail_frames else None

    def draw(self, image: np.ndarray, tracks: list[TrackView], class_names: list[str]) -> np.ndarray:
        canvas = image.copy()
        if self.zones:
            cv2.polylines(canvas, self.zones, isClosed=True, color=ZONE_BGR, thickness=2)
            for name, corner in self.zone_names:
                cv2.putText(canvas, name, (corner[0] + 4, corner[1] + 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5,
                            ZONE_BGR, 1, cv2.LINE_AA)
        for start, end, name in self.lines:
            cv2.line(canvas, start, end, LINE_BGR, 2, cv2.LINE_AA)
            cv2.putText(canvas, name, (start[0] + 4, start[1] - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.5, LINE_BGR, 1,
                        cv2.LINE_AA)
        if not tracks:
            return canvas
        detections = sv.Detections(
            xyxy=np.array([t.xyxy for t in tracks], dtype=np.float32),
            confidence=np.array([t.confidence for t in tracks], dtype=np.float32),
            class_id=np.array([t.category for t in tracks], dtype=int),
            tracker_id=np.array([t.track_id for t in tracks], dtype=int),
        )
        labels = [f"#{t.track_id} {name} {t.confidence:.2f}" for t, name in zip(tracks, class_names)]
        if self._traces is not None:
            canvas = self._traces.annotate(canvas, detections)
        for t in tracks:  # predicted direction: where the centre will be in half a second
            cx, cy = (t.xyxy[0] + t.xyxy[2]) / 2, (t.xyxy[1] + t.xyxy[3]) / 2
            dx, dy = t.velocity[0] * 0.5, t.velocity[1] * 0.5
            if dx * dx + dy * dy >= 16:
                cv2.arrowedLine(canvas, (int(cx), int(cy)), (int(cx + dx), int(cy + dy)), (255, 255, 255), 2,
                                cv2.LINE_AA, tipLength=0.3)
        canvas = self._boxes.annotate(canvas, detections)
        return self._labels.annotate(canvas, detections, labels=labels)
