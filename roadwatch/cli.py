"""The `roadwatch` command: `run` the pipeline, `subscribe` to its events."""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from roadwatch.errors import UserError

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Real-time road object detection, tracking and events.")


def fail(message: str) -> None:
    """One line on stderr and exit status 2: the contract for every input a user can fix."""
    print(f"roadwatch: error: {' '.join(str(message).split())}", file=sys.stderr, flush=True)
    raise typer.Exit(2)


@app.command()
def run(
    source: Optional[list[str]] = typer.Option(None, "--source", "-s", help="Video file, image folder or glob, camera index, or rtsp/http URL; repeat for several"),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="YOLO checkpoint path or official name [config: detector.model]"),
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="YAML config file"),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Output folder [config: output.dir]"),
    events: Optional[str] = typer.Option(None, "--events", "-e", help="ZeroMQ endpoint to publish on [config: events.endpoint]"),
    device: Optional[str] = typer.Option(None, "--device", "-d", help="auto, cpu, cuda or cuda:N [config: detector.device]"),
) -> None:
    """Detect, track and publish events for one or more sources until they end or Ctrl-C."""
    logging.basicConfig(level=logging.WARNING, format="roadwatch: %(levelname)s: %(message)s")
    from detector import ModelError
    from roadwatch.config import load_config
    from streams import SourceError

    try:
        summary = _run(source, model, config, output, events, device, load_config)
    except (UserError, SourceError, ModelError) as exc:
        fail(str(exc))
    streams = summary["streams"].values()
    if all(s["status"] == "failed" for s in streams):
        print("roadwatch: error: no source could be read; see the status column above", file=sys.stderr)
        raise typer.Exit(1)


def specs_for(uris: list[str], ids: list[str | None] | None = None) -> list:
    from roadwatch.pipeline import stream_ids_for
    from streams import SourceSpec

    return [SourceSpec.from_uri(uri, sid) for uri, sid in zip(uris, stream_ids_for(uris, ids))]


def _run(source, model, config_path, output, events, device, load_config) -> dict:
    from detector import CategoryMap, YoloDetector
    from roadwatch.pipeline import Pipeline
    from roadwatch.report import RunProgress, summary_table
    from roadwatch.sample import sample_video
    from roadwatch.zmq_io import EventPublisher
    from streams import probe

    cfg = load_config(config_path)
    if model:
        cfg.detector.model = model
    if device:
        cfg.detector.device = device
    if events:
        cfg.events.endpoint = events
    if output:
        cfg.output.dir = str(output)

    if source:
        specs = specs_for(list(source))
    elif cfg.sources:
        specs = specs_for([s.uri for s in cfg.sources], [s.id for s in cfg.sources])
    else:
        specs = specs_for([sample_video()])
    infos = {spec.stream_id: probe(spec) for spec in specs}

    out_dir = Path(cfg.output.dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"output folder '{out_dir}': cannot create it ({exc.strerror}); pass another --output")

    console = Console(stderr=True)
    publisher = EventPublisher(cfg.events.endpoint, cfg.events.send_hwm, cfg.events.linger_ms)
    try:
        # Bound before the model loads, so subscribers that connect now miss nothing.
        with console.status(f"loading {cfg.detector.model}"):
            detector = YoloDetector(
                cfg.detector.model,
                CategoryMap(cfg.detector.categories),
                device=cfg.detector.device,
                imgsz=cfg.detector.imgsz,
                conf=cfg.detector.conf,
                iou=cfg.detector.iou,
                half=cfg.detector.half,
                agnostic_nms=cfg.detector.agnostic_nms,
            )
        pipeline = Pipeline(cfg, specs, infos, detector, publisher, out_dir)
        if config_path is not None and not source:
            # SIGHUP re-reads the config's source list: new ones start, missing ones stop, the rest go on.
            def sources_from_config() -> list:
                fresh = load_config(config_path).sources
                return specs_for([s.uri for s in fresh], [s.id for s in fresh])

            pipeline.reload_sources_hook = sources_from_config
            signal.signal(signal.SIGHUP, lambda *_: pipeline.request_reload())
        stop = threading.Event()
        _stop_on_signals(stop)
        console.print(
            f"roadwatch: {len(specs)} source(s) -> {out_dir}/, events on {cfg.events.endpoint}, "
            f"model {cfg.detector.model} on {detector.device}"
        )
        with RunProgress(console, {s.stream_id: infos[s.stream_id].frame_count for s in specs}) as progress:
            summary = pipeline.run(stop, on_batch=progress.advance)
    finally:
        publisher.close()
    Console().print(summary_table(summary))
    return summary


def _stop_on_signals(stop: threading.Event) -> None:
    """First Ctrl-C or SIGTERM asks for a clean stop (outputs finalised, exit 0); a second Ctrl-C aborts."""

    def request_stop(signum, _frame) -> None:
        if stop.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        stop.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)


@app.command()
def subscribe(
    endpoint: str = typer.Option("tcp://127.0.0.1:5556", "--endpoint", "-e", help="Publisher's ZeroMQ endpoint"),
    topic: Optional[list[str]] = typer.Option(None, "--topic", "-t", help="Topic prefix, e.g. 'track.' or 'track.ended/cam0'; repeat for several"),
    timeout: Optional[float] = typer.Option(None, "--timeout", help="Exit after this many seconds without an event"),
) -> None:
    """Print events as they arrive, one JSON object per line."""
    from roadwatch.zmq_io import iter_events

    try:
        for event in iter_events(endpoint, topic or [""], timeout_s=timeout):
            print(json.dumps(event), flush=True)
    except KeyboardInterrupt:
        pass
    except Exception as exc:  # a bad endpoint string, for instance
        fail(f"endpoint '{endpoint}': {exc}")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
