"""Every file one run writes, with one owner: the events file(s), the annotated videos, the summaries, and the
segment clock that cuts them for 24/7 runs.

Live monitoring writes one events.jsonl for all streams and a video per stream; footage analysis
(`per_stream`) writes each input's events, video and summary in a folder of its own (out_dir/<stream_id>/),
besides the run's summary. A file that cannot be written (a full disk) ends that file, not the run: its
error goes into the summaries and the CLI reports it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from roadwatch.config import OutputConfig
from roadwatch.events.schema import Event
from roadwatch.outputs.best_frames import BestFrames
from roadwatch.outputs.event_log import EventLog
from roadwatch.outputs.files import write_json_atomic
from roadwatch.outputs.names import run_suffix
from roadwatch.outputs.retention import prune_evidence
from roadwatch.outputs.segments import prune, segment_path, segment_start
from roadwatch.outputs.summary import RunSummary
from roadwatch.outputs.video import AnnotatedVideo
from roadwatch.trackers import Line, TrackView, Zone

log = logging.getLogger(__name__)


PRUNE_EVERY_S = 60.0  # how often output.retain is applied while a run goes on


@dataclass
class StreamOutputs:
    """One stream's files: its video, and with per-stream outputs its own folder, events file and summary."""

    folder: Path | None
    video: AnnotatedVideo | None
    log: EventLog | None = None
    summary: RunSummary | None = None
    closed: bool = False


class RunOutputs:
    """Owns the files of a run; the pipeline tells it what happened, in order."""

    def __init__(
        self,
        config: OutputConfig,
        out_dir: Path,
        category_names: list[str],
        per_stream: bool = False,
        single_stream: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.out_dir = out_dir
        self._next_prune = 0.0  # time.monotonic() of the next evidence pruning
        self.category_names = category_names
        self.per_stream = per_stream
        self.single_stream = single_stream  # one source: its video is annotated.mp4, not annotated_<id>.mp4
        self.clock = clock
        # footage analysis writes one of each per input; 24/7 runs may cut theirs on the clock (segments.py)
        self.segment_s = None if per_stream else config.segment_s
        self.segment = segment_start(clock(), self.segment_s) if self.segment_s else 0.0
        # an earlier run's files stay as they are: this run's names carry a count where they would clash (names.py)
        self.suffix = run_suffix(out_dir, per_stream, segmented=bool(self.segment_s))
        self._file_suffix = "" if self.segment_s else self.suffix  # segments are named by their start instead
        self.events_series = out_dir / f"events{self._file_suffix}.jsonl"
        self.summary_path = out_dir / f"summary{self.suffix}.json"
        self.event_log = None if per_stream else EventLog(self._output_path(self.events_series))
        self.summary = RunSummary()
        self.streams: dict[str, StreamOutputs] = {}

    # --- streams -----------------------------------------------------------------------------------

    def add_stream(self, stream_id: str, uri: str, fps: float, zones: Sequence[Zone], lines: Sequence[Line]) -> None:
        """A stream starts (or starts again after removal: a fresh video, a fresh summary entry)."""
        folder = self.out_dir / f"{stream_id}{self.suffix}" if self.per_stream else None
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)
        video = self._new_video(stream_id, fps, zones, lines, folder) if self.config.video else None
        outputs = StreamOutputs(folder, video)
        self.summary.add_stream(stream_id, uri)
        if folder is not None:
            outputs.log = EventLog(folder / "events.jsonl", lazy=True)
            outputs.summary = RunSummary()
            outputs.summary.streams[stream_id] = self.summary.streams[stream_id]  # one entry, shared
        self.streams[stream_id] = outputs

    def folder_of(self, stream_id: str) -> Path | None:
        return self.streams[stream_id].folder

    def record(self, event: Event) -> None:
        """An event into the run's events file and summary, and its stream's own (footage analysis)."""
        if self.event_log is not None:
            self.event_log.write(event)
        self.summary.observe(event)
        outputs = self.streams.get(event["stream_id"])
        if outputs is not None and outputs.log is not None:
            outputs.log.write(event)
            outputs.summary.observe(event)

    def best_frames(self, stream_id: str) -> BestFrames | None:
        """Where a stream's tracks' best pictures go (`output.snapshots`; null: with per-input folders, as in
        analyze): snapshots/ in its input's folder, or snapshots/<stream id>/ in the run's."""
        wanted = self.config.snapshots if self.config.snapshots is not None else self.per_stream
        if not wanted:
            return None
        if self.per_stream:
            return BestFrames(self.folder_of(stream_id) / "snapshots", "snapshots")
        return BestFrames(self.out_dir / "snapshots" / stream_id, f"snapshots/{stream_id}")

    def clips_folder(self, stream_id: str) -> tuple[Path, Path]:
        """Where a stream's clips go (clips/ in its input's folder, or clips/<stream id>/ in the run's), and the
        folder their paths in events are relative to (that of the events file they are in)."""
        if self.per_stream:
            folder = self.folder_of(stream_id)
            return folder / "clips", folder
        return self.out_dir / "clips" / stream_id, self.out_dir

    def draw(self, stream_id: str, image: np.ndarray, tracks: list[TrackView], labels: list[str],
             at: float | None) -> None:
        """A processed frame into the stream's annotated video, if it has one (`at`: a live frame's media time,
        which places it in the video; None for a file's, written in turn)."""
        video = self.streams[stream_id].video
        if video is not None:
            video.write(image, tracks, labels, at)

    def update_stream(self, stream_id: str, **entry: Any) -> None:
        """The stream's line in summary.json (frames, drops, status, errors)."""
        self.summary.streams[stream_id].update(entry)

    def close_stream(self, stream_id: str) -> None:
        """Finalise its video and close its events file; anything later about it reaches subscribers only."""
        outputs = self.streams[stream_id]
        if outputs.video is not None:
            outputs.video.close()
        if outputs.log is not None:
            outputs.log.close()
        self._note_errors(outputs.video, outputs.log, stream=outputs)
        outputs.log = None
        outputs.closed = True

    # --- the run -----------------------------------------------------------------------------------

    def flush(self) -> None:
        """After every batch: a reader following events.jsonl sees each batch's events; and once a minute, the
        evidence folder is pruned to `output.retain`."""
        if self.event_log is not None:
            self.event_log.flush()
        for outputs in self.streams.values():
            if outputs.log is not None:
                outputs.log.flush()
        if time.monotonic() >= self._next_prune:
            self._next_prune = time.monotonic() + PRUNE_EVERY_S
            prune_evidence([self.out_dir / "snapshots", self.out_dir / "clips"], self.config.retain.days,
                           self.config.retain.max_gb)

    def roll_segments(self) -> None:
        """With output.segment_s, at a segment boundary: close the events file and the videos (whole, playable),
        begin the next ones, and delete the oldest beyond output.keep_segments."""
        if not self.segment_s:
            return
        start = segment_start(self.clock(), self.segment_s)
        if start <= self.segment:  # the same segment, or the clock set back: go on writing this one
            return
        self.segment = start
        if self.event_log is not None:
            self.event_log.close()
            self._note_errors(self.event_log)
            self.event_log = EventLog(self._output_path(self.events_series), lazy=True)
        for outputs in self.streams.values():
            if outputs.video is not None and not outputs.closed:
                old = outputs.video
                old.close()
                self._note_errors(old)
                outputs.video = AnnotatedVideo(self._output_path(old.series), old.fps, self.config.codec,
                                               self.category_names, old.zone_specs, old.line_specs, series=old.series)
        keep = self.config.keep_segments
        if keep is not None:  # the new segments' files appear with their first write: they are the keep-th
            prune(self.events_series, keep - 1)
            for series in {o.video.series for o in self.streams.values() if o.video is not None}:
                prune(series, keep - 1)

    def close(self, elapsed_s: float) -> dict:
        """Close the run's events file and write every summary; returns the run's summary."""
        if self.event_log is not None:
            self.event_log.close()
            self._note_errors(self.event_log)
        for outputs in self.streams.values():
            if outputs.summary is not None:
                self._write_summary(outputs.folder / "summary.json", outputs.summary, elapsed_s)
        return self._write_summary(self.summary_path, self.summary, elapsed_s)

    # --- helpers -----------------------------------------------------------------------------------

    def _output_path(self, series: Path) -> Path:
        """Where an output of `series` (its unsegmented name) goes now: that name, or the current segment's."""
        return segment_path(series, self.segment) if self.segment_s else series

    def _new_video(self, stream_id: str, fps: float, zones: Sequence[Zone], lines: Sequence[Line],
                   folder: Path | None) -> AnnotatedVideo:
        if folder is not None:
            series = folder / "annotated.mp4"
        else:
            name = "annotated" if self.single_stream else f"annotated_{stream_id}"
            series = self.out_dir / f"{name}{self._file_suffix}.mp4"
        return AnnotatedVideo(self._output_path(series), fps, self.config.codec, self.category_names, zones, lines,
                              series=series)

    def _note_errors(self, *sinks: AnnotatedVideo | EventLog | None, stream: StreamOutputs | None = None) -> None:
        """An output that could not be written goes into the summary (and its stream's, in footage analysis)."""
        for sink in sinks:
            if sink is not None and sink.error is not None:
                self.summary.add_output_error(sink.error)
                if stream is not None and stream.summary is not None:
                    stream.summary.add_output_error(sink.error)

    def _write_summary(self, path: Path, summary: RunSummary, elapsed_s: float) -> dict:
        """Write it; one that cannot be written (a full disk) is an output error in the summary returned."""
        try:
            write_json_atomic(path, summary.to_dict(elapsed_s))
        except OSError as exc:
            error = f"cannot write '{path}': {exc.strerror or exc}"
            log.error("%s", error)
            summary.add_output_error(error)
            self.summary.add_output_error(error)
        return summary.to_dict(elapsed_s)
