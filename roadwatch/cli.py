"""The `roadwatch` command: `run` the live pipeline, `analyze` recorded footage, `subscribe` to events."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import typer

from roadwatch import jobs
from roadwatch.cli_events import broker, keys, mqtt, subscribe
from roadwatch.cli_support import fail, interrupt_on_signals
from roadwatch.errors import UserError

app = typer.Typer(add_completion=False, no_args_is_help=True,
    help="Real-time road object detection, tracking and events.")

MODEL_HELP = "YOLO checkpoint path or official name [config: detector.model]"
CONFIG_HELP = "YAML config file"
DEVICE_HELP = "auto, cpu, cuda or cuda:N [config: detector.device]"
DETECT_FPS_HELP = ("Detections a second per source; the frames between are tracked by prediction "
                   "[config: schedule.live_detect_fps, 5; schedule.file_detect_fps, every frame]")
MOTION_HELP = ("Detect only where the picture moves or a track is, and not at all when nothing does "
               "[config: schedule.live_motion, on; schedule.file_motion, off]")


def _user_errors(work) -> dict:
    """Run `work`, turning every error a user can fix into one line and exit status 2."""
    logging.basicConfig(level=logging.WARNING, format="roadwatch: %(levelname)s: %(message)s")
    from roadwatch.detector import ModelError
    from roadwatch.streams import SourceError

    try:
        return work()
    except (UserError, SourceError, ModelError) as exc:
        fail(str(exc))


def _exit_status(summary: dict) -> None:
    """Exit 1 when no source could be read, or when an output could not be written (a full disk): the run
    went on without it (events still reached subscribers), and the last lines say what is missing."""
    if summary["streams"] and all(s["status"] == "failed" for s in summary["streams"].values()):
        print("roadwatch: error: no source could be read; see the status column above", file=sys.stderr)
        raise typer.Exit(1)
    if summary.get("output_errors"):
        for error in summary["output_errors"]:
            print(f"roadwatch: error: {error}", file=sys.stderr)
        raise typer.Exit(1)


@app.command()
def run(
    source: list[str] | None = typer.Option(
        None, "--source", "-s",
        help="Video file, image folder or glob, camera index, or rtsp/http URL; repeat for several"
    ),
    model: str | None = typer.Option(None, "--model", "-m", help=MODEL_HELP),
    config: Path | None = typer.Option(None, "--config", "-c", help=CONFIG_HELP),
    output: Path | None = typer.Option(None, "--output", "-o", help="Output folder [config: output.dir]"),
    events: str | None = typer.Option(
        None, "--events", "-e", help="ZeroMQ endpoint to publish on [config: events.endpoint]"
    ),
    device: str | None = typer.Option(None, "--device", "-d", help=DEVICE_HELP),
    detect_fps: float | None = typer.Option(None, "--detect-fps", min=0.001, help=DETECT_FPS_HELP),
    motion: bool | None = typer.Option(None, "--motion/--no-motion", help=MOTION_HELP),
    http: str | None = typer.Option(
        None, "--http", metavar="HOST:PORT",
        help="Serve the HTTP API, /metrics and the live page there, e.g. 127.0.0.1:8080 [config: http.listen]"
    ),
) -> None:
    """Detect, track and publish events for one or more sources until they end or Ctrl-C."""
    summary = _user_errors(
        lambda: jobs.run_job(source, model, config, output, events, device, detect_fps, motion, http)
    )
    _exit_status(summary)


@app.command()
def analyze(
    paths: list[Path] = typer.Argument(..., help="Video files, or folders of them"),
    output: Path = typer.Option(Path("runs/analyze"), "--output", "-o", help="Output folder; one subfolder per input"),
    model: str | None = typer.Option(None, "--model", "-m", help=MODEL_HELP),
    config: Path | None = typer.Option(None, "--config", "-c", help=CONFIG_HELP),
    device: str | None = typer.Option(None, "--device", "-d", help=DEVICE_HELP),
    events: str | None = typer.Option(None, "--events", "-e", help="Also publish events on this ZeroMQ endpoint"),
    camera_motion: bool = typer.Option(
        True, "--camera-motion/--no-camera-motion", help="Compensate camera motion (dashcams)"
    ),
    parallel: int | None = typer.Option(
        None, "--parallel", "-j", min=1,
        help="Files analysed at once; the others wait their turn [config: streams.max_open_files, 16]"
    ),
    detect_fps: float | None = typer.Option(None, "--detect-fps", min=0.001, help=DETECT_FPS_HELP),
    motion: bool | None = typer.Option(None, "--motion/--no-motion", help=MOTION_HELP),
    clips: bool = typer.Option(
        False, "--clips", help="Cut a clip around each event from the file's own packets (no re-encode) "
        "[config: output.clips]"),
) -> None:
    """Analyse recorded footage, every frame by default, several files at once: annotated video, events,
    summary and an HTML report per input. --detect-fps and --motion trade accuracy for speed."""
    summary = _user_errors(lambda: jobs.analyze_job(
        paths, output, model, config, device, events, camera_motion, parallel, detect_fps, motion, clips))
    _exit_status(summary)


@app.command()
def bench(
    clip: Path = typer.Option(
        Path("../shared/videos/fixedcam_highway_cars_1280x720.mp4"), "--clip", help="Clip every stream is made of"
    ),
    model: Path = typer.Option(Path("../shared/models/yolov8n_coco.pt"), "--model", "-m", help="Detection checkpoint"),
    device: str = typer.Option("auto", "--device", "-d", help="auto, cpu, cuda or cuda:N"),
    streams: list[int] | None = typer.Option(
        None, "--streams", min=0,
        help="File mode stream counts (default: 1 8 32 64 on a GPU, 1 2 4 on a CPU; 0: no file mode)"
    ),
    live_streams: list[int] | None = typer.Option(
        None, "--live-streams", min=0,
        help="Live mode stream counts (default: 64 on a GPU, 1 2 on a CPU; 0: no live mode)"
    ),
    live_seconds: float | None = typer.Option(
        None, "--live-seconds", help="Seconds per live run (default: 300 on a GPU, 15 on a CPU)"
    ),
    frames: int | None = typer.Option(
        None, "--frames",
        help="File mode: frames per stream, 0 for the whole clip (default: whole on a GPU, 24 on a CPU)"
    ),
    max_batch: int | None = typer.Option(
        None, "--max-batch", help="Most frames per forward (default: 64 on a GPU, 8 on a CPU)"
    ),
    imgsz: int = typer.Option(640, "--imgsz", min=32, help="Inference size, for ours and the baseline alike"),
    overlap: bool | None = typer.Option(
        None, "--overlap/--no-overlap", help="Detection in its own thread (default: on with CUDA)"
    ),
    trace: bool = typer.Option(
        True, "--trace/--no-trace", help="Our network as one TorchScript call (default) or eager"
    ),
    decode_threads: int = typer.Option(
        0, "--decode-threads", min=0, help="FFmpeg decoder threads per stream (0: FFmpeg's choice)"
    ),
    capture: str = typer.Option(
        "thread", "--capture", help="thread: decode in threads of this process; process: a process per stream"
    ),
    out: Path = typer.Option(Path("bench/results/e2e.json"), "--out", help="Where the JSON results go"),
) -> None:
    """End-to-end benchmark: the real pipeline on N streams, file and live mode, against Ultralytics' model.track."""
    from roadwatch.detector import ModelError
    from roadwatch.detector.yolo import resolve_device
    from roadwatch.tools.bench import BenchSettings, defaults, run_bench

    if capture not in ("thread", "process"):
        fail(f"--capture '{capture}': use thread or process")
    for path, what in ((clip, "--clip"), (model, "--model")):
        if not path.is_file():
            fail(f"{what} '{path}': no such file (the defaults read ../shared, see its README)")
    try:
        d = defaults(resolve_device(device))
    except ModelError as exc:
        fail(str(exc))
    given = dict(file_streams=streams and [n for n in streams if n > 0],
                 live_streams=live_streams and [n for n in live_streams if n > 0],
                 live_seconds=live_seconds, frames_per_stream=frames, max_batch=max_batch)
    d.update({k: v for k, v in given.items() if v is not None})
    settings = BenchSettings(clip=clip, model=model, device=device, imgsz=imgsz, overlap=overlap, trace=trace,
                             decode_threads=decode_threads, capture=capture, **d)
    interrupt_on_signals()
    try:
        run_bench(settings, out)
    except KeyboardInterrupt:
        done = f"the runs that had finished are in {out}" if out.is_file() else "no results written"
        fail(f"interrupted; {done}")


@app.command()
def capacity(
    clip: list[Path] | None = typer.Option(
        None, "--clip", help="Clips the cameras are cut from, in turn (default: the shared 720p30 clips)"
    ),
    model: Path = typer.Option(Path("../shared/models/yolov8n_coco.pt"), "--model", "-m", help="Detection checkpoint"),
    device: str = typer.Option("cpu", "--device", "-d", help="auto, cpu, cuda or cuda:N"),
    detect_fps: float = typer.Option(5.0, "--detect-fps", min=0.001, help="The rate of the fixed and gated modes"),
    seconds: float = typer.Option(20.0, "--seconds", min=1, help="Seconds per run"),
    most: int = typer.Option(12, "--most", min=1, help="Most cameras tried per mode"),
    backend: str = typer.Option("pytorch", "--backend",
                                help="pytorch, or an export: onnx, openvino (CPU; about 2x pytorch with --half)"),
    half: bool = typer.Option(False, "--half", help="Reduced precision: fp16 on CUDA, bf16 with openvino"),
    out: Path = typer.Option(Path("bench/results/capacity.json"), "--out", help="Where the JSON results go"),
) -> None:
    """How many live 720p30 cameras this machine holds in real time: every frame, a fixed detection rate,
    and motion-gated (roadwatch/tools/capacity.py says what 'held' means)."""
    from roadwatch.detector.backends import BACKENDS
    from roadwatch.tools.bench import BenchSettings
    from roadwatch.tools.capacity import run_capacity

    if backend not in BACKENDS:
        fail(f"--backend '{backend}': use one of {', '.join(BACKENDS)}")
    videos = Path("../shared/videos")
    clips = clip or [videos / "fixedcam_highway_cars_1280x720.mp4", videos / "pedestrians_street_1280x720.mp4"]
    for path in [*clips, model]:
        if not path.is_file():
            fail(f"'{path}': no such file (the defaults read ../shared, see its README)")
    settings = BenchSettings(clip=clips[0], model=model, device=device, imgsz=640, file_streams=[],
                             frames_per_stream=0, live_streams=[], live_seconds=seconds, max_batch=8,
                             baseline_frames=0, backend=backend, half=half)
    interrupt_on_signals()
    try:
        _user_errors(lambda: run_capacity(settings, clips, detect_fps, most, out))
    except KeyboardInterrupt:
        fail(f"interrupted; the runs that had finished are in {out}" if out.is_file() else "interrupted")


@app.command()
def calibrate(
    config: Path = typer.Option(..., "--config", "-c", help="YAML config with the calibration"),
    stream: str | None = typer.Option(None, "--stream", help="Stream id whose calibration to draw"),
    source: str | None = typer.Option(None, "--source", "-s", help="Where to take a frame from [the config's source]"),
    output: Path = typer.Option(Path("calibration.png"), "--output", "-o", help="PNG to write"),
) -> None:
    """Draw a camera's calibration on one of its frames: the points, numbered with their metres, and a 1 m grid
    (every 5 m labelled) that must follow the lane markings if the calibration is right."""
    from roadwatch.config import load_config
    from roadwatch.tools.calibrate import calibrate as draw_calibration

    written = _user_errors(lambda: draw_calibration(load_config(config), stream, source, output))
    print(f"roadwatch: wrote {written}")


for command in (subscribe, keys, broker, mqtt):  # the event plane's commands (cli_events.py)
    app.command()(command)


def main() -> None:
    from roadwatch.memory import limit_malloc_arenas

    limit_malloc_arenas()  # before any capture thread starts: memory stays flat in 24/7 runs
    app()


if __name__ == "__main__":
    main()
