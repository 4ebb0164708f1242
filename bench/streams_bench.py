"""Capture benchmark: frames/s decoded into the ring buffers for 1, 4 and 16 file streams, with capture in
threads of this process and in a process per stream.

Prints each figure with one stream in threads, from the same run, as the unit (machines here are noisy;
absolute numbers mean little). Only capture is measured: a consumer drains the buffers and drops the
frames. The rate counts the frames that arrive while every stream is running (from the moment the last
stream delivers its first frame until the first stream ends), so starting a process and the tail
where only slow streams remain do not blur it. Writes bench/results/streams.json.

    make bench-streams            # or: python bench/streams_bench.py --streams 1 4 16 --capture thread process
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

from roadwatch.streams import SourceSpec, StreamManager  # noqa: E402

DEFAULT_CLIP = ROOT.parent / "shared" / "videos" / "fixedcam_highway_cars_1280x720.mp4"


def decode_rate(
    clip: Path, streams: int, buffer: int, decode_threads: int = 0, capture: str = "thread"
) -> tuple[float, int]:
    """Aggregate frames/s of `streams` captures reading `clip` while all of them run, and the frames counted."""
    manager = StreamManager(file_capacity=buffer, decode_threads=decode_threads, capture=capture)
    captures = [manager.add(SourceSpec.from_uri(str(clip), f"s{i}"), start=False) for i in range(streams)]
    for c in captures:
        c.start()
    started: set[int] = set()
    t0 = t1 = None
    counted = 0
    pending = list(range(streams))
    while pending and t1 is None:
        drained = 0
        for i in list(pending):
            buffer = captures[i].buffer
            while buffer.poll() is not None:
                drained += 1
                started.add(i)
            if buffer.exhausted:
                pending.remove(i)
                t1 = time.perf_counter()  # the first stream has ended: the window closes
        if t0 is None and len(started) == streams:
            t0, drained = time.perf_counter(), 0
        elif t0 is not None:
            counted += drained
        if not drained:
            time.sleep(0.0005)
    manager.stop_all()
    if t0 is None or t1 is None or t1 <= t0:
        raise SystemExit("the clip is too short to see every stream running at once: pass a longer --clip")
    return counted / (t1 - t0), counted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clip", type=Path, default=DEFAULT_CLIP)
    parser.add_argument("--streams", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--buffer", type=int, default=64, help="file buffer capacity per stream")
    parser.add_argument("--decode-threads", type=int, default=0, help="FFmpeg threads per stream (0: FFmpeg's choice)")
    parser.add_argument("--capture", nargs="+", choices=["thread", "process"], default=["thread", "process"])
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "streams.json")
    args = parser.parse_args()
    if not args.clip.is_file():
        sys.exit(f"clip {args.clip} not found: pass --clip PATH (see ../shared/README.md)")

    print(f"capture benchmark: {args.clip.name}, {os.cpu_count()} CPUs, {platform.processor() or platform.machine()}")
    rows = []
    unit = None
    for n in args.streams:
        for capture in args.capture:
            fps, frames = decode_rate(args.clip, n, args.buffer, args.decode_threads, capture)
            unit = unit or fps
            rows.append(
                {
                    "streams": n,
                    "capture": capture,
                    "frames": frames,
                    "fps": round(fps, 1),
                    "per_stream_fps": round(fps / n, 1),
                    "vs_single_stream": round(fps / unit, 2),
                }
            )
    print(f"{'streams':>8} {'capture':>8} {'frames':>8} {'x unit':>8} {'per stream':>11}")
    for r in rows:
        print(
            f"{r['streams']:>8} {r['capture']:>8} {r['frames']:>8} {r['vs_single_stream']:>7.2f}x "
            f"{r['per_stream_fps'] / unit:>10.2f}x"
        )
    print(f"unit: 1 stream in {args.capture[0]}s = {unit:.0f} frames/s on this machine in this run")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"clip": args.clip.name, "cpus": os.cpu_count(), "runs": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
