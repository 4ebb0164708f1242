"""What serving the HTTP API costs the pipeline: its frames/s on a clip without the server, with the server idle,
and with one live viewer (the MJPEG view the page shows, plus /api/streams, /api/summary and /metrics polled
every second, as the page and a Prometheus scrape do), same run, on this machine's CPU.

A file is processed every frame as fast as the machine goes, so any time the server takes from the loop shows
as fewer frames/s. The modes alternate (A B C A B C ...) so that drift in the machine's speed falls on all of
them; the ratios are against the run without the server. Writes bench/results/http.json.

    make bench-http
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("YOLO_OFFLINE", "1")

CLIP = ROOT.parent / "shared" / "videos" / "fixedcam_citystreet_cars_bus_640x360.mp4"
MODEL = ROOT.parent / "shared" / "models" / "yolov8n_coco.pt"
MODES = ("no server", "server idle", "one live viewer")


def view(url: str, stream_id: str, stop: threading.Event) -> int:
    """As a browser would (in a child process): the live view read as it comes, the page's polls each second,
    until `stop`. Returns the live-view frames it received."""
    import httpx

    frames = 0

    def poll() -> None:
        with httpx.Client(base_url=url, timeout=10) as client:
            while not stop.wait(1.0):
                for path in ("/api/streams", "/api/summary", "/metrics"):
                    client.get(path)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    with httpx.Client(base_url=url, timeout=10) as client:
        while not stop.is_set():  # until the stream is on the board, the view is a 404
            try:
                with client.stream("GET", f"/api/streams/{stream_id}/live", params={"width": 640}) as live:
                    if live.status_code != 200:
                        stop.wait(0.05)
                        continue
                    for chunk in live.iter_bytes():
                        frames += chunk.count(b"Content-Type: image/jpeg")
                        if stop.is_set():
                            break
            except httpx.HTTPError:  # the run ended and its server closed
                stop.wait(0.05)
    return frames


class Viewer:
    """A child process viewing the page's live view and polls while a run lasts."""

    def __init__(self, url: str, stream_id: str) -> None:
        self.proc = subprocess.Popen([sys.executable, __file__, "--viewer", url, stream_id], stdout=subprocess.PIPE,
                                     text=True)
        self.frames = 0

    def close(self) -> None:
        self.proc.terminate()
        out, _ = self.proc.communicate(timeout=30)
        self.frames = int(out.strip() or 0)


def run_once(mode: str, detector, clip: Path, folder: Path) -> dict:
    from roadwatch.api import HttpServer
    from roadwatch.config import Config
    from roadwatch.pipeline import Pipeline
    from roadwatch.streams import SourceSpec, probe

    folder.mkdir(parents=True)
    cfg = Config.model_validate({"output": {"dir": str(folder), "video": False}, "http": {"listen": "127.0.0.1:0"}})
    spec = SourceSpec.from_uri(str(clip), "clip")
    pipeline = Pipeline(cfg, [spec], {"clip": probe(spec)}, detector, None, folder)
    server = viewer = None
    if mode != "no server":
        server = HttpServer(pipeline, cfg.http)
        server.start()
    if mode == "one live viewer":
        viewer = Viewer(server.url, "clip")
    try:
        summary = pipeline.run(threading.Event())
    finally:
        if viewer is not None:
            viewer.close()
        if server is not None:
            server.close()
    return {"fps": summary["fps"], "frames": summary["frames"], "live_frames": viewer.frames if viewer else 0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="Each mode runs this many times, alternating")
    parser.add_argument("--frames", type=int, default=300, help="Frames of the clip each run processes")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "http.json")
    parser.add_argument("--viewer", nargs=2, metavar=("URL", "STREAM"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.viewer:
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        print(view(*args.viewer, stop), flush=True)
        return
    for needed in (CLIP, MODEL):
        if not needed.exists():
            raise SystemExit(f"{needed} not found: the benchmark reads ../shared (see ../shared/README.md)")
    from roadwatch.detector import DEFAULT_CATEGORIES, CategoryMap
    from roadwatch.detector.yolo import YoloDetector
    from roadwatch.tools.bench import cut_clip

    detector = YoloDetector(str(MODEL), CategoryMap(DEFAULT_CATEGORIES), device="cpu")
    runs: dict[str, list[dict]] = {mode: [] for mode in MODES}
    with tempfile.TemporaryDirectory(prefix="roadwatch-http-") as tmp:
        clip = cut_clip(CLIP, Path(tmp) / "clip.mp4", args.frames)
        run_once("no server", detector, clip, Path(tmp) / "warm-up")
        for r in range(args.rounds):
            for mode in MODES:
                runs[mode].append(run_once(mode, detector, clip, Path(tmp) / f"{mode}-{r}".replace(" ", "_")))
                print(f"round {r + 1}, {mode}: {runs[mode][-1]['fps']:.1f} frames/s", flush=True)
    base = sum(x["fps"] for x in runs["no server"]) / args.rounds
    results = {}
    print(f"\n{CLIP.name} ({args.frames} frames), every frame, CPU; frames/s averaged over {args.rounds} "
          "alternating rounds")
    print(f"{'mode':<18}{'frames/s':>10}{'x no server':>13}{'live frames':>13}")
    for mode, rs in runs.items():
        fps = sum(x["fps"] for x in rs) / len(rs)
        live = sum(x["live_frames"] for x in rs) / len(rs)
        results[mode] = {"fps": round(fps, 2), "ratio": round(fps / base, 3), "live_frames": live}
        print(f"{mode:<18}{fps:>10.1f}{fps / base:>12.2f}x{live:>13.0f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
