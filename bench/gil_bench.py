"""GIL benchmark: how much a forward pass launched from one thread slows down while another thread runs Python.

On a GPU the detection thread does little but launch kernels, one Python call per layer (about 250 for
yolov8n), each releasing the GIL while it queues its kernel and taking it back after. While the pipeline
thread tracks and publishes (Python, holding the GIL), every one of those calls may wait for it. This
measures that effect on any machine: the network's forward pass, one thread of torch, at a tiny input so
that launching dominates as on a GPU, alone (the unit) and beside a thread running pure Python, at
Python's default switch interval (5 ms) and shorter ones; eagerly (one Python call per layer) and traced
into one TorchScript call as our detector runs it (detector/traced.py).

Then the case itself: our whole `detect` call (letterbox, forward, NMS; small input, one torch thread) alone
and while another thread replays the real pipeline (`Pipeline.process_frames` on recorded detections, 64
streams, every track published every frame, as in the live benchmark), eager and traced, with the
pipeline thread's own rate alone and beside it. Unlike pure Python, the pipeline thread gives the GIL up on
every ZeroMQ send and file write. Writes bench/results/gil.json.

    .venv/bin/python bench/gil_bench.py
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("YOLO_OFFLINE", "1")

import torch  # noqa: E402
from host_bench import PipelineReplay, record  # noqa: E402

from roadwatch.detector.traced import trace_network  # noqa: E402

DEFAULT_MODEL = ROOT.parent / "shared" / "models" / "yolov8n_coco.pt"
DEFAULT_CLIP = ROOT.parent / "shared" / "videos" / "fixedcam_highway_cars_1280x720.mp4"


def forward_ms(network, x: torch.Tensor, seconds: float) -> float:
    """Mean milliseconds per forward pass over about `seconds`."""
    count, t0 = 0, time.perf_counter()
    with torch.inference_mode():
        while time.perf_counter() - t0 < seconds:
            network(x)
            count += 1
    return (time.perf_counter() - t0) / count * 1e3


def beside_python(network, x: torch.Tensor, seconds: float, switch_interval_s: float) -> float:
    """`forward_ms` while another thread runs pure Python, at the given switch interval."""
    default = sys.getswitchinterval()
    stop = threading.Event()

    def python_work() -> None:
        while not stop.is_set():
            sum(range(1000))

    sys.setswitchinterval(switch_interval_s)
    thread = threading.Thread(target=python_work, daemon=True)
    thread.start()
    try:
        return forward_ms(network, x, seconds)
    finally:
        stop.set()
        thread.join()
        sys.setswitchinterval(default)


def _detect(detector, images, _x) -> None:
    detector.detect(images)


def _replay_into(rate: list[float], replay, stop: threading.Event) -> None:
    rate.append(replay_us_per_frame(replay, None, stop))


def detect_beside_pipeline(model: Path, clip: Path, imgsz: int, batch: int, streams: int, seconds: float) -> dict:
    """`detect` of `batch` frames at `imgsz`, alone and beside a thread replaying the pipeline, eager and traced;
    and the pipeline thread's microseconds per frame alone and beside each."""
    import tempfile

    from detector_bench import read_frames

    from roadwatch.detector import DEFAULT_CATEGORIES, CategoryMap
    from roadwatch.detector.yolo import YoloDetector

    full = YoloDetector(str(model), CategoryMap(DEFAULT_CATEGORIES), device="cpu")
    frames = read_frames(clip, 30)
    detections = record(frames, full, batch=8)  # real detections for the replay, at 640
    result: dict = {"detect_imgsz": imgsz, "detect_batch": batch, "pipeline_streams": streams}
    with tempfile.TemporaryDirectory(prefix="gil-bench-") as folder:
        replay = PipelineReplay(clip, frames, detections, full, streams, 0.0, Path(folder))
        result["pipeline_us_per_frame_alone"] = round(replay_us_per_frame(replay, seconds), 1)
        for name, trace in (("eager", False), ("traced", True)):
            detector = YoloDetector(str(model), CategoryMap(DEFAULT_CATEGORIES), device="cpu", imgsz=imgsz, trace=trace)
            torch.set_num_threads(1)  # resolve_device gave torch every core; one, so the replay has the other
            detect = functools.partial(_detect, detector, frames[:batch])
            forward_ms(detect, None, 1.0)  # warm-up
            alone = forward_ms(detect, None, seconds)
            stop = threading.Event()
            rate: list[float] = []
            thread = threading.Thread(target=_replay_into, args=(rate, replay, stop), daemon=True)
            thread.start()
            try:
                beside = forward_ms(detect, None, seconds)
            finally:
                stop.set()
                thread.join()
            result[name] = {
                "alone_ms": round(alone, 2),
                "beside_pipeline_ms": round(beside, 2),
                "pipeline_us_per_frame_beside": round(rate[0], 1),
            }
            print(
                f"{name}: detect of {batch} frames at {imgsz} px: {alone:.2f} ms alone, {beside:.2f} ms beside the "
                f"pipeline thread ({beside / alone:.1f}x); the pipeline thread {rate[0]:.0f} us a frame beside it, "
                f"{result['pipeline_us_per_frame_alone']:.0f} alone"
            )
        replay.close()
    return result


def replay_us_per_frame(replay: PipelineReplay, seconds: float | None, stop: threading.Event | None = None) -> float:
    """Replay passes for `seconds`, or until `stop` is set; microseconds per frame."""
    count, t0 = 0, time.perf_counter()
    while (stop is None and time.perf_counter() - t0 < seconds) or (stop is not None and not stop.is_set()):
        count += replay.pass_over_frames()
    return (time.perf_counter() - t0) / max(count, 1) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--imgsz", type=int, default=64, help="input size; small, so that launching dominates")
    parser.add_argument("--seconds", type=float, default=3.0, help="per measurement")
    parser.add_argument(
        "--clip", type=Path, default=DEFAULT_CLIP, help="the replayed pipeline's detections come from it"
    )
    parser.add_argument(
        "--detect-imgsz", type=int, default=128, help="input size of the detect calls beside the pipeline"
    )
    parser.add_argument("--detect-batch", type=int, default=4)
    parser.add_argument("--streams", type=int, default=64, help="streams the replayed pipeline tracks")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "gil.json")
    args = parser.parse_args()
    for path in (args.model, args.clip):
        if not path.is_file():
            sys.exit(f"{path} not found: pass --model / --clip (see ../shared/README.md)")
    from ultralytics import YOLO
    from ultralytics.nn.autobackend import AutoBackend

    network = AutoBackend(YOLO(str(args.model)).model, device=torch.device("cpu"), fuse=True, verbose=False).eval()
    torch.set_num_threads(1)  # one core for the network, so the Python thread has one of its own
    traced, mode = trace_network(network.model, torch.device("cpu"), torch.float32, int(network.stride), args.imgsz)
    if traced is None:
        sys.exit(f"the network could not be traced: {mode}")
    x = torch.zeros(1, 3, args.imgsz, args.imgsz)
    rows: dict[str, dict[str, float]] = {}
    for name, forward in (("eager", network), ("traced", traced)):
        forward_ms(forward, x, 1.0)  # warm-up
        alone = forward_ms(forward, x, args.seconds)
        rows[name] = {"alone": round(alone, 2)}
        print(f"{name}: forward pass at {args.imgsz} px, one torch thread: {alone:.2f} ms alone (1.00x)")
        for interval_ms in (5.0, 1.0, 0.5, 0.2):
            ms = beside_python(forward, x, args.seconds, interval_ms / 1000)
            rows[name][f"beside_python_switch_{interval_ms:g}ms"] = round(ms, 2)
            print(
                f"{name}: beside a thread running Python, switch interval {interval_ms:g} ms: {ms:8.2f} ms "
                f"({ms / alone:.1f}x)"
            )
    beside = detect_beside_pipeline(
        args.model, args.clip, args.detect_imgsz, args.detect_batch, args.streams, args.seconds
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {"imgsz": args.imgsz, "cpus": os.cpu_count(), "forward_ms": rows, "detect_beside_pipeline": beside},
            indent=2,
        )
        + "\n"
    )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
