"""Multi-object tracker for one stream: Kalman prediction, two-stage IoU matching, and a track lifecycle.

Tracks live in parallel numpy arrays (one row per track) so each frame costs a handful of vectorised
operations whatever the number of tracks. Association follows ByteTrack: confident detections are matched
first; weak ones (often a partly hidden object) may only continue tracks left unmatched, never start one.
A track is tentative until it has been matched `min_hits` times in a row; only then does it get an id and
count as started, so one-frame false positives never inflate counts. A confirmed track that goes unmatched
for `max_age_s` seconds ends.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from trackers.kalman import KalmanBoxFilter, KalmanParams, cxcywh_to_xyxy, xyxy_to_cxcywh


@dataclass(frozen=True)
class TrackerConfig:
    """Defaults measured on MOT15-TUD with `make bench-tracking` (see docs/performance.md)."""

    min_hits: int = 2  # consecutive matches before a track is confirmed (ByteTrack's activation)
    max_age_s: float = 1.2  # seconds a confirmed track may coast unseen (ByteTrack's 30 frames at 25 fps)
    iou_threshold: float = 0.15  # first stage: least IoU between a prediction and a confident detection
    high_confidence: float = 0.6  # detections at least this confident are matched first (ByteTrack paper)
    low_confidence: float = 0.1  # weaker ones than this are ignored; in between, second stage only
    low_iou_threshold: float = 0.5  # second stage: weak detections must overlap a prediction well
    new_track_confidence: float = 0.3  # least confidence for a detection left unmatched to start a track
    fuse_score: bool = True  # assign on IoU x confidence (gate on IoU): weak detections lose close calls
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
    size_velocity: tuple[float, float] = (0.0, 0.0)  # box width and height, pixels per second

    @property
    def speed(self) -> float:
        """Pixels per second of the box centre."""
        return math.hypot(*self.velocity)

    @property
    def heading_deg(self) -> float:
        """Direction of motion in image coordinates: 0 is right, 90 down, 180 left, -90 up."""
        return math.degrees(math.atan2(self.velocity[1], self.velocity[0]))

    def predicted_xyxy(self, horizon_s: float) -> tuple[float, float, float, float]:
        """Where the box will be `horizon_s` seconds after it was last seen, at constant velocity."""
        return tuple(predict_xyxy(np.array([self.xyxy]), np.array([self.velocity]), np.array([self.size_velocity]), horizon_s)[0])


@dataclass(slots=True)  # not frozen: one is built every frame, and frozen init costs ~3x more
class TrackArrays:
    """Many confirmed tracks at one instant, one row each; iterating yields TrackViews."""

    track_id: np.ndarray  # (N,)
    xyxy: np.ndarray  # (N, 4)
    confidence: np.ndarray  # (N,)
    class_id: np.ndarray  # (N,)
    category: np.ndarray  # (N,)
    velocity: np.ndarray  # (N, 2), px/s
    last_seen: np.ndarray  # (N,)
    size_velocity: np.ndarray  # (N, 2), px/s

    def __len__(self) -> int:
        return len(self.track_id)

    @classmethod
    def from_views(cls, views: list[TrackView]) -> "TrackArrays":
        return cls(
            track_id=np.array([v.track_id for v in views], dtype=np.int64),
            xyxy=np.array([v.xyxy for v in views], dtype=np.float64).reshape(-1, 4),
            confidence=np.array([v.confidence for v in views], dtype=np.float64),
            class_id=np.array([v.class_id for v in views], dtype=np.int64),
            category=np.array([v.category for v in views], dtype=np.int64),
            velocity=np.array([v.velocity for v in views], dtype=np.float64).reshape(-1, 2),
            last_seen=np.array([v.last_seen for v in views], dtype=np.float64),
            size_velocity=np.array([v.size_velocity for v in views], dtype=np.float64).reshape(-1, 2),
        )

    def predicted_xyxy(self, horizon_s: float) -> np.ndarray:
        """(N, 4) boxes `horizon_s` seconds ahead, at constant velocity."""
        return predict_xyxy(self.xyxy, self.velocity, self.size_velocity, horizon_s)

    def __iter__(self):
        return iter(self.views())

    def views(self) -> list[TrackView]:
        columns = zip(
            self.track_id.tolist(), self.xyxy.tolist(), self.confidence.tolist(), self.class_id.tolist(),
            self.category.tolist(), self.velocity.tolist(), self.last_seen.tolist(), self.size_velocity.tolist(),
        )
        return [TrackView(i, tuple(b), c, k, g, tuple(v), t, tuple(sv)) for i, b, c, k, g, v, t, sv in columns]


@dataclass(slots=True)
class TrackerStep:
    """What one frame changed: confirmed tracks seen in it, tracks confirmed now, tracks that ended now."""

    tracks: TrackArrays
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
        self.cov = np.zeros((0, 4, 3))  # per coordinate: var(pos), cov(pos, vel), var(vel)
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

        track_rows, det_rows = self._associate(xyxy, confidence, category)
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
        n_new = np.count_nonzero(newly_confirmed)
        started: list[TrackView] = []
        if n_new:
            self.ids[newly_confirmed] = np.arange(self._next_id, self._next_id + n_new)
            self._next_id += n_new
            started = self._arrays(newly_confirmed).views()
        gone = expired & was_confirmed
        ended = self._arrays(gone).views() if gone.any() else []
        if expired.any():
            self._keep(~expired)
            matched = matched[~expired]
        # Tracks seen now were just matched, so their box is the one stored at that match.
        return TrackerStep(tracks=self._arrays(matched & (self.ids > 0)), started=started, ended=ended)

    def apply_camera_motion(self, affine: np.ndarray) -> None:
        """Move every track by the camera's motion since the last frame (a 2x3 affine from
        CameraMotionEstimator), before `update`: centres are mapped, sizes and velocities scaled and
        rotated, position variances scaled. (The small coupling a rotation adds between x and y
        uncertainty is left out: block storage keeps coordinates independent.)"""
        if not len(self):
            return
        A = np.asarray(affine, dtype=np.float64)
        R, t = A[:, :2], A[:, 2]
        scale = math.sqrt(abs(np.linalg.det(R)))
        self.mean[:, 0:2] = self.mean[:, 0:2] @ R.T + t
        self.mean[:, 2:4] *= scale
        self.mean[:, 4:6] = self.mean[:, 4:6] @ R.T
        self.mean[:, 6:8] *= scale
        self.cov *= scale**2

    def finish(self) -> list[TrackView]:
        """End every confirmed track (end of stream or shutdown) and forget all state."""
        ended = self._arrays(self.confirmed).views()
        self._keep(np.zeros(len(self), dtype=bool))
        self._t = None
        return ended

    def predicted_xyxy(self) -> np.ndarray:
        return cxcywh_to_xyxy(self.mean[:, :4]) if len(self) else np.zeros((0, 4))

    def _associate(self, xyxy: np.ndarray, confidence: np.ndarray, category: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Two-stage optimal matching on IoU (confident detections, then weak ones against the tracks left);
        a track never matches a detection of another category. Returns matched (track rows, detection rows)."""
        empty = np.zeros(0, dtype=np.int64)
        if not len(self) or not len(xyxy):
            return empty, empty
        iou = iou_matrix(self.predicted_xyxy(), xyxy)
        iou[self.category[:, None] != category[None, :]] = 0.0
        cfg = self.config
        strong = np.flatnonzero(confidence >= cfg.high_confidence)
        weak = np.flatnonzero((confidence >= cfg.low_confidence) & (confidence < cfg.high_confidence))
        similarity = iou * confidence[None, :] if cfg.fuse_score else iou
        t1, d1 = _assign(iou, similarity, None, strong, cfg.iou_threshold)
        left = np.ones(len(self), dtype=bool)
        left[t1] = False
        t2, d2 = _assign(iou, iou, np.flatnonzero(left), weak, cfg.low_iou_threshold)
        return np.concatenate([t1, t2]), np.concatenate([d1, d2])

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

    def _arrays(self, rows: np.ndarray) -> TrackArrays:
        """The given rows (indices or mask) with the filtered box of their last match: for tracks seen now,
        their current box; for ended ones, where they were last seen rather than where they coasted to."""
        return TrackArrays(
            track_id=self.ids[rows],
            xyxy=self.last_box[rows],
            confidence=self.confidence[rows],
            class_id=self.class_id[rows],
            category=self.category[rows],
            velocity=self.mean[rows, 4:6],
            last_seen=self.last_seen[rows],
            size_velocity=self.mean[rows, 6:8],
        )


def predict_xyxy(xyxy: np.ndarray, velocity: np.ndarray, size_velocity: np.ndarray, horizon_s: float) -> np.ndarray:
    """Boxes moved `horizon_s` seconds ahead at their centre and size velocities (sizes kept >= 1 px)."""
    box = xyxy_to_cxcywh(xyxy)
    box[:, :2] += np.asarray(velocity).reshape(-1, 2) * horizon_s
    box[:, 2:] = np.maximum(box[:, 2:] + np.asarray(size_velocity).reshape(-1, 2) * horizon_s, 1.0)
    return cxcywh_to_xyxy(box)


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of (N, 4) and (M, 4) xyxy boxes. Equal to supervision's box_iou_batch, which is made
    for general use and costs ~3x more per call at tracker sizes, where this runs on every frame."""
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    wh = np.clip(np.minimum(a[:, None, 2:], b[None, :, 2:]) - lt, 0, None)
    inter = wh[..., 0] * wh[..., 1]
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-9)


def _assign(
    iou: np.ndarray, similarity: np.ndarray, track_rows: np.ndarray | None, det_rows: np.ndarray, threshold: float
) -> tuple[np.ndarray, np.ndarray]:
    """Assignment maximising total `similarity` between some tracks (None: all) and some detections;
    pairs whose IoU is under `threshold` are never matched."""
    if not len(det_rows) or (track_rows is not None and not len(track_rows)):
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    sub_iou, sub_sim = iou[:, det_rows], similarity[:, det_rows]
    if track_rows is not None:
        sub_iou, sub_sim = sub_iou[track_rows], sub_sim[track_rows]
    allowed = sub_iou >= threshold
    rows, cols = linear_sum_assignment(-np.where(allowed, sub_sim, 0.0))
    good = allowed[rows, cols]
    rows = rows[good] if track_rows is None else track_rows[rows[good]]
    return rows, det_rows[cols[good]]
