"""Live sources against a real RTSP server on loopback: outages, reconnects, bad addresses, slow consumers."""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import threading
import time
from pathlib import Path

import cv2
import psutil
import pytest

from roadwatch.config import SourceConfig
from roadwatch.streams import PacketRing, ReconnectPolicy, SourceSpec, StreamManager, StreamStatus, open_reader

from support.helpers import CITY, VIDEOS, assert_valid_events, count_frames, free_endpoint, require, wait_until
from support.rtsp import MjpegServer, RtspServer, unavailable_reason
from support.running import Running

FAST_RETRY = ReconnectPolicy(base_s=0.2, cap_s=1.0, open_timeout_s=2.0, stall_timeout_s=2.0)
CAPTURES = ["thread", "process", "pyav"]  # pyav: the reader of cameras with clips on (their packets kept too)


def manager_for(capture: str, **kwargs) -> StreamManager:
    return StreamManager(capture="thread" if capture == "pyav" else capture, **kwargs)


def add_camera(manager: StreamManager, spec: SourceSpec, capture: str):
    """The camera read as `capture` says; with pyav, through PyAV with a packet ring beside decoding."""
    return manager.add(spec, packets=PacketRing(5.0, 64 << 20) if capture == "pyav" else None)


@pytest.fixture(scope="module")
def rtsp_ok():
    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)


@pytest.fixture
def servers(rtsp_ok):
    started: list[RtspServer] = []

    def start(clip: Path) -> RtspServer:
        server = RtspServer(require(clip)).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.kill()



def open_sockets() -> int:
    fds = Path("/proc/self/fd")
    count = 0
    for fd in fds.iterdir():
        try:
            count += os.readlink(fd).startswith("socket:")
        except OSError:
            pass
    return count


def read_events(path: Path) -> list[dict]:
    """The complete lines of an events.jsonl, which may be read while the pipeline writes it: like any reader
    tailing a file being appended, this can meet a last line not yet whole (a write buffer's worth reaches
    the file before the batch's flush), and leaves it for the next read."""
    if not path.exists():
        return []
    lines = path.read_bytes().split(b"\n")[:-1]  # what follows the last newline is not whole yet
    return [json.loads(line) for line in lines if line.strip()]


@pytest.fixture(scope="module")
def cpu_detector(model_path):
    from roadwatch.detector import DEFAULT_CATEGORIES, CategoryMap
    from roadwatch.detector.yolo import YoloDetector

    return YoloDetector(str(model_path), CategoryMap(DEFAULT_CATEGORIES), device="cpu")


def make_pipeline(tmp_path, detector, uris: dict[str, str]):
    from roadwatch.config import Config
    from roadwatch.pipeline import Pipeline
    from roadwatch.streams import probe

    cfg = Config.model_validate(
        {
            "streams": {"open_timeout_s": 2, "stall_timeout_s": 2, "reconnect_base_s": 0.2, "reconnect_cap_s": 1.0},
            "output": {"dir": str(tmp_path), "video": False},
        }
    )
    specs = [SourceSpec.from_uri(uri, sid) for sid, uri in uris.items()]
    return Pipeline(cfg, specs, {s.stream_id: probe(s) for s in specs}, detector, None, tmp_path)


def test_pipeline_survives_an_rtsp_outage_while_a_file_stream_keeps_going(tmp_path, servers, cpu_detector):
    threads_before, sockets_before = threading.active_count(), open_sockets()
    server = servers(CITY)
    pipeline = make_pipeline(tmp_path, cpu_detector, {"cam": server.url, "file": str(require(CITY))})
    running = Running(pipeline)
    events = lambda: read_events(tmp_path / "events.jsonl")  # noqa: E731
    of_cam = lambda kind: [e for e in events() if e["stream_id"] == "cam" and e["type"] == kind]  # noqa: E731
    try:
        wait_until(lambda: pipeline.streams["cam"].frames >= 10, 30, "frames from the RTSP server")
        assert len(of_cam("stream.up")) == 1

        server.kill()
        file_frames_at_kill = pipeline.streams["file"].frames
        took = wait_until(lambda: of_cam("stream.down") or of_cam("stream.stalled"), 8, "stream.down after the kill")
        assert took < 5
        down = (of_cam("stream.down") or of_cam("stream.stalled"))[0]
        assert down["reason"] and down["source"] == server.url
        wait_until(lambda: pipeline.streams["file"].frames > file_frames_at_kill + 5, 10, "the file stream to go on")

        server.start()
        wait_until(lambda: len(of_cam("stream.up")) == 2, 15, "stream.up after the restart")
        cam_frames = pipeline.streams["cam"].frames
        wait_until(lambda: pipeline.streams["cam"].frames > cam_frames + 10, 15, "frames after the restart")
        assert pipeline.streams["file"].capture.status in (StreamStatus.UP, StreamStatus.ENDED)
    finally:
        summary = running.end()
    assert summary["streams"]["cam"]["reconnects"] == 1
    assert_valid_events(events())
    assert threading.active_count() == threads_before
    assert open_sockets() <= sockets_before


@pytest.mark.parametrize("capture", CAPTURES)
def test_a_silent_camera_is_detected_as_stalled_and_reconnected(servers, capture):
    server = servers(CITY)
    changes = []
    manager = manager_for(
        capture, policy=ReconnectPolicy(base_s=0.2, cap_s=1.0, open_timeout_s=2.0, stall_timeout_s=1.5),
        on_status=changes.append,
    )
    capture = add_camera(manager, SourceSpec.from_uri(server.url, "cam"), capture)
    statuses = lambda: [c.status for c in changes]  # noqa: E731
    try:
        wait_until(lambda: capture.frames_read >= 10, 20, "frames from the camera")
        server.pause()  # the connection stays open, but nothing comes
        # Frames already in the socket and demuxer buffers still arrive after the pause; the stall is
        # measured from the last frame, and must be declared soon after stall_timeout_s of silence.
        wait_until(lambda: StreamStatus.STALLED in statuses(), 15, "stream.stalled")
        stalled = changes[statuses().index(StreamStatus.STALLED)]
        silent_s = float(stalled.reason.split("no frame for ")[1].split(" s")[0])
        assert 1.5 * 0.9 <= silent_s < 1.5 + 1.0
        server.resume()
        wait_until(lambda: statuses().count(StreamStatus.UP) >= 2, 20, "the camera to come back")
        frames = capture.frames_read
        wait_until(lambda: capture.frames_read > frames + 10, 10, "frames after the stall")
    finally:
        manager.stop_all()
    assert capture.reconnects >= 1


@pytest.mark.parametrize("capture", CAPTURES)
def test_a_feed_paused_with_its_connection_open_is_stalled_on_time_and_its_late_frames_dropped(servers, capture):
    """The server goes on answering (RTSP, RTCP) but sends no media: FFmpeg's read timeout then released the
    frames left in its buffers one per timeout, seconds late, and the stall came only after three timeouts."""
    server = servers(CITY)
    changes: list = []
    stall_s = 2.0
    manager = manager_for(
        capture, policy=ReconnectPolicy(base_s=0.2, cap_s=1.0, open_timeout_s=2.0, stall_timeout_s=stall_s),
        on_status=changes.append,
    )
    cam = add_camera(manager, SourceSpec.from_uri(server.url, "cam"), capture)
    statuses = lambda: [c.status for c in changes]  # noqa: E731
    delivered: list[float] = []  # capture times of the frames that reached the buffer
    try:
        wait_until(lambda: cam.frames_read >= 10, 20, "frames from the camera")
        paused_at = time.time()
        server.pause_media()
        took = wait_until(lambda: StreamStatus.STALLED in statuses(), 15, "stream.stalled")
        while (frame := cam.buffer.get(timeout=0.01)) is not None:
            delivered.append(frame.captured_at)
        stalled = changes[statuses().index(StreamStatus.STALLED)]
        assert took < stall_s + 1.0 and stalled.at - paused_at < stall_s + 1.0
        late = [t - paused_at for t in delivered if t > paused_at + 0.5]  # after what was already on its way
        assert not late, f"frames delivered {late} s after the pause"
        server.resume_media()
        wait_until(lambda: statuses().count(StreamStatus.UP) >= 2, 20, "the camera to come back")
    finally:
        manager.stop_all()
    assert cam.reconnects >= 1


def test_a_server_that_accepts_and_never_sends_is_never_up_and_a_drop_is_one_down(servers):
    server = servers(CITY)
    changes: list = []
    manager = StreamManager(policy=FAST_RETRY, on_status=changes.append)
    first = manager.add(SourceSpec.from_uri(server.url, "first"))
    of = lambda sid, status: [c for c in changes if c.stream_id == sid and c.status is status]  # noqa: E731
    try:
        wait_until(lambda: first.frames_read >= 10, 20, "frames from the camera")
        server.pause_media()  # the shared media stays paused: a client that joins now is answered, gets nothing
        silent = manager.add(SourceSpec.from_uri(server.url, "silent"))
        wait_until(lambda: of("silent", StreamStatus.STALLED), 15, "the silent one to be stalled")
        wait_until(lambda: silent.reconnects == 0 and len(of("silent", StreamStatus.STALLED)) == 1
                   and silent.failed_opens == 0 and first.status is StreamStatus.STALLED, 10, "both stalled")
        server.kill()  # now a drop: every attempt to reopen fails too
        wait_until(lambda: first.failed_opens >= 3 and silent.failed_opens >= 3, 30, "three failed reopens each")
    finally:
        manager.stop_all()
    assert of("silent", StreamStatus.UP) == []
    assert len(of("first", StreamStatus.DOWN)) == 1 and len(of("silent", StreamStatus.DOWN)) == 1
    assert first.error and "cannot open" in first.error  # the latest reason is kept for the summary


def test_http_mjpeg_camera_reads_and_reports_an_outage(rtsp_ok):
    server = MjpegServer(require(VIDEOS / "dashcam_a_640x360.mp4")).start()
    changes = []
    manager = StreamManager(policy=FAST_RETRY, on_status=changes.append)
    capture = manager.add(SourceSpec.from_uri(server.url, "mjpeg"))
    try:
        wait_until(lambda: capture.frames_read >= 10, 20, "frames from the MJPEG camera")
        frame = capture.buffer.get(timeout=5)
        assert frame.image.shape == (360, 640, 3)
        server.kill()
        wait_until(
            lambda: any(c.status in (StreamStatus.DOWN, StreamStatus.STALLED) for c in changes), 8, "stream.down"
        )
        server.start()
        wait_until(lambda: [c.status for c in changes].count(StreamStatus.UP) == 2, 15, "the camera to come back")
    finally:
        manager.stop_all()
        server.kill()


@pytest.mark.parametrize("capture", ["thread", "pyav"])
def test_bad_addresses_report_a_status_and_never_hang(rtsp_ok, capture):
    silent = socket.socket()  # accepts connections, never says a word
    silent.bind(("127.0.0.1", 0))
    silent.listen()
    closed_port = socket.socket()
    closed_port.bind(("127.0.0.1", 0))
    refused_url = f"rtsp://admin:hunter2@127.0.0.1:{closed_port.getsockname()[1]}/cam"
    closed_port.close()
    sources = {
        "refused": refused_url,
        "silent": f"rtsp://admin:hunter2@127.0.0.1:{silent.getsockname()[1]}/cam",
        "badurl": "rtsp://",
        "nocam": "99",
        "nohttp": refused_url.replace("rtsp", "http") + ".mjpg",
    }
    threads_before = threading.active_count()
    changes = []
    manager = StreamManager(
        policy=ReconnectPolicy(base_s=0.2, cap_s=0.5, open_timeout_s=2.0, stall_timeout_s=2.0), on_status=changes.append
    )
    t0 = time.monotonic()
    for sid, uri in sources.items():
        add_camera(manager, SourceSpec.from_uri(uri, sid), capture)
    try:
        wait_until(lambda: {c.stream_id for c in changes} == set(sources), 6, "a status for every source")
        assert time.monotonic() - t0 < 6
        for change in changes:
            assert change.status is StreamStatus.DOWN and "hunter2" not in change.reason
            assert change.retry_in_s is not None and change.retry_in_s <= 0.5
        reasons = {c.stream_id: c.reason for c in changes}
        assert "cannot open the stream" in reasons["refused"] and "cannot open the stream" in reasons["silent"]
        assert "camera index 99 cannot be opened" in reasons["nocam"]
        time.sleep(1.5)  # retries go on, but a camera that stays down is reported once, not every retry
        assert len(changes) == len(sources)
    finally:
        t_stop = time.monotonic()
        manager.stop_all(timeout_s=5)
        silent.close()
    assert time.monotonic() - t_stop < 4  # a stop interrupts the backoff wait (an open may still be in flight)
    assert threading.active_count() == threads_before


def test_max_retries_gives_a_live_source_up_and_ends_its_buffer(rtsp_ok):
    manager = StreamManager(policy=ReconnectPolicy(base_s=0.1, cap_s=0.2, open_timeout_s=1.0, max_retries=2))
    capture = manager.add(SourceSpec.from_uri("rtsp://127.0.0.1:1/cam", "gone"))
    wait_until(lambda: capture.buffer.exhausted, 10, "the source to be given up")
    assert capture.status is StreamStatus.FAILED
    manager.stop_all()


@pytest.mark.parametrize("capture", ["thread", "process"])  # the buffer's policy: the same whatever the reader
def test_a_slow_consumer_of_a_30fps_camera_only_ever_sees_fresh_frames(servers, capture):
    server = servers(VIDEOS / "dashcam_a_640x360.mp4")  # 30 frames/s
    capacity, fps = 4, 30.0
    manager = manager_for(capture, live_capacity=capacity, policy=FAST_RETRY)
    capture = add_camera(manager, SourceSpec.from_uri(server.url, "cam"), capture)
    process = psutil.Process()
    try:
        assert capture.buffer.get(timeout=15) is not None
        time.sleep(1.0)  # let the decoder settle
        rss_start = process.memory_info().rss
        ages = []
        for _ in range(30):  # 5 frames/s: six times slower than the camera
            time.sleep(0.2)
            frame = capture.buffer.get(timeout=5)
            assert frame is not None
            ages.append(time.time() - frame.captured_at)
        rss_end = process.memory_info().rss
    finally:
        manager.stop_all()
    print(f"frame ages: max {max(ages):.3f} s, mean {sum(ages) / len(ages):.3f} s; dropped {capture.buffer.dropped}")
    assert max(ages) <= capacity / fps + 0.15, f"oldest frame was {max(ages):.3f} s old"
    assert capture.buffer.high_water <= capacity
    assert capture.buffer.dropped > 100  # ~25 of every 30 frames are dropped
    assert rss_end - rss_start < 30 * 2**20, "memory grew while the consumer was slow"


def test_sources_can_be_added_and_removed_while_the_pipeline_runs(tmp_path, servers, cpu_detector, city_clip):
    server = servers(CITY)
    pipeline = make_pipeline(tmp_path, cpu_detector, {"cam": server.url})
    threads_before = threading.active_count()
    running = Running(pipeline)
    try:
        wait_until(lambda: pipeline.streams["cam"].frames >= 5, 30, "frames from the camera")
        added = pipeline.add_source(str(city_clip))
        assert added == "city40"
        wait_until(
            lambda: "city40" in pipeline.streams and pipeline.streams["city40"].finished, 60, "the added file to finish"
        )
        cam_frames = pipeline.streams["cam"].frames
        wait_until(lambda: pipeline.streams["cam"].frames > cam_frames + 5, 15, "the camera to go on")
        pipeline.remove_source("cam")
        running.thread.join(30)  # nothing left to read: the pipeline ends by itself
        assert not running.thread.is_alive()
    finally:
        summary = running.end()
    assert summary["streams"]["city40"]["frames"] == 40
    assert summary["streams"]["cam"]["status"] == "stopped"
    events = read_events(tmp_path / "events.jsonl")
    reasons = {e["reason"] for e in events if e["type"] == "track.ended" and e["stream_id"] == "cam"}
    assert reasons <= {"lost", "removed"}
    started = {(e["stream_id"], e["track_id"]) for e in events if e["type"] == "track.started"}
    ended = {(e["stream_id"], e["track_id"]) for e in events if e["type"] == "track.ended"}
    assert started == ended
    assert threading.active_count() == threads_before


def test_reload_adds_and_removes_sources_by_id(tmp_path, cpu_detector, city_clip):
    pipeline = make_pipeline(tmp_path, cpu_detector, {"a": str(city_clip)})
    pipeline.reload_sources_hook = lambda: [SourceConfig(uri=str(city_clip), id="b")]
    pipeline.request_reload()  # before run: applied at once
    running = Running(pipeline)
    running.thread.join(60)
    summary = running.end()
    assert summary["streams"]["b"]["frames"] == 40
    assert summary["streams"]["a"]["frames"] == 0 and summary["streams"]["a"]["status"] == "stopped"


def test_sighup_reloads_the_config_sources_without_restarting_the_others(tmp_path, servers, model_path, city_clip):
    import signal

    from support.helpers import spawn_roadwatch

    server = servers(CITY)
    cfg = tmp_path / "live.yaml"
    cfg.write_text(
        f"sources:\n  - {{uri: '{server.url}', id: door}}\nstreams: {{open_timeout_s: 2, stall_timeout_s: 2}}\n"
    )
    out = tmp_path / "out"
    proc = spawn_roadwatch(
        "run", "--config", str(cfg), "--model", str(model_path), "--output", str(out), "--events", free_endpoint(),
        "--device", "cpu",
    )
    log = out / "events.jsonl"
    ups = lambda: {e["stream_id"] for e in read_events(log) if e["type"] == "stream.up"}  # noqa: E731
    try:
        wait_until(lambda: "door" in ups(), 60, "the camera to come up")
        cfg.write_text(cfg.read_text().replace("sources:\n", f"sources:\n  - {{uri: '{city_clip}', id: clip}}\n"))
        proc.send_signal(signal.SIGHUP)
        wait_until(lambda: "clip" in ups(), 30, "the added source to come up")
        clip_done = lambda: any(
            e["stream_id"] == "clip" and e.get("reason") == "end_of_stream" for e in read_events(log)
        )  # noqa: E731
        wait_until(clip_done, 60, "the added clip to be read to its end")
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["streams"]["clip"]["frames"] == 40
    assert summary["streams"]["door"]["frames"] > 0 and summary["streams"]["door"].get("reconnects") == 0
    assert "reloaded sources: clip, door" in stderr


def test_a_server_that_refuses_tcp_is_read_over_udp_and_the_reason_says_so(rtsp_ok):
    """VLC's RTSP server answers 461 Unsupported transport to TCP; roadwatch once retried TCP forever."""
    server = RtspServer(require(CITY), udp_only=True).start()
    changes: list = []
    try:
        auto = StreamManager(policy=FAST_RETRY, on_status=changes.append)
        cam = auto.add(SourceSpec.from_uri(server.url, "auto"))
        tcp = StreamManager(policy=dataclasses.replace(FAST_RETRY, rtsp_transport="tcp"),
                            on_status=changes.append)
        tcp_only = tcp.add(SourceSpec.from_uri(server.url, "tcp"))
        wait_until(lambda: cam.frames_read >= 10, 30, "frames over UDP")
        wait_until(lambda: tcp_only.failed_opens >= 2, 30, "TCP-only to be refused twice")
        auto.stop_all()
        tcp.stop_all()
    finally:
        server.kill()
    up = next(c for c in changes if c.stream_id == "auto" and c.status is StreamStatus.UP)
    assert "over UDP (the server refused RTSP over TCP)" in up.reason
    assert tcp_only.frames_read == 0
    assert "cannot open the stream over TCP (streams.rtsp_transport: tcp" in tcp_only.error


def test_a_file_opens_in_its_own_time_beside_four_silent_urls(rtsp_ok):
    """In threads, OpenCV opens one stream at a time per process: beside four URLs that accept and never
    answer, a local file took 11.5 s to its first frame (red team: 30-39 s). `capture: auto` puts URLs in
    processes of their own."""
    silent = [socket.create_server(("127.0.0.1", 0)) for _ in range(4)]
    policy = ReconnectPolicy(base_s=0.1, cap_s=0.2, open_timeout_s=3.0, stall_timeout_s=3.0)
    manager = StreamManager(policy=policy, capture="auto")
    try:
        for i, sock in enumerate(silent):
            manager.add(SourceSpec.from_uri(f"rtsp://127.0.0.1:{sock.getsockname()[1]}/cam", f"silent{i}"))
        wait_until(lambda: all(manager.get(f"silent{i}").process is not None for i in range(4)), 10,
                   "the four URLs' processes to start")
        alone = time.monotonic()
        probe_reader = open_reader(SourceSpec.from_uri(str(require(CITY)), "probe"))
        probe_reader.read()
        probe_reader.close()
        own_time = time.monotonic() - alone
        clip = manager.add(SourceSpec.from_uri(str(require(CITY)), "file"))
        took = wait_until(lambda: clip.frames_read > 0, 20, "the file's first frame")
        stopping = time.monotonic()
    finally:
        manager.stop_all(timeout_s=10)
        for sock in silent:
            sock.close()
    assert took < own_time + 1.0, f"{took:.2f} s to the first frame, {own_time:.2f} s alone"
    assert time.monotonic() - stopping < 5.0, "stopping five sources did not overlap"


def test_a_live_cameras_annotated_video_lasts_as_long_as_the_camera_ran(tmp_path, model_path, city_clip):
    """Frames are dropped on a CPU (here most of them: the detector at 1280 px is far slower than 25 frames/s),
    yet 20 s of camera is 20 s of video: frames placed by their time, the last one held over the drops.
    Written at the processed rate, 75.8 s of a live camera once became a 2.44 s time-lapse (20 s would be
    0.6 s: far outside the 1 s allowed)."""
    from roadwatch.config import Config
    from roadwatch.detector import DEFAULT_CATEGORIES, CategoryMap
    from roadwatch.detector.yolo import YoloDetector
    from roadwatch.pipeline import Pipeline

    slow = YoloDetector(str(model_path), CategoryMap(DEFAULT_CATEGORIES), device="cpu", imgsz=1280)
    # every frame detected (live sources are detected 5 times a second by default, and then keep up)
    cfg = Config.model_validate({"output": {"dir": str(tmp_path), "video": True},
                                 "schedule": {"live_detect_fps": None, "live_motion": False}})
    spec = SourceSpec.from_uri(f"replay:{city_clip}", "cam")
    pipeline = Pipeline(cfg, [spec], {}, slow, None, tmp_path)
    running = Running(pipeline)
    try:
        wait_until(lambda: pipeline.streams["cam"].frames > 0, 60, "the camera's first frame")
        first = pipeline.streams["cam"].last_frame.pts
        wait_until(lambda: pipeline.streams["cam"].last_frame.pts - first >= 20.0, 60, "20 s of camera")
    finally:
        summary = running.end()
    video = tmp_path / "annotated.mp4"
    cap = cv2.VideoCapture(str(video))
    frames, fps = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)), cap.get(cv2.CAP_PROP_FPS)
    cap.release()
    assert count_frames(video) == frames  # it decodes, every frame
    camera_s = pipeline.streams["cam"].last_frame.pts - first
    assert summary["streams"]["cam"]["frames"] < camera_s * 25 / 2  # most frames were dropped
    assert camera_s >= 20.0
    assert abs(frames / fps - camera_s) <= 1.0, f"{frames / fps:.1f} s of video for {camera_s:.1f} s of camera"
