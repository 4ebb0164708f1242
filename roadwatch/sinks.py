"""Where results go besides ZeroMQ: the events file, the annotated video and the run summary."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
from collections import Counter
from pathlib import Path
from typing import Any, BinaryIO

import cv2
import numpy as np
import orjson
import supervision as sv

from roadwatch.events import Event, EventType
from trackers import TrackView

log = logging.getLogger(__name__)

GROWTH_CHECK_S = 10.0  # of video, between checks that the annotated video's file still grows
FULL_BELOW_BYTES = 1 << 20  # free space under which a file that does not grow is taken as failing

# One colour per category index (vehicle, pedestrian, sign, plate, then any extra categories).
CATEGORY_PALETTE = sv.ColorPalette.from_hex(["#3b82f6", "#f97316", "#22c55e", "#eab308", "#a855f7", "#ec4899"])


class EventLog:
    """events.jsonl: one JSON event per line (UTF-8), flushed by the pipeline after every batch.
    orjson, not json: at live rates the json module cost about a fifth of the pipeline's time per frame.

    With `lazy`, opened on the first event (or at close, empty), so inputs waiting their turn in a large
    analysis hold no open file each; else at once, so a previous run's file is replaced from the start.

    A write that fails (a full disk, say) ends the file, not the run: it is cut back to its
    last whole event, `error` says so in one line (the summary and the CLI report it), and later events
    still reach the other sinks and subscribers; a live camera's events matter more than its log.
    """

    def __init__(self, path: Path, lazy: bool = False) -> None:
        self.path = path
        self.error: str | None = None
        self._file: BinaryIO | None = None if lazy else open(path, "wb")

    def write(self, event: Event) -> None:
        if self.error is not None:
            return
        try:
            if self._file is None:
                self._file = open(self.path, "wb")
            self._file.write(orjson.dumps(event, option=orjson.OPT_APPEND_NEWLINE))
        except OSError as exc:
            self._fail(exc)

    def flush(self) -> None:
        if self._file is not None and self.error is None:
            try:
                self._file.flush()
            except OSError as exc:
                self._fail(exc)

    def close(self) -> None:
        if self.error is not None:
            return
        try:
            if self._file is None:
                self._file = open(self.path, "wb")  # no event: an empty events.jsonl, as documented
            if self._file.closed:
                return
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
        except OSError as exc:
            self._fail(exc)

    def _fail(self, exc: OSError) -> None:
        self.error = f"cannot write '{self.path}': {exc.strerror or exc}; events after that are not in it (it ends with a whole event)"
        log.error("%s", self.error)
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()  # its buffer cannot be written either; the file is closed all the same
        with contextlib.suppress(OSError):
            cut_to_last_line(self.path)


def cut_to_last_line(path: Path, chunk: int = 1 << 16) -> None:
    """Truncate a regular file just after its last newline, so it ends with a whole line (a failed write can
    leave part of one); truncating needs no free space."""
    if not path.is_file():
        return
    with open(path, "r+b") as f:
        end = f.seek(0, os.SEEK_END)
        pos = end
        while pos > 0:
            start = max(0, pos - chunk)
            f.seek(start)
            newline = f.read(pos - start).rfind(b"\n")
            if newline >= 0:
                f.truncate(start + newline + 1)
                return
            pos = start
        f.truncate(0)


class AnnotatedVideo:
    """Writes every processed frame, with its confirmed tracks drawn, to a video file.

    Opened on the first frame, so its size is the source's real size; later frames of another size
    (an image folder) are resized to it. Boxes are coloured by category.
    """

    def __init__(
        self, path: Path, fps: float, codec: str, category_names: list[str], zones=(), lines=(), series: Path | None = None
    ) -> None:
        self.path = path
        self.series = series or path  # the name of the whole series, when this is one segment of it
        self.zones = [np.array(z.polygon, dtype=np.int32) for z in zones]
        self.zone_names = [(z.zone_id, tuple(int(v) for v in z.polygon[0])) for z in zones]
        self.lines = [(tuple(int(v) for v in l.start), tuple(int(v) for v in l.end), l.line_id) for l in lines]
        self.fps = fps if fps > 0 else 25.0
        self.codec = codec
        self.category_names = category_names
        self.frames_written = 0
        self.error: str | None = None  # why there is no video (it could not be written); the run goes on
        self._growth_check_frames = max(1, round(self.fps * GROWTH_CHECK_S))
        self._bytes_at_check = 0
        self._writer: cv2.VideoWriter | None = None
        self._size: tuple[int, int] | None = None
        self._boxes = sv.BoxAnnotator(color=CATEGORY_PALETTE, thickness=2)
        self._labels = sv.LabelAnnotator(color=CATEGORY_PALETTE, text_scale=0.4, text_padding=4, smart_position=True)
        self._traces = sv.TraceAnnotator(color=CATEGORY_PALETTE, trace_length=int(self.fps * 2))

    def write(self, image: np.ndarray, tracks: list[TrackView], class_names: list[str]) -> None:
        if self.error is not None:
            return
        if self._writer is None:
            try:
                self._open(image)
            except OSError as exc:
                self.error = str(exc)
                log.error("%s", self.error)
                return
        canvas = image.copy()
        if self.zones:
            cv2.polylines(canvas, self.zones, isClosed=True, color=(0, 215, 255), thickness=2)
            for name, corner in self.zone_names:
                cv2.putText(canvas, name, (corner[0] + 4, corner[1] + 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 215, 255), 1, cv2.LINE_AA)
        for start, end, name in self.lines:
            cv2.line(canvas, start, end, (255, 0, 255), 2, cv2.LINE_AA)
            cv2.putText(canvas, name, (start[0] + 4, start[1] - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 0, 255), 1, cv2.LINE_AA)
        if tracks:
            detections = sv.Detections(
                xyxy=np.array([t.xyxy for t in tracks], dtype=np.float32),
                confidence=np.array([t.confidence for t in tracks], dtype=np.float32),
                class_id=np.array([t.category for t in tracks], dtype=int),
                tracker_id=np.array([t.track_id for t in tracks], dtype=int),
            )
            labels = [f"#{t.track_id} {name} {t.confidence:.2f}" for t, name in zip(tracks, class_names)]
            canvas = self._traces.annotate(canvas, detections)
            for t in tracks:  # predicted direction: where the centre will be in half a second
                cx, cy = (t.xyxy[0] + t.xyxy[2]) / 2, (t.xyxy[1] + t.xyxy[3]) / 2
                dx, dy = t.velocity[0] * 0.5, t.velocity[1] * 0.5
                if dx * dx + dy * dy >= 16:
                    cv2.arrowedLine(canvas, (int(cx), int(cy)), (int(cx + dx), int(cy + dy)), (255, 255, 255), 2,
                                    cv2.LINE_AA, tipLength=0.3)
            canvas = self._boxes.annotate(canvas, detections)
            canvas = self._labels.annotate(canvas, detections, labels=labels)
        if (canvas.shape[1], canvas.shape[0]) != self._size:
            canvas = cv2.resize(canvas, self._size)
        self._writer.write(canvas)
        self.frames_written += 1
        if self.frames_written % self._growth_check_frames == 0:
            self._check_growth()

    def _check_growth(self) -> None:
        """OpenCV's writer never reports a failed write (a full disk): it warns on stderr for every frame and
        leaves a file that will not play. A file that stopped growing on a disk with no room left has failed
        (a still scene alone may not grow it for a while: FFmpeg writes in 32 KiB blocks)."""
        try:
            size = self.path.stat().st_size
            full = shutil.disk_usage(self.path.parent).free < FULL_BELOW_BYTES
        except OSError:  # its folder is gone
            size, full = self._bytes_at_check, True
        if size == self._bytes_at_check and full:
            self._give_up("its file stopped growing")
        self._bytes_at_check = size

    def _open(self, image: np.ndarray) -> None:
        self._size = (image.shape[1], image.shape[0])
        self._writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*self.codec), self.fps, self._size)
        if not self._writer.isOpened():
            self._writer = None
            raise OSError(f"cannot write video '{self.path}' with codec '{self.codec}'")

    def close(self) -> None:
        """Finalise the container (writes its index), so the file plays; checked, as writes are not."""
        if self._writer is None:
            return
        self._writer.release()
        self._writer = None
        reader = cv2.VideoCapture(str(self.path))
        playable = reader.isOpened() and reader.get(cv2.CAP_PROP_FRAME_COUNT) > 0
        reader.release()
        if not playable:
            self._give_up("it could not be finalised")

    def _give_up(self, why: str) -> None:
        """No video rather than one that does not play."""
        if self._writer is not None:
            self._writer.release()
            self._writer = None
        try:
            free = f"{shutil.disk_usage(self.path.parent).free / 2**20:.0f} MB free there"
        except OSError:
            free = "its folder is gone"
        self.path.unlink(missing_ok=True)
        self.error = f"cannot write video '{self.path}': {why} ({free}); removed, as it would not play"
        log.error("%s", self.error)


# plain strings: an Enum member's .value is a property lookup, and this runs for every event
TRACK_STARTED, LINE_CROSSED = EventType.TRACK_STARTED.value, EventType.LINE_CROSSED.value
ZONE_TYPES = (EventType.ZONE_ENTERED.value, EventType.ZONE_EXITED.value)


class RunSummary:
    """Counts for summary.json, built from the very events that were written, so the two always agree."""

    def __init__(self) -> None:
        self.streams: dict[str, dict[str, Any]] = {}
        self.events_by_type: Counter[str] = Counter()
        self.events_by_category: Counter[str] = Counter()
        self.tracks_by_category: Counter[str] = Counter()
        self.zones: dict[str, Counter[str]] = {}
        self.lines: dict[str, Counter[str]] = {}
        self.output_errors: list[str] = []  # outputs that could not be written, one line each

    def add_output_error(self, error: str) -> None:
        if error not in self.output_errors:
            self.output_errors.append(error)

    def add_stream(self, stream_id: str, uri: str) -> None:
        self.streams[stream_id] = {"source": uri, "frames": 0, "dropped": 0, "status": "starting"}

    def observe(self, event: Event) -> None:
        kind = event["type"]
        self.events_by_type[kind] += 1
        category = event.get("category")
        if category is not None:
            self.events_by_category[category] += 1
            if kind == TRACK_STARTED:
                self.tracks_by_category[category] += 1
        if kind in ZONE_TYPES:
            self.zones.setdefault(event["zone_id"], Counter())[kind.split(".")[1]] += 1
        elif kind == LINE_CROSSED:
            self.lines.setdefault(event["line_id"], Counter())[event["direction"]] += 1

    def to_dict(self, elapsed_s: float) -> dict[str, Any]:
        frames = sum(s["frames"] for s in self.streams.values())
        return {
            "streams": self.streams,
            "frames": frames,
            "elapsed_s": round(elapsed_s, 3),
            "fps": round(frames / elapsed_s, 2) if elapsed_s > 0 else 0.0,
            "tracks": dict(self.tracks_by_category),
            "events": dict(self.events_by_type),
            "events_by_category": dict(self.events_by_category),
            "zones": {zone: dict(counts) for zone, counts in self.zones.items()},
            "lines": {line: dict(counts) for line, counts in self.lines.items()},
            "output_errors": list(self.output_errors),
        }


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    write_text_atomic(path, json.dumps(data, indent=2) + "\n")


def write_text_atomic(path: Path, text: str) -> None:
    """Write to a temporary file then rename, so a reader never sees half a file; a write that fails (a full
    disk) leaves the previous file, if any, and no temporary behind."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)
        raise
