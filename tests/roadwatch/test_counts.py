"""Counts per class, line, lane and zone-to-zone flow, through the real pipeline's per-frame path
(`Pipeline.process_frames`, as bench/host_bench.py drives it) with detections made to order: a vehicle whose
class flickers between car and truck, crossing a line inside a lane and moving from one zone to another."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
import supervision as sv

from roadwatch.config import Config
from roadwatch.pipeline import Pipeline
from roadwatch.streams import Frame, SourceSpec

from support.helpers import CITY, require

CAR, TRUCK = 2, 7  # COCO class ids
FPS = 25.0
ZONES = [{"id": "north", "polygon": [[0, 0], [640, 0], [640, 180], [0, 180]]},
         {"id": "south", "polygon": [[0, 180], [640, 180], [640, 360], [0, 360]]},
         {"id": "left_lane", "polygon": [[0, 0], [320, 0], [320, 360], [0, 360]]}]
LINES = [{"id": "middle", "start": [0, 200], "end": [640, 200]},  # "in": moving down
         {"id": "left_only", "start": [0, 220], "end": [640, 220], "zone": "left_lane"}]


@pytest.fixture(scope="module")
def detector(model_path):
    """Loaded for the category map and class names; these frames' detections are made to order."""
    from roadwatch.detector import DEFAULT_CATEGORIES, CategoryMap
    from roadwatch.detector.yolo import YoloDetector

    return YoloDetector(str(model_path), CategoryMap(DEFAULT_CATEGORIES), device="cpu", imgsz=160)


def detections(boxes: list[tuple[float, float, int]]) -> sv.Detections:
    """(centre x, bottom y, class) -> 60x40 boxes, 0.8 confident, category vehicle (0)."""
    xyxy = np.array([[x - 30, y - 40, x + 30, y] for x, y, _ in boxes], dtype=np.float64).reshape(-1, 4)
    return sv.Detections(xyxy=xyxy, confidence=np.full(len(boxes), 0.8), class_id=np.array([c for *_, c in boxes]),
                         data={"category_id": np.zeros(len(boxes), dtype=np.int64)})


def test_a_flickering_vehicle_is_one_class_counted_once_per_line_and_lane_and_flows_between_zones(detector, tmp_path):
    cfg = Config.model_validate({"output": {"dir": str(tmp_path), "video": False}, "zones": ZONES, "lines": LINES})
    pipeline = Pipeline(cfg, [SourceSpec.from_uri(str(require(CITY)), "cam")], {}, detector, None, tmp_path)
    image = np.zeros((360, 640, 3), np.uint8)
    frames = 100
    for f in range(frames):
        y = 60 + f * 2.5  # both move down the picture, from the north zone into the south one
        flicker = TRUCK if f % 5 in (1, 3) else CAR  # a truck two frames in five: a car by majority
        dets = detections([(160, y, flicker), (480, y, TRUCK)]) if f < 90 else detections([])
        pipeline.process_frames([Frame("cam", f, f / FPS, time.time(), 0, image)], [dets])
    for f in range(frames, frames + int(3 * FPS)):  # nothing more: both tracks end (lost) and their flows count
        pipeline.process_frames([Frame("cam", f, f / FPS, time.time(), 0, image)], [detections([])])
    pipeline.outputs.flush()
    events = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    flickering = {e["track_id"] for e in events if e["type"] == "track.started" and e["bbox"][0] < 320}
    assert len(flickering) == 1
    settled = {e["class"] for e in events if e.get("track_id") in flickering and e["frame"] >= FPS}
    assert settled == {"car"}, "after its first second of votes a flickering car stays a car"
    summary = pipeline.outputs.summary.to_dict(1.0)
    assert summary["tracks"] == {"vehicle": 2}
    assert summary["line_classes"] == {"middle": {"in": {"car": 1, "truck": 1}}, "left_only": {"in": {"car": 1}}}
    assert summary["lines"] == {"middle": {"in": 2}, "left_only": {"in": 1}}
    assert summary["od"] == {"north": {"south": 2}}
