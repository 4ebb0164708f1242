"""Capture benchmark: frames/s decoded into the ring buffers for 1, 4 and 16 file streams.

Prints each figure with the single-stream figure of the same run as the unit (machines here are
noisy; absolute numbers mean little). Only capture is measured: a consumer drains the buffers and
drops the frames. Writes bench/results/streams.json.

    make bench-streams            # or: python bench/streams_bench.py --streams 1 4 16 --clip PATH
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
sys.path.insert(0, str(ROOT))

from streams import SourceSpec, StreamManager  # noqa: E402

DEFAULT_CLIP = ROOT.parent / "shared" / "videos" / "fixedcam_highway_cars_1280x720.mp4"


def decode_rate(clip: Path, streams: int, buffer: int, decode_threads: int = 0) -> tuple[float, int]:
    """Aggregate frames/s of `streams` capture threads reading `clip` to its end, and the frame total."""
    manager = StreamManager(file_capacity=buffer, decode_threads=decode_threads)
    captures = [manager.add(SourceSpec.from_uri(str(clip), f"s{i}"), start=False) for i in range(streams)]
    t0 = time.perf_counter()
    for capture in captures:
        capture.start()
    total = 0
    pending = list(captures)
    while pending:
        drained = 0
        for capture in list(pending):
            while capture.buffer.poll() is not None:
                drained += 1
            if capture.buffer.exhausted:
                pending.remove(capture)
        total += drained
        if not drained:
            time.sleep(0.0005)
    elapsed = time.perf_counter() - t0
    manager.stop_all()
    return total / elapsed, total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clip", type=Path, default=DEFAULT_CLIP)
    parser.add_argument("--streams", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--buffer", type=int, default=64, help="file buffer capacity per stream")
    parser.add_argument("--decode-threads", type=int, default=0, help="FFmpeg threads per stream (0: FFmpeg's choice)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "streams.json")
    args = parser.parse_args()
    if not args.clip.is_file():
        sys.exit(f"clip {args.clip} not found: pass --clip PATH (see ../shared/README.md)")

    print(f"capture benchmark: {args.clip.name}, {os.cpu_count()} CPUs, {platform.processor() or platform.machine()}")
    rows = []
    unit = None
    for n in args.streams:
        fps, frames = decode_rate(args.clip, n, args.buffer, args.decode_threads)
        unit = unit or fps
        rows.append({"streams": n, "frames": frames, "fps": round(fps, 1), "per_stream_fps": round(fps / n, 1),
                     "vs_single_stream": round(fps / unit, 2)})
    print(f"{'streams':>8} {'frames':>8} {'x 1 stream':>11} {'per stream':>11}")
    for r in rows:
        print(f"{r['streams']:>8} {r['frames']:>8} {r['vs_single_stream']:>10.2f}x {r['per_stream_fps'] / unit:>10.2f}x")
    print(f"unit: 1 stream = {unit:.0f} frames/s on this machine in this run")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"clip": args.clip.name, "cpus": os.cpu_count(), "runs": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
