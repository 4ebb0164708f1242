"""Where the annotated video's frames are encoded: H.264 in MP4 through PyAV (FFmpeg's libraries, libx264 in its
wheels), which every browser plays, with the index at the front so it plays while it downloads; or any other
FourCC through OpenCV's writer (`output.codec: mp4v`, no browser plays it)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

H264 = "h264"
H264_OPTIONS = {"preset": "veryfast", "crf": "23"}  # about 7 ms a 720p frame on one CPU core


class FrameWriter(Protocol):
    def write(self, image: np.ndarray) -> None: ...

    def close(self) -> None: ...


class OpenCvWriter:
    def __init__(self, path: Path, codec: str, fps: float, size: tuple[int, int]) -> None:
        self._writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*codec), fps, size)
        if not self._writer.isOpened():
            raise OSError(f"cannot write video '{path}' with codec '{codec}'")

    def write(self, image: np.ndarray) -> None:
        self._writer.write(image)

    def close(self) -> None:
        self._writer.release()


class H264Writer:
    """libx264 in an MP4 with `+faststart` (the index moved to the front when it is closed)."""

    def __init__(self, path: Path, fps: float, size: tuple[int, int]) -> None:
        import av

        try:
            self._container = av.open(str(path), "w", format="mp4", options={"movflags": "+faststart"})
        except (OSError, av.error.FFmpegError) as exc:
            raise OSError(f"cannot write video '{path}': {exc}") from None
        rate = Fraction(fps).limit_denominator(1001) if fps > 0 else Fraction(25)  # 29.97 -> 30000/1001
        self._stream = self._container.add_stream("libx264", rate=rate)
        self._stream.width, self._stream.height = size
        self._stream.pix_fmt = "yuv420p"
        self._stream.options = dict(H264_OPTIONS)
        self._frame_type, self._error = av.VideoFrame, av.FFmpegError

    def write(self, image: np.ndarray) -> None:
        try:
            for packet in self._stream.encode(self._frame_type.from_ndarray(image, format="bgr24")):
                self._container.mux(packet)
        except self._error as exc:  # a full disk, a folder gone: an OSError, as the caller expects
            raise OSError(str(exc)) from None

    def close(self) -> None:
        try:
            for packet in self._stream.encode():  # the frames the encoder still holds (B-frames, lookahead)
                self._container.mux(packet)
        except self._error as exc:
            raise OSError(str(exc)) from None
        finally:
            self._container.close()


def even_size(width: int, height: int) -> tuple[int, int]:
    """H.264 in 4:2:0 needs an even width and height: an odd one loses its last column or row."""
    return width - width % 2, height - height % 2


def open_writer(path: Path, codec: str, fps: float, size: tuple[int, int]) -> FrameWriter:
    if codec.lower() == H264:
        return H264Writer(path, fps, size)
    return OpenCvWriter(path, codec, fps, size)
