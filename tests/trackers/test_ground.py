"""The ground plane (calibration points -> metres) and speeds on it."""

from __future__ import annotations

import numpy as np
import pytest

from roadwatch.trackers import GroundMotion, GroundPlane, GroundPlaneError

# a camera looking down a road: a 10 m x 60 m stretch appears as a trapezoid narrowing to the top
GROUND = np.array([[0, 0], [10, 0], [10, 60], [0, 60]], dtype=float)
IMAGE = np.array([[100, 700], [1180, 700], [700, 200], [580, 200]], dtype=float)


def test_the_plane_maps_its_points_both_ways_and_knows_the_horizon():
    plane = GroundPlane.fit(IMAGE, GROUND)
    assert np.allclose(plane.to_ground(IMAGE), GROUND, atol=1e-6)
    assert np.allclose(plane.to_image(GROUND), IMAGE, atol=1e-6)
    near, far = plane.metres_per_pixel([[640, 690], [640, 210]])
    assert far > 5 * near  # far away a pixel spans many more metres
    above_horizon = plane.to_ground([[640, 0]])
    assert np.isnan(above_horizon).all()


@pytest.mark.parametrize("image, ground, says", [
    (IMAGE[:3], GROUND[:3], "at least 4"),
    (IMAGE, GROUND[:3], "4 image points but 3 ground points"),
    ([[0, 0], [10, 10], [20, 20], [30, 30]], GROUND, "image points lie on one line"),
    (IMAGE, [[0, 0], [0, 10], [0, 20], [0, 30]], "ground points lie on one line"),
    (np.vstack([IMAGE, [640, 450]]), np.vstack([GROUND, [5, 12]]), "point"),  # (640, 450) is 6 m out, not 12
    (IMAGE, [[0, 0], [10, 0], [0, 60], [10, 60]], "horizon"),  # two far points swapped: a twisted plane
])
def test_points_that_cannot_make_a_plane_are_refused_with_the_reason(image, ground, says):
    with pytest.raises(GroundPlaneError, match=says):
        GroundPlane.fit(image, ground)


def boxes_along(plane: GroundPlane, ground_xy: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Car-like boxes standing on the given ground points, their edges jittered as a detector's are."""
    foot = plane.to_image(ground_xy)
    width = 1.9 / plane.metres_per_pixel(foot)  # a 1.9 m wide car, 0.8 as tall as wide in the picture
    height = 0.8 * width
    boxes = np.column_stack([foot[:, 0] - width / 2, foot[:, 1] - height, foot[:, 0] + width / 2, foot[:, 1]])
    return boxes + rng.normal(0, 1, boxes.shape) * (height / 25)[:, None]


@pytest.mark.parametrize("kmh", [20, 50, 90, 130])
def test_speed_on_the_road_is_within_5_percent_of_the_truth(kmh):
    plane = GroundPlane.fit(IMAGE, GROUND)
    motion = GroundMotion(plane)
    rng = np.random.default_rng(kmh)
    fps, v = 25.0, kmh / 3.6
    frames = int(40 / v * fps)  # through 40 m of road
    measured = []
    for f in range(frames):
        t = f / fps
        position = np.array([[3.5, 5 + v * t], [7.0, 50 - v * t]])  # one away from the camera, one towards it
        motion.update(t, np.array([1, 2]), boxes_along(plane, position, rng))
        if t > 1.0:  # after a second of track
            measured.append(np.linalg.norm(motion.velocity(np.array([1, 2])), axis=1) * 3.6)
    mean = np.mean(measured, axis=0)
    assert np.all(np.abs(mean - kmh) < 0.05 * kmh), mean
    worst = np.max(np.abs(np.array(measured) - kmh), axis=0)
    assert np.all(worst < max(0.15 * kmh, 5.0)), worst  # and no single frame far off


def test_a_forgotten_track_starts_afresh():
    plane = GroundPlane.fit(IMAGE, GROUND)
    motion = GroundMotion(plane)
    rng = np.random.default_rng(0)
    for f in range(30):
        motion.update(f / 25, np.array([7]), boxes_along(plane, np.array([[5.0, 5 + f * 0.8]]), rng))
    assert np.linalg.norm(motion.velocity(np.array([7]))[0]) > 15
    motion.forget(7)
    assert np.isnan(motion.velocity(np.array([7]))).all()
