"""A live camera's compressed packets, kept for a few seconds beside decoding, so an event's clip can start
before the event: copied out as they came (never re-encoded), from a keyframe.

The capture thread pushes every packet it demuxes, stamped on the same live clock as its decoded frames
(`Frame.pts`), so a clip asked for "from pts 41.0" finds the keyframe at or before it. The ring keeps at
least `keep_s` of packets back from the newest, starting at a keyframe, and at most `max_bytes` (whole
groups of pictures are dropped from the front beyond either). A new connection starts a new `connection`
number and a new `CodecTemplate`: a clip never spans two (timestamps and codec parameters may both change).
"""

from __future__ import annotations

import io
import threading
from collections import deque
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Packet:
    """One compressed packet: `seq` counts every packet the ring was given, `at` is its arrival on the live clock;
    `pts` and `dts` are the camera's (None where FFmpeg had none), kept here because muxing rewrites `data`'s."""

    seq: int
    at: float
    keyframe: bool
    size: int
    connection: int
    pts: int | None
    dts: int | None
    data: Any  # av.Packet


class CodecTemplate:
    """The camera's stream parameters (codec, size, extradata: SPS/PPS), copied while its connection was open so
    that a clip written after a reconnect or close still gets exactly the camera's, with no re-encode.

    PyAV copies a stream's parameters only from another stream: they are copied into a stream of an output
    container that is never written, which owns them from then on."""

    def __init__(self, stream: Any) -> None:
        import av

        self._holder = av.open(io.BytesIO(), "w", format="mp4")
        self.stream = self._holder.add_stream_from_template(stream)
        self.codec = stream.codec_context.name
        self.time_base = stream.time_base
        self.rate = stream.average_rate


class PacketRing:
    """Thread-safe: the capture thread pushes, the clip writer reads by `seq`."""

    def __init__(self, keep_s: float, max_bytes: int) -> None:
        self.keep_s = keep_s
        self.max_bytes = max_bytes
        self.connection = 0
        self.template: CodecTemplate | None = None
        self._packets: deque[Packet] = deque()
        self._bytes = 0
        self._seq = 0
        self._lock = threading.Lock()
        self.high_water_bytes = 0  # the most the ring held at once: its memory, measured

    def connected(self, template: CodecTemplate) -> None:
        """A new connection: older packets cannot start a clip of it, and are dropped."""
        with self._lock:
            self.connection += 1
            self.template = template
            self._packets.clear()
            self._bytes = 0

    def push(self, data: Any, at: float) -> None:
        """An av.Packet, as demuxed (before it is decoded)."""
        keyframe, size = data.is_keyframe, data.size
        with self._lock:
            self._seq += 1
            if not self._packets and not keyframe:
                return  # nothing decodes before the first keyframe
            self._packets.append(Packet(self._seq, at, keyframe, size, self.connection, data.pts, data.dts, data))
            self._bytes += size
            self.high_water_bytes = max(self.high_water_bytes, self._bytes)
            self._trim(at)

    def _trim(self, newest: float) -> None:
        """Drop whole groups of pictures from the front while the next group still covers `keep_s` (or the
        ring is over `max_bytes`, then down to one group)."""
        while True:
            nxt = next((i for i, p in enumerate(self._packets) if i > 0 and p.keyframe), None)
            if nxt is None:
                return
            if self._packets[nxt].at > newest - self.keep_s and self._bytes <= self.max_bytes:
                return
            for _ in range(nxt):
                self._bytes -= self._packets.popleft().size

    def start_for(self, at: float) -> int | None:
        """The seq of the newest keyframe at or before `at` (the oldest kept keyframe when none is that old);
        None when the ring is empty."""
        with self._lock:
            start = None
            for packet in self._packets:
                if packet.keyframe and (start is None or packet.at <= at):
                    start = packet.seq
                if packet.at > at:
                    break
            return start

    def since(self, seq: int, connection: int) -> list[Packet]:
        """Packets from `seq` on (inclusive) of that connection, in order; those already dropped are gone."""
        with self._lock:
            return [p for p in self._packets if p.seq >= seq and p.connection == connection]

    @property
    def bytes(self) -> int:
        return self._bytes
