"""Each confirmed track's best picture, kept while it lives and saved when it ends: evidence for its events.

The best is the detection with the highest score = box area x confidence, halved when the box touches the
frame's edge (a vehicle cut by the edge shows part of itself): in practice the largest, most confident, whole
view. A track's candidate is reconsidered at most every RESCORE_S, and replaced only when it beats the kept one
by RESCORE_GAIN, so an approaching car (larger every frame) costs two JPEG encodings a second, not thirty. Two
files per track: `<track_id>.jpg`, the box's crop with a little context, and `<track_id>_frame.jpg`, the whole
frame (at most MAX_FRAME_WIDTH wide) with the box drawn.
"""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np

from roadwatch.outputs.files import write_bytes_atomic
from roadwatch.trackers import TrackArrays

log = logging.getLogger(__name__)

EDGE_PX = 2
RESCORE_S = 0.5
RESCORE_GAIN = 1.1
MAX_FRAME_WIDTH = 1280
PAD = 0.1  # of the box's size, around the crop
JPEG_QUALITY = 88


def scores(xyxy: np.ndarray, confidence: np.ndarray, width: int, height: int) -> np.ndarray:
    area = (xyxy[:, 2] - xyxy[:, 0]) * (xyxy[:, 3] - xyxy[:, 1])
    cut = (xyxy[:, 0] <= EDGE_PX) | (xyxy[:, 1] <= EDGE_PX) | (xyxy[:, 2] >= width - EDGE_PX) | \
        (xyxy[:, 3] >= height - EDGE_PX)
    return area * confidence * np.where(cut, 0.5, 1.0)


def crop_of(image: np.ndarray, box: np.ndarray) -> np.ndarray:
    x1, y1, x2, y2 = box
    pad_x, pad_y = PAD * (x2 - x1), PAD * (y2 - y1)
    h, w = image.shape[:2]
    left, top = int(max(0, x1 - pad_x)), int(max(0, y1 - pad_y))
    right, bottom = int(min(w, x2 + pad_x)), int(min(h, y2 + pad_y))
    return image[top:max(bottom, top + 1), left:max(right, left + 1)]


def framed(image: np.ndarray, box: np.ndarray) -> np.ndarray:
    canvas = image.copy()
    cv2.rectangle(canvas, (int(box[0]), int(box[1])), (int(box[2]), int(box[3])), (0, 220, 255), 3)
    if canvas.shape[1] > MAX_FRAME_WIDTH:
        scale = MAX_FRAME_WIDTH / canvas.shape[1]
        canvas = cv2.resize(canvas, (MAX_FRAME_WIDTH, round(canvas.shape[0] * scale)), interpolation=cv2.INTER_AREA)
    return canvas


def jpeg(image: np.ndarray) -> bytes:
    return cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])[1].tobytes()


class BestFrames:
    """One stream's tracks' best pictures; `folder` is where they are saved, `shown_as` how events name it."""

    def __init__(self, folder: Path, shown_as: str) -> None:
        self.folder, self.shown_as = folder, shown_as
        self._best: dict[int, tuple[float, float, bytes, bytes]] = {}  # id -> (score, time, crop, frame)
        self._failed = False

    def observe(self, image: np.ndarray, tracks: TrackArrays, t: float) -> None:
        """The frame's tracks at media time `t`; those matched to a detection now are candidates."""
        now = np.flatnonzero(tracks.last_seen == t)
        if not len(now):
            return
        score = scores(tracks.xyxy[now], tracks.confidence[now], image.shape[1], image.shape[0])
        for row, value in zip(now.tolist(), score.tolist()):
            kept = self._best.get(int(tracks.track_id[row]))
            if kept is not None and (t - kept[1] < RESCORE_S or value < kept[0] * RESCORE_GAIN):
                continue
            box = tracks.xyxy[row]
            self._best[int(tracks.track_id[row])] = (value, t, jpeg(crop_of(image, box)), jpeg(framed(image, box)))

    def save(self, track_id: int) -> dict[str, str]:
        """Write the track's pictures; the event fields naming them (relative to the run's folder), or none if
        it was never seen whole or they cannot be written (said once in the log)."""
        kept = self._best.pop(track_id, None)
        if kept is None or self._failed:
            return {}
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            write_bytes_atomic(self.folder / f"{track_id}.jpg", kept[2])
            write_bytes_atomic(self.folder / f"{track_id}_frame.jpg", kept[3])
        except OSError as exc:
            self._failed = True
            log.error("cannot write snapshots in '%s' (%s); no more for this stream", self.folder, exc)
            return {}
        where = f"{self.shown_as}/{track_id}"
        return {"snapshot": f"{where}.jpg", "snapshot_frame": f"{where}_frame.jpg"}

    def forget(self, track_id: int) -> None:
        self._best.pop(track_id, None)
