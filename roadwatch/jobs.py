"""The assembly of a run: the settings, the models, the sources and the pipeline for `roadwatch run` and
`roadwatch analyze`, with the heavy imports (torch, Ultralytics) only after the inputs have been checked, so
a bad config or source is reported at once."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

from rich.console import Console

from roadwatch.errors import UserError
from roadwatch.job_signals import JobSignals
from roadwatch.outputs.folder_lock import OutputFolderLock


def specs_for(uris: list[str], ids: list[str | None] | None = None) -> list:
    from roadwatch.streams import SourceSpec, stream_ids_for

    return [SourceSpec.from_uri(uri, sid) for uri, sid in zip(uris, stream_ids_for(uris, ids))]


def specs_from_config(sources) -> list:
    """The config's `sources` list as specs, with the ids it gives."""
    return specs_for([s.uri for s in sources], [s.id for s in sources])


def load_settings(config_path, model, device, output, detect_fps=None, motion=None):
    from roadwatch.config import load_config

    cfg = load_config(config_path)
    if detect_fps is not None:  # the command line's rate is every source's default, live or file
        cfg.schedule.live_detect_fps = cfg.schedule.file_detect_fps = detect_fps
    if motion is not None:
        cfg.schedule.live_motion = cfg.schedule.file_motion = motion
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
        raise UserError(f"output folder '{out_dir}': cannot create it ({exc.strerror}); pass another --output") from exc
    return cfg, out_dir


def beside(pipeline) -> str:
    """How the start line says that this run's files carry a count beside an earlier run's."""
    suffix = pipeline.outputs.suffix
    return f" (beside an earlier run's files: this run's names end in {suffix})" if suffix else ""


def load_models(cfg, console: Console):
    """The detector and, when configured, the plate stage; both load before any frame is read."""
    from roadwatch.detector import CategoryMap
    from roadwatch.detector.ocr import OcrUnavailable, RapidPlateOcr
    from roadwatch.detector.plate_text import PlateFormats
    from roadwatch.detector.plates import PlateReader
    from roadwatch.detector.yolo import YoloDetector

    d = cfg.detector
    with console.status(f"loading {d.model}"):
        detector = YoloDetector(d.model, CategoryMap(d.categories), device=d.device, imgsz=d.imgsz, conf=d.conf,
                                iou=d.iou, half=d.half, agnostic_nms=d.agnostic_nms, category_conf=d.category_conf,
                                min_size_px=d.min_box_px, backend=d.backend, max_batch=d.max_batch,
                                trace=d.trace, drop_occupants=d.drop_occupants)
    p = d.plates
    if p.model is None:
        return detector, None
    with console.status(f"loading plate model {p.model}"):
        try:
            ocr = RapidPlateOcr(p.ocr_min_confidence) if p.ocr else None
        except OcrUnavailable as exc:
            raise UserError(str(exc)) from exc
        plates = PlateReader(p.model, device=d.device, imgsz=p.imgsz, conf=p.conf, half=d.half,
                             max_area_fraction=p.max_area_fraction, ocr=ocr, crop_pad=p.crop_pad,
                             whole_frame_fraction=p.whole_frame_fraction, formats=PlateFormats(p.formats))
    return detector, plates


def process(pipeline, specs, infos, console: Console, overall: bool, stop: threading.Event) -> dict:
    from roadwatch.console import RunProgress

    totals = {s.stream_id: infos[s.stream_id].frame_count for s in specs}
    with RunProgress(console, totals, overall=overall) as progress:
        return pipeline.run(stop, on_batch=progress.advance, on_end=progress.end)


def http_settings(cfg, listen: str | None) -> None:
    """`--http` over the config's http.listen, and the exposure check, before anything slow."""
    from roadwatch.config.http import split_listen

    try:
        if listen is not None:
            split_listen(listen)
            cfg.http.listen = listen
        cfg.http.check_exposure()
    except ValueError as exc:
        raise UserError(str(exc)) from None


def run_job(source, model, config_path, output, events, device, detect_fps=None, motion=None, http=None) -> dict:
    signals = JobSignals()  # before anything slow: a signal while the model loads is a clean stop or a reload
    cfg, out_dir = load_settings(config_path, model, device, output, detect_fps, motion)
    http_settings(cfg, http)
    with OutputFolderLock(out_dir):
        return _run(cfg, out_dir, source, config_path, events, signals)


def _run(cfg, out_dir: Path, source, config_path, events, signals: JobSignals) -> dict:
    from roadwatch.config import load_config
    from roadwatch.sample import sample_video
    from roadwatch.streams import probe

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
    from roadwatch.api import HttpServer
    from roadwatch.console import summary_table
    from roadwatch.events.snapshots import SnapshotServer
    from roadwatch.events.zmq_io import EventPublisher
    from roadwatch.pipeline import Pipeline

    console = Console(stderr=True)
    e = cfg.events
    publisher = EventPublisher(e.endpoint, e.send_hwm, e.linger_ms, e.format, e.connect, e.curve())
    snapshots = http = None
    try:
        detector, plates = load_models(cfg, console)  # after the bind, so subscribers that connect now miss nothing
        pipeline = Pipeline(cfg, specs, infos, detector, publisher, out_dir, plates=plates)
        if e.snapshot_endpoint:
            snapshots = pipeline.snapshots = SnapshotServer(e.snapshot_endpoint, e.snapshot_curve())
        reloads = []  # what SIGHUP does
        if config_path is not None and not source:
            # the config's source list re-read: new ones start, missing ones stop, the rest go on
            pipeline.reload_sources_hook = lambda: load_config(config_path).sources
            reloads.append(pipeline.request_reload)
        if pipeline.plates is not None and pipeline.plates.watchlist is not None:
            reloads.append(pipeline.plates.watchlist.reload)  # the watched plates re-read
        if reloads:
            signals.reload_with(lambda: [reload() for reload in reloads])
        if cfg.http.listen:
            http = HttpServer(pipeline, cfg.http)
            http.start()
        console.print(
            f"roadwatch: {len(specs)} source(s) -> {out_dir}/{beside(pipeline)}, events on {cfg.events.endpoint}, "
            f"model {cfg.detector.model} on {detector.device}" + (f", API and page on {http.url}" if http else "")
        )
        summary = process(pipeline, specs, infos, console, overall=len(specs) > 1, stop=signals.stop)
    finally:
        if http is not None:
            http.close()
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


def analyze_job(paths, output, model, config_path, device, events, camera_motion, parallel=None, detect_fps=None,
                motion=None, clips=False) -> dict:
    signals = JobSignals()
    cfg, out_dir = load_settings(config_path, model, device, output, detect_fps, motion)
    if clips:
        cfg.output.clips.enabled = True
    with OutputFolderLock(out_dir):
        return _analyze(cfg, out_dir, paths, events, camera_motion, parallel, signals)


def _analyze(cfg, out_dir: Path, paths, events, camera_motion, parallel, signals: JobSignals) -> dict:
    from roadwatch.streams import SourceError, probe

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
            skipped.append({"path": spec.shown, "error": str(exc)})
    for item in skipped:
        print(f"roadwatch: warning: {item['error']}; skipped", file=sys.stderr, flush=True)
    if not specs:
        raise UserError("no readable video among the inputs; pass video files or folders that hold some")
    from roadwatch.console import summary_table  # the heavy imports only now, as in _run
    from roadwatch.events.zmq_io import EventPublisher
    from roadwatch.outputs.files import write_json_atomic
    from roadwatch.outputs.report import write_report
    from roadwatch.pipeline import Pipeline

    console = Console(stderr=True)
    e = cfg.events
    publisher = EventPublisher(events, e.send_hwm, e.linger_ms, e.format, e.connect, e.curve()) if events else None
    try:
        detector, plates = load_models(cfg, console)
        pipeline = Pipeline(cfg, specs, infos, detector, publisher, out_dir, per_stream_outputs=True,
                            thumbnails=True, plates=plates)
        console.print(f"roadwatch: analysing {len(specs)} file(s) -> {out_dir}/{beside(pipeline)}, "
                      f"model {cfg.detector.model} on {detector.device}")
        summary = process(pipeline, specs, infos, console, overall=True, stop=signals.stop)
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

    summary_path = pipeline.outputs.summary_path
    attempt(summary_path, write_json_atomic, summary_path, summary)
    for stream_id, state in pipeline.streams.items():
        folder = pipeline.outputs.folder_of(stream_id)
        if not (folder / "summary.json").is_file():  # it is built from it: the reason is said above
            summary["output_errors"].append(f"cannot write '{folder / 'report.html'}': it is built from the "
                                            "summary.json beside it, which could not be written")
            continue
        attempt(folder / "report.html", write_report, folder, state.thumbnails)
    Console().print(summary_table(summary))
    for stream_id, entry in summary["streams"].items():
        if entry.get("warning"):
            print(f"roadwatch: warning: {entry['warning']}", file=sys.stderr)
        print(f"roadwatch: {stream_id}: {pipeline.outputs.folder_of(stream_id) / 'report.html'}")
    return summary
