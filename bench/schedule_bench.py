"""Accuracy cost of detecting less, and our tracker against its peers at real densities.

Trackers are fed the same public detections on a schedule: every frame, every 2nd, 3rd and 6th. Our tracker
gets the frames between as frames that went through no detector (`detected=False`: its tracks are predicted
and shown, as in the pipeline); the peers, which have no such mode, get those frames with no detections (what
a pipeline skipping the detector would hand them). Sequences and protocols, scored by TrackEval's own
dataset classes (its preprocessing: distractors and ignore regions) and its HOTA, CLEAR and Identity metrics:

- MOT17-02 and MOT17-04 (FRCNN public detections, complete ground truth): pedestrians, consider=1, classes
  2, 7, 8, 12 as distractors (MotChallenge2DBox);
- KITTI tracking, ten training sequences (PointRCNN's 2D car boxes, scores as logits -> sigmoid): cars, vans
  as distractors, DontCare regions ignored, occluded/truncated/short boxes not scored (Kitti2DBox).

Peers, with their shipped defaults and no ReID or camera-motion compensation (there are no frames): Ultralytics'
ByteTrack and BoT-SORT, and BoxMOT's OC-SORT, ByteTrack and BoostTrack (PyPI `boxmot`, installed by the make
target into bench/.peers without its dependencies, which would move this venv's pins, and run in a child
process with that folder first on its path).

Writes bench/results/schedule.json and prints HOTA and IDF1 per tracker, dataset and schedule.

    make bench-schedule
"""

from __future__ import annotations

import argparse
import configparser
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
from tracking_bench import BOXMOT_PEER, BOXMOT_TRACKERS, Sequence, _ultralytics, boxmot, score

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "mot"
MOT17 = SHARED / "MOT17"
MOT17_SEQS = ["MOT17-02-FRCNN", "MOT17-04-FRCNN"]
KITTI = SHARED / "KITTI-tracking"
SCHEDULES = [1, 2, 3, 6]
PEER_SCHEDULES = [1, 3]

Detections = dict[int, tuple[np.ndarray, np.ndarray]]  # frame (1-based) -> (xyxy, confidence)
Step = Callable[[int, np.ndarray, np.ndarray, bool], tuple[np.ndarray, np.ndarray]]


def mot_detections(path: Path, keep_class: int | None = None, logits: bool = False) -> Detections:
    rows = np.loadtxt(path, delimiter=",", ndmin=2)
    if keep_class is not None:
        rows = rows[rows[:, 7] == keep_class]
    conf = 1 / (1 + np.exp(-rows[:, 6])) if logits else rows[:, 6]
    out = {}
    for frame in np.unique(rows[:, 0]).astype(int):
        r = rows[:, 0] == frame
        x, y, w, h = rows[r, 2], rows[r, 3], rows[r, 4], rows[r, 5]
        out[frame] = (np.column_stack([x, y, x + w, y + h]), conf[r])
    return out


def ours(fps: float) -> Step:
    from roadwatch.trackers import Tracker, TrackerConfig

    tracker = Tracker(TrackerConfig())

    def step(frame, xyxy, conf, detected):
        zeros = np.zeros(len(xyxy), dtype=np.int64)
        tracks = tracker.update((frame - 1) / fps, xyxy, conf, zeros, zeros, detected).tracks
        return tracks.track_id, tracks.xyxy

    return step


def peer(kind: str, fps: float, size: tuple[int, int]) -> Step:
    inner = _ultralytics(kind)(Sequence("", fps, size, 0, {}, {}))  # they read its size and rate only
    return lambda frame, xyxy, conf, detected: inner(frame, xyxy, conf)


def ours_for(seq: dict) -> Callable[[], Step]:
    return lambda: ours(seq["fps"])


def boxmot_peer(name: str, seq: dict) -> Step:
    inner = boxmot(name)(Sequence("", seq["fps"], seq["size"], 0, {}, {}))
    return lambda frame, xyxy, conf, detected: inner(frame, xyxy, conf)


def peer_for(kind: str, seq: dict) -> Callable[[], Step]:
    return lambda: peer(kind, seq["fps"], seq["size"])


def track(make: Callable[[], Step], dets: Detections, length: int, every: int) -> list[tuple]:
    """(frame, id, x1, y1, x2, y2) rows of a tracker fed the detections of every `every`-th frame."""
    step = make()
    empty = (np.zeros((0, 4)), np.zeros(0))
    rows = []
    for frame in range(1, length + 1):
        detected = (frame - 1) % every == 0
        xyxy, conf = dets.get(frame, empty) if detected else empty
        ids, boxes = step(frame, xyxy, conf, detected)
        rows += [(frame, int(i), *map(float, b)) for i, b in zip(ids, boxes)]
    return rows


# --- datasets: sequences, the tracker file TrackEval reads, its dataset object ----------------------------


def mot17_sequences() -> list[dict]:
    out = []
    for name in MOT17_SEQS:
        info = configparser.ConfigParser()
        info.read(MOT17 / name / "seqinfo.ini")
        s = info["Sequence"]
        out.append({"name": name, "fps": float(s["frameRate"]), "length": int(s["seqLength"]),
                    "size": (int(s["imWidth"]), int(s["imHeight"])),
                    "dets": mot_detections(MOT17 / name / "det" / "det.txt")})
    return out


def kitti_sequences() -> list[dict]:
    out = []
    for folder in sorted(p for p in (KITTI / "mot").iterdir() if p.is_dir()):
        info = configparser.ConfigParser()
        info.read(folder / "seqinfo.ini")
        s = info["Sequence"]
        out.append({"name": folder.name, "fps": float(s["frameRate"]), "length": int(s["seqLength"]),
                    "size": (1242, 375), "dets": mot_detections(folder / "det" / "det.txt", 1, logits=True)})
    return out


def write_mot(path: Path, rows: list[tuple]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        for frame, tid, x1, y1, x2, y2 in rows:
            f.write(f"{frame},{tid},{x1:.2f},{y1:.2f},{x2 - x1:.2f},{y2 - y1:.2f},1,-1,-1,-1\n")


def write_kitti(path: Path, rows: list[tuple]) -> None:
    """KITTI's label format, 0-based frames; only the 2D box and a score matter to TrackEval."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        for frame, tid, x1, y1, x2, y2 in rows:
            f.write(f"{frame - 1} {tid} Car -1 -1 -10 {x1:.2f} {y1:.2f} {x2:.2f} {y2:.2f} "
                    "-1 -1 -1 -1000 -1000 -1000 -10 1\n")


def evaluate(dataset: str, sequences: list[dict], runs: dict[str, dict[str, list[tuple]]], work: Path) -> dict:
    """TrackEval's scores of each run (name -> sequence -> rows) on `dataset`."""
    from trackeval.datasets import Kitti2DBox, MotChallenge2DBox

    trackers = work / "trackers"
    for run, per_seq in runs.items():
        for seq, rows in per_seq.items():
            (write_mot if dataset == "mot17" else write_kitti)(trackers / run / "data" / f"{seq}.txt", rows)
    common = {"TRACKERS_FOLDER": str(trackers), "TRACKERS_TO_EVAL": list(runs), "PRINT_CONFIG": False,
              "OUTPUT_FOLDER": str(work / "out")}
    if dataset == "mot17":
        ds = MotChallenge2DBox({**common, "GT_FOLDER": str(MOT17), "SKIP_SPLIT_FOL": True, "BENCHMARK": "MOT17",
                                "SEQ_INFO": {s["name"]: s["length"] for s in sequences}})
        cls = "pedestrian"
    else:
        gt = work / "kitti_gt"
        gt.mkdir(exist_ok=True)
        (gt / "label_02").symlink_to(KITTI / "label_02")
        (gt / "evaluate_tracking.seqmap.training").write_text(
            "".join(f"{s['name']} empty 000000 {s['length']:06d}\n" for s in sequences))
        ds = Kitti2DBox({**common, "GT_FOLDER": str(gt), "CLASSES_TO_EVAL": ["car"]})
        cls = "car"
    out = {}
    for run in runs:
        data = {s["name"]: ds.get_preprocessed_seq_data(ds.get_raw_seq_data(run, s["name"]), cls) for s in sequences}
        out[run] = score(data)
    return out


def sequences_of(dataset: str) -> list[dict]:
    return mot17_sequences() if dataset == "mot17" else kitti_sequences()


def boxmot_child(dataset: str) -> None:
    """Inside the child process: every BoxMOT tracker on every schedule; prints the runs' rows as JSON."""
    import logging

    logging.disable(logging.WARNING)
    sequences = sequences_of(dataset)
    runs = {
        f"{name}_every{every}": {
            s["name"]: track(lambda s=s, n=name: boxmot_peer(n, s), s["dets"], s["length"], every) for s in sequences
        }
        for name in BOXMOT_TRACKERS
        for every in PEER_SCHEDULES
    }
    print(json.dumps(runs))


def boxmot_runs(dataset: str) -> dict[str, dict[str, list[tuple]]]:
    if not BOXMOT_PEER.is_dir():
        raise SystemExit(f"{BOXMOT_PEER} is missing: run `make bench-schedule`, which installs BoxMOT there")
    env = {**os.environ, "PYTHONPATH": str(BOXMOT_PEER)}
    proc = subprocess.run([sys.executable, __file__, "--boxmot-child", dataset], capture_output=True, text=True,
                          env=env)
    if proc.returncode:
        raise SystemExit(f"BoxMOT's trackers failed: {proc.stderr.strip().splitlines()[-1:]}")
    runs = json.loads(proc.stdout.strip().splitlines()[-1])
    return {run: {seq: [tuple(r) for r in rows] for seq, rows in per_seq.items()} for run, per_seq in runs.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "schedule.json")
    parser.add_argument("--boxmot-child", choices=["mot17", "kitti"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.boxmot_child:
        boxmot_child(args.boxmot_child)
        return
    for needed in (MOT17, KITTI):
        if not needed.is_dir():
            sys.exit(f"{needed} not found: the benchmark reads ../shared/mot (see ../shared/README.md)")
    results: dict[str, dict] = {}
    for dataset in ("mot17", "kitti"):
        sequences = sequences_of(dataset)
        runs: dict[str, dict[str, list[tuple]]] = {}
        for every in SCHEDULES:
            runs[f"roadwatch_every{every}"] = {s["name"]: track(ours_for(s), s["dets"], s["length"], every)
                                               for s in sequences}
        for kind in ("bytetrack", "botsort"):
            for every in PEER_SCHEDULES:
                runs[f"ultralytics_{kind}_every{every}"] = {
                    s["name"]: track(peer_for(kind, s), s["dets"], s["length"], every) for s in sequences}
        runs.update(boxmot_runs(dataset))
        with tempfile.TemporaryDirectory(prefix="roadwatch-schedule-") as tmp:
            results[dataset] = evaluate(dataset, sequences, runs, Path(tmp))
        print(f"\n{dataset}: {', '.join(s['name'] for s in sequences)}")
        print(f"{'tracker, detections on':<36}{'HOTA':>7}{'IDF1':>7}{'MOTA':>7}{'IDsw':>6}")
        for run, r in results[dataset].items():
            print(f"{run:<36}{r['hota']:>7.3f}{r['idf1']:>7.3f}{r['mota']:>7.3f}{r['id_switches']:>6}")
        every1 = results[dataset]["roadwatch_every1"]["hota"]
        for every in SCHEDULES[1:]:
            drop = every1 - results[dataset][f"roadwatch_every{every}"]["hota"]
            print(f"roadwatch HOTA, every {every} vs every frame: {-drop:+.3f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(
        {d: {k: {m: round(v, 4) for m, v in r.items()} for k, r in runs.items()} for d, runs in results.items()},
        indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
