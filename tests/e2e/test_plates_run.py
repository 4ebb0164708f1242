"""`roadwatch run` on real photos of European cars shown as a camera would (each held for a second, a folder
source): every car's plate.read carries its true text, agreed over its reads, and a plate on the watchlist one
edit away is matched while one two edits away is not."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import cv2
import numpy as np
import pytest

from support.helpers import (
    MODEL,
    PLATE_MODEL,
    PLATES_EU,
    assert_valid_events,
    free_endpoint,
    read_jsonl,
    require,
    roadwatch,
    spawned,
    stop,
    wait_until,
)

CARS = ("test_001", "test_013", "test_059")  # PP587AO, RK857AI, BA302OZ: Slovak plates
FRAMES_EACH = 10  # one second at the folder's 10 frames/s


def events_of(path: Path) -> list[dict]:
    """The whole lines of an events file being written."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_bytes().split(b"\n")[:-1] if line.strip()]


def cars_one_after_another() -> tuple[list[np.ndarray], list[str]]:
    """One picture per car, each car somewhere else on it (a new car, not the last one moved), and their plates."""
    pictures, truths = [], []
    for n, car in enumerate(CARS):
        photo = cv2.imread(str(require(PLATES_EU / f"{car}.jpg")))
        truths.append((PLATES_EU / f"{car}.txt").read_text().split("\t")[-1].strip())
        canvas = np.zeros((480, 1280, 3), np.uint8)
        canvas[: photo.shape[0], 430 * n : 430 * n + photo.shape[1]] = photo
        pictures.append(canvas)
    return pictures, truths


def plates_config(tmp_path: Path, watchlist: Path) -> Path:
    config = tmp_path / "plates.yaml"
    config.write_text(json.dumps({
        "detector": {"plates": {"model": str(require(PLATE_MODEL)), "ocr": True, "every_n_frames": 1,
                                "formats": ["[A-Z]{2}[0-9]{3}[A-Z]{2}"], "watchlist": str(watchlist)}},
        "output": {"video": False},
    }))
    return config


def test_run_reads_each_cars_plate_as_its_true_text_and_matches_the_watchlist(tmp_path):
    pytest.importorskip("rapidocr_onnxruntime", reason="plate OCR needs the ocr extra (make installs it)")
    frames = tmp_path / "frames"
    frames.mkdir()
    pictures, truths = cars_one_after_another()
    for n, canvas in enumerate(pictures):
        for k in range(FRAMES_EACH):
            cv2.imwrite(str(frames / f"{n:02d}_{k:02d}.png"), canvas)
    watchlist = tmp_path / "watch.txt"
    watchlist.write_text(f"{truths[0][:-1]}X, one edit off\n{truths[1][:-2]}XX, two edits off\n")
    config = plates_config(tmp_path, watchlist)
    out = tmp_path / "out"
    result = roadwatch("run", "--config", str(config), "--source", str(frames), "--model", str(require(MODEL)),
                       "--device", "cpu", "--output", str(out), timeout=300)
    assert result.returncode == 0, result.stderr
    events = read_jsonl(out / "events.jsonl")
    assert_valid_events(events)
    reads = [e for e in events if e["type"] == "plate.read"]
    assert {e["plate_text"] for e in reads} == set(truths), reads  # every car, its true text, nothing else
    assert all(e["plate_reads"] >= 2 for e in reads)
    matched = [e for e in events if e["type"] == "plate.matched"]
    assert [(e["plate_text"], e["watch_plate"], e["edits"], e["watch_label"]) for e in matched] == [
        (truths[0], f"{truths[0][:-1]}X", 1, "one edit off")]
    read_of = {e["track_id"]: e["seq"] for e in reads}
    assert all(e["seq"] > read_of[e["track_id"]] for e in matched)  # right after the read it matches
    summary = json.loads((out / "summary.json").read_text())
    assert sorted((p["plate_text"], p["watch_plate"]) for p in summary["plates"]) == sorted(
        [(truths[0], f"{truths[0][:-1]}X"), (truths[1], None), (truths[2], None)])
    ended = {e["track_id"]: e.get("plate_text") for e in events if e["type"] == "track.ended"}
    assert all(ended[e["track_id"]] == e["plate_text"] for e in reads)  # the agreed text, again as it ends


def test_sighup_re_reads_the_watchlist_while_the_camera_runs(tmp_path, model_path):
    """The cars as a live camera (looping); the watchlist holds none of them until it is rewritten and the
    process gets SIGHUP: the cars read after that are matched, and the camera never stopped."""
    pytest.importorskip("rapidocr_onnxruntime", reason="plate OCR needs the ocr extra (make installs it)")
    pictures, truths = cars_one_after_another()
    clip = tmp_path / "cars.mp4"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"mp4v"), 10, (1280, 480))
    for canvas in pictures:
        for _ in range(FRAMES_EACH):
            writer.write(canvas)
    writer.release()
    watchlist = tmp_path / "watch.txt"
    watchlist.write_text("ZZ999ZZ, nobody here\n")
    config = plates_config(tmp_path, watchlist)
    config.write_text(config.read_text().replace('"output"', f'"sources": ["replay:{clip}"], "output"'))
    out = tmp_path / "out"
    log = out / "events.jsonl"
    of = lambda kind: [e for e in events_of(log) if e["type"] == kind]  # noqa: E731
    with spawned("run", "--config", str(config), "--model", str(model_path), "--device", "cpu", "--output",
                 str(out), "--events", free_endpoint()) as proc:
        wait_until(lambda: {e["plate_text"] for e in of("plate.read")} >= {truths[0]}, 120, "the first car read")
        assert of("plate.matched") == []
        watchlist.write_text(f"{truths[0]}, wanted\n")
        proc.send_signal(signal.SIGHUP)
        wait_until(lambda: of("plate.matched"), 60, "the first car matched after the reload")
        stop(proc)
    assert proc.returncode == 0
    matched = of("plate.matched")
    assert {e["plate_text"] for e in matched} == {truths[0]} and matched[0]["watch_label"] == "wanted"
    assert len(of("stream.up")) == 1  # the camera ran on
