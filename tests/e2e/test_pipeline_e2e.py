"""The whole path on CPU with the real model and real clips: capture -> detect -> track -> events and sinks."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import numpy as np
import pytest

from support.event_tap import EventTap
from support.helpers import (
    CITY,
    ROOT,
    VIDEOS,
    assert_summary_matches,
    assert_tracks_closed,
    assert_valid_events,
    count_frames,
    cut_clip,
    free_endpoint,
    read_jsonl,
    require,
    roadwatch,
    run_with_config,
    spawn_roadwatch,
)

REQUIRED = {
    "schema_version",
    "event_id",
    "type",
    "seq",
    "producer_id",
    "stream_id",
    "frame",
    "ts",
    "pts",
    "published_ts",
}
TRACK_FIELDS = {"track_id", "category", "class", "confidence", "bbox", "bbox_norm", "velocity"}
STREAM_FIELDS = {"source", "status", "reason"}


@pytest.fixture(scope="module")
def single_run(tmp_path_factory, model_path, city_clip):
    out = tmp_path_factory.mktemp("run1")
    endpoint = free_endpoint()
    sub = EventTap.listening(endpoint)
    proc = roadwatch(
        "run", "--source", str(city_clip), "--model", str(model_path), "--output", str(out), "--events", endpoint,
        "--device", "cpu", "--config", str(ROOT / "configs" / "default.yaml"),
    )
    sub.stop()
    return proc, out, sub


def test_run_succeeds_and_prints_the_summary_table(single_run):
    proc, _, _ = single_run
    assert proc.returncode == 0, proc.stderr
    assert "frames/s" in proc.stdout and "tracks: vehicle" in proc.stdout


def test_subscriber_receives_exactly_the_events_written_to_the_file(single_run):
    _, out, sub = single_run
    logged = read_jsonl(out / "events.jsonl")
    assert logged, "the city clip has cars: some tracks must start"
    state_events = [e for e in sub.events if e["type"] != "heartbeat"]
    assert state_events == logged
    assert_valid_events(sub.events)  # heartbeats included
    assert [t for t in sub.topics if not t.startswith(b"heartbeat/")] == [
        f"{e['type']}/{e['stream_id']}".encode() for e in logged
    ]


def test_heartbeats_carry_the_last_seq_and_each_stream_state(single_run):
    _, _, sub = single_run
    seen_seq = 0
    heartbeats = 0
    for event in sub.events:
        if event["type"] == "heartbeat":
            heartbeats += 1
            assert event["seq"] == seen_seq  # repeats the last event's seq: nothing was missed
            assert set(event["streams"]) == {"city40"} and event["fps"] >= 0
        else:
            seen_seq = event["seq"]
    assert heartbeats >= 1
    # the last message is the final heartbeat, sent after every stream's last events, however short the run
    last = sub.events[-1]
    assert last["type"] == "heartbeat" and last["seq"] == seen_seq > 0
    assert last["streams"]["city40"]["status"] == "ended" and last["streams"]["city40"]["frames"] == 40


def test_events_carry_the_documented_fields_and_gap_free_seq(single_run):
    _, out, _ = single_run
    events = read_jsonl(out / "events.jsonl")
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    for e in events:
        assert REQUIRED <= e.keys()
        if e["type"].startswith("stream."):
            assert STREAM_FIELDS <= e.keys()
            continue
        assert e["type"] in {"track.started", "track.updated", "track.ended"}
        assert TRACK_FIELDS <= e.keys()
        x1, y1, x2, y2 = e["bbox"]
        assert x1 < x2 and y1 < y2
        assert all(0 <= v <= 1.01 for v in e["bbox_norm"]) or e["type"] == "track.ended"
    assert {e.get("category") for e in events} >= {"vehicle"}
    assert [e["type"] for e in events if e["type"].startswith("stream.")] == ["stream.up"]
    assert events[0]["type"] == "stream.up" and events[0]["frame"] == 0


def test_every_started_track_ends_by_the_end_of_the_file(single_run):
    _, out, _ = single_run
    events = read_jsonl(out / "events.jsonl")
    assert_tracks_closed(events)
    assert {e["reason"] for e in events if e["type"] == "track.ended"} <= {"lost", "end_of_stream"}


def test_annotated_video_has_the_input_frame_count(single_run, city_clip):
    _, out, _ = single_run
    assert count_frames(out / "annotated.mp4") == count_frames(city_clip) == 40


def test_summary_counts_equal_the_event_file(single_run):
    _, out, _ = single_run
    summary = json.loads((out / "summary.json").read_text())
    events = read_jsonl(out / "events.jsonl")
    assert_summary_matches(summary, events)
    (stream,) = summary["streams"].values()
    assert stream["frames"] == 40 and stream["status"] == "ended" and stream["dropped"] == 0


def test_two_sources_get_a_video_each_and_independent_tracks(tmp_path, model_path, city_clip):
    dash = cut_clip(require(VIDEOS / "dashcam_b_640x360.mp4"), tmp_path / "dash20.mp4", 20)
    out = tmp_path / "out"
    proc = roadwatch(
        "run", "--source", str(city_clip), "--source", str(dash), "--model", str(model_path), "--output", str(out),
        "--events", free_endpoint(), "--device", "cpu",
    )
    assert proc.returncode == 0, proc.stderr
    assert count_frames(out / "annotated_city40.mp4") == 40
    assert count_frames(out / "annotated_dash20.mp4") == 20
    summary = json.loads((out / "summary.json").read_text())
    assert {k: v["frames"] for k, v in summary["streams"].items()} == {"city40": 40, "dash20": 20}
    events = read_jsonl(out / "events.jsonl")
    assert_valid_events(events)
    assert_tracks_closed(events)
    assert_summary_matches(summary, events)
    for stream_id in ("city40", "dash20"):
        frames = [e["frame"] for e in events if e["stream_id"] == stream_id]
        assert frames == sorted(frames)  # per-stream order survives batching


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_stops_cleanly_with_playable_video_and_closed_tracks(tmp_path, model_path, sig):
    source = require(CITY)  # 1190 frames: far longer than the test waits
    out = tmp_path / "out"
    proc = spawn_roadwatch(
        "run", "--source", str(source), "--model", str(model_path), "--output", str(out), "--events", free_endpoint(),
        "--device", "cpu",
    )
    log = out / "events.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (log.exists() and '"track.started"' in log.read_text()):
        time.sleep(0.2)  # mid-run: tracks are open when the signal comes
    assert log.exists(), "the pipeline never started"
    proc.send_signal(sig)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    assert "Traceback" not in stderr
    summary = json.loads((out / "summary.json").read_text())
    frames = summary["streams"]["fixedcam_citystreet_cars_bus_640x360"]["frames"]
    assert 0 < frames < 1190
    assert count_frames(out / "annotated.mp4") == frames
    events = read_jsonl(log)
    assert_valid_events(events)
    assert_tracks_closed(events)
    assert_summary_matches(summary, events)
    assert "shutdown" in {e.get("reason") for e in events}


def test_a_file_stopped_before_its_read_ahead_frames_were_processed_is_stopped_not_ended(
    tmp_path, model_path, city_clip
):
    """The reader had reached the end of the 40-frame clip (its frames read ahead into the buffer) when the run
    was stopped: the summary once said `ended`, with fewer frames than the file has."""
    import threading

    from roadwatch.config import Config
    from roadwatch.detector import DEFAULT_CATEGORIES, CategoryMap
    from roadwatch.detector.yolo import YoloDetector
    from roadwatch.pipeline import Pipeline
    from roadwatch.streams import SourceSpec, probe

    detector = YoloDetector(str(model_path), CategoryMap(DEFAULT_CATEGORIES), device="cpu", imgsz=160)
    cfg = Config.model_validate({"output": {"dir": str(tmp_path), "video": False}, "detector": {"max_batch": 1}})
    spec = SourceSpec.from_uri(str(city_clip), "clip")
    pipeline = Pipeline(cfg, [spec], {"clip": probe(spec)}, detector, None, tmp_path)
    stop = threading.Event()

    def on_batch(_counts) -> None:
        if pipeline.streams["clip"].capture.frames_read == 40:  # the whole file is read: stop before it is done
            stop.set()

    summary = pipeline.run(stop, on_batch=on_batch)
    entry = summary["streams"]["clip"]
    assert entry["frames"] < 40
    assert entry["status"] == "stopped"


def no_retries(tmp_path: Path) -> str:
    cfg = tmp_path / "no_retries.yaml"
    cfg.write_text("streams:\n  max_retries: 0\n")
    return str(cfg)


def test_a_source_that_fails_is_reported_and_the_others_go_on(tmp_path, model_path, city_clip):
    out = tmp_path / "out"
    proc = roadwatch(
        "run", "--source", "99", "--source", str(city_clip), "--model", str(model_path), "--output", str(out),
        "--events", free_endpoint(), "--device", "cpu", "--config", no_retries(tmp_path),
    )
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["streams"]["cam99"]["status"] == "failed"
    assert "camera index 99 cannot be opened" in summary["streams"]["cam99"]["error"]
    assert summary["streams"]["city40"] | {"status": "ended", "frames": 40} == summary["streams"]["city40"]
    assert_valid_events(read_jsonl(out / "events.jsonl"))
    down = [e for e in read_jsonl(out / "events.jsonl") if e["type"] == "stream.down"]
    assert [(e["stream_id"], e["status"]) for e in down] == [("cam99", "failed")]


def test_when_every_source_fails_the_run_exits_1_with_one_line(tmp_path, model_path):
    proc = roadwatch(
        "run", "--source", "99", "--model", str(model_path), "--output", str(tmp_path / "o"), "--events",
        free_endpoint(), "--device", "cpu", "--config", no_retries(tmp_path), timeout=60,
    )
    assert proc.returncode == 1
    assert (
        proc.stderr.strip().splitlines()[-1] == "roadwatch: error: no source could be read; see the status column above"
    )
    assert "Traceback" not in proc.stderr


def test_zones_lines_and_motion_fields_on_a_real_clip(tmp_path, model_path, city_clip):
    """Cars drive up the road in this clip: they leave a zone over the near lanes and cross a line
    drawn left to right across them, upwards, which is direction "out"."""
    out, events = run_with_config(
        tmp_path,
        model_path,
        city_clip,
        "zones:\n  - {id: near_lanes, polygon: [[200, 210], [420, 210], [420, 360], [200, 360]]}\n"
        "lines:\n  - {id: stop, start: [200, 200], end: [420, 200]}\n"
        "tracker: {zone_min_frames: 3, prediction_horizon_s: 0.5}\n",
    )
    crossed = [e for e in events if e["type"] == "line.crossed"]
    assert crossed and {(e["line_id"], e["direction"]) for e in crossed} == {("stop", "out")}
    assert all(e["velocity"][1] < 0 for e in crossed)  # moving up the image
    entered = [(e["track_id"], e["zone_id"], e["seq"]) for e in events if e["type"] == "zone.entered"]
    exited = {(e["track_id"], e["zone_id"]): e["seq"] for e in events if e["type"] == "zone.exited"}
    assert entered and all(exited[(t, z)] > seq for t, z, seq in entered)  # every entry is left by the end
    assert len(exited) == len(entered)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["lines"] == {"stop": {"out": len(crossed)}}
    assert summary["zones"] == {"near_lanes": {"entered": len(entered), "exited": len(exited)}}
    track_events = [e for e in events if e["type"] in ("track.started", "track.updated")]
    assert all(isinstance(e["zones"], list) and e["predicted_in_s"] == 0.5 for e in track_events)
    for e in track_events:  # the prediction is the box moved by its velocity over the horizon
        cx = (e["bbox"][0] + e["bbox"][2]) / 2 + e["velocity"][0] * 0.5
        assert abs((e["predicted_bbox"][0] + e["predicted_bbox"][2]) / 2 - cx) < 1.0
    assert count_frames(out / "annotated.mp4") == 40


def test_masks_and_per_category_thresholds_from_the_config(tmp_path, model_path, city_clip):
    """A mask over the lower half of the city clip: no track is ever seen centred there. A pedestrian
    threshold of 0.99 leaves no pedestrian tracks while vehicles go on."""
    _, events = run_with_config(
        tmp_path,
        model_path,
        city_clip,
        "masks:\n  - {id: lower_half, polygon: [[0, 180], [640, 180], [640, 360], [0, 360]]}\n"
        "detector: {category_conf: {pedestrian: 0.99}, min_box_px: 8}\n"
        "output: {video: false}\n",
    )
    started = [e for e in events if e["type"] == "track.started"]
    assert started and all(e["category"] != "pedestrian" for e in started)
    tracked = [e for e in events if e["type"] in ("track.started", "track.updated")]
    # a track's box is the filtered detection (Kalman-smoothed): its centre stays out of the mask by a margin
    assert all((e["bbox"][1] + e["bbox"][3]) / 2 < 180 + 10 for e in tracked)
    _, unmasked = run_with_config(tmp_path, model_path, city_clip, "output: {video: false}\n", name="unmasked")
    everything = [e for e in unmasked if e["type"] in ("track.started", "track.updated")]
    assert any((e["bbox"][1] + e["bbox"][3]) / 2 > 200 for e in everything)  # the mask had something to remove
    assert any(e["category"] == "pedestrian" for e in everything)  # and the threshold had pedestrians to cut


def essence(events: list[dict]) -> list[tuple]:
    """What a run found, without ids and clocks: to compare two runs of the same input."""
    return [
        (e["type"], e.get("stream_id"), e.get("frame"), e.get("track_id"), tuple(e.get("bbox", ())))
        for e in events
        if e["type"].startswith(("track.", "zone.", "line."))
    ]


@pytest.fixture(scope="module")
def plain_run(tmp_path_factory, model_path, city_clip) -> list[dict]:
    """The clip's events with detection inline and capture in a thread (the CPU defaults): what the two runs
    below must equal."""
    config = "detector: {overlap: false}\nstreams: {capture: thread}\noutput: {video: false}\n"
    return run_with_config(tmp_path_factory.mktemp("plain"), model_path, city_clip, config, name="plain")[1]


def test_detection_in_its_own_thread_gives_the_same_events_as_inline(tmp_path, model_path, city_clip, plain_run):
    """The threaded detector (the default on CUDA) is forced on here: on a file it must not change a
    thing, and two files sharing batches must each lose no frame."""

    def run(name: str, overlap: bool, *sources: Path) -> tuple[dict, list[dict]]:
        config = f"detector: {{overlap: {str(overlap).lower()}}}\noutput: {{video: false}}\n"
        out, events = run_with_config(tmp_path, model_path, sources, config, name=name)
        return json.loads((out / "summary.json").read_text()), events

    inline = plain_run
    summary, threaded = run("threaded", True, city_clip)
    assert essence(threaded) == essence(inline) and len(essence(inline)) > 10
    assert_valid_events(threaded)
    summary, events = run("threaded_two", True, city_clip, city_clip)
    assert [s["frames"] for s in summary["streams"].values()] == [40, 40]
    assert_tracks_closed(events)


def test_a_batch_is_tracked_in_rounds_of_one_frame_per_stream_in_order():
    from roadwatch.pipeline import rounds
    from roadwatch.streams import Frame

    image = np.zeros((2, 2, 3), np.uint8)
    frames = [
        Frame(sid, i, i / 30, 0.0, 0, image) for sid, i in [("a", 0), ("a", 1), ("b", 0), ("a", 2), ("c", 0), ("b", 1)]
    ]
    got = rounds(frames, [f"dets {f.stream_id}{f.index}" for f in frames], [True, False, True, True, False, True])
    assert [[(f.stream_id, f.index) for f in round_frames] for round_frames, _, _ in got] == [
        [("a", 0), ("b", 0), ("c", 0)], [("a", 1), ("b", 1)], [("a", 2)],
    ]
    assert [dets for _, dets, _ in got] == [["dets a0", "dets b0", "dets c0"], ["dets a1", "dets b1"], ["dets a2"]]
    assert [detected for _, _, detected in got] == [[True, True, False], [False, True], [True]]


def test_capture_in_processes_gives_the_same_events_as_in_threads(tmp_path, model_path, city_clip, plain_run):
    """`streams.capture: process` decodes in child processes and hands frames over through shared memory:
    the pipeline must not see a difference, and two streams must each lose no frame."""

    def run(name: str, capture: str, *sources: Path) -> tuple[dict, list[dict]]:
        config = f"streams: {{capture: {capture}}}\noutput: {{video: false}}\n"
        out, events = run_with_config(tmp_path, model_path, sources, config, name=name)
        return json.loads((out / "summary.json").read_text()), events

    threads = plain_run
    summary, processes = run("processes", "process", city_clip)
    assert essence(processes) == essence(threads) and len(essence(threads)) > 10
    assert [s["frames"] for s in summary["streams"].values()] == [40]
    summary, events = run("processes_two", "process", city_clip, city_clip)
    assert [s["frames"] for s in summary["streams"].values()] == [40, 40]
    assert_tracks_closed(events)
