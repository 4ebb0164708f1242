"""Global camera motion between consecutive frames, for moving cameras (dashcams).

As BoT-SORT's sparse-optical-flow method: corners on a downscaled grey frame, tracked into the next
frame with pyramidal Lucas-Kanade, and a partial affine transform (rotation, uniform scale,
translation) fitted with RANSAC so that moving objects count as outliers. The tracker then moves its
predictions by it, so a pan or a turn is not mistaken for every object jumping.
"""

from __future__ import annotations

import cv2
import numpy as np

IDENTITY = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])


class CameraMotionEstimator:
    """Call `estimate(frame)` once per frame, in order; returns the 2x3 affine that maps pixel
    positions in the previous frame to the current one (identity on the first frame or on failure)."""

    def __init__(self, work_width: int = 320, max_corners: int = 400) -> None:
        self.work_width = work_width
        self.max_corners = max_corners
        self._previous: np.ndarray | None = None
        self._scale = 1.0

    def estimate(self, frame: np.ndarray) -> np.ndarray:
        grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) if frame.ndim == 3 else frame
        self._scale = min(1.0, self.work_width / grey.shape[1])
        if self._scale < 1.0:
            grey = cv2.resize(grey, None, fx=self._scale, fy=self._scale, interpolation=cv2.INTER_AREA)
        previous, self._previous = self._previous, grey
        if previous is None or previous.shape != grey.shape:
            return IDENTITY.copy()
        corners = cv2.goodFeaturesToTrack(previous, self.max_corners, qualityLevel=0.01, minDistance=3, blockSize=3)
        if corners is None or len(corners) < 8:
            return IDENTITY.copy()
        moved, status, _ = cv2.calcOpticalFlowPyrLK(previous, grey, corners, None)
        ok = status.reshape(-1) == 1
        if ok.sum() < 8:
            return IDENTITY.copy()
        affine, _inliers = cv2.estimateAffinePartial2D(corners[ok], moved[ok], method=cv2.RANSAC)
        if affine is None:
            return IDENTITY.copy()
        affine[:, 2] /= self._scale  # translation back to full-resolution pixels
        return affine
