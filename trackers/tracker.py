"""Multi-object tracking: Kalman prediction, two-stage IoU matching, and a track lifecycle, per stream.

Tracks live in parallel numpy arrays (one row per track), those of every stream together, so a batch of
frames from many streams costs a handful of vectorised operations whatever the number of tracks and streams.
Association follows ByteTrack: confident detections are matched
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

from .kalman import KalmanBoxFilter, KalmanParams, cxcywh_to_xyxy, xyxy_to_cxcywh


@dataclass(frozen=True)
class TrackerConfig:
    """Defaults measured on MOT15-TUD (`make bench-tracking`), MOT17-02/04 and KITTI (`make bench-schedule`); see
    docs/performance.md."""

    min_hits: int = 2  # consecutive matches before a track is confirmed (ByteTrack's activation)
    max_age_s: float = 2.0  # seconds a confirmed track may coast unseen (MOT17: 1.2 s lost 0.010 HOTA, 0.012 IDF1)
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
        return tuple(
            predict_xyxy(np.array([self.xyxy]), np.array([self.velocity]), np.array([self.size_velocity]), horizon_s)[0]
        )


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

    def rows(self, start: int, stop: int) -> TrackArrays:
        """Rows start:stop, as views of these arrays (no copy)."""
        return TrackArrays(
            self.track_id[start:stop], self.xyxy[start:stop], self.confidence[start:stop], self.class_id[start:stop],
            self.category[start:stop], self.velocity[start:stop], self.last_seen[start:stop],
            self.size_velocity[start:stop],
        )

    @classmethod
    def from_views(cls, views: list[TrackView]) -> TrackArrays:
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


class MultiStreamTracker:
    """Tracks the detections of many streams at once; create one for all the streams of a pipeline.

    Every stream's tracks live in the same arrays, with a `stream` column, so a batch holding one frame from
    each of many cameras costs one Kalman prediction, one IoU computation and one Kalman update for all of
    them; only the optimal assignment runs frame by frame. Each stream keeps its own clock, its own track ids
    (1, 2, ... per stream) and its own lifecycle: what a stream gets never depends on which other streams
    share its batches, and equals what a Tracker of its own would give.
    """

    def __init__(self, config: TrackerConfig | None = None) -> None:
        self.config = config or TrackerConfig()
        self.kf = KalmanBoxFilter(self.config.kalman)
        self._next_id = np.ones(0, dtype=np.int64)  # per stream
        self._clock = np.zeros(0)  # per stream: media time of its last frame (nan before its first)
        self._last_detection = np.zeros(0)  # per stream: media time of its last detected frame
        self.stream = np.zeros(0, dtype=np.int64)
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

    def update(
        self, streams: list[int] | np.ndarray, t: list[float] | np.ndarray, xyxy: list[np.ndarray],
        confidence: list[np.ndarray], class_id: list[np.ndarray], category: list[np.ndarray],
        detected: list[bool] | np.ndarray | None = None,
    ) -> list[TrackerStep]:
        """One frame from each of `streams` (distinct small non-negative ints): advance each stream to its media
        time `t[i]` (seconds) and match that frame's detections. Returns one TrackerStep per frame, in order.

        `detected[i]` False says frame i went through no detector at all (a pipeline detecting at a lower rate
        than the camera's): its tracks are only predicted to `t[i]`, none is matched, and none is counted as
        missed; the tracks seen at the stream's last detection are visible at their predicted boxes, so video
        and events stay smooth between detections. Confirmed tracks still end after `max_age_s` unseen."""
        streams = np.asarray(streams, dtype=np.int64).reshape(-1)
        n_frames = len(streams)
        if not n_frames:
            return []
        if n_frames > 1 and len(set(streams.tolist())) != n_frames:
            raise ValueError("MultiStreamTracker.update takes at most one frame per stream")
        self._add_streams(int(streams.max()) + 1)
        t = np.asarray(t, dtype=np.float64).reshape(-1)
        confidence = [np.asarray(c, dtype=np.float64).reshape(-1) for c in confidence]
        counts = np.array([len(c) for c in confidence], dtype=np.int64)
        det_frame = np.repeat(np.arange(n_frames), counts) if n_frames > 1 else np.zeros(counts[0], dtype=np.int64)
        det_xyxy = _joined(xyxy, np.float64, (-1, 4))
        det_conf = _joined(confidence, np.float64, (-1,))
        det_class = _joined(class_id, np.int64, (-1,))
        det_category = _joined(category, np.int64, (-1,))

        detected = np.ones(n_frames, dtype=bool) if detected is None else np.asarray(detected, dtype=bool)
        all_detected = bool(detected.all())
        if not all_detected and counts[~detected].any():
            raise ValueError("a frame that went through no detector has no detections")
        previous = self._clock[streams]
        dt = np.fmax(t - previous, 0.0)  # fmax drops the NaN of a stream's first frame: dt 0
        self._clock[streams] = t
        self._last_detection[streams[detected]] = t[detected]
        frame_of_stream = np.full(len(self._next_id), -1, dtype=np.int64)
        frame_of_stream[streams] = np.arange(n_frames)
        row_frame = frame_of_stream[self.stream]  # -1: the track's stream has no frame in this batch
        active = row_frame >= 0
        all_active = bool(active.all())  # one stream alone, or every stream of a pipeline in this batch
        if all_active:
            self.mean, self.cov = self.kf.predict(self.mean, self.cov, dt[0] if n_frames == 1 else dt[row_frame])
        elif active.any():
            rows = _rows_of(active)
            self.mean[rows], self.cov[rows] = self.kf.predict(self.mean[rows], self.cov[rows], dt[row_frame[rows]])

        track_rows, det_rows = self._associate(row_frame, n_frames, counts, det_xyxy, det_conf, det_category)
        matched = np.zeros(len(self), dtype=bool)
        matched[track_rows] = True
        if len(track_rows):
            mean, self.cov[track_rows] = self.kf.update(
                self.mean[track_rows], self.cov[track_rows], xyxy_to_cxcywh(det_xyxy[det_rows])
            )
            self.mean[track_rows] = mean
            self.hits[track_rows] += 1
            self.last_seen[track_rows] = t[det_frame[det_rows]]
            self.class_id[track_rows] = det_class[det_rows]
            self.confidence[track_rows] = det_conf[det_rows]
            self.last_box[track_rows] = cxcywh_to_xyxy(mean[:, :4])

        fresh = det_conf >= self.config.new_track_confidence
        fresh[det_rows] = False
        if fresh.any():
            self._spawn(
                streams[det_frame[fresh]], t[det_frame[fresh]], det_xyxy[fresh], det_conf[fresh], det_class[fresh],
                det_category[fresh],
            )
            n_new = int(fresh.sum())
            matched = np.concatenate([matched, np.ones(n_new, dtype=bool)])
            row_frame = np.concatenate([row_frame, det_frame[fresh]])
            active = np.concatenate([active, np.ones(n_new, dtype=bool)])

        # Lifecycle, for the streams in this batch: tentative tracks must be matched every detected frame;
        # confirmed ones may coast for max_age_s of their stream's time. (A row of a stream not in the batch
        # reads some frame's time through row_frame -1; `active` masks it out.)
        was_confirmed = self.ids > 0
        missed = ~was_confirmed & ~matched
        if not all_detected:  # only a detection can miss a tentative track
            missed &= detected[np.maximum(row_frame, 0)]
        expired = missed | (was_confirmed & (t[row_frame] - self.last_seen > self.config.max_age_s))
        if not all_active:
            expired &= active
        newly_confirmed = matched & ~was_confirmed & (self.hits >= self.config.min_hits)  # matched: active
        started = [[] for _ in range(n_frames)]
        if newly_confirmed.any():
            rows = _rows_of(newly_confirmed)
            self.ids[rows] = self._new_ids(self.stream[rows])
            started = self._views_by_frame(rows, row_frame[rows], n_frames)
        ended = [[] for _ in range(n_frames)]
        if expired.any():
            gone = expired & was_confirmed
            if gone.any():
                ended = self._views_by_frame(_rows_of(gone), row_frame[gone], n_frames)
            self._keep(~expired)
            matched, row_frame = matched[~expired], row_frame[~expired]
        # Tracks seen now were just matched, so their box is the one stored at that match; between detections,
        # the tracks seen at the last one are shown where the filter predicts them.
        confirmed = self.ids > 0
        seen = matched & confirmed
        predicted = None
        if not all_detected:
            predicted = (row_frame >= 0) & ~detected[np.maximum(row_frame, 0)] & confirmed
            predicted &= self.last_seen == self._last_detection[self.stream]
            seen |= predicted
        visible = _rows_of(seen)
        if n_frames > 1:
            visible = visible[np.argsort(row_frame[visible], kind="stable")]
        tracks = self._arrays(visible, None if predicted is None else predicted[visible])
        if n_frames == 1:
            return [TrackerStep(tracks, started[0], ended[0])]
        bounds = np.cumsum(np.bincount(row_frame[visible], minlength=n_frames)).tolist()
        return [
            TrackerStep(tracks.rows(lo, hi), started[f], ended[f])
            for f, (lo, hi) in enumerate(zip([0] + bounds, bounds))
        ]

    def apply_camera_motion(self, stream: int, affine: np.ndarray) -> None:
        """Move every track of `stream` by the camera's motion since its last frame (a 2x3 affine from
        CameraMotionEstimator), before `update`: centres are mapped, sizes and velocities scaled and
        rotated, position variances scaled. (The small coupling a rotation adds between x and y
        uncertainty is left out: block storage keeps coordinates independent.)"""
        rows = _rows_of(self.stream == stream)
        if not len(rows):
            return
        A = np.asarray(affine, dtype=np.float64)
        R, t = A[:, :2], A[:, 2]
        scale = math.sqrt(abs(np.linalg.det(R)))
        mean = self.mean[rows]
        mean[:, 0:2] = mean[:, 0:2] @ R.T + t
        mean[:, 2:4] *= scale
        mean[:, 4:6] = mean[:, 4:6] @ R.T
        mean[:, 6:8] *= scale
        self.mean[rows] = mean
        self.cov[rows] *= scale**2

    def finish(self, stream: int) -> list[TrackView]:
        """End every confirmed track of `stream` (end of stream or shutdown) and forget its state; its ids
        carry on from where they were if it sends frames again."""
        mine = self.stream == stream
        ended = self._arrays(_rows_of(mine & (self.ids > 0))).views()
        self._keep(~mine)
        if stream < len(self._clock):
            self._clock[stream] = np.nan
            self._last_detection[stream] = np.nan
        return ended

    def _add_streams(self, count: int) -> None:
        extra = count - len(self._next_id)
        if extra > 0:
            self._next_id = np.concatenate([self._next_id, np.ones(extra, dtype=np.int64)])
            self._clock = np.concatenate([self._clock, np.full(extra, np.nan)])
            self._last_detection = np.concatenate([self._last_detection, np.full(extra, np.nan)])

    def _new_ids(self, streams: np.ndarray) -> np.ndarray:
        """Ids for newly confirmed tracks (in row order), counting on from each stream's next id."""
        order = np.argsort(streams, kind="stable")
        ordered = streams[order]
        rank = np.empty(len(streams), dtype=np.int64)
        rank[order] = np.arange(len(streams)) - np.searchsorted(ordered, ordered)
        ids = self._next_id[streams] + rank
        self._next_id += np.bincount(streams, minlength=len(self._next_id))
        return ids

    def _associate(self, row_frame, n_frames, counts, xyxy, confidence, category) -> tuple[np.ndarray, np.ndarray]:
        """Two-stage optimal matching on IoU, frame by frame (confident detections, then weak ones against the
        tracks left); a track never matches a detection of another category. The IoU of every track and
        detection of the same frame is computed in one call. Returns matched (track rows, detection rows)."""
        empty = np.zeros(0, dtype=np.int64)
        rows = _rows_of(row_frame >= 0)
        if not len(rows) or not len(confidence):
            return empty, empty
        if n_frames > 1:
            rows = rows[np.argsort(row_frame[rows], kind="stable")]  # grouped by frame, row order within
        predicted = cxcywh_to_xyxy(self.mean[rows, :4])
        if n_frames == 1:  # one stream (most calls): every pair by broadcasting, no index arithmetic
            n_tracks = np.array([len(rows)])
            track_start = det_start = pair_start = np.zeros(1, dtype=np.int64)
            pairs = n_tracks * counts
            iou = box_iou_pairs(predicted[:, None], xyxy[None]).reshape(-1)
            other_category = (self.category[rows][:, None] != category[None]).reshape(-1)
        else:
            n_tracks = np.bincount(row_frame[rows], minlength=n_frames)
            track_start = np.cumsum(n_tracks) - n_tracks
            det_start = np.cumsum(counts) - counts
            pairs = n_tracks * counts
            pair_start = np.cumsum(pairs) - pairs
            within = np.arange(pairs.sum()) - np.repeat(pair_start, pairs)
            track_in_frame, det_in_frame = np.divmod(within, np.repeat(counts, pairs))
            pair_track = np.repeat(track_start, pairs) + track_in_frame  # index into `rows`
            pair_det = np.repeat(det_start, pairs) + det_in_frame
            iou = box_iou_pairs(predicted[pair_track], xyxy[pair_det])
            other_category = self.category[rows][pair_track] != category[pair_det]
        iou[other_category] = 0.0
        cfg = self.config
        strong_all = confidence >= cfg.high_confidence
        weak_all = (confidence >= cfg.low_confidence) & (confidence < cfg.high_confidence)
        track_parts, det_parts = [], []
        for f in _rows_of(pairs):
            n, m, lo, d0 = n_tracks[f], counts[f], pair_start[f], det_start[f]
            frame_iou = iou[lo : lo + n * m].reshape(n, m)
            strong = _rows_of(strong_all[d0 : d0 + m])
            weak = _rows_of(weak_all[d0 : d0 + m])
            t1, d1 = _assign(frame_iou, None, strong, confidence[d0 + strong] if cfg.fuse_score else None,
                             cfg.iou_threshold)
            left = np.ones(n, dtype=bool)
            left[t1] = False
            t2, d2 = _assign(frame_iou, _rows_of(left), weak, None, cfg.low_iou_threshold)
            frame_rows = rows[track_start[f] : track_start[f] + n]
            track_parts += [frame_rows[t1], frame_rows[t2]]
            det_parts += [d0 + d1, d0 + d2]
        if not track_parts:
            return empty, empty
        return np.concatenate(track_parts), np.concatenate(det_parts)

    def _spawn(self, stream, t, xyxy, confidence, class_id, category) -> None:
        mean, cov = self.kf.initiate(xyxy_to_cxcywh(xyxy))
        n = len(confidence)
        self.stream = np.concatenate([self.stream, stream])
        self.ids = np.concatenate([self.ids, np.zeros(n, dtype=np.int64)])
        self.mean = np.concatenate([self.mean, mean])
        self.cov = np.concatenate([self.cov, cov])
        self.hits = np.concatenate([self.hits, np.ones(n, dtype=np.int64)])
        self.last_seen = np.concatenate([self.last_seen, t])
        self.class_id = np.concatenate([self.class_id, class_id])
        self.category = np.concatenate([self.category, category])
        self.confidence = np.concatenate([self.confidence, confidence])
        self.last_box = np.concatenate([self.last_box, cxcywh_to_xyxy(mean[:, :4])])

    def _keep(self, rows: np.ndarray) -> None:
        self.stream = self.stream[rows]
        self.ids = self.ids[rows]
        self.mean = self.mean[rows]
        self.cov = self.cov[rows]
        self.hits = self.hits[rows]
        self.last_seen = self.last_seen[rows]
        self.class_id = self.class_id[rows]
        self.category = self.category[rows]
        self.confidence = self.confidence[rows]
        self.last_box = self.last_box[rows]

    def _views_by_frame(self, rows: np.ndarray, frame: np.ndarray, n_frames: int) -> list[list[TrackView]]:
        out: list[list[TrackView]] = [[] for _ in range(n_frames)]
        for view, f in zip(self._arrays(rows).views(), frame.tolist()):
            out[f].append(view)
        return out

    def _arrays(self, rows: np.ndarray, predicted: np.ndarray | None = None) -> TrackArrays:
        """The given rows with the filtered box of their last match: for tracks seen now, their current box;
        for ended ones, where they were last seen rather than where they coasted to. Rows flagged `predicted`
        (a frame between detections) get the filter's current prediction instead."""
        xyxy = self.last_box[rows]
        if predicted is not None and predicted.any():
            xyxy[predicted] = cxcywh_to_xyxy(self.mean[rows[predicted], :4])
        return TrackArrays(
            track_id=self.ids[rows], xyxy=xyxy, confidence=self.confidence[rows],
            class_id=self.class_id[rows], category=self.category[rows], velocity=self.mean[rows, 4:6],
            last_seen=self.last_seen[rows], size_velocity=self.mean[rows, 6:8],
        )


class Tracker:
    """The tracker of one stream: a MultiStreamTracker holding that stream alone (same maths, same results)."""

    def __init__(self, config: TrackerConfig | None = None) -> None:
        self._tracks = MultiStreamTracker(config)
        self.config = self._tracks.config

    def __len__(self) -> int:
        return len(self._tracks)

    def update(
        self, t: float, xyxy: np.ndarray, confidence: np.ndarray, class_id: np.ndarray, category: np.ndarray,
        detected: bool = True,
    ) -> TrackerStep:
        """Advance to media time `t` (seconds) and match this frame's detections (`detected` False: a frame
        that went through no detector, see MultiStreamTracker.update)."""
        return self._tracks.update([0], [t], [xyxy], [confidence], [class_id], [category], [detected])[0]

    def apply_camera_motion(self, affine: np.ndarray) -> None:
        self._tracks.apply_camera_motion(0, affine)

    def finish(self) -> list[TrackView]:
        """End every confirmed track and forget all state."""
        return self._tracks.finish(0)


def predict_xyxy(xyxy: np.ndarray, velocity: np.ndarray, size_velocity: np.ndarray, horizon_s: float) -> np.ndarray:
    """Boxes moved `horizon_s` seconds ahead at their centre and size velocities (sizes kept >= 1 px)."""
    box = xyxy_to_cxcywh(xyxy)
    box[:, :2] += np.asarray(velocity).reshape(-1, 2) * horizon_s
    box[:, 2:] = np.maximum(box[:, 2:] + np.asarray(size_velocity).reshape(-1, 2) * horizon_s, 1.0)
    return cxcywh_to_xyxy(box)


def box_iou_pairs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of each (a[i], b[i]) pair of xyxy boxes, broadcasting over all but the last axis (a[:, None] and
    b[None] give the full matrix). Across a batch the tracker needs only the pairs of one frame's tracks and
    detections; supervision's box_iou_batch gives full matrices, one per call. Boxes of no area give 0."""
    wh = np.minimum(a[..., 2:], b[..., 2:]) - np.maximum(a[..., :2], b[..., :2])
    np.maximum(wh, 0.0, out=wh)
    inter = wh[..., 0] * wh[..., 1]
    area_a = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
    area_b = (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
    return inter / np.maximum(area_a + area_b - inter, 1e-9)


def _rows_of(mask: np.ndarray) -> np.ndarray:
    """Indices where a 1-D mask is True: np.flatnonzero without its ravel, which costs more than the search
    on the few dozen rows a frame has (a tenth of a single stream's update went to it)."""
    return mask.nonzero()[0]


def _joined(parts: list, dtype: type, shape: tuple[int, ...]) -> np.ndarray:
    """The frames' arrays end to end (one frame's as it is, without a copy: most calls carry one)."""
    if len(parts) == 1:
        return np.asarray(parts[0], dtype=dtype).reshape(shape)
    return np.concatenate([np.asarray(p, dtype=dtype).reshape(shape) for p in parts])


def _assign(
    iou: np.ndarray, track_rows: np.ndarray | None, det_rows: np.ndarray, weight: np.ndarray | None, threshold: float
) -> tuple[np.ndarray, np.ndarray]:
    """Assignment maximising total IoU (times each detection's `weight`, its confidence where scores are
    fused) between some tracks (None: all) and some detections; pairs whose IoU is under `threshold` are
    never matched."""
    if not len(det_rows) or (track_rows is not None and not len(track_rows)):
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    sub_iou = iou[:, det_rows] if track_rows is None else iou[np.ix_(track_rows, det_rows)]
    allowed = sub_iou >= threshold
    rows, cols = linear_sum_assignment(np.where(allowed, sub_iou if weight is None else sub_iou * weight, 0.0),
                                       maximize=True)
    good = allowed[rows, cols]
    rows = rows[good] if track_rows is None else track_rows[rows[good]]
    return rows, det_rows[cols[good]]
