"""Capture in a process per source (`streams.capture: process`): real clips, real child processes, real shared
memory."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from roadwatch.streams import CaptureProcess, SourceSpec, StreamManager, StreamStatus

from support.helpers import HIGHWAY, TRUCKS_DAMAGED, require


def shm_names() -> set[str]:
    return {p.name for p in Path("/dev/shm").iterdir()} if Path("/dev/shm").is_dir() else set()


def read_all(capture, timeout_s: float = 60.0) -> list:
    """Every frame of a file capture until its buffer is exhausted: (index, pts, md5 of the pixels, shape)."""
    got = []
    deadline = time.monotonic() + timeout_s
    while not capture.buffer.exhausted:
        assert time.monotonic() < deadline, "the capture never ended"
        frame = capture.buffer.get(timeout=1.0)
        if frame is not None:
            got.append((frame.index, frame.pts, hashlib.md5(frame.image.tobytes()).hexdigest(), frame.image.shape))
    return got


def run_file(uri: str, mode: str, **kwargs):
    changes = []
    manager = StreamManager(file_capacity=8, capture=mode, on_status=changes.append, **kwargs)
    capture = manager.add(SourceSpec.from_uri(uri, "s"))
    try:
        frames = read_all(capture)
        capture.join(10)
    finally:
        manager.stop_all()
    return capture, frames, [c.status for c in changes]


def test_a_file_read_in_a_process_gives_every_frame_exactly_as_a_thread_does():
    clip = str(require(HIGHWAY))  # 720p: 2.7 MB frames through the shared slots
    before = shm_names()
    thread, by_thread, _ = run_file(clip, "thread")
    process, by_process, statuses = run_file(clip, "process")
    assert isinstance(process, CaptureProcess)
    assert len(by_process) == 268 and by_process == by_thread  # same frames, order, timestamps, pixels
    assert statuses == [StreamStatus.UP, StreamStatus.ENDED]
    assert process.status is StreamStatus.ENDED and process.frames_read == 268
    assert process.info == thread.info
    assert process.process is not None and process.process.returncode == 0  # the child ended by itself
    assert shm_names() == before, "a shared-memory segment was left in /dev/shm"


def test_a_truncated_file_ends_at_its_last_good_frame_with_the_same_warning():
    clip = str(require(TRUCKS_DAMAGED))
    thread, by_thread, _ = run_file(clip, "thread")
    process, by_process, _ = run_file(clip, "process")
    assert by_process == by_thread and len(by_process) == 49
    assert process.warning == thread.warning and "ended at frame 49 of 50" in process.warning


def test_a_missing_file_fails_with_the_same_one_line_error(tmp_path):
    missing = str(tmp_path / "nope.mp4")
    thread, _, _ = run_file(missing, "thread")
    process, frames, statuses = run_file(missing, "process")
    assert frames == [] and statuses == [StreamStatus.FAILED]
    assert process.status is StreamStatus.FAILED and process.error == thread.error and "\n" not in process.error


def test_frames_that_grow_mid_stream_get_new_slots_and_stay_exact(tmp_path):
    """An image folder mixing sizes: a frame larger than the slots makes the child map a bigger segment."""
    rng = np.random.default_rng(0)
    sizes = [(120, 160), (120, 160), (480, 640), (90, 100), (720, 1280), (120, 160)]
    images = [rng.integers(0, 255, (h, w, 3), dtype=np.uint8) for h, w in sizes]
    for i, image in enumerate(images):
        cv2.imwrite(str(tmp_path / f"{i:02d}.png"), image)
    before = shm_names()
    capture, frames, _ = run_file(str(tmp_path), "process")
    assert [f[3] for f in frames] == [image.shape for image in images]
    assert [f[2] for f in frames] == [hashlib.md5(image.tobytes()).hexdigest() for image in images]
    assert capture.status is StreamStatus.ENDED
    assert shm_names() == before


def test_a_capture_process_that_dies_is_reported_failed_and_its_stream_ends(city_clip, monkeypatch):
    # The dead child is reaped slowly, as on a loaded machine; the consumer, seeing the stream end, stops it
    # at once (as the pipeline does): its death must still be what is reported, not "stopped".
    reap = CaptureProcess._end_child
    monkeypatch.setattr(CaptureProcess, "_end_child", lambda self, closed: (time.sleep(0.3), reap(self, closed)))
    changes = []
    manager = StreamManager(file_capacity=2, capture="process", on_status=changes.append)
    capture = manager.add(SourceSpec.from_uri(str(city_clip), "s"))
    try:
        assert capture.buffer.get(timeout=15) is not None  # running, and waiting on the full buffer
        os.kill(capture.process.pid, signal.SIGKILL)
        t0 = time.monotonic()
        while not capture.buffer.exhausted:
            capture.buffer.poll()
            assert time.monotonic() - t0 < 10, "the stream never ended after its process died"
            time.sleep(0.01)
    finally:
        manager.stop_all()
    assert capture.status is StreamStatus.FAILED
    assert "capture process exited unexpectedly (exit code -9)" in capture.error
    assert changes[-1].status is StreamStatus.FAILED


def test_stop_ends_the_child_promptly_and_leaves_nothing_behind(city_clip):
    before = shm_names()
    manager = StreamManager(file_capacity=2, capture="process")
    capture = manager.add(SourceSpec.from_uri(str(city_clip), "s"))
    assert capture.buffer.get(timeout=15) is not None  # the child now waits for room in the full buffer
    t0 = time.monotonic()
    manager.remove("s")
    assert time.monotonic() - t0 < 5
    assert not capture.is_alive() and capture.process.returncode == 0  # it ended itself, on request
    assert capture.status is StreamStatus.STOPPED
    assert shm_names() == before


def alive(pid: int) -> bool:
    """Running (a zombie nobody has reaped yet counts as gone: it decodes nothing and holds no memory)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_capture_processes_end_when_the_pipeline_process_is_killed(city_clip, tmp_path):
    """A roadwatch killed outright (the OOM killer, kill -9) must not leave its decoders running for ever."""
    script = tmp_path / "parent.py"
    script.write_text(
        "import sys, time\n"
        "from roadwatch.streams import SourceSpec, StreamManager\n"
        "manager = StreamManager(file_capacity=2, capture='process')\n"
        f"captures = [manager.add(SourceSpec.from_uri({str(city_clip)!r}, f's{{i}}')) for i in range(2)]\n"
        "deadline = time.monotonic() + 30  # both decoding, then their buffers fill\n"
        "while any(c.buffer.get(timeout=1) is None for c in captures) and time.monotonic() < deadline: pass\n"
        "print(*(c.process.pid for c in captures), flush=True)\n"
        "time.sleep(120)\n"
    )
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    children: list[int] = []
    try:
        children += [int(pid) for pid in parent.stdout.readline().split()]
        assert len(children) == 2 and all(alive(pid) for pid in children)
        parent.kill()
        parent.wait(10)
        deadline = time.monotonic() + 10
        while any(alive(pid) for pid in children):
            assert time.monotonic() < deadline, "a capture process outlived the pipeline's process"
            time.sleep(0.05)
    finally:
        parent.kill()
        for pid in children:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


def test_a_stop_before_start_reports_stopped():
    capture = StreamManager(capture="process").add(SourceSpec.from_uri("missing.mp4", "s"), start=False)
    capture.stop()
    assert capture.status is StreamStatus.STOPPED and capture.buffer.exhausted


def test_an_unknown_capture_mode_is_refused():
    with pytest.raises(ValueError, match="capture must be 'auto', 'thread' or 'process'"):
        StreamManager(capture="fork")  # type: ignore[arg-type]


def test_the_pipeline_captures_in_processes_when_configured(tmp_path, model_path, city_clip):
    from roadwatch.config import Config
    from roadwatch.detector import DEFAULT_CATEGORIES, CategoryMap
    from roadwatch.detector.yolo import YoloDetector
    from roadwatch.pipeline import Pipeline
    from roadwatch.streams import probe

    config = Config()
    config.streams.capture = "process"
    config.output.video = False
    detector = YoloDetector(str(model_path), CategoryMap(DEFAULT_CATEGORIES), device="cpu")
    spec = SourceSpec.from_uri(str(city_clip), "city")
    pipeline = Pipeline(config, [spec], {"city": probe(spec)}, detector, None, tmp_path)
    capture = pipeline.streams["city"].capture
    assert isinstance(capture, CaptureProcess)
    summary = pipeline.run(threading.Event())
    assert summary["streams"]["city"]["frames"] == 40 and summary["streams"]["city"]["status"] == "ended"
    assert capture.process.returncode == 0


@pytest.mark.parametrize("mode", ["thread", "process"])
def test_frames_land_in_arrays_from_the_given_allocator(mode):
    """The pipeline passes the detector's allocator (pinned memory on CUDA): every frame must be one of its
    arrays, with the pixels a plain read gives."""
    clip = str(require(TRUCKS_DAMAGED))
    given: list[int] = []

    def allocate(shape):
        array = np.empty(shape, np.uint8)
        given.append(id(array))
        keep.append(array)  # ids stay unique while the test runs
        return array

    keep: list[np.ndarray] = []
    manager = StreamManager(file_capacity=8, capture=mode, allocate=allocate)
    capture = manager.add(SourceSpec.from_uri(clip, "s"))
    frames = []
    while not capture.buffer.exhausted:
        frame = capture.buffer.get(timeout=1.0)
        if frame is not None:
            frames.append(frame)
    manager.stop_all()
    _, plain, _ = run_file(clip, "thread")
    assert [hashlib.md5(f.image.tobytes()).hexdigest() for f in frames] == [p[2] for p in plain]
    assert all(id(f.image) in given for f in frames)


def test_the_child_decodes_each_frame_straight_into_its_shared_slot():
    """No copy in the capture process: the decoder writes into the slot the parent copies from. Here the
    child's side runs in this process (a real CaptureThread, real shared memory), the parent's is a loop."""
    import queue

    from roadwatch.streams.capture import CaptureThread
    from roadwatch.streams.capture_child import SlotWriter
    from roadwatch.streams.frame_slots import FrameSlots

    clip = str(require(HIGHWAY))
    _, by_thread, _ = run_file(clip, "thread")
    messages: queue.SimpleQueue = queue.SimpleQueue()
    writer = SlotWriter(messages.put, slots=4, live=False)
    capture = CaptureThread(SourceSpec.from_uri(clip, "s"), writer, allocate=writer.allocate)  # type: ignore[arg-type]
    capture.start()
    segments: dict[int, FrameSlots] = {}
    got = []
    while capture.is_alive() or not messages.empty():
        try:
            message = messages.get(timeout=0.1)
        except queue.Empty:
            continue
        if message[0] == "segment":
            _, generation, name, count, nbytes = message
            segments[generation] = FrameSlots.attach(name, count, nbytes)
        elif message[0] == "frame":
            _, generation, slot, shape, index, pts = message[:6]
            image = segments[generation].view(slot, shape)
            got.append((index, pts, hashlib.md5(image.tobytes()).hexdigest(), shape))
            del image
            writer.release(generation, slot)  # as the parent does once it has copied the frame out
    capture.join(10)
    writer.unmap()
    for segment in segments.values():
        segment.close()
    assert got == by_thread  # every frame, exact
    assert writer.decoded_in_place == capture.frames_read == 268  # and not one copied in the child
