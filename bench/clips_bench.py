"""What event clips cost, same run, on this machine's CPU:

1. Decoding: the shared clips read through PyAV with the packet ring (the reader of a camera with clips on)
   against OpenCV's VideoCapture (the reader otherwise), as fast as each goes; frames/s and CPU per frame.
2. The pipeline on two live RTSP cameras (gst-rtsp-server on loopback replaying the city clip, 25 frames/s each),
   every frame detected so the CPU is the limit: frames/s and CPU per frame with clips off (OpenCV, capture in
   a process per camera) and on (PyAV in threads, packets kept, clips written: every track.started triggers).
   The modes alternate (off on off on) so drift in the machine's speed falls on both.
3. The packet ring's memory per camera: each shared clip pushed at its own frame rate through a ring of
   pre_capture_s 5 (as the pipeline sizes it), the most it held.

Writes bench/results/clips.json.

    make bench-clips
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the tests' real RTSP server
os.environ.setdefault("YOLO_OFFLINE", "1")

VIDEOS = ROOT.parent / "shared" / "videos"
CITY = VIDEOS / "fixedcam_citystreet_cars_bus_640x360.mp4"
HIGHWAY = VIDEOS / "fixedcam_highway_cars_1280x720.mp4"
PEDESTRIANS = VIDEOS / "pedestrians_street_1280x720.mp4"
MODEL = ROOT.parent / "shared" / "models" / "yolov8n_coco.pt"


def cpu_s() -> float:
    t = os.times()
    return t.user + t.system


def decode(path: Path, reader: str) -> tuple[float, float]:
    """Frames/s and CPU ms per frame decoding the whole file."""
    from roadwatch.streams import PacketRing, SourceKind, SourceSpec
    from roadwatch.streams.av_reader import PyAVReader
    from roadwatch.streams.sources import VideoReader

    spec = SourceSpec(str(path), "bench", SourceKind.FILE)
    started, cpu = time.perf_counter(), cpu_s()
    opened = PyAVReader(spec, PacketRing(5.0, 64 << 20)) if reader == "pyav" else VideoReader(spec)
    frames = 0
    while opened.read() is not None:
        frames += 1
    opened.close()
    wall, used = time.perf_counter() - started, cpu_s() - cpu
    return frames / wall, 1000 * used / frames


def ring_memory(path: Path, pre_s: float = 5.0) -> dict:
    import av

    from roadwatch.pipeline.clip_stage import RING_SLACK_S
    from roadwatch.streams import CodecTemplate, PacketRing

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        ring = PacketRing(pre_s + RING_SLACK_S, 64 << 20)
        ring.connected(CodecTemplate(stream))
        fps = float(stream.average_rate)
        sent, keyframes = 0, []
        for i, packet in enumerate(p for p in container.demux(stream) if p.size > 0):
            ring.push(packet, i / fps)
            sent += packet.size
            if packet.is_keyframe:
                keyframes.append(i / fps)
        seconds = (i + 1) / fps
        gop_s = max((b - a for a, b in zip(keyframes, keyframes[1:])), default=seconds)
    return {"clip": path.name, "mbit_s": round(8 * sent / seconds / 1e6, 2),
            "ring_mb": round(ring.high_water_bytes / 2**20, 2), "seconds": round(seconds, 1), "gop_s": round(gop_s, 2)}


def pipeline_run(clips: bool, urls: list[str], seconds: float, detector) -> dict:
    from roadwatch.config import Config
    from roadwatch.pipeline import Pipeline
    from roadwatch.streams import SourceSpec

    with tempfile.TemporaryDirectory() as out:
        cfg = Config.model_validate({
            "sources": [{"uri": u, "id": f"cam{i}", "every_frame": True} for i, u in enumerate(urls)],
            "output": {"dir": out, "video": False, "clips": {"enabled": clips}},
        })
        specs = [SourceSpec.from_uri(u, f"cam{i}") for i, u in enumerate(urls)]
        pipeline = Pipeline(cfg, specs, {}, detector, None, Path(out))
        stop = threading.Event()
        counted = {"frames": 0, "from": None, "cpu": 0.0}
        warm_s = 3.0

        def on_batch(counts: dict[str, int]) -> None:
            now = time.perf_counter()
            if counted["from"] is None:
                if now - started >= warm_s:
                    counted["from"], counted["cpu"] = now, cpu_s()
                return
            counted["frames"] += sum(counts.values())
            if now - counted["from"] >= seconds:
                counted["until"], counted["cpu"] = now, cpu_s() - counted["cpu"]
                stop.set()

        started = time.perf_counter()
        summary = pipeline.run(stop, on_batch=on_batch)
        wall = counted["until"] - counted["from"]
        saved = summary["events"].get("clip.saved", 0)
        rings = [r.ring.high_water_bytes for r in pipeline.clips.recorders.values() if r.ring is not None]
    return {"fps": counted["frames"] / wall, "cpu_ms_per_frame": 1000 * counted["cpu"] / counted["frames"],
            "clips_saved": saved, "ring_mb": max(rings, default=0) / 2**20}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="measured seconds per pipeline run")
    parser.add_argument("--rounds", type=int, default=2, help="pipeline runs per mode, alternating")
    args = parser.parse_args()
    results: dict = {"decode": [], "pipeline": {}, "ring": []}

    print("1. decoding, as fast as it goes (ratio: PyAV with the packet ring / OpenCV)")
    for path in (CITY, HIGHWAY, PEDESTRIANS):
        runs = {"opencv": [], "pyav": []}
        for _ in range(3):
            for reader in runs:
                runs[reader].append(decode(path, reader))
        best = {r: (max(f for f, _ in v), min(c for _, c in v)) for r, v in runs.items()}
        row = {"clip": path.name, **{f"{r}_fps": round(b[0], 1) for r, b in best.items()},
               **{f"{r}_cpu_ms": round(b[1], 2) for r, b in best.items()},
               "fps_ratio": round(best["pyav"][0] / best["opencv"][0], 2),
               "cpu_ratio": round(best["pyav"][1] / best["opencv"][1], 2)}
        results["decode"].append(row)
        print(f"   {path.name}: {row['opencv_fps']} vs {row['pyav_fps']} frames/s ({row['fps_ratio']}x); CPU per "
              f"frame {row['opencv_cpu_ms']} vs {row['pyav_cpu_ms']} ms ({row['cpu_ratio']}x)")

    print("2. the pipeline on two live RTSP cameras, every frame detected (ratio: clips on / off)")
    from roadwatch.detector import DEFAULT_CATEGORIES, CategoryMap
    from roadwatch.detector.yolo import YoloDetector

    from support.rtsp import RtspServer, unavailable_reason

    reason = unavailable_reason()
    if reason:
        print(f"   skipped: {reason}")
    else:
        detector = YoloDetector(str(MODEL), CategoryMap(DEFAULT_CATEGORIES), device="cpu")
        modes: dict[str, list[dict]] = {"off": [], "on": []}
        for _ in range(args.rounds):
            for mode in modes:
                servers = [RtspServer(CITY, mount=f"cam{i}").start() for i in range(2)]
                try:
                    modes[mode].append(pipeline_run(mode == "on", [s.url for s in servers], args.seconds, detector))
                finally:
                    for server in servers:
                        server.kill()
                print(f"   clips {mode}: {modes[mode][-1]}")
        mean = {m: {k: sum(r[k] for r in v) / len(v) for k in v[0]} for m, v in modes.items()}
        results["pipeline"] = {"runs": modes, "mean": mean,
                               "fps_ratio": round(mean["on"]["fps"] / mean["off"]["fps"], 3),
                               "cpu_ratio": round(mean["on"]["cpu_ms_per_frame"] / mean["off"]["cpu_ms_per_frame"], 3)}
        print(f"   frames/s {mean['off']['fps']:.1f} off, {mean['on']['fps']:.1f} on: "
              f"{results['pipeline']['fps_ratio']}x; CPU per frame {results['pipeline']['cpu_ratio']}x; "
              f"clips saved per run {mean['on']['clips_saved']:.1f}; ring {mean['on']['ring_mb']:.2f} MB per camera")

    print("3. the packet ring's memory per camera (pre_capture_s 5)")
    for path in (CITY, HIGHWAY, PEDESTRIANS):
        row = ring_memory(path)
        results["ring"].append(row)
        print(f"   {row['clip']}: {row['mbit_s']} Mbit/s, keyframes {row['gop_s']} s apart -> at most "
              f"{row['ring_mb']} MB held")

    out = ROOT / "bench" / "results" / "clips.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1))
    print(f"written {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
