"""Live sources through PyAV (FFmpeg's libraries) where their compressed packets are wanted too: each packet
is demuxed here, handed to the stream's `PacketRing` and decoded, so clips are cut from the camera's own
packets and frames come out as from `VideoReader` (BGR, media time on the same live clock)."""

from __future__ import annotations

import time
from collections import deque

import numpy as np

from .packet_ring import CodecTemplate, PacketRing
from .sources import RtspTransport, SourceError, SourceInfo, SourceSpec


def _open_options(spec: SourceSpec, transport: RtspTransport) -> dict[str, str]:
    if spec.uri.lower().startswith(("rtsp://", "rtsps://")):
        return {"rtsp_transport": "tcp" if transport == "auto" else transport}
    return {}


class PyAVReader:
    """A camera URL read packet by packet. RTSP goes over TCP unless `rtsp_transport: udp`; the open and every
    read are bounded by their timeouts."""

    note = ""

    def __init__(
        self, spec: SourceSpec, packets: PacketRing, open_timeout_s: float = 5.0, read_timeout_s: float = 5.0,
        clock_origin: float | None = None, decode_threads: int = 0, rtsp_transport: RtspTransport = "auto",
    ) -> None:
        import av

        self._spec = spec
        self._packets = packets
        self._error = av.FFmpegError
        try:
            self._container = av.open(spec.uri, options=_open_options(spec, rtsp_transport),
                                      timeout=(open_timeout_s, read_timeout_s))
        except (self._error, OSError) as exc:
            raise SourceError(f"source '{spec.shown}': cannot open the stream ({type(exc).__name__}: "
                              f"{spec.redact(str(exc))})") from None
        if not self._container.streams.video:
            self._container.close()
            raise SourceError(f"source '{spec.shown}': it has no video stream")
        self._stream = self._container.streams.video[0]
        self._stream.thread_type = "AUTO"
        if decode_threads > 0:
            self._stream.codec_context.thread_count = decode_threads
        ctx = self._stream.codec_context
        fps = float(self._stream.average_rate or 0)
        self.info = SourceInfo(width=ctx.width, height=ctx.height, fps=fps if 0 < fps < 1000 else 0.0, frame_count=0)
        packets.connected(CodecTemplate(self._stream))
        self._demux = self._container.demux(self._stream)
        self._decoded: deque = deque()
        self._clock_origin = time.monotonic() if clock_origin is None else clock_origin

    def read(self, out: np.ndarray | None = None) -> tuple[np.ndarray, float] | None:
        """The next decoded frame; `out` is ignored (PyAV converts into its own array)."""
        while not self._decoded:
            try:
                packet = next(self._demux)
            except (StopIteration, self._error, OSError):
                return None  # the end, a lost connection or a read timeout: the capture reconnects
            if packet.size == 0:
                continue  # the demuxer's flush at the end
            now = time.monotonic() - self._clock_origin
            try:
                decoded = packet.decode()
            except self._error:
                decoded = []  # a damaged packet: the decoder recovers at the next keyframe, as OpenCV's does
            # into the ring only once decoded: from there the clip writer may move it to its file's stream
            self._packets.push(packet, now)
            self._decoded.extend(decoded)
        frame = self._decoded.popleft()
        return frame.to_ndarray(format="bgr24"), time.monotonic() - self._clock_origin

    def close(self) -> None:
        self._container.close()
