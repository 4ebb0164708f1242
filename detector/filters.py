"""What to keep of a frame's detections: per-category confidence, minimum size, excluded regions.

Users tune these per camera: a parked-car lot that should not count, a billboard that looks like a
pedestrian, far-away specks too small to track. The model's own thresholds stay in the detector.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
import supervision as sv


@dataclass
class ExclusionMask:
    """Polygons (in frame pixels) whose detections are dropped: a detection is excluded when its box centre is inside.

    The mask image is rasterised once per frame size, so testing a frame's boxes is one array lookup.
    """

    polygons: list[np.ndarray]
    _rasters: dict[tuple[int, int], np.ndarray] = field(default_factory=dict, repr=False)

    def raster(self, height: int, width: int) -> np.ndarray:
        key = (height, width)
        if key not in self._rasters:
            image = np.zeros(key, dtype=np.uint8)
            cv2.fillPoly(image, [np.round(p).astype(np.int32).reshape(-1, 1, 2) for p in self.polygons], 1)
            self._rasters[key] = image.astype(bool)
        return self._rasters[key]

    def excluded(self, xyxy: np.ndarray, height: int, width: int) -> np.ndarray:
        """True for each box whose centre falls in an excluded region of a `height` x `width` frame."""
        raster = self.raster(height, width)
        x = np.clip(((xyxy[:, 0] + xyxy[:, 2]) / 2).astype(int), 0, width - 1)
        y = np.clip(((xyxy[:, 1] + xyxy[:, 3]) / 2).astype(int), 0, height - 1)
        return raster[y, x]


class DetectionFilter:
    """Confidence threshold per category (`conf` for the ones not listed) and a minimum box width and height."""

    def __init__(
        self, categories: list[str], conf: float, category_conf: dict[str, float] | None = None,
        min_size_px: float = 0.0,
    ) -> None:
        unknown = set(category_conf or {}) - set(categories)
        if unknown:
            raise ValueError(f"category_conf names unknown categories: {', '.join(sorted(unknown))}")
        # indexed by data["category_id"], so thresholding a frame is one lookup
        self.thresholds = np.array([(category_conf or {}).get(c, conf) for c in categories], dtype=np.float32)
        self.lowest = float(self.thresholds.min()) if len(categories) else conf
        self.min_size_px = min_size_px

    def __call__(
        self, detections: sv.Detections, frame_shape: tuple[int, ...], mask: ExclusionMask | None = None
    ) -> sv.Detections:
        if len(detections) == 0:
            return detections
        keep = detections.confidence > self.thresholds[detections.data["category_id"]]
        if self.min_size_px > 0:
            wh = detections.xyxy[:, 2:] - detections.xyxy[:, :2]
            keep &= wh.min(axis=1) >= self.min_size_px
        if mask is not None:
            keep &= ~mask.excluded(detections.xyxy, frame_shape[0], frame_shape[1])
        return detections if keep.all() else detections[keep]
