"""Second stage: licence plates found on vehicles, all searches of a batch in one forward, then read by OCR.

Which vehicles to look at (big enough, not too often per track) is the caller's decision; this module turns
(frame, vehicle box) pairs into plate readings in frame pixels. Chosen from data (`make bench-plates`, 108
labelled European photos):
- the vehicle's crop is padded (`crop_pad`, 10 % a side): a plate at the box's edge keeps its context, and the
  model its confidence;
- a vehicle that fills much of the frame (`whole_frame_fraction` of its width) is searched on the whole
  frame instead, where the model was trained (close-ups): a plate it finds at 0.76 there scored 0.23 on the
  crop. Pairs of the same frame share that one search;
- candidates down to `conf` (0.05), the most plausible chosen by confidence and geometry: a plate is wider than
  tall (`aspect` 1.5-7), and not in the top third of its vehicle (roof signs, stickers on the windscreen);
- the text fitted to the region's plate formats (plate_text.py) where any are given.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .ocr import PlateOcr
from .plate_text import PlateFormats
from .yolo import YoloDetector

ASPECT = (1.5, 7.0)  # width / height of a plate box, EU (4.7) to North American (2) with margin
MISFIT = 0.3  # the score of a candidate outside that range, or in its vehicle's top third, is scaled by this


@dataclass(frozen=True)
class PlateReading:
    """The most plausible plate on one vehicle, in frame pixels; text where OCR ran and read it, with the
    confidence in each of its characters (`text_confidence`: their mean)."""

    xyxy: np.ndarray
    confidence: float
    text: str | None = None
    text_confidence: float | None = None
    char_confidences: tuple[float, ...] = ()
    formatted: bool = False  # the text fits one of the configured plate formats


class PlateReader:
    """Finds the plate of each vehicle box with a plate model, and reads it when an OCR engine is given.

    `max_area_fraction`: a plate box covering more of the vehicle crop than this is rejected. The first
    plate model (plate_yolov8n_v0) was trained on close-ups and, on small blurry vehicle crops, boxes the
    whole crop (70-80 % of its area, measured on the 720p highway clip); a real plate is a few percent of
    a vehicle. Set it to 1.0 for inputs that are plate close-ups rather than vehicles.
    """

    def __init__(
        self, model: str, device: str = "auto", imgsz: int = 640, conf: float = 0.05, half: bool = False,
        max_area_fraction: float = 0.25, ocr: PlateOcr | None = None, crop_pad: float = 0.1,
        whole_frame_fraction: float = 0.3, formats: PlateFormats | None = None,
    ) -> None:
        self.detector = YoloDetector(model, "plate", device=device, imgsz=imgsz, conf=conf, half=half)
        self.max_area_fraction = max_area_fraction
        self.ocr = ocr
        self.crop_pad = crop_pad
        self.whole_frame_fraction = whole_frame_fraction
        self.formats = formats or PlateFormats()

    def read(self, frames: list[np.ndarray], boxes: list[np.ndarray]) -> list[PlateReading | None]:
        """One reading (or None) per (frame, vehicle xyxy) pair; all searches go through one batch."""
        searches, owner, origins = [], [], []  # the images searched, which one each pair uses, their offsets
        whole: dict[int, int] = {}  # a frame searched whole: id(frame) -> its search
        for frame, box in zip(frames, boxes):
            h, w = frame.shape[:2]
            if box[2] - box[0] >= self.whole_frame_fraction * w:
                if id(frame) not in whole:
                    whole[id(frame)] = len(searches)
                    searches.append(frame)
                    origins.append((0, 0))
                owner.append(whole[id(frame)])
                continue
            pad_x, pad_y = self.crop_pad * (box[2] - box[0]), self.crop_pad * (box[3] - box[1])
            x1, y1 = max(int(box[0] - pad_x), 0), max(int(box[1] - pad_y), 0)
            x2, y2 = min(int(np.ceil(box[2] + pad_x)), w), min(int(np.ceil(box[3] + pad_y)), h)
            owner.append(len(searches))
            searches.append(frame[y1 : max(y2, y1 + 1), x1 : max(x2, x1 + 1)])
            origins.append((x1, y1))
        found = self.detector.detect(searches) if searches else []
        candidates = [f.xyxy + np.array([x, y, x, y], dtype=np.float32) for f, (x, y) in zip(found, origins)]
        readings = [
            self._choose(candidates[k], found[k].confidence, box, searches[k].shape, k in whole.values())
            for box, k in zip(boxes, owner)
        ]
        if self.ocr is not None:
            readings = self._read_text(frames, readings)
        return readings

    def _choose(self, xyxy: np.ndarray, confidence: np.ndarray, vehicle: np.ndarray, searched: tuple,
                whole: bool) -> PlateReading | None:
        """The most plausible of a search's plate candidates for this vehicle: inside it (its centre), not most
        of the searched crop, and scored by confidence and shape."""
        if len(xyxy) == 0:
            return None
        w, h = xyxy[:, 2] - xyxy[:, 0], xyxy[:, 3] - xyxy[:, 1]
        cx, cy = (xyxy[:, 0] + xyxy[:, 2]) / 2, (xyxy[:, 1] + xyxy[:, 3]) / 2
        inside = (cx >= vehicle[0]) & (cx <= vehicle[2]) & (cy >= vehicle[1]) & (cy <= vehicle[3])
        limit = self.max_area_fraction * (searched[0] * searched[1] if not whole else
                                          (vehicle[2] - vehicle[0]) * (vehicle[3] - vehicle[1]))
        usable = inside & (w * h <= limit)
        aspect = w / np.maximum(h, 1e-6)
        low = (cy - vehicle[1]) / max(vehicle[3] - vehicle[1], 1e-6) >= 1 / 3
        score = confidence * np.where((aspect >= ASPECT[0]) & (aspect <= ASPECT[1]) & low, 1.0, MISFIT)
        if not usable.any():
            return None
        best = int(np.argmax(np.where(usable, score, -1.0)))
        return PlateReading(xyxy[best].astype(np.float32), float(confidence[best]))

    def _read_text(self, frames: list[np.ndarray], readings: list[PlateReading | None]) -> list[PlateReading | None]:
        found = [i for i, r in enumerate(readings) if r is not None]
        crops = []
        for i in found:
            x1, y1, x2, y2 = readings[i].xyxy.astype(int)
            crops.append(frames[i][max(y1, 0) : y2, max(x1, 0) : x2])
        for i, text in zip(found, self.ocr.read(crops)):
            if text is not None:
                text = self.formats.fit(text)
                r = readings[i]
                mean = sum(text.char_confidences) / len(text.char_confidences)
                readings[i] = PlateReading(r.xyxy, r.confidence, text.text, mean, text.char_confidences,
                                           text.formatted)
        return readings
