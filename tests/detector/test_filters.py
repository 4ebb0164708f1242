"""The detection filter's occupant rule: people seen through a vehicle's windows are dropped, pedestrians near
vehicles are kept. The boxes are the kinds the real model gives on the shared clips (a driver behind a
windscreen; someone crossing in front of a stopped car; someone behind a car, head and shoulders above it)."""

from __future__ import annotations

import numpy as np
import supervision as sv

from roadwatch.detector.filters import DetectionFilter

CATEGORIES = ["vehicle", "pedestrian", "sign", "plate"]
VEHICLE, PEDESTRIAN = 0, 1
CAR = (400.0, 300.0, 640.0, 460.0)  # 240 x 160


def kept(boxes: list[tuple[tuple[float, ...], int]], drop_occupants: bool = True) -> list[int]:
    detections = sv.Detections(
        xyxy=np.array([b for b, _ in boxes], dtype=np.float32), confidence=np.full(len(boxes), 0.9, np.float32),
        class_id=np.zeros(len(boxes), dtype=int), data={"category_id": np.array([c for _, c in boxes])},
    )
    out = DetectionFilter(CATEGORIES, 0.25, drop_occupants=drop_occupants)(detections, (720, 1280))
    return [i for i, box in enumerate(b for b, _ in boxes) if any(np.allclose(box, k) for k in out.xyxy)]


def test_a_driver_behind_the_windscreen_is_dropped():
    driver = (560.0, 320.0, 610.0, 380.0)  # upper half of the car: seen through its windows
    assert kept([(CAR, VEHICLE), (driver, PEDESTRIAN)]) == [0]
    assert kept([(CAR, VEHICLE), (driver, PEDESTRIAN)], drop_occupants=False) == [0, 1]


def test_people_near_vehicles_are_kept():
    in_front = (480.0, 330.0, 530.0, 470.0)  # crossing in front of it: reaches below its wheels
    behind = (600.0, 250.0, 630.0, 340.0)  # behind it: head and shoulders above its roof
    alone = (100.0, 300.0, 140.0, 420.0)
    assert kept([(CAR, VEHICLE), (in_front, PEDESTRIAN), (behind, PEDESTRIAN), (alone, PEDESTRIAN)]) == [0, 1, 2, 3]


def test_a_person_inside_a_dropped_vehicle_box_is_kept():
    """The rule uses only the vehicles the filter keeps: a vehicle too weak for its threshold hides no one."""
    driver = (560.0, 320.0, 610.0, 380.0)
    detections = sv.Detections(
        xyxy=np.array([CAR, driver], dtype=np.float32), confidence=np.array([0.1, 0.9], np.float32),
        class_id=np.zeros(2, dtype=int), data={"category_id": np.array([VEHICLE, PEDESTRIAN])},
    )
    out = DetectionFilter(CATEGORIES, 0.25)(detections, (720, 1280))
    assert out.data["category_id"].tolist() == [PEDESTRIAN]
