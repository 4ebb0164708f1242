"""Sources and capture threads on real files."""

import random
import threading
import time

import cv2
import numpy as np
import pytest

from roadwatch.streams import (
    BufferPolicy,
    CaptureThread,
    ReconnectPolicy,
    SourceError,
    SourceKind,
    SourceSpec,
    StreamStatus,
    buffer_for,
    classify,
    probe,
)

from support.helpers import CROWD_TRUNCATED, TRUCKS_DAMAGED, count_frames, require


@pytest.mark.parametrize(
    "uri, kind",
    [
        ("0", SourceKind.CAMERA), ("rtsp://cam/stream", SourceKind.URL), ("https://x/y.m3u8", SourceKind.URL),
        ("clip.mp4", SourceKind.FILE), ("file://clip.mp4", SourceKind.FILE), ("frames/*.jpg", SourceKind.FOLDER),
        ("replay:clip.mp4", SourceKind.REPLAY),
    ],
)
def test_classify(uri, kind):
    assert classify(uri) == kind


def test_probe_rejects_missing_and_non_video_files(tmp_path):
    with pytest.raises(SourceError, match="no such file"):
        probe(SourceSpec.from_uri(str(tmp_path / "missing.mp4"), "a"))
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video\n" * 100)
    with pytest.raises(SourceError, match="not a video file"):
        probe(SourceSpec.from_uri(str(text), "b"))


def drain(spec: SourceSpec, capacity: int = 4):
    buffer = buffer_for(spec, live_capacity=capacity, file_capacity=capacity)
    capture = CaptureThread(spec, buffer)
    capture.start()
    frames = []
    while (frame := buffer.get(timeout=10)) is not None:
        frames.append(frame)
    capture.join(5)
    return capture, frames


def test_file_source_delivers_every_frame_once_in_order(city_clip):
    capture, frames = drain(SourceSpec.from_uri(str(city_clip), "city"))
    assert capture.status is StreamStatus.ENDED and capture.warning is None
    assert [f.index for f in frames] == list(range(count_frames(city_clip)))
    pts = [f.pts for f in frames]
    assert pts == sorted(pts) and pts[1] == pytest.approx(1 / 25, abs=1e-3)
    assert all(f.dropped == 0 and f.stream_id == "city" for f in frames)
    assert capture.buffer.policy is BufferPolicy.BLOCK


@pytest.mark.parametrize("damaged", [TRUCKS_DAMAGED, CROWD_TRUNCATED], ids=["undecodable-last-frame", "truncated"])
def test_damaged_file_ends_at_its_last_good_frame_with_a_warning(damaged):
    require(damaged)
    capture, frames = drain(SourceSpec.from_uri(str(damaged), "d"))
    assert capture.status is StreamStatus.ENDED
    assert len(frames) == count_frames(damaged) > 0
    assert "truncated or damaged" in capture.warning


def test_image_folder_source(tmp_path):
    for i in range(3):
        cv2.imwrite(str(tmp_path / f"{i:03d}.png"), np.full((24, 32, 3), i * 40, np.uint8))
    (tmp_path / "readme.txt").write_text("not an image")
    capture, frames = drain(SourceSpec.from_uri(str(tmp_path), "imgs"))
    assert capture.status is StreamStatus.ENDED
    assert [int(f.image[0, 0, 0]) for f in frames] == [0, 40, 80]


def png(width: int, height: int, rows: int | None = None) -> bytes:
    """A grey PNG claiming width x height, with `rows` rows of data (all of them by default): written row by row,
    so a bomb costs a few MB here, not its decoded size."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    packer, row = zlib.compressobj(9), b"\x00" * (width + 1)
    data = b"".join(packer.compress(row) for _ in range(height if rows is None else rows)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")


def test_image_folders_skip_unreadable_and_oversized_images_anywhere_before_decoding_them(tmp_path, caplog):
    """Red team: a zero-byte first image rejected the folder, a header claiming 60000x60000 ended it after 4
    frames, 20000x20000 PNG bombs of 389 KB each peaked at 6.7 GB."""
    (tmp_path / "000.png").write_bytes(b"")
    cv2.imwrite(str(tmp_path / "001.png"), np.full((24, 32, 3), 40, np.uint8))
    (tmp_path / "002.png").write_bytes(png(60000, 60000, rows=4))
    (tmp_path / "003.png").write_bytes(png(8000, 8000))  # 64 MP: a whole, valid image over the 50 MP limit
    (tmp_path / "004.png").write_bytes(b"\x89PNG\r\n\x1a\n damaged")
    cv2.imwrite(str(tmp_path / "005.png"), np.full((24, 32, 3), 80, np.uint8))
    with caplog.at_level("WARNING"):
        capture, frames = drain(SourceSpec.from_uri(str(tmp_path), "imgs"))
    assert capture.status is StreamStatus.ENDED
    assert [int(f.image[0, 0, 0]) for f in frames] == [40, 80]
    warned = [r.getMessage() for r in caplog.records if "skipped image" in r.getMessage()]
    assert [w.split("skipped image '")[1].split("'")[0][-7:] for w in warned] == [
        "000.png", "002.png", "003.png", "004.png"]
    assert "60000x60000 is over streams.max_image_pixels" in warned[1]
    assert "8000x8000 is over streams.max_image_pixels (50000000)" in warned[2]


def test_stop_ends_a_blocked_file_reader_promptly(city_clip):
    spec = SourceSpec.from_uri(str(city_clip), "city")
    buffer = buffer_for(spec, 2, 2)
    capture = CaptureThread(spec, buffer)
    before = threading.active_count()
    capture.start()
    buffer.get(timeout=5)  # the reader is now blocked on a full buffer
    capture.stop()
    capture.join(2)
    assert not capture.is_alive()
    assert capture.status is StreamStatus.STOPPED
    assert threading.active_count() == before


def test_a_replayed_file_is_a_live_camera_paced_at_its_frame_rate_and_looping(city_clip):
    """40 frames at 25 fps, read for 2.4 s: about 60 frames (so it looped), never faster than real time,
    and through a drop-oldest buffer like any camera."""
    import time

    spec = SourceSpec.from_uri(f"replay:{city_clip}", "cam")
    assert spec.live
    buffer = buffer_for(spec, live_capacity=4, file_capacity=4)
    assert buffer.policy is BufferPolicy.DROP_OLDEST
    capture = CaptureThread(spec, buffer)
    capture.start()
    got, t0 = [], time.monotonic()
    while time.monotonic() - t0 < 2.4:
        frame = buffer.get(timeout=1)
        if frame is not None:
            got.append(frame)
    capture.stop()
    capture.join(5)
    assert 50 <= len(got) <= 62  # 25 fps for 2.4 s is 60
    assert capture.frames_read > count_frames(city_clip)  # past the end: it looped
    pts = [f.pts for f in got]
    assert all(b > a for a, b in zip(pts, pts[1:]))  # live media time keeps increasing across the loop
    assert capture.status is StreamStatus.STOPPED


def test_replaying_a_missing_file_is_reported(tmp_path):
    spec = SourceSpec.from_uri(f"replay:{tmp_path / 'nope.mp4'}", "cam")
    buffer = buffer_for(spec, live_capacity=4, file_capacity=4)
    capture = CaptureThread(spec, buffer, ReconnectPolicy(max_retries=0))
    capture.start()
    capture.join(10)
    assert capture.status is StreamStatus.FAILED
    assert "no such file to replay" in capture.error


def test_a_source_down_for_a_night_keeps_retrying_past_attempt_1024(tmp_path):
    """With max_retries unset a live source retries forever: 2.0**1024 once overflowed at about 8 hours down."""
    spec = SourceSpec.from_uri(f"replay:{tmp_path / 'camera-not-there-yet.mp4'}", "cam")
    policy = ReconnectPolicy(base_s=1e-4, cap_s=1e-4)
    assert policy.delay(10**6, random.Random()) <= 1e-4
    capture = CaptureThread(spec, buffer_for(spec, live_capacity=4, file_capacity=4), policy)
    capture.start()
    try:
        deadline = time.monotonic() + 60
        while capture.failed_opens < 1100 and capture.is_alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert capture.failed_opens >= 1100 and capture.is_alive()
        assert capture.status is StreamStatus.DOWN and "no such file to replay" in capture.error
    finally:
        capture.stop()
        capture.join(10)
    assert capture.status is StreamStatus.STOPPED


def test_decode_threads_caps_ffmpeg_and_every_frame_still_arrives(city_clip):
    spec = SourceSpec.from_uri(str(city_clip), "a")
    buffer = buffer_for(spec, live_capacity=4, file_capacity=8)
    capture = CaptureThread(spec, buffer, decode_threads=1)
    reader = capture._open()
    assert reader._cap.get(cv2.CAP_PROP_N_THREADS) == 1
    reader.close()
    capture.start()
    frames = []
    while (frame := buffer.get(timeout=10)) is not None:
        frames.append(frame.index)
    capture.join(5)
    assert frames == list(range(count_frames(city_clip)))
