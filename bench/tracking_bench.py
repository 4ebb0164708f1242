"""Tracking benchmark: our tracker against Ultralytics' ByteTrack and BoT-SORT (no ReID) and supervision's
ByteTrack, all fed the same public detections.

Accuracy on MOT15-TUD (TUD-Campus and TUD-Stadtmitte, with ground truth), scored with TrackEval's HOTA,
CLEAR (MOTA, ID switches) and Identity (IDF1) metrics over both sequences; speed (tracker frames/s, only the
trackers' update calls timed) on the same data and on MOT17-mini's 28,406-box sequence. Prints a table and
writes bench/results/tracking.json as {tracker: {hota, mota, idf1, id_switches, fps, fps_mot17}}.

supervision removed ByteTrack after 0.30 (it moved to a package whose import name clashes with ours), so
its last release with it runs in a child process from bench/.peers/ (`make bench-tracking` installs it).

    make bench-tracking
"""

from __future__ import annotations

import argparse
import configparser
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
TUD = [SHARED / "mot" / "MOT15-TUD" / name for name in ("TUD-Campus", "TUD-Stadtmitte")]
MOT17 = SHARED / "mot" / "MOT17-mini" / "train" / "MOT17-04-FRCNN"
SV_PEER = ROOT / "bench" / ".peers" / "supervision-0.30.9"
BOXMOT_PEER = ROOT / "bench" / ".peers" / "boxmot-25.0.0"  # installed without its dependencies (see the Makefile)
BOXMOT_TRACKERS = {  # name -> BoxMOT class, keyword arguments (no camera-motion compensation: there are no frames)
    "boxmot_ocsort": ("boxmot.trackers.box.ocsort.tracker.OcSort", {}),
    "boxmot_bytetrack": ("boxmot.trackers.box.bytetrack.tracker.ByteTrack", {}),
    "boxmot_boosttrack": ("boxmot.trackers.box.boosttrack.tracker.BoostTrack", {"use_cmc": False}),
}

Step = Callable[[int, np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]  # (frame, xyxy, conf) -> (ids, xyxy)


@dataclass
class Sequence:
    name: str
    fps: float
    size: tuple[int, int]
    length: int
    dets: dict[int, tuple[np.ndarray, np.ndarray]]  # frame -> (xyxy, conf)
    gt: dict[int, tuple[np.ndarray, np.ndarray]]  # frame -> (ids, xyxy)


def _read_rows(path: Path) -> np.ndarray:
    if not path.exists():
        return np.zeros((0, 7))
    rows = np.loadtxt(path, delimiter=",", ndmin=2)
    return rows[:, :7] if rows.size else np.zeros((0, 7))


def _by_frame(rows: np.ndarray, value_column: int) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """MOT rows (frame, id, left, top, width, height, conf) grouped by frame as (value, xyxy)."""
    out = {}
    for frame in np.unique(rows[:, 0]).astype(int):
        r = rows[rows[:, 0] == frame]
        xyxy = np.column_stack([r[:, 2], r[:, 3], r[:, 2] + r[:, 4], r[:, 3] + r[:, 5]])
        out[frame] = (r[:, value_column], xyxy)
    return out


def load_sequence(folder: Path) -> Sequence:
    info = configparser.ConfigParser()
    info.read(folder / "seqinfo.ini")
    s = info["Sequence"]
    gt_rows = _read_rows(folder / "gt" / "gt.txt")
    gt_rows = gt_rows[gt_rows[:, 6] != 0]  # zero confidence marks boxes to ignore
    dets = {f: (xyxy, conf) for f, (conf, xyxy) in _by_frame(_read_rows(folder / "det" / "det.txt"), 6).items()}
    return Sequence(
        name=s["name"], fps=float(s["frameRate"]), size=(int(s["imWidth"]), int(s["imHeight"])),
        length=int(s["seqLength"]), dets=dets,
        gt={f: (ids.astype(int), xyxy) for f, (ids, xyxy) in _by_frame(gt_rows, 1).items()},
    )


# --- trackers under test: each turns a sequence into a per-frame step function ---------------------------


def ours(seq: Sequence) -> Step:
    from roadwatch.trackers import Tracker, TrackerConfig

    tracker = Tracker(TrackerConfig())

    def step(frame, xyxy, conf):
        zeros = np.zeros(len(xyxy), dtype=np.int64)
        tracks = tracker.update((frame - 1) / seq.fps, xyxy, conf, zeros, zeros).tracks
        return tracks.track_id, tracks.xyxy

    return step


def _ultralytics(kind: str) -> Callable[[Sequence], Step]:
    def make(seq: Sequence) -> Step:
        from ultralytics.engine.results import Boxes
        from ultralytics.trackers import BOTSORT, BYTETracker
        from ultralytics.utils import YAML, IterableSimpleNamespace
        from ultralytics.utils.checks import check_yaml

        args = IterableSimpleNamespace(**YAML.load(check_yaml(f"{kind}.yaml")))
        if kind == "botsort":
            args.gmc_method = "none"  # no frames here, only detections
            args.with_reid = False
        tracker = (BOTSORT if kind == "botsort" else BYTETracker)(args)
        width, height = seq.size
        blank = np.zeros((height, width, 3), np.uint8)

        def step(frame, xyxy, conf):
            boxes = Boxes(np.column_stack([xyxy, conf, np.zeros(len(xyxy))]), (height, width))
            out = tracker.update(boxes, blank)
            if out.ndim < 2:  # no tracks: an empty 1-D array
                return np.zeros(0, dtype=int), np.zeros((0, 4))
            return out[:, 4].astype(int), out[:, :4]

        return step

    return make


def boxmot(name: str) -> Callable[[Sequence], Step]:
    """A BoxMOT tracker with its defaults and no ReID; importable only in a child process (see run_child)."""

    def make(seq: Sequence) -> Step:
        import importlib

        class_path, kwargs = BOXMOT_TRACKERS[name]
        module, cls = class_path.rsplit(".", 1)
        tracker = getattr(importlib.import_module(module), cls)(**kwargs)
        blank = np.zeros((seq.size[1], seq.size[0], 3), np.uint8)

        def step(frame, xyxy, conf):
            proper = (xyxy[:, 2] > xyxy[:, 0]) & (xyxy[:, 3] > xyxy[:, 1])  # BoxMOT rejects boxes of no area
            dets = np.column_stack([xyxy[proper], conf[proper], np.zeros(int(proper.sum()))]).reshape(-1, 6)
            out = np.asarray(tracker.update(dets, blank))
            out = out.reshape(-1, out.shape[-1]) if out.size else np.zeros((0, 8))
            return out[:, 4].astype(int), out[:, :4]  # x1, y1, x2, y2, id, conf, class, detection index

        return step

    return make


REPEATS = 5  # each tracker runs every sequence this many times from scratch; the fastest run is its time


def run_in_process(make: Callable[[Sequence], Step], seq: Sequence) -> tuple[list[tuple], float]:
    """All frames through a fresh tracker, REPEATS times; returns the (frame, id, x1, y1, x2, y2) rows
    and the seconds the updates took in the fastest run (the machines here are noisy; the minimum is
    the least disturbed figure, as timeit reports)."""
    empty = (np.zeros((0, 4)), np.zeros(0))
    inputs = [(f, *seq.dets.get(f, empty)) for f in range(1, seq.length + 1)]
    best = float("inf")
    for _ in range(REPEATS):
        step = make(seq)
        rows, elapsed = [], 0.0
        for frame, xyxy, conf in inputs:
            t0 = time.perf_counter()
            ids, boxes = step(frame, xyxy, conf)
            elapsed += time.perf_counter() - t0
            rows += [(frame, int(i), *map(float, b)) for i, b in zip(ids, boxes)]
        best = min(best, elapsed)
    return rows, best


def supervision_bytetrack(seq: Sequence) -> Step:
    """supervision 0.30.9's ByteTrack (the last release that has it); importable only in a child process."""
    import supervision as sv

    tracker = sv.ByteTrack(frame_rate=round(seq.fps))

    def step(frame, xyxy, conf):
        dets = sv.Detections(
            xyxy=xyxy.astype(np.float32), confidence=conf.astype(np.float32), class_id=np.zeros(len(xyxy), dtype=int),
        )
        out = tracker.update_with_detections(dets)
        return out.tracker_id, out.xyxy

    return step


def child_peers() -> dict[str, tuple[Path, Callable[[Sequence], Step]]]:
    """Peers whose packages would clash with this venv: name -> (the folder they are installed in, which goes
    first on a child process's path; their step factory)."""
    peers = {"supervision_bytetrack": (SV_PEER, supervision_bytetrack)}
    peers.update({name: (BOXMOT_PEER, boxmot(name)) for name in BOXMOT_TRACKERS})
    return peers


def child(name: str, folder: Path) -> None:
    """Inside the child process: one peer on one sequence; prints its rows and update seconds as JSON."""
    import logging

    logging.disable(logging.WARNING)
    rows, elapsed = run_in_process(child_peers()[name][1], load_sequence(folder))
    print(json.dumps({"rows": rows, "elapsed": elapsed}))


def run_child(name: str, seq_folder: Path) -> tuple[list[tuple], float]:
    peer_folder = child_peers()[name][0]
    if not peer_folder.is_dir():
        raise FileNotFoundError(f"{peer_folder} is missing: `make bench-tracking` installs it")
    env = {**os.environ, "PYTHONPATH": str(peer_folder)}
    proc = subprocess.run(
        [sys.executable, __file__, "--child", name, str(seq_folder)], capture_output=True, text=True, env=env,
    )
    if proc.returncode:
        raise SystemExit(f"{name} failed: {proc.stderr.strip().splitlines()[-1:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    return [tuple(r) for r in out["rows"]], out["elapsed"]


# --- scoring --------------------------------------------------------------------------------------------


def trackeval_data(seq: Sequence, rows: list[tuple]) -> dict:
    """The per-sequence dict TrackEval's metrics take: contiguous ids and IoU matrices per timestep."""
    from supervision.detection.utils.iou_and_nms import box_iou_batch

    tracks = np.array(rows, dtype=float).reshape(-1, 6)
    gt_id_map = {g: i for i, g in enumerate(sorted({int(i) for ids, _ in seq.gt.values() for i in ids}))}
    tr_id_map = {t: i for i, t in enumerate(sorted({int(i) for i in tracks[:, 1]}))}
    data = {
        "num_timesteps": seq.length,
        "num_gt_ids": len(gt_id_map),
        "num_tracker_ids": len(tr_id_map),
        "gt_ids": [],
        "tracker_ids": [],
        "similarity_scores": [],
        "num_gt_dets": 0,
        "num_tracker_dets": 0,
    }
    for frame in range(1, seq.length + 1):
        gt_ids, gt_xyxy = seq.gt.get(frame, (np.zeros(0, int), np.zeros((0, 4))))
        mine = tracks[tracks[:, 0] == frame]
        data["gt_ids"].append(np.array([gt_id_map[int(i)] for i in gt_ids], dtype=int))
        data["tracker_ids"].append(np.array([tr_id_map[int(i)] for i in mine[:, 1]], dtype=int))
        data["similarity_scores"].append(
            box_iou_batch(gt_xyxy, mine[:, 2:6]) if len(gt_xyxy) and len(mine) else np.zeros((len(gt_xyxy), len(mine)))
        )
        data["num_gt_dets"] += len(gt_ids)
        data["num_tracker_dets"] += len(mine)
    return data


def score(per_sequence: dict[str, dict]) -> dict[str, float]:
    from trackeval.metrics import CLEAR, HOTA, Identity

    out = {}
    quiet = {"PRINT_CONFIG": False}
    for metric in (HOTA(quiet), CLEAR(quiet), Identity(quiet)):
        results = {name: metric.eval_sequence(data) for name, data in per_sequence.items()}
        combined = metric.combine_sequences(results)
        if isinstance(metric, HOTA):
            out["hota"] = float(np.mean(combined["HOTA"]))
        elif isinstance(metric, CLEAR):
            out["mota"] = float(combined["MOTA"])
            out["id_switches"] = int(combined["IDSW"])
        else:
            out["idf1"] = float(combined["IDF1"])
    return out


TRACKERS: dict[str, Callable[[Sequence], Step] | None] = {
    "roadwatch": ours,
    "ultralytics_bytetrack": _ultralytics("bytetrack"),
    "ultralytics_botsort": _ultralytics("botsort"),
    "supervision_bytetrack": None,  # None: in a child process (child_peers)
    **{name: None for name in BOXMOT_TRACKERS},
}


def evaluate(name: str, folders: list[Path]) -> tuple[dict[str, dict], int, float]:
    """Per-sequence TrackEval data, total frames and total update seconds for one tracker."""
    data, frames, seconds = {}, 0, 0.0
    for folder in folders:
        seq = load_sequence(folder)
        rows, elapsed = run_child(name, folder) if TRACKERS[name] is None else run_in_process(TRACKERS[name], seq)
        data[seq.name] = trackeval_data(seq, rows)
        frames += seq.length
        seconds += elapsed
    return data, frames, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", nargs=2, metavar=("TRACKER", "SEQUENCE"), help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "tracking.json")
    args = parser.parse_args()
    if args.child:
        child(args.child[0], Path(args.child[1]))
        return
    missing = [p for p in [*TUD, MOT17] if not p.is_dir()]
    if missing:
        sys.exit(f"{missing[0]} not found: the benchmark reads ../shared/mot (see ../shared/README.md)")

    results = {}
    for name in TRACKERS:
        per_sequence, frames, seconds = evaluate(name, TUD)
        _, frames17, seconds17 = evaluate(name, [MOT17])
        results[name] = {**score(per_sequence), "fps": frames / seconds, "fps_mot17": frames17 / seconds17}
    base = results["ultralytics_bytetrack"]
    print("MOT15-TUD (TUD-Campus + TUD-Stadtmitte), public detections; speed also on MOT17-04 (28,406 boxes)")
    print(f"{'tracker':<24}{'HOTA':>7}{'MOTA':>7}{'IDF1':>7}{'IDsw':>6}{'fps x BT':>10}{'MOT17 x BT':>12}")
    for name, r in results.items():
        print(
            f"{name:<24}{r['hota']:>7.3f}{r['mota']:>7.3f}{r['idf1']:>7.3f}{r['id_switches']:>6}"
            f"{r['fps'] / base['fps']:>9.2f}x{r['fps_mot17'] / base['fps_mot17']:>11.2f}x"
        )
    print(
        f"unit (BT = ultralytics_bytetrack): {base['fps']:.0f} frames/s on TUD, {base['fps_mot17']:.0f} on MOT17-04, "
        f"this run"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps({k: {m: round(v, 4) for m, v in r.items()} for k, r in results.items()}, indent=2) + "\n"
    )


if __name__ == "__main__":
    main()
