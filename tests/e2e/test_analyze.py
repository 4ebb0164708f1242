"""`roadwatch analyze` on real footage: every frame, per-input outputs, a report a browser renders."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import cv2
import pytest

from support.browser import CHROMIUM_FLAGS, chromium_path
from support.helpers import (
    CITY,
    CROWD_TRUNCATED,
    TRUCKS_DAMAGED,
    VIDEOS,
    assert_summary_matches,
    assert_tracks_closed,
    assert_valid_events,
    count_frames,
    read_jsonl,
    require,
    roadwatch,
    spawn_roadwatch,
    wait_until,
)

DASHCAM = VIDEOS / "dashcam_a_640x360.mp4"
def chromium(*args: str, profile: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [chromium_path(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args], capture_output=True, text=True,
        timeout=120,
    )


def outputs_are_whole(folder: Path, source: Path) -> dict:
    """The four outputs exist and agree with each other and with the input; returns the summary."""
    summary = json.loads((folder / "summary.json").read_text())
    events = read_jsonl(folder / "events.jsonl")
    (entry,) = summary["streams"].values()
    assert entry["frames"] == count_frames(source) == count_frames(folder / "annotated.mp4")
    assert_summary_matches(summary, events)
    assert_tracks_closed(events)
    assert_valid_events(events)
    assert (folder / "report.html").stat().st_size > 0
    return summary


@pytest.fixture(scope="module")
def dashcam(tmp_path_factory, model_path):
    out = tmp_path_factory.mktemp("analyze")
    proc = roadwatch(
        "analyze", str(require(DASHCAM)), "--output", str(out), "--model", str(model_path), "--device", "cpu",
        "--clips", timeout=600,
    )
    return proc, out / "dashcam_a_640x360"


def test_analyze_writes_every_output_for_every_frame(dashcam):
    proc, folder = dashcam
    assert proc.returncode == 0, proc.stderr
    summary = outputs_are_whole(folder, DASHCAM)
    assert summary["streams"]["dashcam_a_640x360"]["frames"] == 414
    assert summary["streams"]["dashcam_a_640x360"]["dropped"] == 0
    assert summary["tracks"].get("vehicle", 0) > 0
    assert "report.html" in proc.stdout and "eta" in proc.stderr


def test_events_carry_video_time_and_wall_clock_time(dashcam):
    _, folder = dashcam
    events = [e for e in read_jsonl(folder / "events.jsonl") if e["type"].startswith("track.")]
    by_frame = {e["frame"]: e["pts"] for e in events}
    frames = sorted(by_frame)
    assert all(by_frame[a] < by_frame[b] for a, b in zip(frames, frames[1:]))
    assert all(abs(by_frame[f] - f / 30) < 0.05 for f in frames)  # the file's own 30 frames/s timestamps
    assert all(e["ts"] > 1.6e9 for e in events)


def test_report_renders_its_plots_and_thumbnails_in_headless_chromium(dashcam, tmp_path):
    _, folder = dashcam
    url = (folder / "report.html").resolve().as_uri()
    dom = chromium("--virtual-time-budget=5000", "--dump-dom", url, profile=tmp_path / "p1").stdout
    loaded = re.search(r'data-images-total="(\d+)" data-images-loaded="(\d+)"', dom)
    assert loaded, "the page's load handler never ran"
    total, ok = map(int, loaded.groups())
    assert total >= 4 and ok == total  # 2 or 3 plots and at least one first-sighting thumbnail, all decoded
    assert "Objects per category over time" in dom and 'class="thumb"' in dom
    shot = tmp_path / "report.png"
    chromium("--window-size=1000,1600", f"--screenshot={shot}", url, profile=tmp_path / "p2")
    picture = cv2.imread(str(shot))
    assert picture is not None and picture.std() > 20  # a page with plots on it, not a blank one


def test_damaged_files_give_valid_outputs_and_a_warning(tmp_path, model_path):
    out = tmp_path / "out"
    config = tmp_path / "small.yaml"  # what is judged is the files' handling, not detection: a quicker network input
    config.write_text("detector: {imgsz: 320}\n")
    # one file at a time (--parallel 1): the second waits its turn, and its outputs are as whole as the first's
    proc = roadwatch(
        "analyze", str(require(TRUCKS_DAMAGED)), str(require(CROWD_TRUNCATED)), "--output", str(out), "--model",
        str(model_path), "--device", "cpu", "--config", str(config), "--parallel", "1", timeout=600,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert proc.returncode == 0, proc.stderr
    for source in (TRUCKS_DAMAGED, CROWD_TRUNCATED):
        summary = outputs_are_whole(out / source.stem, source)
        assert "truncated or damaged" in summary["streams"][source.stem]["warning"]
        assert f"source '{source}'" in proc.stderr
        frames = summary["streams"][source.stem]["frames"]
        bar = next(line for line in proc.stderr.splitlines() if line.startswith(source.stem))
        assert f" {frames}/{frames} " in bar  # complete at the frames it had, not short of its header's count


def test_a_folder_with_a_file_that_is_not_a_video(tmp_path, model_path, city_clip):
    folder = tmp_path / "footage"
    folder.mkdir()
    shutil.copy(city_clip, folder / "city40.mp4")
    (folder / "notes.txt").write_text("not a video\n")
    out = tmp_path / "out"
    proc = roadwatch("analyze", str(folder), "--output", str(out), "--model", str(model_path), "--device", "cpu")
    assert proc.returncode == 0, proc.stderr
    warnings = [line for line in proc.stderr.splitlines() if "notes.txt" in line]
    assert len(warnings) == 1 and warnings[0].startswith("roadwatch: warning:") and "skipped" in warnings[0]
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == ["city40"]
    outputs_are_whole(out / "city40", city_clip)
    top = json.loads((out / "summary.json").read_text())
    assert [item["path"] for item in top["skipped"]] == [str(folder / "notes.txt")]


def test_files_named_with_dots_stay_inside_the_output_folder(tmp_path, model_path, city_clip):
    """`...mp4` once had the stream id `..` (its outputs went to the parent of --output) and `..mp4` was a
    traceback."""
    footage, run = tmp_path / "footage", tmp_path / "run"
    footage.mkdir()
    run.mkdir()
    for name in ("...mp4", "..mp4"):
        shutil.copy(city_clip, footage / name)
    out = run / "out"
    proc = roadwatch("analyze", str(footage / "...mp4"), str(footage / "..mp4"), "--output", str(out),
                     "--model", str(model_path), "--device", "cpu")
    assert proc.returncode == 0, proc.stderr
    assert [p.name for p in run.iterdir()] == ["out"]
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == ["src0", "src1"]
    outputs_are_whole(out / "src0", city_clip)


def test_nothing_readable_is_one_line_and_exit_2(tmp_path):
    (tmp_path / "notes.txt").write_text("not a video\n")
    proc = roadwatch(
        "analyze", str(tmp_path / "notes.txt"), str(tmp_path / "missing.mp4"), "--output", str(tmp_path / "o")
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith("roadwatch: error: no readable video among the inputs")
    assert "Traceback" not in proc.stderr


def test_an_interrupted_analysis_leaves_playable_outputs_and_a_report(tmp_path, model_path):
    out = tmp_path / "out"
    later = tmp_path / "later.mp4"  # a second input, one at a time: it is still waiting its turn at the stop
    shutil.copy(require(CITY), later)
    proc = spawn_roadwatch(
        "analyze", str(require(CITY)), str(later), "--output", str(out), "--model", str(model_path), "--device", "cpu",
        "--parallel", "1",
    )
    log = out / CITY.stem / "events.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (log.exists() and log.stat().st_size > 2000):
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 0, stderr
    folder = out / CITY.stem
    summary = json.loads((folder / "summary.json").read_text())
    frames = summary["streams"][CITY.stem]["frames"]
    assert 0 < frames < 1190
    assert count_frames(folder / "annotated.mp4") == frames
    assert_tracks_closed(read_jsonl(folder / "events.jsonl"))
    assert "Objects per category over time" in (folder / "report.html").read_text()
    waiting = json.loads((out / "later" / "summary.json").read_text())["streams"]["later"]
    assert waiting["frames"] == 0 and waiting["status"] == "stopped"
    assert (out / "later" / "events.jsonl").read_bytes() == b"" and (out / "later" / "report.html").is_file()
    assert not (out / "later" / "annotated.mp4").exists()


PLAYS = """(() => {
  const v = document.querySelector('video');
  if (!v) return 'no video element';
  if (v.error) return 'error ' + v.error.code;
  if (v.paused) { v.muted = true; v.play(); }
  return [v.readyState, v.currentTime, v.videoWidth];
})()"""


def plays_in(browser, url: str) -> list:
    """Opens `url`, plays its first <video> muted; its [readyState, currentTime, videoWidth] once half a second
    has played (fails the test on a media error, or if it never does)."""
    browser.open(url)
    state: dict = {}

    def playing() -> bool:
        state["now"] = browser.evaluate(PLAYS)
        assert not isinstance(state["now"], str) or state["now"] == "no video element", state["now"]
        return isinstance(state["now"], list) and state["now"][0] >= 2 and state["now"][1] > 0.5

    wait_until(playing, 30, f"{url} to play")
    return state["now"]


def test_the_annotated_video_and_the_reports_embedded_one_play_in_headless_chromium(dashcam, tmp_path):
    """H.264 in MP4 with its index at the front: Chromium decodes it, alone and inside the report."""
    from support.browser import Browser

    _, folder = dashcam
    video = folder / "annotated.mp4"
    head = video.read_bytes()[:65536]
    assert head[4:8] == b"ftyp" and b"moov" in head, "the index (moov) is at the front: it plays while it downloads"
    for n, url in enumerate((video.resolve().as_uri(), (folder / "report.html").resolve().as_uri())):
        with Browser(tmp_path / f"chromium-{n}") as browser:
            assert plays_in(browser, url)[2] == 640, "its frames decode at the clip's size"


def test_every_track_that_ended_has_its_best_picture_saved(dashcam):
    _, folder = dashcam
    ended = [e for e in read_jsonl(folder / "events.jsonl") if e["type"] == "track.ended"]
    assert ended and all("snapshot" in e and "snapshot_frame" in e for e in ended)
    frame_size = (360, 640)
    for e in ended:
        crop, whole = cv2.imread(str(folder / e["snapshot"])), cv2.imread(str(folder / e["snapshot_frame"]))
        assert crop is not None and whole is not None, e["snapshot"]
        assert whole.shape[:2] == frame_size
        assert crop.shape[0] * crop.shape[1] < 0.8 * frame_size[0] * frame_size[1], "a crop, not the frame"
        drawn = cv2.inRange(whole, (0, 190, 225), (40, 250, 255))  # the box, drawn in (0, 220, 255)
        assert drawn.sum() > 0, f"{e['snapshot_frame']} has no box drawn"
    assert not list(folder.rglob("*.tmp")), "no half-written picture left behind"


def test_analyze_cuts_a_clip_per_event_from_the_files_own_packets(dashcam):
    """Each clip is the file's own packets from the keyframe at or before its first trigger less pre_capture_s
    (5 s) to post_capture_s (5 s) after its last: its frames decode to exactly the file's pixels there."""
    import av
    import numpy as np

    _, folder = dashcam
    events = read_jsonl(folder / "events.jsonl")
    by_id = {e["event_id"]: e for e in events}
    clips = [e for e in events if e["type"] == "clip.saved"]
    assert clips and all(e["closed"] == "complete" for e in clips)
    with av.open(str(DASHCAM)) as source:
        stream = source.streams.video[0]
        keyframe_times = [float(p.pts * stream.time_base) for p in source.demux(stream) if p.is_keyframe]
        source.seek(0)
        source_frames = {round(float(f.time), 3): f.to_ndarray(format="bgr24") for f in source.decode(stream)}
    duration = max(source_frames)
    covered = set()
    for clip in clips:
        triggers = [by_id[i] for i in clip["event_ids"]]
        assert triggers and all(t["type"] == "track.started" for t in triggers)
        first, last = min(t["pts"] for t in triggers), max(t["pts"] for t in triggers)
        start = max(k for k in keyframe_times if k <= max(0.0, first - 5.0) + 1e-6)
        assert clip["start_pts"] == pytest.approx(start, abs=0.002)
        assert clip["end_pts"] >= min(last + 5.0, duration) - 0.002
        assert "report" not in clip["path"] and (folder / clip["path"]).parent == folder / "clips"
        with av.open(str(folder / clip["path"])) as cut:
            frames = list(cut.decode(cut.streams.video[0]))
        assert len(frames) == clip["packets"]
        first_frame = source_frames[round(clip["start_pts"], 3)]
        assert np.array_equal(frames[0].to_ndarray(format="bgr24"), first_frame), "not the file's own pixels"
        covered |= set(clip["event_ids"])
    started = {e["event_id"] for e in events if e["type"] == "track.started"}
    assert covered == started  # every trigger is in a clip, each in one
    assert "<h2>Clips</h2>" in (folder / "report.html").read_text()
