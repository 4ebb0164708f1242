"""24/7 output segments (output.segment_s, keep_segments): files cut on the clock, each whole and playable,
together holding exactly what subscribers heard, the oldest deleted."""

from __future__ import annotations

import json
import re
import signal
import time
from pathlib import Path

import pytest

from roadwatch.outputs.segments import prune, segment_path, segment_start

from support.event_tap import EventTap
from support.helpers import CITY, count_frames, free_endpoint, require, spawn_roadwatch
from support.rtsp import RtspServer, unavailable_reason

STAMPED = re.compile(r"_(\d{8}T\d{6}Z)\.")


def test_segments_start_on_multiples_of_their_length_and_are_named_by_their_start():
    t = 1_764_590_000.7  # 2025-12-01 11:53:20.7 UTC
    assert segment_start(t, 3600) == 1_764_586_800  # 11:00:00, on the hour
    assert segment_start(t, 1) == 1_764_590_000
    assert segment_path(Path("out/events.jsonl"), 1_764_586_800) == Path("out/events_20251201T110000Z.jsonl")
    assert segment_path(Path("out/annotated_cam0.mp4"), 1_764_586_800).name == "annotated_cam0_20251201T110000Z.mp4"


def test_prune_keeps_the_newest_of_its_own_series_only(tmp_path):
    starts = [1_764_586_800 + 3600 * i for i in range(5)]
    events = [segment_path(tmp_path / "events.jsonl", t) for t in starts]
    cam = [segment_path(tmp_path / "annotated_cam0.mp4", t) for t in starts]
    for path in events + cam + [tmp_path / "events.jsonl", tmp_path / "summary.json"]:
        path.write_text("x")
    assert prune(tmp_path / "events.jsonl", 2) == events[:3]
    assert prune(tmp_path / "annotated_cam0.mp4", 0) == cam  # all of them
    cam = []
    assert sorted(tmp_path.iterdir()) == sorted(
        events[3:] + cam + [tmp_path / "events.jsonl", tmp_path / "summary.json"]
    )


def test_a_run_restarted_within_a_segment_writes_beside_the_earlier_files_never_over_them(tmp_path):
    start = 1_764_586_800
    first = segment_path(tmp_path / "events.jsonl", start)
    first.write_text("earlier run\n")
    second = segment_path(tmp_path / "events.jsonl", start)
    assert second.name == "events_20251201T110000Z-1.jsonl"
    second.write_text("x")
    assert segment_path(tmp_path / "events.jsonl", start).name == "events_20251201T110000Z-2.jsonl"
    later = segment_path(tmp_path / "events.jsonl", start + 3600)
    later.write_text("x")
    assert prune(tmp_path / "events.jsonl", 2) == [first]  # by start, then count
    assert sorted(p.name for p in tmp_path.iterdir()) == [second.name, later.name]


def whole_lines(path: Path) -> list[dict]:
    data = path.read_bytes()
    assert not data or data.endswith(b"\n"), f"{path.name} ends inside an event"
    return [json.loads(line) for line in data.splitlines()]


def test_a_live_run_cut_into_one_second_segments(tmp_path, model_path):
    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
    server = RtspServer(require(CITY)).start()
    config = tmp_path / "live.yaml"
    config.write_text(
        f"sources: [{{uri: '{server.url}', id: cam}}]\n"
        "detector: {imgsz: 160}\n"  # what is judged is the files, not detection
        "tracker: {update_interval_s: 0}\n"  # an event per track per frame: every segment has some
        "output: {segment_s: 1, keep_segments: 3}\n"
    )
    out = tmp_path / "out"
    endpoint = free_endpoint()
    tap = EventTap.listening(endpoint)
    proc = spawn_roadwatch(
        "run", "--config", str(config), "--model", str(model_path), "--output", str(out), "--events", endpoint,
        "--device", "cpu",
    )
    try:
        deadline = time.monotonic() + 60
        while not any(e["type"] == "stream.up" for e in tap.events):
            assert time.monotonic() < deadline and proc.poll() is None, "the camera never came up"
            time.sleep(0.1)
        time.sleep(5.5)  # five boundaries or more: more segments than are kept
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
        server.kill()
        tap.stop()
    assert proc.returncode == 0, stderr

    logs = sorted(out.glob("events_*.jsonl"))
    assert len(logs) == 3 and not (out / "events.jsonl").exists()
    stamps = [time.mktime(time.strptime(STAMPED.search(p.name).group(1), "%Y%m%dT%H%M%SZ")) for p in logs]
    assert [b - a for a, b in zip(stamps, stamps[1:])] == [1, 1]  # consecutive seconds
    kept = [event for path in logs for event in whole_lines(path)]
    heard = [e for e in tap.events if e["type"] != "heartbeat"]
    assert kept and kept == heard[len(heard) - len(kept) :]  # the newest segments hold the tail, none lost between
    assert heard[0]["type"] == "stream.up" and heard[0] not in kept  # the oldest segments were deleted

    videos = sorted(out.glob("annotated_*.mp4"))
    assert 2 <= len(videos) <= 3 and not (out / "annotated.mp4").exists()
    assert all(count_frames(video) > 0 for video in videos)  # each one finalised: it plays
    summary = json.loads((out / "summary.json").read_text())
    assert summary["output_errors"] == [] and summary["streams"]["cam"]["frames"] > 0


def test_segments_roll_forward_with_the_clock_and_never_back(tmp_path):
    """A clock set back (NTP, a wrong RTC fixed by hand) must not reopen, and so overwrite, an older segment."""
    from roadwatch.config import OutputConfig
    from roadwatch.outputs.run_outputs import RunOutputs

    now = [1_764_586_800.0 + 30]  # 2025-12-01 11:00:30 UTC
    config = OutputConfig(video=False, segment_s=60)
    outputs = RunOutputs(config, tmp_path, ["vehicle"], clock=lambda: now[0])
    names = [outputs.event_log.path.name]
    for t in (now[0] + 60, now[0] - 3600, now[0] + 61, now[0] + 120):  # on, set back an hour, on, on
        now[0] = t
        outputs.roll_segments()
        names.append(outputs.event_log.path.name)
    outputs.event_log.close()
    assert names == [
        "events_20251201T110000Z.jsonl", "events_20251201T110100Z.jsonl", "events_20251201T110100Z.jsonl",
        "events_20251201T110100Z.jsonl", "events_20251201T110200Z.jsonl",
    ]
    assert sorted(p.name for p in tmp_path.glob("events_*")) == sorted(set(names))
