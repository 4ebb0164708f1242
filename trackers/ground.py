"""The road as a plane: a homography from image pixels to metres on the ground, fitted to four or more points a
person measured (lane markings, kerbs, a known distance between posts), so that speeds and distances come out
in real units wherever the object is in the picture (one metres-per-pixel factor cannot: far away a pixel spans
many more metres than near the camera).

Points are refused with a one-line reason when they cannot define the plane: fewer than four, lying on one
line, disagreeing with each other (a typo in one coordinate), or on both sides of the horizon.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


class GroundPlaneError(ValueError):
    """The calibration points cannot define the ground plane; the message says why."""


def _spread(points: np.ndarray) -> float:
    """Area of the points' convex hull over their extent squared: about 0 for points on one line."""
    hull = cv2.convexHull(points.astype(np.float32))
    extent = float(np.ptp(points, axis=0).max())
    return float(cv2.contourArea(hull)) / max(extent * extent, 1e-12)


@dataclass(frozen=True)
class GroundPlane:
    image_points: np.ndarray  # (N, 2) pixels
    ground_points: np.ndarray  # (N, 2) metres
    to_ground_h: np.ndarray  # 3x3, image -> ground
    to_image_h: np.ndarray  # 3x3, ground -> image
    # the sign of the homogeneous w of points in front of the camera (the side of the horizon the road is on)
    front_ground: float = 1.0
    front_image: float = 1.0

    @classmethod
    def fit(cls, image_points, ground_points, tolerance_m: float = 0.5) -> GroundPlane:
        """`tolerance_m`: how far a point's measured position may be from where the fitted plane puts it (or 2 %
        of the points' extent, if larger)."""
        image = np.asarray(image_points, dtype=np.float64).reshape(-1, 2)
        ground = np.asarray(ground_points, dtype=np.float64).reshape(-1, 2)
        if len(image) != len(ground):
            raise GroundPlaneError(f"{len(image)} image points but {len(ground)} ground points: give one of each")
        if len(image) < 4:
            raise GroundPlaneError(f"{len(image)} points: a ground plane needs at least 4 (not 3 on one line)")
        if not (np.isfinite(image).all() and np.isfinite(ground).all()):
            raise GroundPlaneError("a point is not a finite number")
        for name, points in (("image", image), ("ground", ground)):
            if _spread(points) < 1e-3:
                raise GroundPlaneError(f"the {name} points lie on one line: spread them over the road")
        h, _ = cv2.findHomography(image, ground, 0)
        if h is None or not np.isfinite(h).all() or abs(np.linalg.det(h)) < 1e-12:
            raise GroundPlaneError("no plane fits these points")
        w = (np.column_stack([image, np.ones(len(image))]) @ h.T)[:, 2]
        if not ((w > 0).all() or (w < 0).all()):
            raise GroundPlaneError("the points fall on both sides of the horizon: check the image points")
        inverse = np.linalg.inv(h)
        w_image = (np.column_stack([ground, np.ones(len(ground))]) @ inverse.T)[:, 2]
        plane = cls(image, ground, h, inverse, float(np.sign(w[0])), float(np.sign(w_image[0])))
        error = np.linalg.norm(plane.to_ground(image) - ground, axis=1)
        allowed = max(tolerance_m, 0.02 * float(np.ptp(ground, axis=0).max()))
        worst = int(np.argmax(error))
        if error[worst] > allowed:
            raise GroundPlaneError(
                f"point {worst + 1} is {error[worst]:.2f} m from where the other points put it (at most "
                f"{allowed:.2f} m): check its coordinates")
        return plane

    def to_ground(self, xy: np.ndarray) -> np.ndarray:
        """(N, 2) pixels -> (N, 2) metres; NaN for points at or beyond the horizon."""
        return self._map(np.asarray(xy, dtype=np.float64).reshape(-1, 2), self.to_ground_h, self.front_ground)

    def to_image(self, xy: np.ndarray) -> np.ndarray:
        """(N, 2) metres -> (N, 2) pixels."""
        return self._map(np.asarray(xy, dtype=np.float64).reshape(-1, 2), self.to_image_h, self.front_image)

    def metres_per_pixel(self, xy: np.ndarray) -> np.ndarray:
        """(N,) the ground distance one pixel spans at each point (the larger of its two directions)."""
        xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
        here = self.to_ground(xy)
        dx = np.linalg.norm(self.to_ground(xy + [1.0, 0.0]) - here, axis=1)
        dy = np.linalg.norm(self.to_ground(xy + [0.0, 1.0]) - here, axis=1)
        return np.fmax(dx, dy)

    @staticmethod
    def _map(xy: np.ndarray, h: np.ndarray, front: float) -> np.ndarray:
        projected = np.column_stack([xy, np.ones(len(xy))]) @ h.T
        w = projected[:, 2:3]
        with np.errstate(divide="ignore", invalid="ignore"):
            out = projected[:, :2] / w
        out[w[:, 0] * front <= 0] = np.nan
        return out
