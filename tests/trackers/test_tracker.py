"""Tracker association and lifecycle on synthetic boxes with known motion, and batching across streams on
real public detections."""

import numpy as np
import pytest

from roadwatch.trackers import Tracker, TrackerConfig

VEHICLE, PEDESTRIAN = 0, 1


def box(x, y=100.0, w=20.0, h=40.0):
    return [x, y, x + w, y + h]


def step(tracker, t, boxes, categories=None, conf=0.9, class_id=2):
    n = len(boxes)
    cats = categories if categories is not None else [VEHICLE] * n
    return tracker.update(
        t, np.array(boxes, dtype=float).reshape(-1, 4), np.full(n, conf), np.full(n, class_id), np.array(cats)
    )


def test_two_moving_objects_keep_their_ids_and_get_their_velocity():
    tracker = Tracker(TrackerConfig(min_hits=3))
    ids_seen = []
    for k in range(30):
        t = k * 0.1
        s = step(tracker, t, [box(10 + 100 * t), box(400 - 50 * t, y=300)])
        if k == 2:
            assert len(s.started) == 2
        ids_seen.append(sorted(v.track_id for v in s.tracks))
    assert ids_seen[0] == [] and ids_seen[1] == []  # tentative: not reported yet
    assert all(ids == [1, 2] for ids in ids_seen[2:])
    by_id = {v.track_id: v for v in s.tracks}
    vx_right = next(v.velocity[0] for v in by_id.values() if v.velocity[0] > 0)
    vx_left = next(v.velocity[0] for v in by_id.values() if v.velocity[0] < 0)
    assert abs(vx_right - 100) < 10 and abs(vx_left + 50) < 5


def test_dropped_frames_are_bridged_by_prediction_in_real_time():
    tracker = Tracker(TrackerConfig(min_hits=3, max_age_s=1.0))
    for k in range(15):
        step(tracker, k * 0.1, [box(10 + 100 * k * 0.1)])
    # 0.4 s of frames lost: the box moved 40 px, twice its width, so IoU with its last position is 0.
    s = step(tracker, 1.8, [box(10 + 100 * 1.8)])
    assert [v.track_id for v in s.tracks] == [1]
    assert not s.started and not s.ended


def test_no_match_across_categories():
    tracker = Tracker(TrackerConfig(min_hits=1))
    step(tracker, 0.0, [box(10)], categories=[VEHICLE])
    s = step(tracker, 0.1, [box(10)], categories=[PEDESTRIAN])
    assert [v.category for v in s.started] == [PEDESTRIAN]
    assert [v.track_id for v in s.tracks] == [2]


def test_one_frame_flicker_never_starts_a_track():
    tracker = Tracker(TrackerConfig(min_hits=3))
    started = []
    for k in range(10):
        boxes = [box(200)] if k == 4 else []
        started += step(tracker, k * 0.1, boxes).started
    assert started == []
    assert len(tracker) == 0


def test_lost_track_ends_after_max_age_seconds_with_its_last_seen_box():
    tracker = Tracker(TrackerConfig(min_hits=2, max_age_s=0.5))
    for k in range(5):
        step(tracker, k * 0.1, [box(10 + 10 * k)])
    ended_at = None
    for k in range(5, 20):
        s = step(tracker, k * 0.1, [])
        if s.ended:
            ended_at = k
            (gone,) = s.ended
            break
    assert ended_at == 10  # last seen at 0.4 s, gone once more than 0.5 s passed
    assert gone.track_id == 1
    assert np.allclose(gone.xyxy, box(50), atol=3)


def test_finish_ends_every_confirmed_track_once():
    tracker = Tracker(TrackerConfig(min_hits=2))
    for k in range(3):
        step(tracker, k * 0.1, [box(10), box(200), box(400)])
    step(tracker, 0.3, [box(10), box(200), box(400), box(600)])  # the fourth is still tentative
    ended = tracker.finish()
    assert sorted(v.track_id for v in ended) == [1, 2, 3]
    assert tracker.finish() == []


def test_hundreds_of_tracks_stay_vectorised():
    rng = np.random.default_rng(0)
    xs = rng.uniform(0, 4000, 300)
    ys = rng.uniform(0, 4000, 300)
    tracker = Tracker(TrackerConfig(min_hits=1))
    for k in range(5):
        s = step(tracker, k * 0.04, [box(x + k, y) for x, y in zip(xs, ys)])
    assert len(s.tracks) == 300


def test_pairwise_iou_equals_supervision():
    from supervision.detection.utils.iou_and_nms import box_iou_batch

    from roadwatch.trackers.tracker import box_iou_pairs

    def iou_matrix(a, b):  # every pair, as a matrix
        return box_iou_pairs(np.repeat(a, len(b), axis=0), np.tile(b, (len(a), 1))).reshape(len(a), len(b))

    rng = np.random.default_rng(3)
    a = rng.uniform(0, 200, (7, 4))
    a[:, 2:] = a[:, :2] + rng.uniform(1, 80, (7, 2))
    b = np.vstack([a[:3] + rng.normal(0, 5, (3, 4)), [[500, 500, 510, 510]]])
    assert np.allclose(iou_matrix(a, b), box_iou_batch(a, b), atol=1e-6)


def test_motion_prediction_heading_and_future_box():
    tracker = Tracker(TrackerConfig(min_hits=2))
    for k in range(20):  # moving right at 100 px/s and down at 50 px/s, 10 frames/s
        s = step(tracker, k * 0.1, [box(10 + 100 * k * 0.1, y=100 + 50 * k * 0.1)])
    (view,) = s.tracks.views()
    assert abs(view.heading_deg - np.degrees(np.arctan2(50, 100))) < 3
    assert abs(view.speed - np.hypot(100, 50)) < 8
    ahead = np.array(view.predicted_xyxy(2.0))
    assert np.allclose(ahead, np.array(view.xyxy) + [200, 100, 200, 100], atol=15)
    assert np.allclose(s.tracks.predicted_xyxy(2.0)[0], ahead)


def test_weak_detections_continue_tracks_but_never_start_them():
    config = TrackerConfig(min_hits=2, high_confidence=0.6, low_confidence=0.1, new_track_confidence=0.3)
    tracker = Tracker(config)
    for k in range(3):
        step(tracker, k * 0.1, [box(10 + 5 * k)], conf=0.9)
    # Partly hidden now: a weak detection overlapping the prediction keeps the same track going...
    s = step(tracker, 0.3, [box(25)], conf=0.2)
    assert [v.track_id for v in s.tracks] == [1]
    # ...but a weak detection elsewhere starts nothing, however long it stays.
    for k in range(4, 10):
        s = step(tracker, k * 0.1, [box(10 + 5 * k)], conf=0.9)
        s = step(tracker, k * 0.1 + 0.05, [box(12 + 5 * k), box(400)], conf=0.2)
    assert {v.track_id for v in s.tracks} == {1}
    # The second stage asks for real overlap: a weak box far from the prediction does not continue it.
    far = Tracker(config)
    for k in range(3):
        step(far, k * 0.1, [box(10)], conf=0.9)
    s = step(far, 0.3, [box(22)], conf=0.2)  # IoU with the prediction about 0.25, under low_iou_threshold 0.5
    assert len(s.tracks) == 0


def mot_detections(folder, shift: float, drop: float, seed: int) -> list[tuple]:
    """A MOT sequence's public detections as (t, xyxy, conf, class, category) frames, shifted by `shift` px,
    with a share `drop` of frames (and of detections) left out at random: a different camera each call."""
    rows = np.loadtxt(folder / "det" / "det.txt", delimiter=",", ndmin=2)
    rng = np.random.default_rng(seed)
    frames = []
    for f in np.unique(rows[:, 0]).astype(int):
        if rng.random() < drop:
            continue
        r = rows[(rows[:, 0] == f) & (rng.random(len(rows)) >= drop)]
        xyxy = np.column_stack([r[:, 2], r[:, 3], r[:, 2] + r[:, 4], r[:, 3] + r[:, 5]]) + shift
        conf = np.clip(r[:, 6], 0, 1) if r[:, 6].max() <= 1 else r[:, 6] / r[:, 6].max()
        frames.append((f / 25, xyxy, conf, np.zeros(len(r), dtype=np.int64), (r[:, 2] > 300).astype(np.int64)))
    return frames


def test_streams_tracked_together_get_exactly_what_each_gets_alone():
    """The pipeline tracks a batch's streams in one MultiStreamTracker update; batching must change nothing.
    Real public detections (MOT15-TUD, MOT17), six cameras with different dropped frames and detections,
    fed in rounds of random subsets of streams."""
    from roadwatch.trackers import MultiStreamTracker

    from support.helpers import SHARED, require

    folders = [require(SHARED / "mot" / "MOT15-TUD" / n) for n in ("TUD-Campus", "TUD-Stadtmitte")]
    folders.append(require(SHARED / "mot" / "MOT17-mini" / "train" / "MOT17-04-FRCNN"))
    cameras = [mot_detections(folders[s % 3], shift=7.0 * s, drop=0.1 * (s // 3), seed=s) for s in range(6)]
    config = TrackerConfig(min_hits=2, max_age_s=0.6)

    def summary(step):
        return (
            step.tracks.track_id.tolist(), step.tracks.xyxy.tolist(), step.tracks.velocity.tolist(),
            [(v.track_id, v.xyxy) for v in step.started], [(v.track_id, v.xyxy) for v in step.ended],
        )

    alone = []
    for frames in cameras:
        tracker = Tracker(config)
        alone.append([summary(tracker.update(*frame)) for frame in frames] + [[v.track_id for v in tracker.finish()]])

    together = MultiStreamTracker(config)
    got: list[list] = [[] for _ in cameras]
    position = [0] * len(cameras)
    rng = np.random.default_rng(42)
    while any(p < len(frames) for p, frames in zip(position, cameras)):
        batch = [s for s, frames in enumerate(cameras) if position[s] < len(frames) and rng.random() < 0.7]
        if not batch:
            continue
        frames = [cameras[s][position[s]] for s in batch]
        steps = together.update(batch, *[[frame[k] for frame in frames] for k in range(5)])
        for s, step_ in zip(batch, steps):
            got[s].append(summary(step_))
            position[s] += 1
    for s in range(len(cameras)):
        got[s].append([v.track_id for v in together.finish(s)])
    assert sum(len(step_[0]) for frames in alone for step_ in frames[:-1]) > 5000  # tracks were really reported
    for s in range(len(cameras)):
        assert got[s] == alone[s], f"camera {s}: batched tracking differs from tracking it alone"


def test_a_stream_may_appear_only_once_in_an_update():
    from roadwatch.trackers import MultiStreamTracker

    tracker = MultiStreamTracker()
    one = (np.array([box(10)]), np.array([0.9]), np.array([2]), np.array([0]))
    with pytest.raises(ValueError):
        tracker.update([3, 3], [0.0, 0.04], *[[part, part] for part in one])


def predict_only(tracker, t):
    """A frame that went through no detector."""
    empty = np.zeros((0, 4))
    return tracker.update(t, empty, np.zeros(0), np.zeros(0), np.zeros(0), False)


def test_between_detections_tracks_are_predicted_not_missed_and_keep_their_ids():
    """Detection on every 3rd frame of a 30 frames/s camera: the frames between only advance the filter, so a
    tentative track is not dropped for them, and a confirmed one is shown where it is, not where it was."""
    tracker = Tracker(TrackerConfig(min_hits=2))
    speed = 150.0  # px/s
    shown = []
    for k in range(60):
        t = k / 30
        if k % 3 == 0:
            s = step(tracker, t, [box(10 + speed * t, w=60)])  # 15 px a detection: still overlaps its last box
        else:
            s = predict_only(tracker, t)
        shown.append((k, t, [(v.track_id, v.xyxy) for v in s.tracks]))
    assert all(ids == [] for _, _, ids in shown[:3])  # tentative until its 2nd detection (frame 3)
    ids = {tid for _, _, tracks in shown[3:] for tid, _ in tracks}
    assert ids == {1}
    assert all(len(tracks) == 1 for _, _, tracks in shown[3:])  # visible on every frame, detected or not
    for k, t, tracks in shown[30:]:
        x1 = tracks[0][1][0]
        assert abs(x1 - (10 + speed * t)) < 3, (k, x1)  # the prediction follows the object between detections


def test_a_frame_without_a_detector_pass_cannot_carry_detections():
    tracker = Tracker()
    with pytest.raises(ValueError):
        tracker.update(0.0, np.array([box(0)]), np.array([0.9]), np.array([2]), np.array([VEHICLE]), False)


def test_a_track_unseen_for_max_age_ends_even_when_no_frame_is_detected():
    tracker = Tracker(TrackerConfig(min_hits=1, max_age_s=1.0))
    step(tracker, 0.0, [box(10)])
    ended_at = None
    for k in range(1, 60):
        s = predict_only(tracker, k / 30)
        if s.ended:
            ended_at = k / 30
            break
        assert [v.track_id for v in s.tracks] == [1]
    assert ended_at is not None and 1.0 < ended_at <= 1.0 + 1 / 30 + 1e-9
