"""Changing a running pipeline's sources: reloads with changed uris, ids removed and re-added, and many
add/remove cycles, on a real detector with live replay cameras."""

from __future__ import annotations

import gc

import psutil
import pytest

from roadwatch.config import Config, SourceConfig
from roadwatch.pipeline import Pipeline
from roadwatch.pipeline.detect_plan import StreamRate
from roadwatch.streams import SourceSpec

from support.helpers import CITY, TRUCKS_DAMAGED, require, wait_until
from support.running import Running


@pytest.fixture(scope="module")
def small_detector(model_path):
    """The real model at 160 px: these tests are about the roster of sources, not about what is detected."""
    from roadwatch.detector import DEFAULT_CATEGORIES, CategoryMap
    from roadwatch.detector.yolo import YoloDetector

    return YoloDetector(str(model_path), CategoryMap(DEFAULT_CATEGORIES), device="cpu", imgsz=160)



def replay(clip) -> str:
    return f"replay:{require(clip)}"


def make_pipeline(tmp_path, detector, sources: dict[str, str]) -> Pipeline:
    cfg = Config.model_validate({"output": {"dir": str(tmp_path), "video": False}})
    specs = [SourceSpec.from_uri(uri, sid) for sid, uri in sources.items()]
    return Pipeline(cfg, specs, {}, detector, None, tmp_path)


def frames_of(pipeline: Pipeline, sid: str) -> int:
    state = pipeline.streams.get(sid)
    return state.frames if state is not None and not state.finished else 0


def test_a_reload_that_changes_a_uri_restarts_that_stream_and_an_id_can_come_back(tmp_path, small_detector):
    pipeline = make_pipeline(tmp_path, small_detector, {"cam": replay(CITY), "other": replay(CITY)})
    wanted = {"cam": replay(CITY), "other": replay(CITY)}
    pipeline.reload_sources_hook = lambda: [SourceConfig(uri=uri, id=sid) for sid, uri in wanted.items()]
    running = Running(pipeline)
    try:
        wait_until(lambda: frames_of(pipeline, "cam") > 3, 60, "frames from the first camera")
        first_capture = pipeline.streams["cam"].capture
        wanted["cam"] = replay(TRUCKS_DAMAGED)  # a changed uri: that stream restarts, from the new one
        pipeline.request_reload()
        wait_until(lambda: "cam" in pipeline.streams and pipeline.streams["cam"].capture is not first_capture
                   and frames_of(pipeline, "cam") > 3, 60, "the camera to restart on its new uri")
        assert pipeline.streams["cam"].spec.uri == replay(TRUCKS_DAMAGED)
        del wanted["other"]  # removed by one reload, back with the next
        pipeline.request_reload()
        wait_until(lambda: frames_of(pipeline, "other") == 0, 30, "the other camera to be removed")
        wanted["other"] = replay(CITY)
        pipeline.request_reload()
        wait_until(lambda: frames_of(pipeline, "other") > 3, 60, "the other camera to come back")
        assert running.alive()
    finally:
        summary = running.end()
    assert summary["streams"]["cam"]["source"] == replay(TRUCKS_DAMAGED)
    assert summary["streams"]["other"]["status"] == "stopped"


def test_150_add_remove_cycles_leave_memory_flat_and_forget_the_removed_streams(tmp_path, small_detector):
    pipeline = make_pipeline(tmp_path, small_detector, {"steady": replay(CITY)})
    running = Running(pipeline)
    process = psutil.Process()

    def cycle(i: int) -> None:
        sid = pipeline.add_source(replay(CITY), f"visitor{i}")
        wait_until(lambda: frames_of(pipeline, sid) > 0, 30, f"a frame from {sid}")
        pipeline.remove_source(sid)
        wait_until(lambda: sid not in pipeline.streams, 30, f"{sid} to be forgotten")

    try:
        for i in range(30):  # warm-up: allocator pools, tracker arrays, thread stacks
            cycle(i)
        gc.collect()
        rss_before = process.memory_info().rss
        for i in range(30, 150):
            cycle(i)
        gc.collect()
        grown = process.memory_info().rss - rss_before
        assert running.alive()
        assert set(pipeline.streams) == {"steady"}
        assert frames_of(pipeline, "steady") > 0
    finally:
        summary = running.end()
    assert grown < 40 * 2**20, f"memory grew by {grown / 2**20:.0f} MB over 120 add/remove cycles"
    assert summary["streams"]["visitor149"]["status"] == "stopped"  # the run's record keeps every stream


def test_a_reload_that_changes_a_sources_schedule_applies_it_without_restarting_the_camera(tmp_path, small_detector):
    """A live camera starts at the default (5 detections a second, gated); the config file then says every frame,
    ungated: after the reload every frame it processes goes through the detector, on the same capture."""
    pipeline = make_pipeline(tmp_path, small_detector, {"cam": replay(CITY)})
    pipeline.reload_sources_hook = lambda: [SourceConfig(uri=replay(CITY), id="cam", every_frame=True, motion=False)]
    running = Running(pipeline)
    state = pipeline.streams["cam"]
    try:
        wait_until(lambda: state.frames >= 50, 60, "50 frames at the default rate")
        assert state.detected < state.frames * 0.6  # 5 a second of a 25 frames/s camera, early ones at most 10
        capture = state.capture
        pipeline.request_reload()
        wait_until(lambda: pipeline.planner.rate_of("cam") == StreamRate(None, False), 30, "the new schedule")
        # the batch the detection thread planned before the reload may still arrive: measure after it
        wait_until(lambda: state.frames >= 70, 60, "frames after the reload")
        frames, detected = state.frames, state.detected
        wait_until(lambda: state.frames >= frames + 30, 60, "30 more frames")
        assert state.detected - detected == state.frames - frames  # every one of them detected
        assert pipeline.streams["cam"] is state and state.capture is capture  # not restarted
        assert not state.tracks_every_frame  # every frame detected: a live camera's batches take the newest again
    finally:
        running.end()
