"""Plates end to end on real photos nobody here trained on: ../shared/datasets/plates_eu_text (108 European
cars, one labelled plate each with its text), through the project's own path: vehicle detection (yolov8n COCO),
vehicles 96 px wide or more to the plate stage, OCR. Same run, two settings of the stage:

- today: the stage as it was (the vehicle's box cropped as is, plate confidence 0.25, no whole-frame search,
  no plate formats);
- now: the defaults (crop padded 10 %, candidates from 0.05 chosen by score and shape, the whole frame searched
  for vehicles a third of its width or wider) with the example plate formats of docs/plates.md.

Per setting: the labelled plate found (a reading with IoU >= 0.5), the exact text, the character error rate
(a plate not found or not read counts 1), and the plate stage's milliseconds per image (plate model and OCR;
vehicle detection, the same for both, is left out). And the OCR ceiling: the true box read, as is and fitted.
A label that fits no format while the same text with its O read as 0 does is a label with the letter O for a
zero: a reading of 0 there counts as right, and such labels are listed. Writes bench/results/plates.json.

    make bench-plates
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("YOLO_OFFLINE", "1")
SHARED = ROOT.parent / "shared"
DATA = SHARED / "datasets" / "plates_eu_text"
# the example formats of docs/plates.md (Slovakia, Czechia, UK, Poland)
EU_FORMATS = [
    "[A-Z]{2}[0-9]{3}[A-Z]{2}",
    "[0-9][A-Z][0-9ABCDEFHIJKLMNPRSTUVXYZ][0-9]{4}",
    "[A-Z]{2}[0-9]{2}[A-Z]{3}",
    "[A-Z]{2}[0-9]{5}",
    "[A-Z]{3}[0-9]{4}",
]


def labelled() -> list[tuple[str, np.ndarray, np.ndarray, str]]:
    out = []
    for path in sorted(DATA.glob("*.txt")):
        name, x, y, w, h, text = path.read_text().strip().split("\t")
        x, y, w, h = map(float, (x, y, w, h))
        out.append((name, cv2.imread(str(DATA / name)), np.array([x, y, x + w, y + h]), text.replace(" ", "").upper()))
    return out


def iou(a: np.ndarray, b: np.ndarray) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def true_text(label: str, formats) -> tuple[str, bool]:
    """The label, or where it has the letter O for a zero (it fits no format, its O as 0 does) the corrected one."""
    fixed = label.replace("O", "0")
    if formats and not formats.fits(label) and formats.fits(fixed):
        return fixed, True
    return label, False


def score(reads: list[str | None], truths: list[str]) -> tuple[float, float]:
    from rapidfuzz.distance import Levenshtein

    exact = sum(r == t for r, t in zip(reads, truths)) / len(truths)
    cer = sum(min(1.0, Levenshtein.distance(r or "", t) / len(t)) for r, t in zip(reads, truths)) / len(truths)
    return round(exact, 3), round(cer, 3)


def main() -> None:
    from roadwatch.detector import DEFAULT_CATEGORIES, CategoryMap
    from roadwatch.detector.ocr import RapidPlateOcr
    from roadwatch.detector.plate_text import PlateFormats
    from roadwatch.detector.plates import PlateReader
    from roadwatch.detector.yolo import YoloDetector

    items = labelled()
    formats = PlateFormats(EU_FORMATS)
    truths, wrong_labels = [], []
    for name, _, _, label in items:
        text, wrong = true_text(label, formats)
        truths.append(text)
        if wrong:
            wrong_labels.append(f"{name}: {label} (a zero written as O; counted as {text})")
    vehicles_model = YoloDetector(str(SHARED / "models" / "yolov8n_coco.pt"), CategoryMap(DEFAULT_CATEGORIES),
                                  device="cpu")
    vehicle = vehicles_model.category_names.index("vehicle")
    vehicles = []
    for _, image, _, _ in items:
        (d,) = vehicles_model.detect([image])
        keep = (d.data["category_id"] == vehicle) & (d.xyxy[:, 2] - d.xyxy[:, 0] >= 96)
        vehicles.append(d.xyxy[keep])
    ocr = RapidPlateOcr(0.0)
    plate_model = str(SHARED / "models" / "plate_yolov8n_v0.pt")
    settings = {
        "today": PlateReader(plate_model, device="cpu", conf=0.25, ocr=ocr, crop_pad=0.0, whole_frame_fraction=9.9),
        "now": PlateReader(plate_model, device="cpu", ocr=ocr, formats=formats),
    }
    results: dict = {"images": len(items), "labels_with_O_for_zero": wrong_labels, "settings": {}}
    for _ in range(2):  # the first pass warms both up; the second is measured
        for name, reader in settings.items():
            found, reads, elapsed = 0, [], 0.0
            for (_, image, box, _), boxes in zip(items, vehicles):
                started = time.perf_counter()
                readings = reader.read([image] * len(boxes), list(boxes)) if len(boxes) else []
                elapsed += time.perf_counter() - started
                match = next((r for r in readings if r is not None and iou(r.xyxy, box) >= 0.5), None)
                found += match is not None
                reads.append(match.text if match is not None else None)
            exact, cer = score(reads, truths)
            results["settings"][name] = {"found": round(found / len(items), 3), "exact": exact, "cer": cer,
                                         "ms_per_image": round(1000 * elapsed / len(items), 1)}
    crops = [image[int(b[1]):int(b[3]), int(b[0]):int(b[2])] for _, image, b, _ in items]
    raw = ocr.read(crops)
    results["ocr_on_true_boxes"] = {
        "as_read": score([r.text if r else None for r in raw], truths),
        "fitted": score([formats.fit(r).text if r else None for r in raw], truths),
    }
    today, now = results["settings"]["today"], results["settings"]["now"]
    results["time_ratio"] = round(now["ms_per_image"] / today["ms_per_image"], 2)
    print(f"{len(items)} images, one labelled plate each; {len(wrong_labels)} labels have an O for a zero:")
    for line in wrong_labels:
        print(f"   {line}")
    print(f"{'':8} {'found':>6} {'exact':>6} {'CER':>6} {'ms/image':>9}")
    for name, r in results["settings"].items():
        print(f"{name:8} {r['found']:6.3f} {r['exact']:6.3f} {r['cer']:6.3f} {r['ms_per_image']:9.1f}")
    print(f"time now/today: {results['time_ratio']}x; OCR on the true boxes (exact, CER): as read "
          f"{results['ocr_on_true_boxes']['as_read']}, fitted to the formats {results['ocr_on_true_boxes']['fitted']}")
    out = ROOT / "bench" / "results" / "plates.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1))
    print(f"written {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
