"""Outputs on a full disk: the run goes on, events still reach subscribers, no output is left half-written, and
the exit status and the last lines say what is missing. Real full disks: /dev/full, and small tmpfs mounts
(root, as .ci/run and `make test` run; skipped with the reason where mounting is not allowed)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest

from roadwatch.outputs.event_log import EventLog
from roadwatch.outputs.video import AnnotatedVideo

from support.event_tap import EventTap
from support.helpers import CITY, count_frames, free_endpoint, require, roadwatch

NO_SPACE = "No space left on device"


@pytest.fixture
def small_disk(tmp_path):
    """A mount point whose filesystem holds `size`; unmounted afterwards."""
    mounted: list[Path] = []

    def make(size: str) -> Path:
        point = tmp_path / f"disk{len(mounted)}"
        point.mkdir()
        proc = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(point)], capture_output=True, text=True
        )
        if proc.returncode != 0:
            pytest.skip(f"cannot mount a small tmpfs here ({proc.stderr.strip() or proc.returncode}): needs root")
        mounted.append(point)
        return point

    yield make
    for point in mounted:
        subprocess.run(["umount", "-l", str(point)], capture_output=True)


def event(i: int) -> dict:
    return {"type": "track.updated", "seq": i, "stream_id": "s", "note": "x" * (100 + i % 37)}


def test_an_event_log_on_a_full_disk_ends_with_a_whole_event(small_disk):
    log = EventLog(small_disk("64k") / "events.jsonl")
    written = 0
    while log.error is None:
        assert written < 10_000, "64 KiB never filled up"
        log.write(event(written))
        written += 1
        if written % 10 == 0:
            log.flush()  # as the pipeline does after each batch
    assert NO_SPACE in log.error and "events.jsonl" in log.error
    data = log.path.read_bytes()
    assert data.endswith(b"\n")
    lines = [json.loads(line) for line in data.splitlines()]  # every line whole
    assert [e["seq"] for e in lines] == list(range(len(lines))) and 0 < len(lines) < written
    log.write(event(written))  # later events are dropped quietly, the file left as it is
    log.flush()
    log.close()
    assert log.path.read_bytes() == data


def test_an_annotated_video_on_a_full_disk_is_removed_rather_than_left_unplayable(small_disk):
    path = small_disk("300k") / "annotated.mp4"
    video = AnnotatedVideo(
        path, fps=3.0, codec="mp4v", category_names=["vehicle"]
    )  # its growth checked every 30 frames
    noise = np.random.default_rng(0).integers(0, 255, (360, 640, 3), dtype=np.uint8)
    for _ in range(120):
        video.write(noise, [], [])
    video.close()
    assert video.error is not None and "removed, as it would not play" in video.error
    assert video.frames_written < 120  # it stopped writing (and OpenCV warning) well before the end
    assert not path.exists()


def test_an_annotated_video_with_room_is_checked_and_kept(tmp_path):
    path = tmp_path / "annotated.mp4"
    video = AnnotatedVideo(path, fps=3.0, codec="mp4v", category_names=["vehicle"])
    frame = np.full((360, 640, 3), 90, np.uint8)  # a still scene: the smallest file growth there is
    for _ in range(120):
        video.write(frame, [], [])
    video.close()
    assert video.error is None and count_frames(path) == 120


def test_run_with_a_full_disk_for_its_events_file_publishes_every_event_and_exits_1(
    small_disk, tmp_path, model_path, city_clip
):
    """The events file fills its disk at once (video off: the events file and the summary are all it writes)."""
    out = small_disk("64k") / "out"
    out.mkdir()
    (out.parent / "ballast").write_bytes(b"\0" * (60 << 10))  # room for the lock file's pid, and a little more
    config = tmp_path / "novideo.yaml"
    config.write_text("output: {video: false}\n")
    endpoint = free_endpoint()
    tap = EventTap.listening(endpoint)
    proc = roadwatch(
        "run", "--source", str(city_clip), "--model", str(model_path), "--output", str(out), "--events", endpoint,
        "--device", "cpu", "--config", str(config),
    )
    tap.stop()
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("roadwatch: error: cannot write")]
    assert any("events.jsonl" in line and NO_SPACE in line for line in errors), proc.stderr
    heard = [e for e in tap.events if e["type"] != "heartbeat"]
    final = [e for e in tap.events if e["type"] == "heartbeat"][-1]
    assert [e["seq"] for e in heard] == list(range(1, len(heard) + 1)) and final["seq"] == len(heard)
    assert sum(e["type"] == "track.started" for e in heard) > 0  # no event lost to subscribers


def test_a_link_planted_under_an_output_name_is_never_written_through(tmp_path, model_path, city_clip):
    """A symbolic link where events.jsonl would go (here to /dev/full, where a write fails loudly) is left
    alone: the run writes its own events-1.jsonl beside it (names.py), and its target is never opened."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "events.jsonl").symlink_to("/dev/full")
    target = tmp_path / "victim.txt"
    target.write_text("precious\n")
    (out / "summary.json").symlink_to(target)
    proc = roadwatch("run", "--source", str(city_clip), "--model", str(model_path), "--output", str(out),
                     "--events", free_endpoint(), "--device", "cpu")
    assert proc.returncode == 0, proc.stderr
    assert target.read_text() == "precious\n"
    assert (out / "events.jsonl").is_symlink() and (out / "summary.json").is_symlink()
    summary = json.loads((out / "summary-1.json").read_text())
    assert summary["streams"]["city40"]["frames"] == 40 and (out / "events-1.jsonl").stat().st_size > 0
    assert count_frames(out / "annotated-1.mp4") == count_frames(city_clip)


def test_analyze_on_a_full_disk_leaves_no_half_written_output(small_disk, model_path):
    clip = require(CITY)
    out = small_disk("400k") / "out"
    config = out.parent / "small.yaml"
    config.write_text("detector: {imgsz: 160}\n")  # what is judged is the outputs, not detection
    proc = roadwatch(
        "analyze", str(clip), "--output", str(out), "--model", str(model_path), "--device", "cpu", "--config",
        str(config), timeout=300,
    )
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("roadwatch: error: cannot write")]
    causes = (NO_SPACE, "removed, as it would not play", "summary.json beside it, which could not be written")
    assert errors and all(any(cause in line for cause in causes) for line in errors), errors
    folder = out / clip.stem
    names = {p.name for p in folder.iterdir()}
    assert not any(name.endswith(".tmp") for name in names)
    if "annotated.mp4" in names:
        assert cv2.VideoCapture(str(folder / "annotated.mp4")).isOpened()
    for line in (folder / "events.jsonl").read_bytes().splitlines(keepends=True):
        assert line.endswith(b"\n")
        json.loads(line)
    for summary in (folder / "summary.json", out / "summary.json"):
        if summary.exists():
            assert json.loads(summary.read_text())["output_errors"]
