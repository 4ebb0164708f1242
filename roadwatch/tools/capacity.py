"""Capacity benchmark: how many live 720p30 cameras one machine holds in real time, per detection mode.

Cameras are `replay:` sources (a file played at its own frame rate, looping, newest frame wins) cut from the
shared 720p clips at different offsets, so no two show the same frame at once. For each mode (every frame,
as before; a fixed `detect_fps`; motion-gated at that rate) the camera count grows until a run fails to hold:

- every camera's frames processed (tracked) at least 90 % of those it offered (a pipeline behind drops them),
- p99 capture-to-event latency under 1 s (every tracked frame publishes: `update_interval_s` 0; a quiet
  scene with no track at all has no latency to judge),
- every buffer bounded (the ring buffers are; their deepest point is reported),
- with a fixed rate, each camera detected at least 90 % of its due detections (gated runs may skip a due
  detection on purpose: nothing moved and nothing was tracked).

The largest held count of each mode is the result; the table compares modes measured in the same run.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import cv2

from roadwatch.tools.bench import BenchSettings, _latencies_ms, _pct, cut_clip, run_pipeline
from roadwatch.tools.measure import ResourceSampler

HELD_SHARE = 0.9  # processed frames and detections: at least this share of what was offered or due
MAX_P99_MS = 1000.0


@dataclass(frozen=True)
class Mode:
    name: str
    detect_fps: float | None
    motion: bool

    def schedule(self):
        from roadwatch.config import ScheduleConfig

        return ScheduleConfig(live_detect_fps=self.detect_fps, live_motion=self.motion)


def modes(rate: float) -> list[Mode]:
    return [Mode("every frame", None, False), Mode(f"detect_fps {rate:g}", rate, False),
            Mode(f"gated, detect_fps {rate:g}", rate, True)]


def camera_clips(clips: list[Path], count: int, folder: Path, frames: int = 240) -> list[Path]:
    """`count` clips of `frames` frames, taken in turn from `clips` at offsets 37 frames apart (re-encoded
    mp4v, as every benchmark clip here)."""
    out = []
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        src = clips[i % len(clips)]
        total = int(cv2.VideoCapture(str(src)).get(cv2.CAP_PROP_FRAME_COUNT))
        start = (i // len(clips)) * 37 % max(total - frames, 1)
        path = folder / f"cam{i}_{src.stem}_{start}.mp4"
        out.append(path if path.is_file() else cut_clip(src, path, frames, start))  # cut once, for every run
    return out


def trial(mode: Mode, cameras: list[Path], settings: BenchSettings, detector, folder: Path) -> dict:
    """One run of `len(cameras)` cameras in `mode` for `settings.live_seconds`; its figures and whether it held."""
    folder.mkdir(parents=True)
    uris = [f"replay:{clip}" for clip in cameras]
    with ResourceSampler(settings.device) as resources:
        pipeline, summary, elapsed, clock = run_pipeline(uris, settings, detector, folder, live=True,
                                                         seconds=settings.live_seconds, schedule=mode.schedule())
    running = elapsed - (clock.startup_s() or 0.0)  # from the first frame out: opening the sources is not a rate
    fps_each = cv2.VideoCapture(str(cameras[0])).get(cv2.CAP_PROP_FPS) or 30.0
    latency = _latencies_ms(folder / "events.jsonl")
    streams = summary["streams"].values()
    processed = [s["frames"] / max(s["frames"] + s["dropped"], 1) for s in streams]
    detect_rates = [s["detected"] / running for s in streams]
    due = [min(mode.detect_fps or fps_each, fps_each)] * len(detect_rates)
    p99 = _pct(latency, 99)
    held = (
        min(processed) >= HELD_SHARE
        and (p99 is None or p99 < MAX_P99_MS)  # None: no track event at all (a quiet scene), nothing late
        and (mode.motion or all(got >= HELD_SHARE * want for got, want in zip(detect_rates, due)))
    )
    return {
        "mode": mode.name,
        "cameras": len(cameras),
        "held": held,
        "seconds": round(elapsed, 1),
        "processed_share_min": round(min(processed), 3),
        "detections_per_s_each": [round(r, 2) for r in detect_rates],
        "whole_frames_per_s": round(pipeline.clock.whole_frames / elapsed, 2),  # through the network
        "regions_per_s": round(pipeline.clock.regions / elapsed, 2),
        "redone_per_s": round(pipeline.clock.redone / elapsed, 2),
        "p50_latency_ms": _pct(latency, 50),
        "p99_latency_ms": p99,
        "max_buffer_depth": max(st.capture.buffer.high_water for st in pipeline.streams.values()),
        "buffer_capacity": pipeline.config.streams.live_buffer,
        "host_rss_mb": ResourceSampler.trend(resources.rss),
        "stage_share": {k: round(v / elapsed, 3) for k, v in pipeline.clock.stage_s.items()},
    }


def largest_held(mode: Mode, clips: list[Path], settings: BenchSettings, detector, folder: Path, most: int,
                 rows: list[dict], on_row) -> int:
    """Cameras 1, 2, 3, ... until a run does not hold (or `most`); the largest count that held."""
    best = 0
    for n in range(1, most + 1):
        row = trial(mode, camera_clips(clips, n, folder / "cameras"), settings, detector,
                    folder / f"{mode.name.replace(' ', '_').replace(',', '')}_{n}")
        rows.append(row)
        print(f"{mode.name:24s} {n:2d} cameras: {'held' if row['held'] else 'NOT held':8s} processed "
              f">= {row['processed_share_min']:.0%}, detections/s each {min(row['detections_per_s_each']):.1f}-"
              f"{max(row['detections_per_s_each']):.1f}, p99 {row['p99_latency_ms']} ms, deepest buffer "
              f"{row['max_buffer_depth']}/{row['buffer_capacity']}", flush=True)
        on_row()
        if not row["held"]:
            break
        best = n
    return best


def run_capacity(settings: BenchSettings, clips: list[Path], rate: float, most: int, out: Path) -> dict:
    from roadwatch.detector import DEFAULT_CATEGORIES, CategoryMap
    from roadwatch.detector.yolo import YoloDetector, resolve_device
    from roadwatch.outputs.files import write_json_atomic

    device = resolve_device(settings.device)
    half = settings.half or device.startswith("cuda")
    settings = BenchSettings(**{**settings.__dict__, "device": device, "half": half})
    detector = YoloDetector(str(settings.model), CategoryMap(DEFAULT_CATEGORIES), device=device, imgsz=settings.imgsz,
                            half=half, backend=settings.backend,
                            trace=settings.trace)
    warm = cv2.VideoCapture(str(clips[0])).read()[1]
    detector.detect([warm] * 2)
    rows: list[dict] = []
    result: dict = {"device": device, "model": settings.model.name, "imgsz": settings.imgsz,
                    "backend": settings.backend, "half": half,
                    "clips": [c.name for c in clips], "seconds_per_run": settings.live_seconds,
                    "largest_held": {}, "runs": rows, "complete": False}

    def write() -> None:
        out.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(out, result)

    with tempfile.TemporaryDirectory(prefix="roadwatch-capacity-") as tmp:
        for mode in modes(rate):
            result["largest_held"][mode.name] = largest_held(mode, clips, settings, detector, Path(tmp), most,
                                                             rows, write)
            write()
    result["complete"] = True
    write()
    every = result["largest_held"]["every frame"] or 1
    print("largest number of cameras held in real time:")
    for name, n in result["largest_held"].items():
        print(f"  {name:24s} {n:2d}  ({n / every:.1f}x every frame)")
    print(f"wrote {out}")
    return result
