"""End-to-end benchmark: the real pipeline (decode -> detect -> track -> publish) on N streams, against
Ultralytics' `model.track` loop on the same clip in the same run.

File mode: N copies of a clip as files, as fast as possible; aggregate frames/s and time per stage.
Live mode: N copies replayed as cameras (`replay:` sources: each paced at its own frame rate, looping,
drop-oldest buffers); capture-to-event latency (an event's `published_ts` minus its frame's capture
time `ts`, over every track event: `update_interval_s` is 0 so every tracked frame publishes), dropped
frames, the deepest any buffer got, host (and GPU) memory sampled every second (after a warm-up: value,
end, growth per minute).
Ratios are against the baseline of the same run: machines are noisy, absolute figures mean little.
"""

from __future__ import annotations

import os
import platform
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import orjson

from roadwatch.tools.measure import BatchClock, ResourceSampler


@dataclass(frozen=True)
class BenchSettings:
    clip: Path
    model: Path
    device: str
    imgsz: int
    file_streams: list[int]
    frames_per_stream: int  # file mode: each stream's clip is cut to this many frames (0: the whole clip)
    live_streams: list[int]
    live_seconds: float
    max_batch: int
    baseline_frames: int
    overlap: bool | None = None  # detection thread; None: the pipeline's default (on with CUDA)
    trace: bool = True  # our network as one TorchScript call (detector/traced.py), or eager
    decode_threads: int = 0  # FFmpeg threads per stream; 0: FFmpeg's choice
    capture: str = "thread"  # decode in threads of this process, or in a process per stream
    backend: str = "pytorch"  # or an export: onnx, openvino (CPU), tensorrt (CUDA)
    half: bool = False  # reduced precision where the device has it (fp16 on CUDA, bf16 with openvino)


def defaults(device: str) -> dict:
    """What the issue asks for on a GPU; a variant a 2-core CPU finishes in a few minutes otherwise."""
    if device.startswith("cuda"):
        return dict(file_streams=[1, 8, 32, 64], frames_per_stream=0, live_streams=[64], live_seconds=300.0,
                    max_batch=64, baseline_frames=0)
    return dict(file_streams=[1, 2, 4], frames_per_stream=24, live_streams=[1, 2], live_seconds=15.0,
                max_batch=8, baseline_frames=48)


def cut_clip(src: Path, dst: Path, frames: int, start: int = 0) -> Path:
    """`frames` frames of a clip from frame `start`, re-encoded to `dst` (mp4v), so CPU runs stay short."""
    cap = cv2.VideoCapture(str(src))
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    for _ in range(start):
        cap.read()
    writer = None
    for _ in range(frames):
        ok, image = cap.read()
        if not ok:
            break
        if writer is None:
            writer = cv2.VideoWriter(str(dst), cv2.VideoWriter_fourcc(*"mp4v"), fps, (image.shape[1], image.shape[0]))
        writer.write(image)
    cap.release()
    if writer is not None:
        writer.release()
    return dst


def ultralytics_track_fps(clip: Path, model: Path, device: str, imgsz: int, frames: int) -> float:
    """Ultralytics' documented tracking loop: read a frame, `model.track(frame, persist=True)`, repeat."""
    from ultralytics import YOLO

    yolo = YOLO(str(model))
    cap = cv2.VideoCapture(str(clip))
    ok, frame = cap.read()
    half = device.startswith("cuda")
    yolo.track(frame, persist=True, imgsz=imgsz, device=device, half=half, verbose=False)  # warm-up
    use_all_cores(device)
    count, t0 = 0, time.perf_counter()
    while frames <= 0 or count < frames:
        ok, frame = cap.read()
        if not ok:
            break
        yolo.track(frame, persist=True, imgsz=imgsz, device=device, half=device.startswith("cuda"), verbose=False)
        count += 1
    _sync(device)
    elapsed = time.perf_counter() - t0
    cap.release()
    return count / elapsed


def use_all_cores(device: str) -> None:
    """Ultralytics' predictor setup sets torch's CPU threads to cpu_count - 1 for the whole process (1 on a
    2-core machine); both contenders get all cores, so the ratio compares code, not thread counts."""
    from roadwatch.detector.yolo import resolve_device

    resolve_device(device)


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


def run_pipeline(uris: list[str], settings: BenchSettings, detector, folder: Path, live: bool, seconds: float | None,
                 schedule=None):
    """The real pipeline on `uris` until they end (files) or `seconds` pass (live); returns it, its summary, its
    wall time and its batch clock. `schedule` (a ScheduleConfig): when and where to detect; by default every
    frame, whole, live or not (the mode these figures have always measured; capacity.py compares the others)."""
    from roadwatch.config import Config, ScheduleConfig
    from roadwatch.events.zmq_io import EventPublisher
    from roadwatch.pipeline import Pipeline
    from roadwatch.streams import SourceSpec, probe, stream_ids_for

    config = Config()
    config.output.video = False
    config.detector.max_batch = settings.max_batch
    config.detector.overlap = settings.overlap
    config.streams.decode_threads = settings.decode_threads
    config.streams.capture = settings.capture
    config.streams.live_buffer = 4
    config.streams.max_open_files = max(len(uris), 1)  # every stream decoded at once: N streams means N
    config.tracker.update_interval_s = 0.0 if live else 1.0
    config.schedule = schedule or ScheduleConfig(live_detect_fps=None, live_motion=False)
    specs = [SourceSpec.from_uri(uri, sid) for uri, sid in zip(uris, stream_ids_for(uris))]
    infos = {spec.stream_id: probe(spec) for spec in specs}
    endpoint = f"ipc://{folder}/events.sock"
    publisher = EventPublisher(endpoint, send_hwm=100_000, linger_ms=0)
    pipeline = Pipeline(config, specs, infos, detector, publisher, folder)
    stop = threading.Event()
    timer = threading.Timer(seconds, stop.set) if seconds else None
    try:
        if timer is not None:
            timer.start()
        clock = BatchClock()
        summary = pipeline.run(stop, on_batch=clock)
        elapsed = time.perf_counter() - clock.started
    finally:
        if timer is not None:
            timer.cancel()
        publisher.close()
    return pipeline, summary, elapsed, clock


def file_mode(settings: BenchSettings, detector, clip: Path, baseline_fps: float, folder: Path,
              rows: list[dict], on_row: Callable[[], None]) -> None:
    """Appends a row per stream count to `rows`, calling `on_row` after each (so a cut-off run keeps it)."""
    for n in settings.file_streams:
        work = folder / f"file_{n}"
        work.mkdir()
        with ResourceSampler(settings.device) as resources:
            pipeline, summary, elapsed, clock = run_pipeline([str(clip)] * n, settings, detector, work, live=False,
            seconds=None)
        frames = sum(s["frames"] for s in summary["streams"].values())
        fps = frames / elapsed
        rows.append({
            "streams": n,
            "frames": frames,
            "dropped_frames": sum(s.get("dropped", 0) for s in summary["streams"].values()),
            "aggregate_fps": round(fps, 1),
            "vs_ultralytics_track": round(fps / baseline_fps, 2),
            "wall_s": round(elapsed, 2),
            "startup_s": clock.startup_s(),  # from the start of the run to the first batch out of it
            "steady_fps": clock.steady_fps(),  # from the first batch out to the last: without start-up and shut-down
            "gpu_utilisation_pct": resources.mean_utilisation(),
            **_where_time_went(pipeline, elapsed),
        })
        row = rows[-1]
        print(f"file mode  {n:3d} streams: {fps:8.1f} frames/s  {fps / baseline_fps:6.2f}x model.track   "
              f"steady {row['steady_fps']} frames/s after {row['startup_s']} s of start-up   "
              f"batch {row['mean_batch']}  stages {_stages(row['stage_share'])}", flush=True)
        on_row()


def live_mode(settings: BenchSettings, detector, folder: Path, rows: list[dict], on_row: Callable[[], None]) -> None:
    """As `file_mode`, for `replay:` sources paced as cameras."""
    fps_each = cv2.VideoCapture(str(settings.clip)).get(cv2.CAP_PROP_FPS) or 30.0
    for n in settings.live_streams:
        work = folder / f"live_{n}"
        work.mkdir()
        with ResourceSampler(settings.device) as resources:
            pipeline, summary, elapsed, _ = run_pipeline(
                [f"replay:{settings.clip}"] * n, settings, detector, work, live=True, seconds=settings.live_seconds
            )
        latency = _latencies_ms(work / "events.jsonl")
        frames = sum(s["frames"] for s in summary["streams"].values())
        dropped = sum(s.get("dropped", 0) for s in summary["streams"].values())
        row = {
            "streams": n,
            "source_fps": round(fps_each, 2),
            "seconds": round(elapsed, 1),
            "processed_fps": round(frames / elapsed, 1),
            "offered_fps": round(n * fps_each, 1),
            "dropped_frames": dropped,
            "dropped_share": round(dropped / max(dropped + frames, 1), 4),
            "p50_latency_ms": _pct(latency, 50),
            "p99_latency_ms": _pct(latency, 99),
            "latency_samples": len(latency),
            "max_buffer_depth": max(st.capture.buffer.high_water for st in pipeline.streams.values()),
            "buffer_capacity": pipeline.config.streams.live_buffer,
            "host_rss_mb": ResourceSampler.trend(resources.rss),
            "gpu_memory_mb": ResourceSampler.trend(resources.gpu_mb),
            "gpu_utilisation_pct": resources.mean_utilisation(),
            **_where_time_went(pipeline, elapsed),
        }
        rows.append(row)
        print(f"live mode  {n:3d} streams at {fps_each:.0f} fps for {elapsed:.0f} s: processed {row['processed_fps']} "
              f"of "
              f"{row['offered_fps']} frames/s offered, dropped {row['dropped_share']:.1%}, latency p50 "
              f"{row['p50_latency_ms']} ms p99 {row['p99_latency_ms']} ms, deepest buffer {row['max_buffer_depth']}"
              f"/{row['buffer_capacity']}", flush=True)
        on_row()


def _latencies_ms(events_file: Path) -> np.ndarray:
    """`published_ts - ts` of every track event, in ms. orjson: 64 live streams for 5 minutes write millions
    of lines, which the json module takes about a minute to read."""
    values = []
    with open(events_file, "rb") as f:
        for line in f:
            event = orjson.loads(line)
            if event["type"].startswith("track."):
                values.append(event["published_ts"] - event["ts"])
    return np.array(values) * 1000


def _pct(values: np.ndarray, q: float) -> float | None:
    return round(float(np.percentile(values, q)), 1) if len(values) else None


def _where_time_went(pipeline, elapsed: float) -> dict:
    """Frames per forward pass, each stage's share of the wall time, and the detecting thread's own CPU share
    (see DetectedBatch.detect_cpu_s): what says which side stopped a run short."""
    return {
        "mean_batch": _mean_batch(pipeline),
        "stage_share": {k: round(v / elapsed, 3) for k, v in pipeline.clock.stage_s.items()},
        "detect_thread_cpu_share": round(pipeline.clock.detect_cpu_s / elapsed, 3),
    }


def _mean_batch(pipeline) -> float | None:
    """Frames per forward pass, on average: a GPU is only efficient with full batches."""
    return round(pipeline.clock.batched_frames / pipeline.clock.batches, 1) if pipeline.clock.batches else None


def _stages(share: dict[str, float]) -> str:
    return " ".join(f"{k} {v:.0%}" for k, v in share.items())


def run_bench(settings: BenchSettings, out: Path) -> dict:
    """Baseline, then file mode, then live mode; `out` is rewritten after each run, so a benchmark cut off by a
    time limit (the GPU machine's) keeps every figure it finished, with `complete: false`."""
    from roadwatch.detector import DEFAULT_CATEGORIES, CategoryMap
    from roadwatch.detector.yolo import YoloDetector, resolve_device
    from roadwatch.outputs.files import write_json_atomic

    device = resolve_device(settings.device)
    settings = BenchSettings(**{**settings.__dict__, "device": device})
    out.unlink(missing_ok=True)  # what is there after this run is this run's
    detector = YoloDetector(str(settings.model), CategoryMap(DEFAULT_CATEGORIES), device=device, imgsz=settings.imgsz,
                            half=device.startswith("cuda"), trace=settings.trace)
    print(f"our network runs {detector.forward_mode}", flush=True)
    warm = cv2.VideoCapture(str(settings.clip)).read()[1]
    detector.detect([warm] * settings.max_batch)  # first-call costs (allocation, autotuning) stay out of the figures
    files: list[dict] = []
    live: list[dict] = []
    result: dict = {}

    def write(complete: bool = False) -> None:
        result.update(_result(settings, detector.forward_mode, baseline, files, live, complete))
        out.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(out, result)  # rewritten while a reader (or a time limit) may come at any moment

    with tempfile.TemporaryDirectory(prefix="roadwatch-bench-") as tmp:
        folder = Path(tmp)
        clip = settings.clip
        if settings.frames_per_stream > 0:
            n = settings.frames_per_stream
            clip = cut_clip(settings.clip, folder / f"{clip.stem}_{n}.mp4", n)
        baseline = None  # only file mode's figures are ratios to it: a live-only run skips it (seconds on a GPU)
        if settings.file_streams:
            baseline = ultralytics_track_fps(
                settings.clip, settings.model, device, settings.imgsz, settings.baseline_frames
            )
            use_all_cores(device)
            print(f"Ultralytics model.track loop on {settings.clip.name}: {baseline:.1f} frames/s (1.00x)", flush=True)
        write()
        if baseline is not None:
            file_mode(settings, detector, clip, baseline, folder, files, write)
        live_mode(settings, detector, folder, live, write)
    write(complete=True)
    print(f"wrote {out}")
    return result


def _result(settings: BenchSettings, forward: str, baseline: float | None, files: list[dict], live: list[dict],
complete: bool) -> dict:
    """The results file: the issue's keys (best file-mode run, the largest live run) and every run."""
    best = max(files, key=lambda r: r["aggregate_fps"]) if files else None
    worst_live = max(live, key=lambda r: r["streams"]) if live else None
    return {
        "device": _device_name(settings.device),
        "model": settings.model.name,
        "clip": settings.clip.name,
        "imgsz": settings.imgsz,
        "overlap": settings.overlap if settings.overlap is not None else settings.device.startswith("cuda"),
        "forward": forward,  # "traced", or "eager" and why
        "decode_threads": settings.decode_threads,
        "capture": settings.capture,
        "complete": complete,
        "ultralytics_track_fps": round(baseline, 1) if baseline is not None else None,
        "file_mode": {
            "streams": best["streams"] if best else None,
            "aggregate_fps": best["aggregate_fps"] if best else None,
            "vs_ultralytics_track": best["vs_ultralytics_track"] if best else None,
            "frames_per_stream": settings.frames_per_stream or "whole clip",
            "runs": files,
        },
        "live_mode": {
            "streams": worst_live["streams"] if worst_live else None,
            "p99_latency_ms": worst_live["p99_latency_ms"] if worst_live else None,
            "max_buffer_depth": worst_live["max_buffer_depth"] if worst_live else None,
            "runs": live,
        },
    }


def _device_name(device: str) -> str:
    if device.startswith("cuda"):
        import torch

        return torch.cuda.get_device_name(0)
    return f"cpu ({os.cpu_count()} threads, {platform.machine()})"
