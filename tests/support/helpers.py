"""Test helpers: where the real models and clips of ../shared are (skipped with a reason where absent), the CLI
run as a user would, and the checks every events file must pass."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import cv2
import pytest

from roadwatch.tools.bench import cut_clip  # noqa: F401  (one definition, shared with the benchmark)

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared"
MODEL = SHARED / "models" / "yolov8n_coco.pt"
VIDEOS = SHARED / "videos"
CITY = VIDEOS / "fixedcam_citystreet_cars_bus_640x360.mp4"
TRUCKS_DAMAGED = VIDEOS / "fixedcam_highway_trucks_640x360_2s.mp4"
CROWD_TRUNCATED = VIDEOS / "crowd_overhead_1280x720_truncated.avi"
HIGHWAY = VIDEOS / "fixedcam_highway_cars_1280x720.mp4"
PLATE_MODEL = SHARED / "models" / "plate_yolov8n_v0.pt"
PLATES_TEST = SHARED / "datasets" / "plates" / "test"
PLATES_EU = SHARED / "datasets" / "plates_eu_text"  # real photos, one labelled plate each with its text

# Ultralytics must never try the network in tests (there is none in CI).
os.environ.setdefault("YOLO_OFFLINE", "1")


def require(path: Path) -> Path:
    if not path.exists():
        pytest.skip(
            f"{path} is missing: these tests read real models and clips from ../shared (see ../shared/README.md)"
        )
    return path


def count_frames(path: Path) -> int:
    """Frames that actually decode, not what the header claims."""
    cap = cv2.VideoCapture(str(path))
    n = 0
    while cap.read()[0]:
        n += 1
    cap.release()
    return n


def wait_until(predicate, timeout_s: float, what: str) -> float:
    """Seconds it took for `predicate` to hold (polled every 20 ms); fails the test if it never did."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout_s:
        if predicate():
            return time.monotonic() - t0
        time.sleep(0.02)
    pytest.fail(f"timed out after {timeout_s} s waiting for {what}")


def free_endpoint() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{s.getsockname()[1]}"


def spawn_roadwatch(*args: str) -> subprocess.Popen:
    """Start the real CLI in a child process and return at once (for signal tests)."""
    return subprocess.Popen(
        [sys.executable, "-m", "roadwatch", *args], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


@contextlib.contextmanager
def spawned(*args: str) -> Iterator[subprocess.Popen]:
    """The real CLI in a child process for the length of the block; killed after it if it still runs (a test
    that failed half-way leaves nothing behind)."""
    proc = spawn_roadwatch(*args)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def stop(proc: subprocess.Popen, timeout_s: float = 60) -> tuple[str, str]:
    """SIGTERM, as an operator stops a run; its stdout and stderr once it has ended."""
    proc.send_signal(signal.SIGTERM)
    return proc.communicate(timeout=timeout_s)


def roadwatch(*args: str, **kwargs) -> subprocess.CompletedProcess:
    """Run the real CLI in a child process, as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "roadwatch", *args], capture_output=True, text=True, timeout=kwargs.pop("timeout", 120),
        cwd=kwargs.pop("cwd", ROOT), **kwargs,
    )


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def assert_tracks_closed(events: list[dict]) -> None:
    started = {(e["stream_id"], e["track_id"]): e["seq"] for e in events if e["type"] == "track.started"}
    ended = {(e["stream_id"], e["track_id"]): e["seq"] for e in events if e["type"] == "track.ended"}
    assert started.keys() == ended.keys()
    assert all(started[k] < ended[k] for k in started)
    assert len(ended) == sum(e["type"] == "track.ended" for e in events)  # each ends once


def assert_summary_matches(summary: dict, events: list[dict]) -> None:
    assert summary["events"] == dict(Counter(e["type"] for e in events))
    assert summary["tracks"] == dict(Counter(e["category"] for e in events if e["type"] == "track.started"))
    assert summary["events_by_category"] == dict(Counter(e["category"] for e in events if "category" in e))
    crossings = Counter((e["line_id"], e["direction"], e["class"]) for e in events if e["type"] == "line.crossed")
    listed = {(line, d, c): n for line, by in summary["line_classes"].items() for d, cs in by.items()
              for c, n in cs.items()}
    assert listed == dict(crossings)


SCHEMA = ROOT / "docs" / "events.schema.json"


def assert_valid_events(events: list[dict]) -> None:
    """Every event validates against the published JSON Schema (docs/events.schema.json)."""
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(json.loads(SCHEMA.read_text()))
    for event in events:
        error = next(iter(validator.iter_errors(event)), None)
        assert error is None, f"{event['type']} seq {event.get('seq')}: {error.message} at {list(error.path)}"


def run_with_config(
    tmp_path: Path, model_path: Path, sources, config: str, name: str = "out"
) -> tuple[Path, list[dict]]:
    """`roadwatch run` on the source(s) with a config given as YAML text; its output folder and valid events."""
    cfg = tmp_path / f"{name}.yaml"
    cfg.write_text(config)
    out = tmp_path / name
    sources = [sources] if isinstance(sources, Path) else sources
    args = [a for s in sources for a in ("--source", str(s))]
    proc = roadwatch(
        "run", *args, "--model", str(model_path), "--config", str(cfg), "--output", str(out), "--events",
        free_endpoint(), "--device", "cpu",
    )
    assert proc.returncode == 0, proc.stderr
    events = read_jsonl(out / "events.jsonl")
    assert_valid_events(events)
    return out, events
