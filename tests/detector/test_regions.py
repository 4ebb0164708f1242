"""Detection on regions of real frames: boxes map back to where a full-frame pass puts them, regions of several
frames share a batch, an object cut by a region's edge is detected again whole; the motion detector."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import supervision as sv

from roadwatch.detector import DEFAULT_CATEGORIES, CategoryMap
from roadwatch.detector.filters import ExclusionMask
from roadwatch.detector.motion import MotionDetector
from roadwatch.detector.region_detect import detect_planned
from roadwatch.detector.regions import plan_regions
from roadwatch.detector.yolo import YoloDetector

from support.helpers import CITY, HIGHWAY, require


def frame_of(path, index: int) -> np.ndarray:
    cap = cv2.VideoCapture(str(require(path)))
    cap.set(cv2.CAP_PROP_POS_FRAMES, index)
    ok, image = cap.read()
    cap.release()
    assert ok
    return image


@pytest.fixture(scope="module")
def detector(model_path):
    return YoloDetector(str(model_path), CategoryMap(DEFAULT_CATEGORIES), device="cpu")


def inside(box, region) -> bool:
    return box[0] >= region[0] and box[1] >= region[1] and box[2] <= region[2] and box[3] <= region[3]


def test_regions_cover_their_boxes_lie_in_the_frame_and_never_overlap():
    rng = np.random.default_rng(0)
    for _ in range(200):
        xy = rng.uniform(0, [1200, 680], size=(6, 2))
        boxes = np.column_stack([xy, xy + rng.uniform(10, 200, size=(6, 2))]).clip(0, [1280, 720, 1280, 720])
        regions = plan_regions(boxes, 720, 1280, imgsz=640)
        assert ((regions[:, :2] >= 0) & (regions[:, 2:] <= [1280, 720])).all()
        assert ((regions[:, 2:] - regions[:, :2]) >= 128 * 2).all()  # at least 128 model px at scale 0.5
        for box in boxes:
            assert any(inside(box, r) for r in regions)
        for i in range(len(regions)):
            for j in range(i + 1, len(regions)):
                a, b = regions[i], regions[j]
                assert not (a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3])


def test_region_boxes_map_back_to_within_iou_09_of_a_full_frame_pass(detector):
    """Two real frames of two cameras and sizes; regions around what the full pass found, all in one call.
    Checked: confident objects of at least one stride (32 model pixels); smaller ones move by a pixel or two
    with the context around them, which is IoU 0.8 at 20 px (measured)."""
    images = [frame_of(HIGHWAY, 120), frame_of(CITY, 300)]
    full = detector.detect(images)
    regions = []
    for image, dets in zip(images, full):
        confident = dets.xyxy[dets.confidence >= 0.5]
        assert len(confident) >= 2, "the frame should show several vehicles"
        regions.append(plan_regions(confident[:3], *image.shape[:2], imgsz=detector.imgsz))
    got, cost = detect_planned(detector, images, regions)
    assert cost.regions == sum(len(r) for r in regions) and cost.redone == 0
    for image, dets, found, planned in zip(images, full, got, regions):
        checked = 0
        for box, conf in zip(dets.xyxy, dets.confidence):
            small = min(box[2] - box[0], box[3] - box[1]) * detector.imgsz / max(image.shape[:2]) < 32
            if conf < 0.5 or small or not any(inside(box, r) for r in planned):
                continue
            best = sv.box_iou_batch(box[None], found.xyxy).max() if len(found) else 0.0
            assert best >= 0.9, (box, found.xyxy)
            checked += 1
        assert checked >= 1
        assert all(any(inside(b, r) for r in planned) for b in found.xyxy)  # nothing from outside the regions


def test_an_object_cut_by_a_region_edge_is_detected_again_whole(detector):
    image = frame_of(HIGHWAY, 120)
    full = detector.detect([image])[0]
    box = full.xyxy[np.argmax(full.confidence)]
    mid = int((box[0] + box[2]) / 2)
    region = np.array([[max(0, mid - 512), 0, mid, 720]])  # its right side cuts the car in half
    got, cost = detect_planned(detector, [image], [region])
    assert cost.redone == 1
    assert sv.box_iou_batch(box[None], got[0].xyxy).max() > 0.99  # the whole car, as the full pass has it


def test_masks_apply_to_region_detections_in_frame_pixels(detector):
    image = frame_of(HIGHWAY, 120)
    full = detector.detect([image])[0]
    box = full.xyxy[np.argmax(full.confidence)]
    regions = plan_regions(box[None], 720, 1280, imgsz=detector.imgsz)
    x0, y0, x1, y1 = box
    mask = ExclusionMask([np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])])
    got, _ = detect_planned(detector, [image], [regions], [mask])
    assert len(got[0]) == 0 or sv.box_iou_batch(box[None], got[0].xyxy).max() < 0.5


def test_motion_is_found_where_the_picture_changes_and_not_in_masked_areas():
    still = frame_of(CITY, 0)
    detector = MotionDetector()
    assert len(detector.boxes(still)) == 0  # the first frame sets the background
    for _ in range(5):
        assert len(detector.boxes(still.copy())) == 0
    moved = still.copy()
    cv2.rectangle(moved, (300, 200), (360, 250), (255, 255, 255), -1)
    boxes = detector.boxes(moved)
    assert len(boxes) >= 1
    assert any(b[0] <= 305 and b[1] <= 205 and b[2] >= 355 and b[3] >= 245 for b in boxes)
    masked = MotionDetector(mask=ExclusionMask([np.array([[280, 180], [380, 180], [380, 270], [280, 270]])]))
    masked.boxes(still)
    assert len(masked.boxes(moved)) == 0
