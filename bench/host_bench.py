"""Host benchmark: the pipeline's per-frame work after detection (tracking, zones, events to ZeroMQ and
events.jsonl), against Ultralytics' tracker alone on the same detections, same run.

On a GPU the network is cheap and this work, done in one Python thread, sets the ceiling of frames/s.
Real detections are recorded once (our detector on the highway clip), then replayed into the real
`Pipeline.process_frames` for `--streams` streams, one frame of each per call as a batch brings them (no
decoding, no forward pass). Two rows: every frame publishing every track (`update_interval_s` 0, as live
monitoring with per-frame updates) and the default 1 s interval. The unit is Ultralytics' `BYTETracker.update` on the
same detections (what `model.track`
does per frame after the forward pass, less its Results building): a ratio above 1 means our whole
stage, events included, costs less per frame than their tracker alone. Writes bench/results/host.json.

    make bench-host
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("YOLO_OFFLINE", "1")

import numpy as np  # noqa: E402
from detector_bench import DEFAULT_CLIP, DEFAULT_MODEL, read_frames  # noqa: E402


def record(frames: list[np.ndarray], detector, batch: int) -> list:
    detections = []
    for i in range(0, len(frames), batch):
        detections += detector.detect(frames[i : i + batch])
    return detections


class PipelineReplay:
    """The real `Pipeline.process_frames` fed recorded detections for `streams` streams, one frame of each per
    call as a batch brings them (no decoding, no forward pass; the streams' capture threads never start)."""

    def __init__(
        self, clip: Path, frames: list[np.ndarray], detections: list, detector, streams: int, interval_s: float,
        folder: Path,
    ) -> None:
        from roadwatch.config import Config
        from roadwatch.events.zmq_io import EventPublisher
        from roadwatch.pipeline import Pipeline
        from roadwatch.streams import SourceSpec, probe

        config = Config()
        config.output.video = False
        config.tracker.update_interval_s = interval_s
        specs = [SourceSpec.from_uri(str(clip), f"s{i}") for i in range(streams)]
        self.info = probe(specs[0])
        self.publisher = EventPublisher(f"ipc://{folder}/events.sock", send_hwm=1_000_000, linger_ms=0)
        self.pipeline = Pipeline(
            config, specs, {s.stream_id: self.info for s in specs}, detector, self.publisher, folder
        )
        self.frames, self.detections, self.streams = frames, detections, streams
        self.index = 0  # frames replayed per stream so far: media time runs on across repeats

    def pass_over_frames(self) -> int:
        """Every recorded frame once, for every stream; returns the frames processed."""
        from roadwatch.streams import Frame

        for image, dets in zip(self.frames, self.detections):
            batch = [
                Frame(f"s{s}", self.index, self.index / self.info.fps, time.time(), 0, image)
                for s in range(self.streams)
            ]
            self.pipeline.process_frames(batch, [dets] * self.streams)
            self.index += 1
        self.pipeline.outputs.flush()
        return len(self.frames) * self.streams

    def close(self) -> None:
        self.publisher.close()


def ours(
    clip: Path, frames: list[np.ndarray], detections: list, detector, streams: int, interval_s: float, folder: Path
) -> tuple[float, float]:
    """Seconds per frame, and events per frame, of Pipeline.process_frames over `streams` streams, the recorded
    frames 3 times each."""
    replay = PipelineReplay(clip, frames, detections, detector, streams, interval_s, folder)
    count, t0 = 0, time.perf_counter()
    for _ in range(3):
        count += replay.pass_over_frames()
    elapsed = time.perf_counter() - t0
    events = replay.publisher.sent
    replay.close()
    return elapsed / count, events / count


def ultralytics(frames: list[np.ndarray], detections: list, streams: int) -> float:
    """Seconds per frame of Ultralytics' BYTETracker.update, one tracker per stream, same detections."""
    from ultralytics.engine.results import Boxes
    from ultralytics.trackers import BYTETracker
    from ultralytics.utils import YAML, IterableSimpleNamespace
    from ultralytics.utils.checks import check_yaml

    args = IterableSimpleNamespace(**YAML.load(check_yaml("bytetrack.yaml")))
    trackers = [BYTETracker(args) for _ in range(streams)]
    shape = frames[0].shape[:2]
    boxes = [Boxes(np.column_stack([d.xyxy, d.confidence, d.class_id]), shape) for d in detections]
    count, t0 = 0, time.perf_counter()
    for _ in range(3):
        for image, b in zip(frames, boxes):
            for tracker in trackers:
                tracker.update(b, image)
                count += 1
    return (time.perf_counter() - t0) / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clip", type=Path, default=DEFAULT_CLIP)
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--frames", type=int, default=150)
    parser.add_argument("--streams", type=int, default=8)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "host.json")
    args = parser.parse_args()
    for path in (args.clip, args.model):
        if not path.exists():
            sys.exit(f"host bench: {path} is missing (see ../shared/README.md)")

    from roadwatch.detector import DEFAULT_CATEGORIES, CategoryMap
    from roadwatch.detector.yolo import YoloDetector

    detector = YoloDetector(str(args.model), CategoryMap(DEFAULT_CATEGORIES), device="cpu")
    frames = read_frames(args.clip, args.frames)
    detections = record(frames, detector, batch=8)
    per_frame = np.mean([len(d) for d in detections])
    print(
        f"host benchmark: {args.frames} frames of {args.clip.name} x {args.streams} streams, "
        f"{per_frame:.1f} detections a frame, replayed (no decode, no forward)"
    )
    base = ultralytics(frames, detections, args.streams)
    rows = {
        "ultralytics_bytetrack_update": {
            "us_per_frame": round(base * 1e6, 1),
            "fps": round(1 / base),
            "vs_ultralytics": 1.0,
        }
    }
    print(f"{'stage':<44}{'us/frame':>10}{'frames/s':>10}{'x BT':>8}{'events/frame':>14}")
    print(f"{'Ultralytics BYTETracker.update (unit)':<44}{base * 1e6:>10.0f}{1 / base:>10.0f}{1.0:>8.2f}{'-':>14}")
    for interval in (0.0, 1.0):
        with tempfile.TemporaryDirectory() as folder:
            seconds, events = ours(args.clip, frames, detections, detector, args.streams, interval, Path(folder))
        name = f"roadwatch process_frames, update every {interval:g} s"
        rows[f"roadwatch_interval_{interval:g}s"] = {
            "us_per_frame": round(seconds * 1e6, 1),
            "fps": round(1 / seconds),
            "vs_ultralytics": round(base / seconds, 2),
            "events_per_frame": round(events, 2),
        }
        print(f"{name:<44}{seconds * 1e6:>10.0f}{1 / seconds:>10.0f}{base / seconds:>8.2f}{events:>14.1f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "clip": args.clip.name,
                "streams": args.streams,
                "detections_per_frame": round(float(per_frame), 2),
                "rows": rows,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
