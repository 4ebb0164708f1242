"""What to keep of a frame's detections: per-category confidence, minimum size, excluded regions, and people
seen through a vehicle's windows.

Users tune these per camera: a parked-car lot that should not count, a billboard that looks like a
pedestrian, far-away specks too small to track. The model's own thresholds stay in the detector. A driver or
passenger is a `person` to the model; counted, every car would bring a pedestrian with it (two "pedestrians"
crossed a motorway's counting line that way), so a person box lying inside a vehicle's box with its bottom
well above the vehicle's wheels is dropped. A pedestrian in front of a vehicle reaches the road below its
wheels, and one behind it shows above its roof: both are kept.
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


OCCUPANT_INSIDE = 0.9  # share of a person box inside a vehicle box...
OCCUPANT_ABOVE = 0.2  # ...and its bottom at least this share of the vehicle's height above the vehicle's bottom


class DetectionFilter:
    """Confidence threshold per category (`conf` for the ones not listed), a minimum box width and height, and
    vehicle occupants dropped (with `drop_occupants`, where there are `pedestrian` and `vehicle` categories)."""

    def __init__(
        self, categories: list[str], conf: float, category_conf: dict[str, float] | None = None,
        min_size_px: float = 0.0, drop_occupants: bool = True,
    ) -> None:
        unknown = set(category_conf or {}) - set(categories)
        if unknown:
            raise ValueError(f"category_conf names unknown categories: {', '.join(sorted(unknown))}")
        # indexed by data["category_id"], so thresholding a frame is one lookup
        self.thresholds = np.array([(category_conf or {}).get(c, conf) for c in categories], dtype=np.float32)
        self.lowest = float(self.thresholds.min()) if len(categories) else conf
        self.min_size_px = min_size_px
        has_both = drop_occupants and "pedestrian" in categories and "vehicle" in categories
        self._occupant_of = (categories.index("pedestrian"), categories.index("vehicle")) if has_both else None

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
        if self._occupant_of is not None:
            keep &= ~self.occupants(detections.xyxy, detections.data["category_id"], keep)
        return detections if keep.all() else detections[keep]

    def occupants(self, xyxy: np.ndarray, category_id: np.ndarray, kept: np.ndarray) -> np.ndarray:
        """True for each person box inside a kept vehicle box (OCCUPANT_INSIDE of its area) whose bottom is at least
        OCCUPANT_ABOVE of the vehicle's height above the vehicle's bottom: someone seen through its windows."""
        pedestrian, vehicle = self._occupant_of
        people = np.flatnonzero(category_id == pedestrian)
        vehicles = np.flatnonzero((category_id == vehicle) & kept)
        out = np.zeros(len(xyxy), dtype=bool)
        if not len(people) or not len(vehicles):
            return out
        p, v = xyxy[people][:, None].astype(np.float64), xyxy[vehicles][None].astype(np.float64)
        wh = np.clip(np.minimum(p[..., 2:], v[..., 2:]) - np.maximum(p[..., :2], v[..., :2]), 0, None)
        area = np.maximum((p[..., 2] - p[..., 0]) * (p[..., 3] - p[..., 1]), 1e-9)
        inside = wh[..., 0] * wh[..., 1] / area >= OCCUPANT_INSIDE
        above = p[..., 3] <= v[..., 3] - OCCUPANT_ABOVE * (v[..., 3] - v[..., 1])
        out[people] = (inside & above).any(axis=1)
        return out
