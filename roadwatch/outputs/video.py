"""The annotated video: the input with tracked boxes, ids, trails, zones and lines drawn on it."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import cv2
import numpy as np

from roadwatch.outputs.encoders import FrameWriter, even_size, open_writer
from roadwatch.outputs.names import refuse_link
from roadwatch.outputs.overlay import Overlay
from roadwatch.trackers import TrackView

log = logging.getLogger(__name__)

MAX_HOLD_S = 10.0  # the longest gap in a live stream filled by holding its last frame
GROWTH_CHECK_S = 10.0  # of video, between checks that the annotated video's file still grows
FULL_BELOW_BYTES = 1 << 20  # free space under which a file that does not grow is taken as failing


class AnnotatedVideo:
    """Writes every processed frame, with its confirmed tracks drawn, to a video file.

    Opened on the first frame, so its size is the source's real size; later frames of another size
    (an image folder) are resized to it. Boxes are coloured by category.

    A live stream's frames are placed by their time (`at`, the frame's media time): where frames were dropped
    the last one is held, so a minute of camera is a minute of video (written at the processed rate, 75.8 s of
    a live camera once became a 2.44 s time-lapse). A gap over MAX_HOLD_S (an outage) is cut rather than
    filled with a still frame; a frame more than two frames ahead of its time is left out.
    """

    def __init__(
        self, path: Path, fps: float, codec: str, category_names: list[str], zones=(), lines=(), series: Path | None =
        None
    ) -> None:
        self.path = path
        self.series = series or path  # the name of the whole series, when this is one segment of it
        self.zone_specs, self.line_specs = tuple(zones), tuple(lines)  # for the next segment's video
        self.fps = fps if fps > 0 else 25.0
        self.codec = codec
        self.category_names = category_names
        self.frames_written = 0
        self.error: str | None = None  # why there is no video (it could not be written); the run goes on
        self._growth_check_frames = max(1, round(self.fps * GROWTH_CHECK_S))
        self._bytes_at_check = 0
        self._writer: FrameWriter | None = None
        self._size: tuple[int, int] | None = None
        self._start: float | None = None  # media time of frame 0, for frames placed by time
        self._last: np.ndarray | None = None  # the last frame written, held over a live stream's drops
        self._overlay = Overlay(zones, lines, trail_frames=int(self.fps * 2))

    def write(
        self, image: np.ndarray, tracks: list[TrackView], class_names: list[str], at: float | None = None
    ) -> None:
        """One processed frame; `at` (seconds, a live stream's media time) places it in time."""
        if self.error is not None:
            return
        holds = 0
        if at is not None:
            if self._start is None:
                self._start = at
            due = round((at - self._start) * self.fps)  # the index this frame belongs at
            if due < self.frames_written - 2:
                return
            holds = due - self.frames_written
            if holds > self.fps * MAX_HOLD_S:  # an outage: cut, and count time from here
                self._start, holds = at - self.frames_written / self.fps, 0
            holds = max(0, holds) if self._last is not None else 0
        if self._writer is None:
            try:
                self._open(image)
            except OSError as exc:
                self.error = str(exc)
                log.error("%s", self.error)
                return
        canvas = self._overlay.draw(image, tracks, class_names)
        if (canvas.shape[1], canvas.shape[0]) != self._size:
            canvas = cv2.resize(canvas, self._size)
        for _ in range(holds):
            self._put(self._last)
        self._put(canvas)
        if at is not None:
            self._last = canvas

    def _put(self, canvas: np.ndarray) -> None:
        if self._writer is None:  # given up (a full disk) by the growth check of an earlier frame
            return
        try:
            self._writer.write(canvas)
        except OSError as exc:  # PyAV reports a failed write (OpenCV does not: the growth check below)
            self._give_up(f"a write failed ({exc})")
            return
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
        self._size = even_size(image.shape[1], image.shape[0])
        refuse_link(self.path)  # the writers open by name, following links: refused before they do
        self._writer = open_writer(self.path, self.codec, self.fps, self._size)

    def close(self) -> None:
        """Finalise the container (writes its index), so the file plays; checked, as writes are not."""
        if self._writer is None:
            return
        writer, self._writer = self._writer, None
        try:
            writer.close()
        except OSError as exc:
            self._give_up(f"it could not be finalised ({exc})")
            return
        reader = cv2.VideoCapture(str(self.path))
        playable = reader.isOpened() and reader.get(cv2.CAP_PROP_FRAME_COUNT) > 0
        reader.release()
        if not playable:
            self._give_up("it could not be finalised")

    def _give_up(self, why: str) -> None:
        """No video rather than one that does not play."""
        if self._writer is not None:
            writer, self._writer = self._writer, None
            try:
                writer.close()
            except OSError:
                pass  # the file goes anyway
        try:
            free = f"{shutil.disk_usage(self.path.parent).free / 2**20:.0f} MB free there"
        except OSError:
            free = "its folder is gone"
        self.path.unlink(missing_ok=True)
        self.error = f"cannot write video '{self.path}': {why} ({free}); removed, as it would not play"
        log.error("%s", self.error)
