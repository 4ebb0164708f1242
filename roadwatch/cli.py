"""The `roadwatch` command: `run` the live pipeline, `analyze` recorded footage, `subscribe` to events."""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from roadwatch.errors import UserError

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Real-time road object detection, tracking and events.")

MODEL_HELP = "YOLO checkpoint path or official name [config: detector.model]"
CONFIG_HELP = "YAML config file"
DEVICE_HELP = "auto, cpu, cuda or cuda:N [config: detector.device]"


def fail(message: str) -> None:
    """One line on stderr and exit status 2: the contract for every input a user can fix."""
    print(f"roadwatch: error: {' '.join(str(message).split())}", file=sys.stderr, flush=True)
    raise typer.Exit(2)


def _user_errors(work) -> dict:
    """Run `work`, turning every error a user can fix into one line and exit status 2."""
    logging.basicConfig(level=logging.WARNING, format="roadwatch: %(levelname)s: %(message)s")
    from detector import ModelError
    from streams import SourceError

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
    source: Optional[list[str]] = typer.Option(None, "--source", "-s", help="Video file, image folder or glob, camera index, or rtsp/http URL; repeat for several"),
    model: Optional[str] = typer.Option(None, "--model", "-m", help=MODEL_HELP),
    config: Optional[Path] = typer.Option(None, "--config", "-c", help=CONFIG_HELP),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Output folder [config: output.dir]"),
    events: Optional[str] = typer.Option(None, "--events", "-e", help="ZeroMQ endpoint to publish on [config: events.endpoint]"),
    device: Optional[str] = typer.Option(None, "--device", "-d", help=DEVICE_HELP),
) -> None:
    """Detect, track and publish events for one or more sources until they end or Ctrl-C."""
    summary = _user_errors(lambda: _run(source, model, config, output, events, device))
    _exit_status(summary)


@app.command()
def analyze(
    paths: list[Path] = typer.Argument(..., help="Video files, or folders of them"),
    output: Path = typer.Option(Path("runs/analyze"), "--output", "-o", help="Output folder; one subfolder per input"),
    model: Optional[str] = typer.Option(None, "--model", "-m", help=MODEL_HELP),
    config: Optional[Path] = typer.Option(None, "--config", "-c", help=CONFIG_HELP),
    device: Optional[str] = typer.Option(None, "--device", "-d", help=DEVICE_HELP),
    events: Optional[str] = typer.Option(None, "--events", "-e", help="Also publish events on this ZeroMQ endpoint"),
    camera_motion: bool = typer.Option(True, "--camera-motion/--no-camera-motion", help="Compensate camera motion (dashcams)"),
    parallel: Optional[int] = typer.Option(None, "--parallel", "-j", min=1, help="Files analysed at once; the others wait their turn [config: streams.max_open_files, 16]"),
) -> None:
    """Analyse recorded footage, every frame, several files at once: annotated video, events, summary
    and an HTML report per input."""
    summary = _user_errors(lambda: _analyze(paths, output, model, config, device, events, camera_motion, parallel))
    _exit_status(summary)


def specs_for(uris: list[str], ids: list[str | None] | None = None) -> list:
    from streams import SourceSpec, stream_ids_for

    return [SourceSpec.from_uri(uri, sid) for uri, sid in zip(uris, stream_ids_for(uris, ids))]


def specs_from_config(sources) -> list:
    """The config's `sources` list as specs, with the ids it gives."""
    return specs_for([s.uri for s in sources], [s.id for s in sources])


def _load(config_path, model, device, output):
    from roadwatch.config import load_config

    cfg = load_config(config_path)
    if model:
        cfg.detector.model = model
    if device:
        cfg.detector.device = device
    if output:
        cfg.output.dir = str(output)
    out_dir = Path(cfg.output.dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"output folder '{out_dir}': cannot create it ({exc.strerror}); pass another --output")
    return cfg, out_dir


def _models(cfg, console: Console):
    """The detector and, when configured, the plate stage; both load before any frame is read."""
    from detector import CategoryMap
    from detector.yolo import YoloDetector
    from detector.ocr import OcrUnavailable, RapidPlateOcr
    from detector.plates import PlateReader

    d = cfg.detector
    with console.status(f"loading {d.model}"):
        detector = YoloDetector(d.model, CategoryMap(d.categories), device=d.device, imgsz=d.imgsz, conf=d.conf,
                                iou=d.iou, half=d.half, agnostic_nms=d.agnostic_nms, category_conf=d.category_conf,
                                min_size_px=d.min_box_px, backend=d.backend, max_batch=d.max_batch,
                                trace=d.trace)
    p = d.plates
    if p.model is None:
        return detector, None
    with console.status(f"loading plate model {p.model}"):
        try:
            ocr = RapidPlateOcr(p.ocr_min_confidence) if p.ocr else None
        except OcrUnavailable as exc:
            raise UserError(str(exc)) from exc
        plates = PlateReader(p.model, device=d.device, imgsz=p.imgsz, conf=p.conf, half=d.half,
                             max_area_fraction=p.max_area_fraction, ocr=ocr)
    return detector, plates


def _process(pipeline, specs, infos, console: Console, overall: bool) -> dict:
    from roadwatch.console import RunProgress

    stop = threading.Event()
    _stop_on_signals(stop)
    totals = {s.stream_id: infos[s.stream_id].frame_count for s in specs}
    with RunProgress(console, totals, overall=overall) as progress:
        return pipeline.run(stop, on_batch=progress.advance, on_end=progress.end)


def _run(source, model, config_path, output, events, device) -> dict:
    from roadwatch.config import load_config
    from roadwatch.sample import sample_video
    from streams import probe

    cfg, out_dir = _load(config_path, model, device, output)
    if events:
        cfg.events.endpoint = events
    if source:
        specs = specs_for(list(source))
    elif cfg.sources:
        specs = specs_from_config(cfg.sources)
    else:
        specs = specs_for([sample_video()])
    infos = {spec.stream_id: probe(spec) for spec in specs}
    # only now the heavy imports (torch, Ultralytics): a bad config or source is reported without waiting for them
    from roadwatch.console import summary_table
    from roadwatch.pipeline import Pipeline
    from roadwatch.zmq_io import EventPublisher, SnapshotServer

    console = Console(stderr=True)
    e = cfg.events
    publisher = EventPublisher(e.endpoint, e.send_hwm, e.linger_ms, e.format, e.connect, e.curve())
    snapshots = None
    try:
        detector, plates = _models(cfg, console)  # after the bind, so subscribers that connect now miss nothing
        pipeline = Pipeline(cfg, specs, infos, detector, publisher, out_dir, plates=plates)
        if e.snapshot_endpoint:
            snapshots = pipeline.snapshots = SnapshotServer(e.snapshot_endpoint)
        if config_path is not None and not source:
            # SIGHUP re-reads the config's source list: new ones start, missing ones stop, the rest go on.
            pipeline.reload_sources_hook = lambda: specs_from_config(load_config(config_path).sources)
            signal.signal(signal.SIGHUP, lambda *_: pipeline.request_reload())
        console.print(
            f"roadwatch: {len(specs)} source(s) -> {out_dir}/, events on {cfg.events.endpoint}, "
            f"model {cfg.detector.model} on {detector.device}"
        )
        summary = _process(pipeline, specs, infos, console, overall=len(specs) > 1)
    finally:
        publisher.close()
        if snapshots is not None:
            snapshots.close()
    Console().print(summary_table(summary))
    return summary


def expand_inputs(paths: list[Path]) -> tuple[list[Path], list[dict]]:
    """Files as given and every file of a folder (name order, hidden ones left out); missing paths are
    reported, not fatal."""
    files, skipped = [], []
    for path in paths:
        if path.is_dir():
            files += sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
        elif path.is_file():
            files.append(path)
        else:
            skipped.append({"path": str(path), "error": f"'{path}': no such file or folder"})
    return files, skipped


def _analyze(paths, output, model, config_path, device, events, camera_motion, parallel=None) -> dict:
    from streams import SourceError, probe

    cfg, out_dir = _load(config_path, model, device, output)
    cfg.tracker.camera_motion = camera_motion
    if parallel is not None:
        cfg.streams.max_open_files = parallel
    files, skipped = expand_inputs(paths)
    specs, infos = [], {}
    for spec in specs_for([str(f) for f in files]):
        try:
            infos[spec.stream_id] = probe(spec)
            specs.append(spec)
        except SourceError as exc:
            skipped.append({"path": spec.uri, "error": str(exc)})
    for item in skipped:
        print(f"roadwatch: warning: {item['error']}; skipped", file=sys.stderr, flush=True)
    if not specs:
        raise UserError("no readable video among the inputs; pass video files or folders that hold some")
    from roadwatch.console import summary_table  # the heavy imports only now, as in _run
    from roadwatch.html_report import write_report
    from roadwatch.pipeline import Pipeline
    from roadwatch.sinks import write_json_atomic
    from roadwatch.zmq_io import EventPublisher

    console = Console(stderr=True)
    e = cfg.events
    publisher = EventPublisher(events, e.send_hwm, e.linger_ms, e.format, e.connect, e.curve()) if events else None
    try:
        detector, plates = _models(cfg, console)
        pipeline = Pipeline(cfg, specs, infos, detector, publisher, out_dir, per_stream_outputs=True,
                            thumbnails=True, plates=plates)
        console.print(f"roadwatch: analysing {len(specs)} file(s) -> {out_dir}/, model {cfg.detector.model} on {detector.device}")
        summary = _process(pipeline, specs, infos, console, overall=True)
    finally:
        if publisher is not None:
            publisher.close()
    summary["skipped"] = skipped

    def attempt(path: Path, write, *args) -> None:
        """A full disk costs this output, not the others; the exit status says so."""
        try:
            write(*args)
        except OSError as exc:
            summary["output_errors"].append(f"cannot write '{path}': {exc.strerror or exc}")

    attempt(out_dir / "summary.json", write_json_atomic, out_dir / "summary.json", summary)
    for state in pipeline.streams.values():
        attempt(state.out_dir / "report.html", write_report, state.out_dir, state.thumbnails)
    Console().print(summary_table(summary))
    for stream_id, entry in summary["streams"].items():
        if entry.get("warning"):
            print(f"roadwatch: warning: {entry['warning']}", file=sys.stderr)
        print(f"roadwatch: {stream_id}: {out_dir / stream_id / 'report.html'}")
    return summary


def _interrupt_on_signals() -> None:
    """Ctrl-C and SIGTERM raise KeyboardInterrupt, even in a process started with SIGINT ignored (as a
    shell's background jobs are), so a blocking loop ends cleanly."""

    def interrupt(_signum, _frame) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)


def _stop_on_signals(stop: threading.Event) -> None:
    """First Ctrl-C or SIGTERM asks for a clean stop (outputs finalised, exit 0); a second Ctrl-C aborts."""

    def request_stop(signum, _frame) -> None:
        if stop.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        stop.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)


@app.command()
def bench(
    clip: Path = typer.Option(Path("../shared/videos/fixedcam_highway_cars_1280x720.mp4"), "--clip", help="Clip every stream is made of"),
    model: Path = typer.Option(Path("../shared/models/yolov8n_coco.pt"), "--model", "-m", help="Detection checkpoint"),
    device: str = typer.Option("auto", "--device", "-d", help="auto, cpu, cuda or cuda:N"),
    streams: Optional[list[int]] = typer.Option(None, "--streams", min=0, help="File mode stream counts (default: 1 8 32 64 on a GPU, 1 2 4 on a CPU; 0: no file mode)"),
    live_streams: Optional[list[int]] = typer.Option(None, "--live-streams", min=0, help="Live mode stream counts (default: 64 on a GPU, 1 2 on a CPU; 0: no live mode)"),
    live_seconds: Optional[float] = typer.Option(None, "--live-seconds", help="Seconds per live run (default: 300 on a GPU, 15 on a CPU)"),
    frames: Optional[int] = typer.Option(None, "--frames", help="File mode: frames per stream, 0 for the whole clip (default: whole on a GPU, 24 on a CPU)"),
    max_batch: Optional[int] = typer.Option(None, "--max-batch", help="Most frames per forward (default: 64 on a GPU, 8 on a CPU)"),
    imgsz: int = typer.Option(640, "--imgsz", min=32, help="Inference size, for ours and the baseline alike"),
    overlap: Optional[bool] = typer.Option(None, "--overlap/--no-overlap", help="Detection in its own thread (default: on with CUDA)"),
    trace: bool = typer.Option(True, "--trace/--no-trace", help="Our network as one TorchScript call (default) or eager"),
    decode_threads: int = typer.Option(0, "--decode-threads", min=0, help="FFmpeg decoder threads per stream (0: FFmpeg's choice)"),
    capture: str = typer.Option("thread", "--capture", help="thread: decode in threads of this process; process: a process per stream"),
    out: Path = typer.Option(Path("bench/results/e2e.json"), "--out", help="Where the JSON results go"),
) -> None:
    """End-to-end benchmark: the real pipeline on N streams, file and live mode, against Ultralytics' model.track."""
    from detector import ModelError
    from detector.yolo import resolve_device
    from roadwatch.bench import BenchSettings, defaults, run_bench

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
    _interrupt_on_signals()
    try:
        run_bench(settings, out)
    except KeyboardInterrupt:
        fail(f"interrupted; the runs that had finished are in {out}" if out.is_file() else "interrupted; no results written")


@app.command()
def subscribe(
    endpoint: str = typer.Option("tcp://127.0.0.1:5556", "--endpoint", "-e", help="Publisher's ZeroMQ endpoint"),
    type_: Optional[list[str]] = typer.Option(None, "--type", help="Event type prefix, e.g. 'track.' or 'line.crossed'; repeat for several"),
    stream: Optional[list[str]] = typer.Option(None, "--stream", help="Stream id; repeat for several"),
    topic: Optional[list[str]] = typer.Option(None, "--topic", "-t", help="Raw topic prefix '<type>/<stream_id>' (instead of --type/--stream)"),
    fmt: str = typer.Option("jsonl", "--format", "-f", help="jsonl (one JSON object a line) or pretty"),
    heartbeats: bool = typer.Option(False, "--heartbeats/--no-heartbeats", help="Also print heartbeats"),
    timeout: Optional[float] = typer.Option(None, "--timeout", help="Exit after this many seconds without a message"),
    client_key: Optional[Path] = typer.Option(None, "--client-key", help="CURVE: this client's NAME.key_secret"),
    server_key: Optional[Path] = typer.Option(None, "--server-key", help="CURVE: the publisher's public NAME.key"),
) -> None:
    """Print events as they arrive; warns on stderr when events were missed (a jump in seq)."""
    from roadwatch.zmq_io import Subscriber, iter_events

    if fmt not in ("jsonl", "pretty"):
        fail(f"format '{fmt}': use jsonl or pretty")
    if (client_key is None) != (server_key is None):
        fail("--client-key and --server-key go together")
    subscriber = Subscriber(endpoint, type_, stream, timeout_s=timeout, client_secret_key=client_key,
                            server_public_key=server_key)
    _interrupt_on_signals()
    source = iter_events(endpoint, topic, timeout_s=timeout) if topic else subscriber
    reported = 0
    try:
        for event in source:
            for gap in subscriber.gaps[reported:]:
                print(f"roadwatch: warning: missed events {gap.first_missing}..{gap.last_missing} from {gap.producer_id}",
                      file=sys.stderr, flush=True)
            reported = len(subscriber.gaps)
            if event["type"] == "heartbeat" and not heartbeats:
                continue
            print(_pretty(event) if fmt == "pretty" else json.dumps(event), flush=True)
    except KeyboardInterrupt:
        pass
    except UserError as exc:
        fail(str(exc))
    except Exception as exc:  # a bad endpoint string, for instance
        fail(f"endpoint '{endpoint}': {exc}")


@app.command()
def keys(
    name: str = typer.Argument(..., help="Name of the key pair, e.g. the machine or program it is for"),
    folder: Path = typer.Option(Path("keys"), "--dir", help="Folder to write NAME.key and NAME.key_secret in"),
) -> None:
    """Make a CURVE key pair: NAME.key (public: give it out, or put it in an allowlist folder) and
    NAME.key_secret (keep it private)."""
    from roadwatch.security import create_keys

    public, secret = create_keys(folder, name)
    print(f"public key: {public}\nsecret key: {secret}")


@app.command()
def broker(
    frontend: str = typer.Option("tcp://127.0.0.1:5557", "--frontend", help="Where producers connect (run with events.connect: true)"),
    backend: str = typer.Option("tcp://127.0.0.1:5556", "--backend", help="Where subscribers connect"),
    secret_key: Optional[Path] = typer.Option(None, "--secret-key", help="CURVE: the broker's NAME.key_secret"),
    allowed: Optional[Path] = typer.Option(None, "--allowed", help="CURVE: folder of allowed subscriber public keys"),
) -> None:
    """Fan-in: many pipelines publish into one place, many subscribers read from it (until Ctrl-C)."""
    from roadwatch.zmq_io import Broker, CurveServerKeys

    if (secret_key is None) != (allowed is None):
        fail("--secret-key and --allowed go together")
    curve = CurveServerKeys(secret_key, allowed) if secret_key is not None else None
    try:
        running = Broker(frontend, backend, curve).start()
    except UserError as exc:
        fail(str(exc))
    print(f"roadwatch broker: producers -> {frontend}, subscribers -> {backend}", file=sys.stderr, flush=True)
    _interrupt_on_signals()
    try:
        # Wait in short slices: a signal may land on one of libzmq's threads, and Python runs its
        # handlers only in the main thread, between such slices.
        while running.running():
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    finally:
        running.stop()


def _pretty(event: dict) -> str:
    """One readable line: time, stream, type, then what matters for that type."""
    head = f"{event['ts']:.3f} {event.get('stream_id', '-'):<12} {event['type']:<14}"
    if "track_id" in event:
        extra = " ".join(f"{k}={event[k]}" for k in ("zone_id", "line_id", "direction", "reason") if k in event)
        return f"{head} #{event['track_id']} {event['class']} {event['confidence']:.2f} {extra}".rstrip()
    if event["type"] == "heartbeat":
        overflows = event.get("subscriber_overflows", 0)
        lossy = f", {overflows} subscriber overflows" if overflows else ""
        return f"{head} {event['fps']} frames/s, {len(event['streams'])} streams{lossy}"
    return f"{head} {event.get('status', '')} {event.get('reason', '')}".rstrip()


def main() -> None:
    from roadwatch.memory import limit_malloc_arenas

    limit_malloc_arenas()  # before any capture thread starts: memory stays flat in 24/7 runs
    app()


if __name__ == "__main__":
    main()
