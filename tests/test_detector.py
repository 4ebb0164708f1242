"""The detector with the real YOLO model on real images."""

import cv2
import numpy as np
import pytest

from conftest import CITY, require
from detector import DEFAULT_CATEGORIES, CategoryMap, ModelError, YoloDetector, load_yolo


@pytest.fixture(scope="module")
def detector(model_path):
    return YoloDetector(str(model_path), CategoryMap(DEFAULT_CATEGORIES), device="cpu")


@pytest.fixture(scope="module")
def bus():
    from ultralytics import ASSETS

    return cv2.imread(str(ASSETS / "bus.jpg"))


def test_classes_map_to_categories_and_others_are_dropped(detector, bus):
    (d,) = detector.detect([bus])
    pairs = set(zip(d.data["class_name"], d.data["category"]))
    assert ("bus", "vehicle") in pairs
    assert ("person", "pedestrian") in pairs
    allowed = {name for names in DEFAULT_CATEGORIES.values() for name in names}
    assert set(d.data["class_name"]) <= allowed
    assert [detector.category_names[i] for i in d.data["category_id"]] == list(d.data["category"])


def test_same_boxes_as_ultralytics_predict(detector, bus):
    (ours,) = detector.detect([bus])
    ref = detector.model.predict(bus, conf=detector.conf, iou=detector.iou, device="cpu", verbose=False,
                                 agnostic_nms=detector.agnostic_nms)[0]
    keep = np.isin(ref.boxes.cls.numpy().astype(int), detector.class_ids)
    assert np.allclose(ours.xyxy, ref.boxes.xyxy.numpy()[keep], atol=0.5)
    assert np.array_equal(ours.class_id, ref.boxes.cls.numpy().astype(int)[keep])


def test_a_batch_mixes_frame_sizes_and_boxes_stay_in_each_frame(detector, bus):
    cap = cv2.VideoCapture(str(require(CITY)))
    city = cap.read()[1]
    cap.release()
    results = detector.detect([bus, city, bus])
    assert len(results) == 3
    for image, d in zip([bus, city, bus], results):
        h, w = image.shape[:2]
        assert len(d) > 0
        assert (d.xyxy[:, [0, 2]] <= w + 1).all() and (d.xyxy[:, [1, 3]] <= h + 1).all()
    assert np.allclose(results[0].xyxy, results[2].xyxy, atol=0.5)


def test_unknown_model_is_refused_without_a_download_attempt():
    with pytest.raises(ModelError, match="not found: pass --model"):
        load_yolo("no_such_model.pt")


def test_a_file_that_is_not_a_model(tmp_path):
    fake = tmp_path / "broken.pt"
    fake.write_bytes(b"not a checkpoint" * 64)
    with pytest.raises(ModelError, match="cannot load it as a YOLO model"):
        load_yolo(str(fake))


def test_categories_that_match_no_model_class(model_path):
    with pytest.raises(ModelError, match="none of its classes"):
        YoloDetector(str(model_path), CategoryMap({"boats": ["submarine"]}), device="cpu")
