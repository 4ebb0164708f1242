"""Detector benchmark: our batched detector against Ultralytics' predict and the bare network, same frames, same run.

Five figures, frames/s, on the same decoded 720p frames and the same model at the same size:
  - Ultralytics `model.predict` one frame per call (what most users' loops do),
  - Ultralytics `model.predict` on a list of `--batch` frames,
  - roadwatch's `YoloDetector.detect` on `--batch` frames (letterbox on the device, one forward, batch NMS),
  - the same on frames held in the detector's own arrays (`allocate_frame`: pinned memory on CUDA), as the
    pipeline's capture decodes them: uploaded straight from there, without the staging copy,
  - the bare network: the forward pass alone on a ready (batch, 3, 384, 640) tensor, no pre- or post-processing,
    eagerly (as Ultralytics runs it: the unit of the ">= 70 % of the bare network" target) and as our detector
    runs it (traced into one TorchScript call by default, detector/traced.py).
Ratios against Ultralytics' per-frame predict and against the bare network are printed (machines here are
noisy; absolute numbers mean little). On a CPU every contender runs with torch using all cores. Works on CPU and CUDA;
fp16 on CUDA. Writes bench/results/detector.json.

    make bench-detector           # or: python bench/detector_bench.py --device cuda --batch 64
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("YOLO_OFFLINE", "1")

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from roadwatch.detector import DEFAULT_CATEGORIES, CategoryMap  # noqa: E402
from roadwatch.detector.yolo import YoloDetector, resolve_device  # noqa: E402

SHARED = ROOT.parent / "shared"
DEFAULT_CLIP = SHARED / "videos" / "fixedcam_highway_cars_1280x720.mp4"
DEFAULT_MODEL = SHARED / "models" / "yolov8n_coco.pt"


def read_frames(clip: Path, count: int) -> list[np.ndarray]:
    """`count` frames of the clip, rewinding when it is shorter."""
    frames: list[np.ndarray] = []
    cap = cv2.VideoCapture(str(clip))
    while len(frames) < count:
        ok, frame = cap.read()
        if not ok:
            cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            continue
        frames.append(frame)
    cap.release()
    return frames


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def best_rate(run, frames_per_call: int, calls: int, repeats: int, device: str) -> float:
    """Best of `repeats` timings of `calls` calls, as frames/s (best, not mean: noise only ever slows)."""
    run()  # warm-up: lazy initialisation, cuDNN autotuning, allocator growth
    sync(device)
    # Ultralytics' predictor setup sets torch's CPU threads to cpu_count - 1 for the whole process; every
    # contender gets all cores, so the figures compare code, not thread counts
    resolve_device(device)
    best = 0.0
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(calls):
            run()
        sync(device)
        best = max(best, frames_per_call * calls / (time.perf_counter() - t0))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clip", type=Path, default=DEFAULT_CLIP)
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--imgsz", type=int, default=640)
    parser.add_argument("--batch", type=int, default=None, help="frames per batch (default: 64 on CUDA, 8 on CPU)")
    parser.add_argument("--calls", type=int, default=None, help="batches per timing (default: 10 on CUDA, 3 on CPU)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--backend", default="pytorch", help="our detector's runtime: pytorch, onnx, openvino or tensorrt"
    )
    parser.add_argument(
        "--half",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="reduced precision: fp16 on CUDA, bf16 with --backend openvino on a CPU that has it "
        "(default: on with CUDA only; Ultralytics' predict on a CPU ignores it)",
    )
    parser.add_argument("--no-trace", action="store_true", help="run our detector's network eagerly, not traced")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "detector.json")
    args = parser.parse_args()
    for path in (args.clip, args.model):
        if not path.is_file():
            sys.exit(f"{path} not found: pass --clip/--model (see ../shared/README.md)")

    device = resolve_device(args.device)
    cuda = device.startswith("cuda")
    batch = args.batch or (64 if cuda else 8)
    calls = args.calls or (10 if cuda else 3)
    half = cuda if args.half is None else args.half
    frames = read_frames(args.clip, batch)

    from ultralytics import YOLO

    reference = YOLO(str(args.model))
    predict_kwargs = dict(imgsz=args.imgsz, conf=0.25, iou=0.7, device=device, half=half, verbose=False)
    ours = YoloDetector(
        str(args.model), CategoryMap(DEFAULT_CATEGORIES), device=device, imgsz=args.imgsz, half=half,
        backend=args.backend, max_batch=batch, trace=not args.no_trace,
    )
    bare_input = ours.letterbox(frames)[0]  # (batch, 3, 384, 640) for 720p, the shape predict uses

    def per_frame() -> None:
        for frame in frames:
            reference.predict(frame, **predict_kwargs)

    def batched() -> None:
        reference.predict(frames, batch=batch, **predict_kwargs)

    def detect() -> None:
        ours.detect(frames)

    # what the pipeline hands the detector: frames decoded into its own arrays (pinned memory on CUDA)
    allocated = []
    for frame in frames:
        allocated.append(ours.allocate_frame(frame.shape))
        allocated[-1][...] = frame

    def detect_allocated() -> None:
        ours.detect(allocated)

    def bare() -> None:
        with torch.inference_mode():
            ours.backend(bare_input)

    def bare_as_ours() -> None:
        with torch.inference_mode():
            ours.forward_pass(bare_input)

    # per-frame predict gets one pass over the batch per call: it is the slow one, and what it measures is per frame
    rates = {
        "ultralytics_predict_per_frame": best_rate(per_frame, batch, max(1, calls // 2), args.repeats, device),
        "ultralytics_predict_batched": best_rate(batched, batch, calls, args.repeats, device),
        "roadwatch_detector": best_rate(detect, batch, calls, args.repeats, device),
        "roadwatch_detector_decoded_into_its_arrays": best_rate(detect_allocated, batch, calls, args.repeats, device),
        "bare_network": best_rate(bare, batch, calls, args.repeats, device),
        "bare_network_as_our_detector_runs_it": best_rate(bare_as_ours, batch, calls, args.repeats, device),
    }
    base = rates["ultralytics_predict_per_frame"]
    result = {
        "device": torch.cuda.get_device_name(0)
        if cuda
        else f"cpu ({os.cpu_count()} threads, {platform.processor() or platform.machine()})",
        "model": args.model.name,
        "clip": args.clip.name,
        "batch": batch,
        "input": list(bare_input.shape[1:]),
        "fp16": half,
        "backend": args.backend,
        "forward": ours.forward_mode,
        "frames_per_s": {k: round(v, 1) for k, v in rates.items()},
        "vs_predict_per_frame": {k: round(v / base, 2) for k, v in rates.items()},
        "detector_vs_bare_network": round(rates["roadwatch_detector"] / rates["bare_network"], 3),
        "pipeline_detector_vs_bare_network": round(
            rates["roadwatch_detector_decoded_into_its_arrays"] / rates["bare_network"], 3
        ),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
    }
    print(
        f"device: {result['device']}   batch {batch}, input {result['input']}, fp16 {half}, backend {args.backend}, "
        f"our network runs {ours.forward_mode}"
    )
    print(f"{'':44} {'frames/s':>10} {'vs predict/frame':>17}")
    for name, rate in rates.items():
        print(f"{name:44} {rate:10.1f} {rate / base:16.2f}x")
    print(
        f"roadwatch detector / bare network: {result['detector_vs_bare_network']:.1%} "
        f"(frames decoded into its arrays, as in the pipeline: {result['pipeline_detector_vs_bare_network']:.1%})"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
