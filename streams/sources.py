"""What a source string means, and how to read frames from it."""

from __future__ import annotations

import glob
import logging
import math
import os
import re
import threading
import time
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Literal, Protocol

# FFmpeg and OpenCV print their own diagnostics ("moov atom not found") on stderr; roadwatch reports
# sources' problems itself, in one line. Set these variables beforehand to see them again.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET
os.environ.setdefault("OPENCV_LOG_LEVEL", "SILENT")
# RTSP over TCP first: UDP loses packets under load and shows grey, smeared frames; most NVRs default to TCP
# too. OpenCV reads its FFmpeg options from this variable at each open, so the transport of an rtsp:// source
# is set there just before it opens (streams.rtsp_transport), unless the user set the variable themselves.
USER_FFMPEG_OPTIONS = os.environ.get("OPENCV_FFMPEG_CAPTURE_OPTIONS")
_OPTIONS_LOCK = threading.Lock()  # the variable is the process's; OpenCV opens one stream at a time anyway

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

Image.MAX_IMAGE_PIXELS = None  # the size check is ours (streams.max_image_pixels), made before any decode

from .redact import mask_uri, redact  # noqa: E402

if os.environ["OPENCV_LOG_LEVEL"] == "SILENT":
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)

log = logging.getLogger(__name__)
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}
MAX_IMAGE_PIXELS = 50_000_000  # per image of a folder: 50 MP decodes to 150 MB; larger is a bomb or a mistake
GLOB_CHARS = set("*?[")


class SourceError(Exception):
    """A source cannot be opened or read; the message is one line a user can act on."""


class SourceKind(str, Enum):
    FILE = "file"
    FOLDER = "folder"
    CAMERA = "camera"
    URL = "url"
    REPLAY = "replay"  # a file played as a camera: at its own frame rate, looping, newest frame wins


LIVE_KINDS = {SourceKind.CAMERA, SourceKind.URL, SourceKind.REPLAY}
RtspTransport = Literal["auto", "tcp", "udp"]
REPLAY_PREFIX = "replay:"


def classify(uri: str) -> SourceKind:
    """Tell a camera index, a URL, a folder or glob, and a file apart from the string alone."""
    if uri.isdigit():
        return SourceKind.CAMERA
    if uri.startswith(REPLAY_PREFIX):
        return SourceKind.REPLAY
    if "://" in uri and not uri.startswith("file://"):
        return SourceKind.URL
    if GLOB_CHARS & set(uri) or Path(uri).is_dir():
        return SourceKind.FOLDER
    return SourceKind.FILE


@dataclass(frozen=True)
class SourceSpec:
    """A source as configured: where to read and the stream id its frames and events carry.

    `uri` may hold a camera's password: it is used to open the source and never shown. `shown` is the
    URI for messages, events and files (redact.py); `redact` masks it in a text from elsewhere."""

    uri: str = field(repr=False)
    stream_id: str
    kind: SourceKind

    @property
    def live(self) -> bool:
        return self.kind in LIVE_KINDS

    @property
    def shown(self) -> str:
        return mask_uri(self.uri)

    def redact(self, text: str) -> str:
        return redact(text, self.uri)

    @classmethod
    def from_uri(cls, uri: str, stream_id: str) -> SourceSpec:
        return cls(uri=uri.removeprefix("file://"), stream_id=stream_id, kind=classify(uri))


@dataclass(frozen=True)
class SourceInfo:
    """What a source says about itself once open; 0 means unknown."""

    width: int
    height: int
    fps: float
    frame_count: int


class FrameReader(Protocol):
    info: SourceInfo

    def read(self, out: np.ndarray | None = None) -> tuple[np.ndarray, float] | None:
        """Next (BGR image, media time in seconds), or None at the end. The image is decoded into `out`
        when it has the frame's shape and dtype (a reader may ignore it); check `image is out`."""

    def close(self) -> None: ...


class VideoReader:
    """Files, camera indices and URLs through OpenCV's VideoCapture (FFmpeg / V4L2 backends).

    URLs get an open and a read timeout, so an unreachable or silent server fails in bounded time
    instead of blocking the capture thread. Live media time counts from `clock_origin` (a
    time.monotonic() value), so it keeps increasing across reconnects.
    """

    note = ""  # what the status should add to "frames are coming" (the transport RTSP fell back to)

    def __init__(
        self, spec: SourceSpec, open_timeout_s: float = 5.0, read_timeout_s: float = 5.0,
        clock_origin: float | None = None, decode_threads: int = 0, rtsp_transport: RtspTransport = "auto",
    ) -> None:
        self._spec = spec
        threads = [cv2.CAP_PROP_N_THREADS, decode_threads] if decode_threads > 0 else []
        if spec.kind is SourceKind.CAMERA:
            self._cap = cv2.VideoCapture(int(spec.uri))
        elif spec.kind is SourceKind.URL:
            params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, _ms(open_timeout_s), cv2.CAP_PROP_READ_TIMEOUT_MSEC,
                      _ms(read_timeout_s), *threads]
            self._cap = self._open_url(spec, params, open_timeout_s, rtsp_transport)
        elif threads:
            self._cap = cv2.VideoCapture(spec.uri, cv2.CAP_FFMPEG, threads)
        else:
            self._cap = cv2.VideoCapture(spec.uri)
        if not self._cap.isOpened():
            self._cap.release()
            raise SourceError(_open_failure(spec, rtsp_transport))
        fps = self._cap.get(cv2.CAP_PROP_FPS)
        self.info = SourceInfo(
            width=int(self._cap.get(cv2.CAP_PROP_FRAME_WIDTH)), height=int(self._cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
            fps=fps if 0 < fps < 1000 else 0.0,
            frame_count=max(0, int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT))) if spec.kind is SourceKind.FILE else 0,
        )
        self._index = 0
        self._last_pts = -1.0
        self._clock_origin = time.monotonic() if clock_origin is None else clock_origin

    def _open_url(self, spec: SourceSpec, params: list[int], open_timeout_s: float, transport: RtspTransport):
        """An rtsp:// URL over the configured transport; with "auto", TCP and then UDP, for servers that refuse
        TCP (VLC answers 461, others 400), unless TCP only timed out (then the host is unreachable or silent,
        and UDP would only double the wait)."""
        if not spec.uri.lower().startswith(("rtsp://", "rtsps://")) or USER_FFMPEG_OPTIONS is not None:
            return cv2.VideoCapture(spec.uri, cv2.CAP_FFMPEG, params)
        for attempt in ("tcp", "udp") if transport == "auto" else (transport,):
            started = time.monotonic()
            with _OPTIONS_LOCK:
                os.environ["OPENCV_FFMPEG_CAPTURE_OPTIONS"] = f"rtsp_transport;{attempt}"
                cap = cv2.VideoCapture(spec.uri, cv2.CAP_FFMPEG, params)
            if cap.isOpened():
                if transport == "auto" and attempt == "udp":
                    self.note = " over UDP (the server refused RTSP over TCP)"
                return cap
            cap.release()
            if time.monotonic() - started >= 0.9 * open_timeout_s:
                break
        return cap

    def read(self, out: np.ndarray | None = None) -> tuple[np.ndarray, float] | None:
        ok, image = self._cap.read(out) if out is not None else self._cap.read()
        if not ok or image is None:
            return None
        if self._spec.live:
            pts = time.monotonic() - self._clock_origin
        else:
            pts = self._cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
            if pts <= self._last_pts and self.info.fps:  # container without usable timestamps
                pts = self._index / self.info.fps
        self._last_pts = pts
        self._index += 1
        return image, pts

    def close(self) -> None:
        self._cap.release()


class ReplayReader:
    """A video file played as a live camera would send it: one frame per 1/fps of wall time, from the start
    again at the end, media time on the live clock. For soak tests and benchmarks of live operation
    without cameras; the capture thread treats it as live (drop-oldest buffer, reconnect logic)."""

    def __init__(self, spec: SourceSpec, clock_origin: float | None = None, decode_threads: int = 0) -> None:
        self._path = spec.uri.removeprefix(REPLAY_PREFIX)
        self._decode_threads = decode_threads
        if not Path(self._path).is_file():
            raise SourceError(f"source '{spec.shown}': no such file to replay")
        self._file_spec = SourceSpec(self._path, spec.stream_id, SourceKind.FILE)
        self._reader = VideoReader(self._file_spec, decode_threads=decode_threads)
        self.info = SourceInfo(self._reader.info.width, self._reader.info.height, self._reader.info.fps or 25.0, 0)
        self._clock_origin = time.monotonic() if clock_origin is None else clock_origin
        self._started = time.monotonic()
        self._sent = 0

    def read(self, out: np.ndarray | None = None) -> tuple[np.ndarray, float] | None:
        got = self._reader.read(out)
        if got is None:  # the end: play it again
            self._reader.close()
            self._reader = VideoReader(self._file_spec, decode_threads=self._decode_threads)
            got = self._reader.read(out)
            if got is None:
                return None
        due = self._started + self._sent / self.info.fps
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        self._sent += 1
        return got[0], time.monotonic() - self._clock_origin

    def close(self) -> None:
        self._reader.close()


class ImageFolderReader:
    """Every image of a folder or glob pattern, in name order, as a stream at a nominal frame rate.

    An image that cannot be read, or whose header claims more than `max_pixels`, is skipped with a warning
    wherever it is in the folder (the first included). The size is read from the header (Pillow opens lazily)
    before anything is decoded: a 389 KB PNG of 20000x20000 once took 6.7 GB to decode, and a header claiming
    60000x60000 made OpenCV raise and end the whole folder."""

    def __init__(self, spec: SourceSpec, fps: float = 10.0, max_pixels: int = MAX_IMAGE_PIXELS) -> None:
        pattern = str(Path(spec.uri) / "*") if Path(spec.uri).is_dir() else spec.uri
        self._paths = sorted(p for p in glob.glob(pattern) if Path(p).suffix.lower() in IMAGE_SUFFIXES)
        if not self._paths:
            raise SourceError(f"source '{spec.shown}': no images ({', '.join(sorted(IMAGE_SUFFIXES))}) found there")
        self._spec = spec
        self._max_pixels = max_pixels
        self.skipped: list[str] = []
        self._next = 0
        self._fps = fps
        self._first: tuple[np.ndarray, float] | None = None
        first = self.read()
        if first is None:
            raise SourceError(f"source '{spec.shown}': none of its {len(self._paths)} images could be decoded")
        self._first = first
        image = first[0]
        self.info = SourceInfo(width=image.shape[1], height=image.shape[0], fps=fps, frame_count=len(self._paths))

    def read(self, out: np.ndarray | None = None) -> tuple[np.ndarray, float] | None:
        if self._first is not None:  # decoded by the constructor, for the stream's size
            first, self._first = self._first, None
            return first
        while self._next < len(self._paths):  # `out` is ignored: images are decoded whole by imread
            path = self._paths[self._next]
            self._next += 1
            image, why = self._decode(path)
            if image is not None:
                return image, (self._next - 1) / self._fps
            self.skipped.append(path)
            log.warning("source '%s': skipped image '%s': %s", self._spec.shown, path, why)
        return None

    def _decode(self, path: str) -> tuple[np.ndarray | None, str]:
        try:
            with Image.open(path) as header:
                width, height = header.size
        except Exception:  # noqa: BLE001  (not an image Pillow knows: OpenCV may still read it)
            width = height = 0
        if width * height > self._max_pixels:
            return None, f"{width}x{height} is over streams.max_image_pixels ({self._max_pixels})"
        try:
            image = cv2.imread(path)
        except cv2.error as exc:
            return None, f"cannot decode it ({str(exc).strip().splitlines()[-1]})"
        return (image, "") if image is not None else (None, "cannot decode it (empty, damaged or not an image)")

    def close(self) -> None:
        self._paths = []


def _ms(seconds: float) -> int:
    """A timeout for OpenCV in whole milliseconds, never 0 (which OpenCV reads as no timeout at all)."""
    return max(1, math.ceil(seconds * 1000))


def _open_failure(spec: SourceSpec, transport: RtspTransport = "auto") -> str:
    if spec.kind is SourceKind.CAMERA:
        return f"source '{spec.shown}': camera index {spec.uri} cannot be opened (no such device, or it is busy)"
    if spec.kind is SourceKind.URL:
        over = ""
        if spec.uri.lower().startswith(("rtsp://", "rtsps://")) and USER_FFMPEG_OPTIONS is None:
            over = {"auto": " over TCP or UDP", "tcp": " over TCP (streams.rtsp_transport: tcp; a server that "
                    "refuses TCP needs udp or auto)", "udp": " over UDP (streams.rtsp_transport: udp)"}[transport]
        return (f"source '{spec.shown}': cannot open the stream{over} (host unreachable or silent, bad URL or "
                "credentials)")
    return f"source '{spec.shown}': cannot open it as video (not a video file, or corrupt)"


def open_reader(
    spec: SourceSpec, open_timeout_s: float = 5.0, read_timeout_s: float = 5.0, clock_origin: float | None = None,
    decode_threads: int = 0, rtsp_transport: RtspTransport = "auto", max_image_pixels: int = MAX_IMAGE_PIXELS,
) -> FrameReader:
    """Open a source for reading; raises SourceError with a one-line reason. `decode_threads` > 0 caps
    FFmpeg's decoder threads per stream (0: FFmpeg's choice, about one per core)."""
    if spec.kind is SourceKind.FOLDER:
        return ImageFolderReader(spec, max_pixels=max_image_pixels)
    if spec.kind is SourceKind.REPLAY:
        return ReplayReader(spec, clock_origin, decode_threads)
    if spec.kind is SourceKind.FILE and not Path(spec.uri).is_file():
        raise SourceError(f"source '{spec.shown}': no such file; check the path given to --source")
    return VideoReader(spec, open_timeout_s, read_timeout_s, clock_origin, decode_threads, rtsp_transport)


def probe(spec: SourceSpec) -> SourceInfo:
    """Check that a file or folder source decodes before the pipeline starts.

    Live sources are not probed: a camera that is down now may come up later, and the capture thread
    reports it either way.
    """
    if spec.live:
        return SourceInfo(0, 0, 0.0, 0)
    reader = open_reader(spec)
    try:
        if reader.read() is None:
            raise SourceError(f"source '{spec.shown}': no frame could be decoded (not a video file, or corrupt)")
        return reader.info
    finally:
        reader.close()


# Stream ids name files and folders (annotated_<id>.mp4, analyze's <out>/<id>/): no separators, no control
# characters (NUL, newline), no leading dot (".", ".." and hidden names), at most 128 characters.
SAFE_STREAM_ID = re.compile(r"(?!\.)[^/\\\x00-\x1f\x7f]{1,128}")


def check_stream_id(stream_id: str) -> str:
    """The id unchanged, or ValueError with one line saying why it cannot be one."""
    if not SAFE_STREAM_ID.fullmatch(stream_id):
        raise ValueError(
            f"stream id {stream_id!r}: ids name files, so 1 to 128 characters without '/', '\\', control "
            "characters or a leading '.'"
        )
    return stream_id


def stream_ids_for(uris: list[str], given: list[str | None] | None = None, taken: set[str] | None = None) -> list[str]:
    """Readable, unique stream ids: the given id (checked), else a file's stem, else cam<N> / url<N>."""
    given = given or [None] * len(uris)
    ids: list[str] = []
    taken = set(taken or ())
    for i, (uri, explicit) in enumerate(zip(uris, given)):
        if explicit:
            base = check_stream_id(explicit)
        elif uri.isdigit():
            base = f"cam{uri}"
        elif "://" in uri:
            base = f"url{i}"
        else:  # "...mp4" has the stem "..": a file name never becomes a path out of the output folder
            base = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(uri.rstrip("/*")).stem).lstrip(".")[:128] or f"src{i}"
        name, n = base, 1
        while name in ids or name in taken:
            n += 1
            name = f"{base}-{n}"
        ids.append(name)
    return ids
