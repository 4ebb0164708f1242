"""Where a fixed camera's picture changed: a cheap motion detector that decides where the network must look.

As Frigate's: a small grey copy of the frame against a running average of the earlier ones; pixels that differ
by more than `threshold` grey levels, grown a little and grouped into contours, are the motion boxes. On a
720p frame it costs about 2.5 ms (the INTER_AREA downscale most of it) next to 60-85 ms for the network on 2
cores, so the planner looks at motion on due frames and twice a detection period between them, not on every
frame. Excluded areas (the detector's masks: a flag, a clock overlay) are never motion.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .filters import ExclusionMask


@dataclass(frozen=True)
class MotionSettings:
    """The detector's knobs; the defaults suit road cameras at 360p-1080p (measured on the shared clips)."""

    width: int = 320  # the grey copy's width: smaller is cheaper and ignores more noise
    threshold: int = 25  # grey levels between frame and background that count as change
    min_area: float = 0.0004  # least share of the frame a motion box must cover (compression noise, leaves)
    alpha: float = 0.05  # how fast the background follows the picture (per frame)


class MotionDetector:
    """Motion boxes of one stream's frames, in frame pixels; the first frame only sets the background."""

    def __init__(self, settings: MotionSettings | None = None, mask: ExclusionMask | None = None) -> None:
        self.settings = settings or MotionSettings()
        self.mask = mask
        self._background: np.ndarray | None = None
        self._keep: np.ndarray | None = None  # 1 where motion counts, 0 in excluded areas, at the small size
        self._kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))

    def boxes(self, image: np.ndarray) -> np.ndarray:
        """(K, 4) float xyxy boxes of what changed since the background, and update the background."""
        h, w = image.shape[:2]
        small_w = min(self.settings.width, w)
        small_h = max(1, round(h * small_w / w))
        grey = cv2.cvtColor(cv2.resize(image, (small_w, small_h), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2GRAY)
        grey = cv2.GaussianBlur(grey, (5, 5), 0)
        if self._background is None or self._background.shape != grey.shape:
            self._background = grey.astype(np.float32)
            self._keep = self._allowed(h, w, small_h, small_w)
            return np.zeros((0, 4))
        diff = cv2.absdiff(grey, cv2.convertScaleAbs(self._background))
        cv2.accumulateWeighted(grey, self._background, self.settings.alpha)
        _, moving = cv2.threshold(diff, self.settings.threshold, 255, cv2.THRESH_BINARY)
        if self._keep is not None:
            moving *= self._keep
        moving = cv2.dilate(moving, self._kernel, iterations=2)
        contours, _ = cv2.findContours(moving, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        if not contours:
            return np.zeros((0, 4))
        rects = np.array([cv2.boundingRect(c) for c in contours], dtype=np.float64)  # x, y, w, h
        rects = rects[rects[:, 2] * rects[:, 3] >= self.settings.min_area * small_w * small_h]
        scale = w / small_w
        return np.column_stack([rects[:, :2], rects[:, :2] + rects[:, 2:]]) * scale

    def _allowed(self, h: int, w: int, small_h: int, small_w: int) -> np.ndarray | None:
        if self.mask is None:
            return None
        excluded = self.mask.raster(h, w).astype(np.uint8)
        return (1 - cv2.resize(excluded, (small_w, small_h), interpolation=cv2.INTER_NEAREST)).astype(np.uint8)
