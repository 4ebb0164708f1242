"""Multi-object tracker for one stream: Kalman prediction, IoU matching, and a track lifecycle.

Tracks live in parallel numpy arrays (one row per track) so each frame costs a handful of vectorised
operations whatever the number of tracks. A track is tentative until it has been matched `min_hits`
times in a row; only then does it get an id and count as started, so one-frame false positives never
inflate counts. A confirmed track that goes unmatched for `max_age_s` seconds ends.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment
from supervision.detection.utils.iou_and_nms import box_iou_batch

from trackers.kalman import KalmanBoxFilter, KalmanParams, cxcywh_to_xyxy, xyxy_to_cxcywh


@dataclass(frozen=True)
class TrackerConfig:
    min_hits: int = 3
    max_age_s: float = 1.0
    iou_threshold: float = 0.2
    new_track_confidence: float = 0.3
    kalman: KalmanParams = field(default_factory=KalmanParams)


@dataclass(frozen=True)
class TrackView:
    """A confirmed track as the outside world sees it at one instant."""

    track_id: int
    xyxy: tuple[float, float, float, float]
    confidence: float
    class_id: int
    category: int
    velocity: tuple[float, float]  # box centre, pixels per second
    last_seen: float  # media time of its last matched detection


@dataclass
class TrackerStep:
    """What one frame changed: confirmed tracks seen in it, tracks confirmed now, tracks that ended now."""

    tracks: list[TrackView]
    started: list[TrackView]
    ended: list[TrackView]


class Tracker:
    """Tracks the detections of one stream; create one per stream."""

    def __init__(self, config: TrackerConfig | None = None) -> None:
        self.config = config or TrackerConfig()
        self.kf = KalmanBoxFilter(self.config.kalman)
        self._next_id = 1
        self._t: float | None = None
        self.ids = np.zeros(0, dtype=np.int64)  # 0 while tentative
        self.mean = np.zeros((0, 8))
        self.cov = np.zeros((0, 8, 8))
        self.hits = np.zeros(0, dtype=np.int64)
        self.last_seen = np.zeros(0)
        self.class_id = np.zeros(0, dtype=np.int64)
        self.category = np.zeros(0, dtype=np.int64)
        self.confidence = np.zeros(0)
        self.last_box = np.zeros((0, 4))  # filtered xyxy at the last match: what an ended track reports

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def confirmed(self) -> np.ndarray:
        return self.ids > 0

    def update(
        self,
        t: float,
        xyxy: np.ndarray,
        confidence: np.ndarray,
        class_id: np.ndarray,
        category: np.ndarray,
    ) -> TrackerStep:
        """Advance to media time `t` (seconds) and match this frame's detections."""
        xyxy = np.asarray(xyxy, dtype=np.float64).reshape(-1, 4)
        confidence = np.asarray(confidence, dtype=np.float64).reshape(-1)
        class_id = np.asarray(class_id, dtype=np.int64).reshape(-1)
        category = np.asarray(category, dtype=np.int64).reshape(-1)
        dt = 0.0 if self._t is None else max(0.0, t - self._t)
        self._t = t
        if len(self):
            self.mean, self.cov = self.kf.predict(self.mean, self.cov, dt)

        track_rows, det_rows = self._associate(xyxy, category)
        matched = np.zeros(len(self), dtype=bool)
        matched[track_rows] = True
        if len(track_rows):
            self.mean[track_rows], self.cov[track_rows] = self.kf.update(
                self.mean[track_rows], self.cov[track_rows], xyxy_to_cxcywh(xyxy[det_rows])
            )
            self.hits[track_rows] += 1
            self.last_seen[track_rows] = t
            self.class_id[track_rows] = class_id[det_rows]
            self.confidence[track_rows] = confidence[det_rows]
            self.last_box[track_rows] = cxcywh_to_xyxy(self.mean[track_rows, :4])

        n_old = len(self)
        self._spawn(t, xyxy, confidence, class_id, category, det_rows)
        matched = np.concatenate([matched, np.ones(len(self) - n_old, dtype=bool)])

        # Lifecycle: tentative tracks must be matched every frame; confirmed ones may coast for max_age_s.
        was_confirmed = self.confirmed
        expired = (~was_confirmed & ~matched) | (was_confirmed & (t - self.last_seen > self.config.max_age_s))
        newly_confirmed = ~was_confirmed & matched & (self.hits >= self.config.min_hits)
        for row in np.flatnonzero(newly_confirmed):
            self.ids[row] = self._next_id
            self._next_id += 1
        started = [self._view(row) for row in np.flatnonzero(newly_confirmed)]
        ended = [self._view(row, at_last_match=True) for row in np.flatnonzero(expired & was_confirmed)]
        self._keep(~expired)
        visible_rows = np.flatnonzero(self.confirmed & (self.last_seen == t))
        return TrackerStep(tracks=[self._view(r) for r in visible_rows], started=started, ended=ended)

    def finish(self) -> list[TrackView]:
        """End every confirmed track (end of stream or shutdown) and forget all state."""
        ended = [self._view(row, at_last_match=True) for row in np.flatnonzero(self.confirmed)]
        self._keep(np.zeros(len(self), dtype=bool))
        self._t = None
        return ended

    def predicted_xyxy(self) -> np.ndarray:
        return cxcywh_to_xyxy(self.mean[:, :4]) if len(self) else np.zeros((0, 4))

    def _associate(self, xyxy: np.ndarray, category: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Optimal one-to-one matching on IoU; a track never matches a detection of another category."""
        if not len(self) or not len(xyxy):
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        iou = box_iou_batch(self.predicted_xyxy(), xyxy)
        iou[self.category[:, None] != category[None, :]] = 0.0
        rows, cols = linear_sum_assignment(-iou)
        good = iou[rows, cols] >= self.config.iou_threshold
        return rows[good], cols[good]

    def _spawn(self, t, xyxy, confidence, class_id, category, matched_dets) -> None:
        fresh = np.ones(len(xyxy), dtype=bool)
        fresh[matched_dets] = False
        fresh &= confidence >= self.config.new_track_confidence
        if not fresh.any():
            return
        mean, cov = self.kf.initiate(xyxy_to_cxcywh(xyxy[fresh]))
        n = int(fresh.sum())
        self.ids = np.concatenate([self.ids, np.zeros(n, dtype=np.int64)])
        self.mean = np.concatenate([self.mean, mean])
        self.cov = np.concatenate([self.cov, cov])
        self.hits = np.concatenate([self.hits, np.ones(n, dtype=np.int64)])
        self.last_seen = np.concatenate([self.last_seen, np.full(n, t)])
        self.class_id = np.concatenate([self.class_id, class_id[fresh].astype(np.int64)])
        self.category = np.concatenate([self.category, category[fresh].astype(np.int64)])
        self.confidence = np.concatenate([self.confidence, confidence[fresh].astype(np.float64)])
        self.last_box = np.concatenate([self.last_box, cxcywh_to_xyxy(mean[:, :4])])

    def _keep(self, rows: np.ndarray) -> None:
        self.ids = self.ids[rows]
        self.mean = self.mean[rows]
        self.cov = self.cov[rows]
        self.hits = self.hits[rows]
        self.last_seen = self.last_seen[rows]
        self.class_id = self.class_id[rows]
        self.category = self.category[rows]
        self.confidence = self.confidence[rows]
        self.last_box = self.last_box[rows]

    def _view(self, row: int, at_last_match: bool = False) -> TrackView:
        box = self.last_box[row] if at_last_match else cxcywh_to_xyxy(self.mean[row, :4])[0]
        x1, y1, x2, y2 = box
        return TrackView(
            track_id=int(self.ids[row]),
            xyxy=(float(x1), float(y1), float(x2), float(y2)),
            confidence=float(self.confidence[row]),
            class_id=int(self.class_id[row]),
            category=int(self.category[row]),
            velocity=(float(self.mean[row, 4]), float(self.mean[row, 5])),
            last_seen=float(self.last_seen[row]),
        )
