"""Many files at once: each reads fewer frames ahead, at most streams.max_open_files decode at once, none is lost."""

from __future__ import annotations

import threading

from roadwatch.pipeline import file_read_ahead

from support.helpers import CITY, cut_clip, require


def test_read_ahead_per_file_shrinks_with_the_number_of_files_but_not_below_four():
    assert file_read_ahead(64, 8, 1) == 64  # one file: as configured
    assert file_read_ahead(64, 64, 2) == 64
    assert file_read_ahead(64, 8, 16) == 4  # 64 frames in all
    assert file_read_ahead(64, 64, 8) == 16  # two batches of 64 in all
    assert file_read_ahead(64, 64, 64) == 4  # never under 4: 256 in all, not 4,096
    assert file_read_ahead(8, 64, 2) == 8  # never over what is configured


def test_sixteen_files_at_once_hold_four_frames_each_and_lose_none(tmp_path, model_path):
    from roadwatch.config import Config
    from roadwatch.detector import DEFAULT_CATEGORIES, CategoryMap
    from roadwatch.detector.yolo import YoloDetector
    from roadwatch.pipeline import Pipeline
    from roadwatch.streams import SourceSpec, probe

    clip = cut_clip(require(CITY), tmp_path / "city12.mp4", 12)
    config = Config.model_validate({"output": {"dir": str(tmp_path), "video": False}, "detector": {"imgsz": 160}})
    specs = [SourceSpec.from_uri(str(clip), f"f{i}") for i in range(16)]
    detector = YoloDetector(str(model_path), CategoryMap(DEFAULT_CATEGORIES), device="cpu", imgsz=160)
    pipeline = Pipeline(config, specs, {s.stream_id: probe(s) for s in specs}, detector, None, tmp_path)
    summary = pipeline.run(threading.Event())
    buffers = [state.capture.buffer for state in pipeline.streams.values()]
    assert {b.capacity for b in buffers} == {4}  # 64 frames in all (streams.file_buffer), not 16 x 64
    assert max(b.high_water for b in buffers) <= 4
    assert [s["frames"] for s in summary["streams"].values()] == [12] * 16  # files lose no frame
    assert all(s["status"] == "ended" for s in summary["streams"].values())


def test_files_beyond_max_open_files_wait_their_turn_and_every_one_is_processed(tmp_path, model_path):
    import json
    import time

    from roadwatch.config import Config
    from roadwatch.detector import DEFAULT_CATEGORIES, CategoryMap
    from roadwatch.detector.yolo import YoloDetector
    from roadwatch.pipeline import Pipeline
    from roadwatch.streams import SourceSpec, probe

    clip = cut_clip(require(CITY), tmp_path / "city12.mp4", 12)
    config = Config.model_validate(
        {"output": {"dir": str(tmp_path), "video": False}, "detector": {"imgsz": 160}, "streams": {"max_open_files": 2}}
    )
    specs = [SourceSpec.from_uri(str(clip), f"f{i}") for i in range(6)]
    detector = YoloDetector(str(model_path), CategoryMap(DEFAULT_CATEGORIES), device="cpu", imgsz=160)
    pipeline = Pipeline(config, specs, {s.stream_id: probe(s) for s in specs}, detector, None, tmp_path)
    decoding: list[int] = []  # how many files were being decoded, sampled while the pipeline runs
    polled: list[int] = []  # how many buffers the batcher polls
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            decoding.append(sum(state.capture.is_alive() for state in pipeline.streams.values()))
            polled.append(len(pipeline.batcher))
            time.sleep(0.002)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        summary = pipeline.run(threading.Event())
    finally:
        done.set()
        sampler.join()
    assert max(decoding) == 2  # never more than max_open_files at once, and that many used
    assert max(polled) <= 3  # the two running files and one stand-in for those waiting, never all six
    assert [s["frames"] for s in summary["streams"].values()] == [12] * 6  # every file, every frame
    assert all(s["status"] == "ended" for s in summary["streams"].values())
    events = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    ups = [e["stream_id"] for e in events if e["type"] == "stream.up"]
    assert sorted(ups) == [f"f{i}" for i in range(6)] and set(ups[:2]) == {"f0", "f1"}  # in the order given
