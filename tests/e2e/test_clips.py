"""Event clips from a real RTSP camera (gst-rtsp-server replaying a real clip on loopback): cut from its own
packets, whole, closed cleanly when the camera goes away, never a broken file under a final name."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import av
import httpx
import pytest

from roadwatch.streams import SourceSpec

from support.helpers import assert_valid_events, free_endpoint, spawned, wait_until
from support.running import Running

PRE_S, POST_S = 2.0, 1.0
CITY_GOP_S = 5.12  # the city clip has a keyframe every 128 frames at 25 frames/s


@pytest.fixture(scope="module")
def cpu_detector(model_path):
    from roadwatch.detector import DEFAULT_CATEGORIES, CategoryMap
    from roadwatch.detector.yolo import YoloDetector

    return YoloDetector(str(model_path), CategoryMap(DEFAULT_CATEGORIES), device="cpu")


def events_of(out: Path) -> list[dict]:
    path = out / "events.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_bytes().split(b"\n")[:-1] if line.strip()]


def clips_config(out: Path, **clips) -> dict:
    return {
        "streams": {"open_timeout_s": 2, "stall_timeout_s": 2, "reconnect_base_s": 0.2, "reconnect_cap_s": 1.0},
        "output": {"dir": str(out), "video": False,
                   "clips": {"enabled": True, "pre_capture_s": PRE_S, "post_capture_s": POST_S, **clips}},
    }


def start_pipeline(out: Path, detector, url: str, http: bool = False) -> tuple[Running, object]:
    """The pipeline on the camera, in a thread; with `http`, its HTTP API too (the server is returned)."""
    from roadwatch.api import HttpServer
    from roadwatch.config import Config
    from roadwatch.pipeline import Pipeline

    cfg = Config.model_validate(clips_config(out) | ({"http": {"listen": "127.0.0.1:0"}} if http else {}))
    pipeline = Pipeline(cfg, [SourceSpec.from_uri(url, "cam")], {}, detector, None, out)
    server = HttpServer(pipeline, cfg.http) if http else None
    if server is not None:
        server.start()
    return Running(pipeline), server


def parameter_sets(extradata: bytes) -> list[bytes]:
    """H.264's SPS and PPS from extradata in either form: Annex B (an RTSP camera's SDP) or avcC (an MP4's)."""
    if extradata.startswith(b"\x00\x00\x00\x01"):
        return [nal for nal in extradata.split(b"\x00\x00\x00\x01") if nal]
    units, pos = [], 5
    for count_at_top in (True, False):  # the SPS list, then the PPS list
        count = extradata[pos] & (0x1F if count_at_top else 0xFF)
        pos += 1
        for _ in range(count):
            size = int.from_bytes(extradata[pos:pos + 2], "big")
            units.append(extradata[pos + 2:pos + 2 + size])
            pos += 2 + size
    return units


def camera_stream(url: str) -> dict:
    with av.open(url, options={"rtsp_transport": "tcp"}, timeout=5) as container:
        ctx = container.streams.video[0].codec_context
        return {"codec": ctx.name, "profile": ctx.profile, "size": (ctx.width, ctx.height), "pix_fmt": ctx.pix_fmt,
                "parameter_sets": parameter_sets(bytes(ctx.extradata))}


def decode_clip(path: Path) -> tuple[dict, list]:
    """The clip's stream description, as camera_stream gives the camera's, and every frame of it decoded."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        ctx = stream.codec_context
        info = {"codec": ctx.name, "profile": ctx.profile, "size": (ctx.width, ctx.height), "pix_fmt": ctx.pix_fmt,
                "parameter_sets": parameter_sets(bytes(ctx.extradata))}
        packets = [p for p in container.demux(stream) if p.size > 0]
        frames = [f for p in packets for f in p.decode()] + list(stream.codec_context.decode(None))
        duration = float(stream.duration * stream.time_base) if stream.duration else 0.0
    return info | {"packets": len(packets), "first_keyframe": packets[0].is_keyframe, "duration": duration}, frames


def test_clips_cut_from_the_cameras_packets_cover_their_triggers_and_decode_whole(tmp_path, rtsp_server, cpu_detector):
    out = tmp_path / "out"
    out.mkdir()
    running, server = start_pipeline(out, cpu_detector, rtsp_server.url, http=True)

    def triggers_of(clip: dict) -> list[dict]:
        ids = set(clip["event_ids"])
        return [e for e in events_of(out) if e["event_id"] in ids]

    def late_complete_clip() -> bool:  # triggered where the camera's stream already held a keyframe PRE_S before
        return any(e["type"] == "clip.saved" and e["closed"] == "complete"
                   and triggers_of(e)[0]["pts"] >= PRE_S + CITY_GOP_S + 1.5 for e in events_of(out))

    try:
        wait_until(late_complete_clip, 90, "a clip triggered well into the stream, written whole")
        with httpx.Client(base_url=server.url, timeout=10) as client:  # each clip, as its event names it
            for clip in (e for e in events_of(out) if e["type"] == "clip.saved"):
                got = client.get("/api/" + clip["path"])
                assert got.status_code == 200 and got.headers["content-type"] == "video/mp4"
                assert got.content == (out / clip["path"]).read_bytes()
            assert client.get("/api/clips/cam/..%2F..%2Fevents.jsonl").status_code == 404
    finally:
        running.end()
        server.close()
    events = events_of(out)
    assert_valid_events(events)
    camera_info = camera_stream(rtsp_server.url)
    saved = [e for e in events if e["type"] == "clip.saved"]
    for clip in saved:
        path = out / clip["path"]
        assert path.is_file() and path.parent == out / "clips" / "cam"
        info, frames = decode_clip(path)
        assert info["first_keyframe"] and len(frames) == info["packets"] == clip["packets"]  # every frame decodes
        for key in ("codec", "profile", "size", "pix_fmt", "parameter_sets"):  # the camera's own: no re-encode
            assert info[key] == camera_info[key], key
        triggers = triggers_of(clip)
        assert triggers and all(t["type"] == "track.started" for t in triggers)
        assert {t["track_id"] for t in triggers} == set(clip["track_ids"])
        first, last = triggers[0]["pts"], triggers[-1]["pts"]
        if clip["closed"] == "complete":
            assert clip["end_pts"] >= last + POST_S
        if first >= PRE_S + CITY_GOP_S + 1.5:  # (the stream's first packets come in a burst: their clock is rough)
            assert clip["start_pts"] <= first - PRE_S
            assert clip["start_pts"] > first - PRE_S - CITY_GOP_S - 0.5  # from the keyframe just before, not earlier
            assert info["duration"] == pytest.approx(clip["duration_s"], abs=0.5)
    assert not list(out.glob("clips/**/*.part"))


def test_a_camera_killed_mid_clip_leaves_a_clip_that_plays(tmp_path, rtsp_server, cpu_detector):
    out = tmp_path / "out"
    out.mkdir()
    running, _ = start_pipeline(out, cpu_detector, rtsp_server.url)
    of = lambda kind: [e for e in events_of(out) if e["type"] == kind]  # noqa: E731
    try:
        wait_until(lambda: of("track.started"), 60, "a track confirmed: a clip open")
        rtsp_server.kill()
        wait_until(lambda: of("clip.saved"), 30, "the clip closed after the camera went away")
        assert of("stream.down") or of("stream.stalled")
    finally:
        running.end()
    outage = [e for e in of("clip.saved") if e["closed"] == "outage"]
    assert outage, [e["closed"] for e in of("clip.saved")]
    for clip in outage:
        info, frames = decode_clip(out / clip["path"])
        assert info["first_keyframe"] and len(frames) == clip["packets"] > 0
    assert not list(out.glob("clips/**/*.part"))
    assert_valid_events(events_of(out))


def test_a_killed_pipeline_leaves_no_clip_under_a_final_name_that_does_not_play(tmp_path, rtsp_server, model_path):
    out = tmp_path / "out"
    config = tmp_path / "clips.yaml"
    settings = clips_config(out, post_capture_s=30.0)  # a long post-roll: a clip is being written when it is killed
    settings["sources"] = [{"uri": rtsp_server.url, "id": "cam"}]
    config.write_text(json.dumps(settings))
    with spawned("run", "--config", str(config), "--model", str(model_path), "--events", free_endpoint(),
                 "--device", "cpu") as proc:
        wait_until(lambda: list(out.glob("clips/cam*/*.mp4.part")), 90, "a clip being written")
        wait_until(lambda: any(p.stat().st_size > 0 for p in out.glob("clips/cam*/*.mp4.part")), 30, "its packets")
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    assert proc.returncode == -signal.SIGKILL
    assert list(out.glob("clips/cam*/*.mp4.part"))  # the clip it was writing stays a temporary
    for path in out.glob("clips/**/*.mp4"):
        info, frames = decode_clip(path)
        assert info["first_keyframe"] and len(frames) == info["packets"] > 0, path
