"""GIL benchmark: how much a forward pass launched from one thread slows down while another thread runs Python.

On a GPU the detection thread does little but launch kernels, one Python call per layer (about 250 for
yolov8n), each releasing the GIL while it queues its kernel and taking it back after. While the pipeline
thread tracks and publishes (Python, holding the GIL), every one of those calls may wait for it. This
measures that effect on any machine: the network's forward pass, one thread of torch, at a tiny input so
that launching dominates as on a GPU, alone (the unit) and beside a thread running pure Python, at
Python's default switch interval (5 ms) and shorter ones; eagerly (one Python call per layer) and traced
into one TorchScript call as our detector runs it (detector/traced.py). Writes bench/results/gil.json.

    .venv/bin/python bench/gil_bench.py
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("YOLO_OFFLINE", "1")

import torch  # noqa: E402

from detector.traced import trace_network  # noqa: E402

DEFAULT_MODEL = ROOT.parent / "shared" / "models" / "yolov8n_coco.pt"


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--imgsz", type=int, default=64, help="input size; small, so that launching dominates")
    parser.add_argument("--seconds", type=float, default=3.0, help="per measurement")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "gil.json")
    args = parser.parse_args()
    if not args.model.is_file():
        sys.exit(f"{args.model} not found: pass --model (see ../shared/README.md)")
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
            print(f"{name}: beside a thread running Python, switch interval {interval_ms:g} ms: {ms:8.2f} ms ({ms / alone:.1f}x)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"imgsz": args.imgsz, "cpus": os.cpu_count(), "forward_ms": rows}, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
