"""Camera-motion compensation on a real dashcam frame, and its effect on tracking."""

import cv2
import numpy as np

from roadwatch.trackers import CameraMotionEstimator, Tracker, TrackerConfig

from support.helpers import VIDEOS, require


def dashcam_frame() -> np.ndarray:
    cap = cv2.VideoCapture(str(require(VIDEOS / "dashcam_a_640x360.mp4")))
    for _ in range(30):
        ok, frame = cap.read()
    cap.release()
    return frame


def shifted(frame: np.ndarray, dx: float, dy: float) -> np.ndarray:
    h, w = frame.shape[:2]
    return cv2.warpAffine(frame, np.float32([[1, 0, dx], [0, 1, dy]]), (w, h), borderMode=cv2.BORDER_REFLECT)


def test_a_pan_is_measured_in_full_resolution_pixels():
    frame = dashcam_frame()
    estimator = CameraMotionEstimator(work_width=320)
    assert np.allclose(estimator.estimate(frame), np.eye(2, 3))  # first frame: nothing to compare with
    affine = estimator.estimate(shifted(frame, 24, -10))
    assert np.allclose(affine[:, :2], np.eye(2), atol=0.02)
    assert np.allclose(affine[:, 2], [24, -10], atol=1.0)


def test_compensation_keeps_an_identity_through_a_fast_pan():
    """A parked car seen from a camera panning 60 px per frame, three times the car's width: without
    compensation its prediction misses and the track is lost; with it, the same id continues."""
    frame = dashcam_frame()
    ids = {}
    for compensate in (False, True):
        tracker = Tracker(TrackerConfig(min_hits=2, max_age_s=0.05))
        estimator = CameraMotionEstimator()
        seen = set()
        for k in range(6):
            dx = -60 * k
            image = shifted(frame, dx, 0)
            if compensate:
                tracker.apply_camera_motion(estimator.estimate(image))
            x = 300 + dx + 200  # the car, fixed in the world, moves on screen with the pan
            result = tracker.update(
                k * 0.04, np.array([[x, 200, x + 20, 240]]), np.array([0.9]), np.array([2]), np.array([0])
            )
            seen |= set(result.tracks.track_id.tolist())
        ids[compensate] = seen
    assert ids[True] == {1}
    assert ids[False] == set()  # uncompensated, every frame's box is a stranger: nothing is ever confirmed
