"""Second stage: licence plates found in vehicle crops, all crops of a batch in one forward, then read by OCR.

Which vehicles to look at (big enough, not too often per track) is the caller's decision; this module only
turns (frame, vehicle box) pairs into plate readings in frame pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .ocr import PlateOcr
from .yolo import YoloDetector


@dataclass(frozen=True)
class PlateReading:
    """The most confident plate in one vehicle box, in frame pixels; text where OCR ran and read it."""

    xyxy: np.ndarray
    confidence: float
    text: str | None = None
    text_confidence: float | None = None


class PlateReader:
    """Finds the plate of each vehicle box with a plate model, and reads it when an OCR engine is given.

    `max_area_fraction`: a plate box covering more of the vehicle crop than this is rejected. The first
    plate model (plate_yolov8n_v0) was trained on close-ups and, on small blurry vehicle crops, boxes the
    whole crop (70-80 % of its area, measured on the 720p highway clip); a real plate is a few percent of
    a vehicle. Set it to 1.0 for inputs that are plate close-ups rather than vehicles.
    """

    def __init__(
        self, model: str, device: str = "auto", imgsz: int = 640, conf: float = 0.25, half: bool = False,
        max_area_fraction: float = 0.25, ocr: PlateOcr | None = None,
    ) -> None:
        self.detector = YoloDetector(model, "plate", device=device, imgsz=imgsz, conf=conf, half=half)
        self.max_area_fraction = max_area_fraction
        self.ocr = ocr

    def read(self, frames: list[np.ndarray], boxes: list[np.ndarray]) -> list[PlateReading | None]:
        """One reading (or None) per (frame, vehicle xyxy) pair; all crops go through one batch."""
        crops, origins = [], []
        for frame, box in zip(frames, boxes):
            h, w = frame.shape[:2]
            x1, y1 = max(int(box[0]), 0), max(int(box[1]), 0)
            x2, y2 = min(int(np.ceil(box[2])), w), min(int(np.ceil(box[3])), h)
            crops.append(frame[y1 : max(y2, y1 + 1), x1 : max(x2, x1 + 1)])
            origins.append((x1, y1))
        readings: list[PlateReading | None] = []
        for crop, (x1, y1), found in zip(crops, origins, self.detector.detect(crops)):
            area = crop.shape[0] * crop.shape[1]
            plate_areas = (found.xyxy[:, 2] - found.xyxy[:, 0]) * (found.xyxy[:, 3] - found.xyxy[:, 1])
            found = found[plate_areas <= self.max_area_fraction * area]
            if len(found) == 0:
                readings.append(None)
                continue
            best = int(np.argmax(found.confidence))
            xyxy = found.xyxy[best] + np.array([x1, y1, x1, y1], dtype=np.float32)
            readings.append(PlateReading(xyxy, float(found.confidence[best])))
        if self.ocr is not None:
            readings = self._read_text(frames, readings)
        return readings

    def _read_text(self, frames: list[np.ndarray], readings: list[PlateReading | None]) -> list[PlateReading | None]:
        found = [i for i, r in enumerate(readings) if r is not None]
        crops = []
        for i in found:
            x1, y1, x2, y2 = readings[i].xyxy.astype(int)
            crops.append(frames[i][max(y1, 0) : y2, max(x1, 0) : x2])
        for i, text in zip(found, self.ocr.read(crops)):
            if text is not None:
                r = readings[i]
                readings[i] = PlateReading(r.xyxy, r.confidence, text.text, text.confidence)
        return readings
