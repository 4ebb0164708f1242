"""Road analytics end to end on a rendered road: real cars (cut by the real detector from a shared clip) pasted onto
a road drawn in perspective and moved at known ground speeds, then the real pipeline with a calibration and
rules. Speeds within 5 % of the truth, wrong way flagged for the car driving against the lane only, dwell at its
time within one frame, and every event valid against the schema."""

from __future__ import annotations

import json
import threading

import cv2
import numpy as np
import pytest

from roadwatch.config import Config
from roadwatch.pipeline import Pipeline
from roadwatch.streams import SourceSpec, probe
from roadwatch.trackers import GroundPlane

from support.helpers import HIGHWAY, assert_valid_events, require, roadwatch

FPS = 25.0
SIZE = (1280, 720)
# the road: 10 m wide, 25 m seen from a camera high above it; and a 3 m shoulder on its left
GROUND = [[0, 0], [10, 0], [10, 25], [0, 25]]
IMAGE = [[300, 710], [1100, 710], [920, 120], [420, 120]]
MOVERS = {  # name -> (x across the road in m, y along it at the start in m, km/h along the road: + away)
    "away": (3.0, 1.0, 25.0),
    "against": (7.5, 22.0, -12.0),
    "parked": (-1.5, 6.0, 0.0),
}
SECONDS = 3.2
DWELL_S = 1.5


@pytest.fixture(scope="module")
def detector(model_path):
    from roadwatch.detector import DEFAULT_CATEGORIES, CategoryMap
    from roadwatch.detector.yolo import YoloDetector

    return YoloDetector(str(model_path), CategoryMap(DEFAULT_CATEGORIES), device="cpu")


def car_crops(detector) -> list[np.ndarray]:
    """The three largest cars the detector finds on the highway clip's first frame."""
    ok, image = cv2.VideoCapture(str(require(HIGHWAY))).read()
    assert ok
    found = detector.detect([image])[0]
    cars = [b for b, c in zip(found.xyxy, found.class_id) if detector.names[int(c)] == "car"]
    cars.sort(key=lambda b: (b[2] - b[0]) * (b[3] - b[1]), reverse=True)
    assert len(cars) >= 3, "the highway clip's first frame should show three cars"
    return [image[int(y1):int(y2), int(x1):int(x2)].copy() for x1, y1, x2, y2 in cars[:3]]


def road_background(plane: GroundPlane) -> np.ndarray:
    canvas = np.full((SIZE[1], SIZE[0], 3), (95, 100, 100), np.uint8)
    edges = [[[x, 0], [x, 25]] for x in (-3.0, 0.0, 10.0)] + [[[5.0, y], [5.0, y + 3]] for y in range(0, 25, 6)]
    for start, end in edges:
        a, b = plane.to_image(np.array([start, end], dtype=float)).astype(int)
        cv2.line(canvas, tuple(a), tuple(b), (235, 235, 235), 4, cv2.LINE_AA)
    return canvas


def paste(canvas: np.ndarray, crop: np.ndarray, foot: np.ndarray, width: float) -> None:
    height = width * crop.shape[0] / crop.shape[1]
    x1, y1 = int(round(foot[0] - width / 2)), int(round(foot[1] - height))
    resized = cv2.resize(crop, (int(round(width)), int(round(height))), interpolation=cv2.INTER_AREA)
    top, left = max(0, y1), max(0, x1)
    bottom, right = min(canvas.shape[0], y1 + resized.shape[0]), min(canvas.shape[1], x1 + resized.shape[1])
    canvas[top:bottom, left:right] = resized[top - y1:bottom - y1, left - x1:right - x1]


def render(path, plane: GroundPlane, crops: list[np.ndarray]) -> None:
    background = road_background(plane)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, SIZE)
    for f in range(int(SECONDS * FPS)):
        canvas = background.copy()
        t = f / FPS
        placed = [(x, y + kmh / 3.6 * t, crop) for (x, y, kmh), crop in zip(MOVERS.values(), crops)]
        for x, y, crop in sorted(placed, key=lambda p: -p[1]):  # far ones first: near cars hide them
            left, right = plane.to_image(np.array([[x - 0.95, y], [x + 0.95, y]]))  # a car 1.9 m wide
            paste(canvas, crop, (left + right) / 2, float(np.linalg.norm(right - left)))
        writer.write(canvas)
    writer.release()


def test_speeds_wrong_way_and_dwell_on_a_rendered_road(tmp_path, detector):
    plane = GroundPlane.fit(IMAGE, GROUND)
    clip = tmp_path / "road.mp4"
    render(clip, plane, car_crops(detector))
    lane = plane.to_image(np.array([[5.0, 2.0], [5.0, 20.0]]))  # the way traffic goes: away from the camera
    shoulder = plane.to_image(np.array([[-3.0, 2.0], [0.0, 2.0], [0.0, 12.0], [-3.0, 12.0]]))
    road = plane.to_image(np.array([[0.0, -1.0], [10.0, -1.0], [10.0, 25.0], [0.0, 25.0]]))
    cfg = Config.model_validate({
        "output": {"dir": str(tmp_path), "video": False},
        "tracker": {"update_interval_s": 0},  # every frame's speed in the events
        "calibration": [{"image": IMAGE, "ground": GROUND}],
        "zones": [{"id": "road", "polygon": road.tolist(), "direction": lane.tolist()},
                  {"id": "shoulder", "polygon": shoulder.tolist()}],
        "rules": [{"id": "limit18", "type": "speeding", "limit_kmh": 18},
                  {"id": "against", "type": "wrong_way", "zone": "road"},
                  {"id": "no_stopping", "type": "dwell", "zone": "shoulder", "seconds": DWELL_S},
                  {"id": "load", "type": "occupancy", "zone": "road", "seconds": 1.0}],
    })
    spec = SourceSpec.from_uri(str(clip), "road")
    Pipeline(cfg, [spec], {"road": probe(spec)}, detector, None, tmp_path).run(threading.Event())
    events = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    assert_valid_events(events)

    def mover_of(track_id: int) -> str:
        """Which rendered car a track is: the one whose ground path its boxes followed."""
        first = next(e for e in events if e.get("track_id") == track_id and "bbox" in e)
        x1, _, x2, y2 = first["bbox"]
        ground = plane.to_ground(np.array([[(x1 + x2) / 2, y2]]))[0]
        return min(MOVERS, key=lambda m: abs(MOVERS[m][0] - ground[0]))

    tracks = {e["track_id"] for e in events if e["type"] == "track.started"}
    by_mover = {mover_of(t): t for t in tracks}
    assert set(by_mover) == set(MOVERS), f"each car tracked: {by_mover}"
    for name, (_, _, kmh) in MOVERS.items():
        speeds = [e["speed_kmh"] for e in events if e.get("track_id") == by_mover[name] and "speed_kmh" in e]
        settled = speeds[len(speeds) // 3:]  # after the filter has had a few detections
        if kmh:
            assert abs(np.median(settled) - abs(kmh)) < 0.05 * abs(kmh), (name, np.median(settled))
        else:
            assert np.median(settled) < 3.0, (name, np.median(settled))

    reports = [e for e in events if e["type"] == "zone.occupancy"]
    assert len(reports) == int(SECONDS) + 1 and reports[0]["frame"] == 0
    assert all(1.0 <= b["pts"] - a["pts"] < 1.0 + 1 / FPS + 1e-6 for a, b in zip(reports, reports[1:]))
    assert max(r["counts"].get("vehicle", 0) for r in reports) == 2  # the two moving cars; the parked one is off it
    assert all(r["queue_m"] == 0.0 and r["queued"] == 0 for r in reports)  # nothing stands in the lane
    fired = {(e["type"], mover_of(e["track_id"])) for e in events if e["type"].startswith(("rule.", "zone.dwell"))}
    assert fired == {("rule.speeding", "away"), ("rule.wrong_way", "against"), ("zone.dwell", "parked")}, fired
    entered = next(e for e in events if e["type"] == "zone.entered" and e["zone_id"] == "shoulder")
    dwell = next(e for e in events if e["type"] == "zone.dwell")
    assert DWELL_S <= dwell["pts"] - entered["pts"] < DWELL_S + 1 / FPS + 1e-6
    against = next(e for e in events if e["type"] == "rule.wrong_way")
    assert against["lane_heading_deg"] > 150


def test_calibrate_draws_the_points_and_a_metre_grid_on_a_frame(tmp_path):
    config = tmp_path / "road.yaml"
    config.write_text(f"sources: [{{uri: '{require(HIGHWAY)}', id: highway}}]\n"
                      f"calibration:\n  - {{streams: [highway], image: {IMAGE}, ground: {GROUND}}}\n")
    out = tmp_path / "check.png"
    run = roadwatch("calibrate", "--config", str(config), "--stream", "highway", "--output", str(out))
    assert run.returncode == 0, run.stderr
    drawn = cv2.imread(str(out))
    frame = cv2.VideoCapture(str(HIGHWAY)).read()[1]
    assert drawn.shape == frame.shape
    grid = cv2.inRange(drawn, (0, 200, 235), (30, 240, 255)) > 0  # the grid's yellow (BGR 0, 220, 255)
    assert grid.mean() > 0.01
    plane = GroundPlane.fit(IMAGE, GROUND)
    for x in (0.0, 10.0):  # the road's edges are grid lines: drawn where the plane puts them
        for y in (5.0, 20.0):
            px, py = plane.to_image(np.array([[x, y]]))[0].astype(int)
            assert grid[py - 2:py + 3, px - 2:px + 3].any(), (x, y)
    bad = tmp_path / "none.yaml"
    bad.write_text("zones: []\n")
    run = roadwatch("calibrate", "--config", str(bad), "--source", str(HIGHWAY))
    assert run.returncode == 2 and run.stderr.strip() == (
        "roadwatch: error: the config has no calibration: add a calibration entry (image and ground points)")


# The shared highway clip, calibrated from its own lane markings (docs/road_analytics.md says how): at five rows
# where a dash of the lane line ends, the dash's end and the left edge line, 3.65 m apart (a UK lane), the rows
# 9 m apart (UK lane lines on roads over 40 mph: 2 m marks, 7 m gaps; Traffic Signs Manual ch. 5, table 4-2).
HIGHWAY_ROWS = [(676, 491.0, 941.6), (621, 476.5, 900.8), (572, 459.0, 862.0), (528, 441.5, 825.7),
                (489, 421.0, 787.7)]
HIGHWAY_CONFIG = {
    "calibration": [{"image": [[x, y] for y, left, centre in HIGHWAY_ROWS for x in (left, centre)],
                     "ground": [[x, 9.0 * k] for k in range(len(HIGHWAY_ROWS)) for x in (0.0, 3.65)]}],
    "zones": [{"id": "carriageway", "polygon": [[380, 420], [1080, 420], [1280, 560], [1280, 720], [470, 720]],
               "direction": [[750, 457], [941, 676]]}],  # along the lane line, the way traffic comes: towards us
    "rules": [{"id": "against", "type": "wrong_way", "zone": "carriageway"}],
    "lines": [{"id": "across", "start": [300, 600], "end": [1280, 600]}],  # counted by hand: HAND_COUNTED below
    "tracker": {"update_interval_s": 0},
}


def run_clip(clip, folder, detector) -> tuple[list[dict], dict]:
    """The clip through the pipeline with HIGHWAY_CONFIG: its events and summary."""
    folder.mkdir()
    cfg = Config.model_validate({**HIGHWAY_CONFIG, "output": {"dir": str(folder), "video": False}})
    spec = SourceSpec.from_uri(str(clip), "highway")
    summary = Pipeline(cfg, [spec], {"highway": probe(spec)}, detector, None, folder).run(threading.Event())
    return [json.loads(line) for line in (folder / "events.jsonl").read_text().splitlines()], summary


@pytest.fixture(scope="module")
def highway_forwards(tmp_path_factory, detector) -> tuple[list[dict], dict]:
    return run_clip(require(HIGHWAY), tmp_path_factory.mktemp("highway") / "forwards", detector)


def moving_in_lane(events: list[dict]) -> dict[int, float]:
    """Tracks seen at least 15 times on the calibrated stretch inside the carriageway: their median km/h there."""
    speeds: dict[int, list[float]] = {}
    for e in events:
        on_stretch = e["type"] == "track.updated" and e["bbox"][3] >= HIGHWAY_ROWS[-1][0] and "speed_kmh" in e
        if on_stretch and "carriageway" in e.get("zones", []):
            speeds.setdefault(e["track_id"], []).append(e["speed_kmh"])
    return {t: float(np.median(s)) for t, s in speeds.items() if len(s) >= 15 and np.median(s) > 20}


def test_the_highway_clip_calibrated_from_its_lane_markings_forwards_and_backwards(
    tmp_path, detector, highway_forwards
):
    forwards, _ = highway_forwards
    moving = moving_in_lane(forwards)
    assert len(moving) >= 5, moving
    assert all(70 <= kmh <= 150 for kmh in moving.values()), moving  # a 70 mph dual carriageway
    assert not [e for e in forwards if e["type"] == "rule.wrong_way"]

    cap = cv2.VideoCapture(str(HIGHWAY))
    frames = []
    while (got := cap.read())[0]:
        frames.append(got[1])
    backwards = tmp_path / "backwards.mp4"
    writer = cv2.VideoWriter(str(backwards), cv2.VideoWriter_fourcc(*"mp4v"), 30.0, SIZE)
    for frame in reversed(frames):
        writer.write(frame)
    writer.release()
    events, _ = run_clip(backwards, tmp_path / "backwards", detector)
    against = {e["track_id"] for e in events if e["type"] == "rule.wrong_way"}
    moving_back = moving_in_lane(events)
    assert len(moving_back) >= 5, moving_back
    assert set(moving_back) <= against, f"moving, not flagged: {set(moving_back) - against}"
    assert_valid_events(events)


# Counted by hand on the highway clip, every 8th frame (frames 0-267, 1280x720, 30 frames/s) looked at with the
# line drawn at y = 600 from x = 300 to the right edge; a vehicle is counted when its box's bottom edge passes the
# line between two looked-at frames (bottom-edge rows read off the frames, full-frame pixels):
HAND_COUNTED = [  # (vehicle, frames either side of its crossing, bottom row before -> after)
    ("red Audi A1, left lane", (16, 24), (590, 646)),
    ("white Vauxhall Astra, right lane", (32, 40), (566, 620)),
    ("black Audi, left lane", (48, 56), (570, 610)),
    ("grey Fiat, left lane", (72, 80), (574, 620)),
    ("red Nissan Qashqai, right lane", (104, 112), (570, 610)),
    ("black Nissan, left lane", (120, 128), (600, 650)),
    ("grey VW Golf, left lane", (216, 224), (570, 624)),
]  # not counted: a black BMW already past the line at frame 0, a white BMW that has not reached it at frame 267
HAND_COUNTS = {"across": {"in": {"car": len(HAND_COUNTED)}}}  # all cars, all coming towards the camera


def test_line_counts_per_class_and_direction_equal_a_count_by_hand(highway_forwards):
    _, summary = highway_forwards
    assert summary["line_classes"] == HAND_COUNTS
