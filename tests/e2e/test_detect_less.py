"""Detect less, track more, end to end on real clips: a stream gets its detection rate, a still scene costs no
forward pass after warm-up, a new object in a quiet scene is detected within one detection period, and a
gated live run's events are valid."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from support.helpers import (
    CITY,
    HIGHWAY,
    assert_tracks_closed,
    assert_valid_events,
    cut_clip,
    free_endpoint,
    read_jsonl,
    require,
    run_with_config,
    spawned,
    stop,
    wait_until,
)

FPS = 25.0


def still_background() -> np.ndarray:
    """A quiet part of the city camera's first frame (sky and buildings, nothing the model detects), 640x360."""
    cap = cv2.VideoCapture(str(require(CITY)))
    ok, image = cap.read()
    cap.release()
    assert ok
    return cv2.resize(image[0:180, 320:640], (640, 360), interpolation=cv2.INTER_LINEAR)


def a_car() -> np.ndarray:
    """The most confident car of the highway camera's frame 120, as found there by eye: cut out, 120 px wide."""
    cap = cv2.VideoCapture(str(require(HIGHWAY)))
    cap.set(cv2.CAP_PROP_POS_FRAMES, 120)
    ok, image = cap.read()
    cap.release()
    assert ok
    return image


def write_clip(path: Path, frames: list[np.ndarray]) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, frames[0].shape[1::-1])
    for frame in frames:
        writer.write(frame)
    writer.release()
    return path


def summary_of(out: Path) -> dict:
    import json

    return json.loads((out / "summary.json").read_text())


def test_a_stream_gets_its_detection_rate_and_every_frame_is_still_tracked(tmp_path, model_path):
    clip = cut_clip(require(CITY), tmp_path / "city125.mp4", 125)  # 5 s at 25 frames/s
    out, events = run_with_config(
        tmp_path, model_path, clip,
        "schedule: {file_detect_fps: 5}\noutput: {video: false}\n",
    )
    stream = next(iter(summary_of(out)["streams"].values()))
    assert stream["frames"] == 125
    assert abs(stream["detected"] - 25) <= 2.5, stream  # 5 a second, within 10 %
    assert_tracks_closed(events)
    started = [e for e in events if e["type"] == "track.started"]
    assert len(started) >= 3  # the cars and the bus are still found and tracked
    updates = [e for e in events if e["type"] == "track.updated"]
    assert updates, "tracks are carried between detections"


def test_a_still_scene_costs_no_forward_pass_after_warm_up_but_the_periodic_full_frame(tmp_path, model_path):
    """10 s of a still picture with motion gating: only the whole-frame passes at 0, 4 and 8 s go through the
    network (full_frame_s 4); every frame is still processed."""
    clip = write_clip(tmp_path / "still.mp4", [still_background()] * int(10 * FPS))
    out, events = run_with_config(
        tmp_path, model_path, clip,
        "schedule: {file_motion: true, full_frame_s: 4}\noutput: {video: false}\n",
    )
    stream = next(iter(summary_of(out)["streams"].values()))
    assert stream["frames"] == 250
    assert not [e for e in events if e["type"] == "track.started"], "the quiet scene should show nothing"
    assert stream["detected"] == 3, stream


def test_a_new_object_in_a_quiet_scene_is_detected_within_one_detection_period(model_path):
    """A car is pasted into the still scene from frame 52 on, moving; detection at 5 a second with motion
    gating. The planner must look early (motion where no track is) and find it within 0.2 s, and must not
    run the network at all on the quiet frames before it (after the first, whole-frame one)."""
    from roadwatch.config import ScheduleConfig
    from roadwatch.detector import DEFAULT_CATEGORIES, CategoryMap
    from roadwatch.detector.region_detect import detect_planned
    from roadwatch.detector.yolo import YoloDetector
    from roadwatch.pipeline.detect_plan import DetectPlanner, StreamRate
    from roadwatch.streams import Frame

    detector = YoloDetector(str(model_path), CategoryMap(DEFAULT_CATEGORIES), device="cpu")
    car = a_car()[300:520, 420:700]  # a car of the highway frame (checked below: the model finds it)
    car = cv2.resize(car, (140, 110))
    assert len(detector.detect([car])[0]) >= 1
    background = still_background()
    schedule = ScheduleConfig(full_frame_s=100)
    planner = DetectPlanner(schedule, detector.imgsz, detector.letterbox.stride)
    planner.add("cam", StreamRate(fps=5.0, motion=True))
    appear, forwards, found_at = 52, [], None
    for k in range(90):
        image = background.copy()
        if k >= appear:
            x = 100 + 4 * (k - appear)
            image[150:260, x : x + 140] = car
        plan = planner.plan(Frame("cam", k, k / FPS, 0.0, 0, image))
        if not plan.detect:
            continue
        forwards.append(k)
        dets = detect_planned(detector, [image], [plan.regions])[0][0]
        if k >= appear and len(dets) and found_at is None:
            found_at = k
    assert forwards[0] == 0 and all(k >= appear for k in forwards[1:]), forwards
    assert found_at is not None and (found_at - appear) / FPS <= 0.2, (found_at, forwards)


def test_a_gated_live_run_tracks_with_fewer_forward_passes_and_its_events_are_valid(tmp_path, model_path, city_clip):
    """A `replay:` source is a live camera (the clip at its own pace, looping): by default detected 5 times a
    second, on the regions that move. Run until the cars of the clip have been tracked, then stopped."""
    config = tmp_path / "live.yaml"
    config.write_text(f"sources: ['replay:{city_clip}']\noutput: {{video: false}}\n")
    out = tmp_path / "out"
    log = out / "events.jsonl"

    def tracked_for(seconds: float) -> bool:
        """Tracks started, and events of a frame `seconds` into the camera's media time."""
        events = read_jsonl(log) if log.exists() else []
        return any(e["type"] == "track.started" for e in events) and any(e["pts"] >= seconds for e in events)

    with spawned("run", "--config", str(config), "--model", str(model_path), "--output", str(out), "--events",
                 free_endpoint(), "--device", "cpu") as proc:
        wait_until(lambda: tracked_for(4.0), 120, "4 s of the live camera, tracked")
        stop(proc)
    assert proc.returncode == 0
    events = read_jsonl(log)
    assert_valid_events(events)
    assert_tracks_closed(events)
    stream = next(iter(summary_of(out)["streams"].values()))
    assert 0 < stream["detected"] <= stream["frames"] / 3, stream
