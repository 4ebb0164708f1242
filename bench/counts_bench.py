"""Line counts per class with detection every frame, at 5 a second, and motion-gated at 5 a second, on the
shared fixed-camera clips: what detecting less costs in counts (the issue's bar: within 5 % of every frame).

Each mode is a real `roadwatch run` of the clip with a counting line (config below); crossings are read
from its events.jsonl, per line, category and direction.

    make bench-counts
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
MODEL = SHARED / "models" / "yolov8n_coco.pt"
CLIPS = {  # clip -> its counting line, across the lanes (drawn by eye on the first frame)
    "fixedcam_citystreet_cars_bus_640x360.mp4": "{id: across, start: [150, 200], end: [470, 200]}",
    "fixedcam_highway_cars_1280x720.mp4": "{id: across, start: [0, 430], end: [1280, 430]}",
}
MODES = {
    "every frame": "schedule: {file_detect_fps: null, file_motion: false}",
    "detect_fps 5": "schedule: {file_detect_fps: 5, file_motion: false}",
    "gated, detect_fps 5": "schedule: {file_detect_fps: 5, file_motion: true}",
}


def counts(clip: Path, line: str, mode: str, work: Path) -> tuple[Counter, int, int]:
    config = work / "config.yaml"
    config.write_text(f"lines:\n  - {line}\n{mode}\noutput: {{video: false}}\n")
    out = work / "out"
    subprocess.run(
        [sys.executable, "-m", "roadwatch", "run", "--source", str(clip), "--model", str(MODEL), "--config",
         str(config), "--output", str(out), "--device", "cpu", "--events", f"ipc://{work}/events.sock"],
        check=True, capture_output=True, text=True,
    )
    crossed = Counter()
    detected = json.loads((out / "summary.json").read_text())["streams"]
    for raw in (out / "events.jsonl").read_text().splitlines():
        event = json.loads(raw)
        if event["type"] == "line.crossed":
            crossed[f"{event['category']} {event['direction']}"] += 1
    frames = next(iter(detected.values()))
    return crossed, frames["detected"], frames["frames"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "counts.json")
    args = parser.parse_args()
    results: dict[str, dict] = {}
    for name, line in CLIPS.items():
        clip = SHARED / "videos" / name
        if not clip.is_file():
            sys.exit(f"{clip} not found: the benchmark reads ../shared/videos (see ../shared/README.md)")
        results[name] = {}
        for mode, schedule in MODES.items():
            with tempfile.TemporaryDirectory(prefix="roadwatch-counts-") as tmp:
                crossed, detected, frames = counts(clip, line, schedule, Path(tmp))
            results[name][mode] = {"crossings": dict(sorted(crossed.items())), "detected_frames": detected,
                                   "frames": frames}
        base = results[name]["every frame"]["crossings"]
        print(f"\n{name}: line crossings by category and direction (detected frames of all)")
        for mode, r in results[name].items():
            total, ref = sum(r["crossings"].values()), sum(base.values())
            diff = f"{(total - ref) / ref:+.0%}" if ref else "n/a"
            print(f"  {mode:22s} {r['crossings']}  total {total} ({diff} vs every frame), "
                  f"detected {r['detected_frames']}/{r['frames']}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
