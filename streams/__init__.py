"""Capture: one thread (or process) per source reading frames into a bounded ring buffer.

Knows nothing of detection or tracking; `roadwatch` wires it to them.
"""

from .capture import ERROR_STATES, Capture, CaptureThread, ReconnectPolicy, StatusChange, StreamStatus, buffer_for
from .capture_process import CaptureProcess
from .frame import Frame, FrameAllocator
from .manager import CaptureMode, StreamManager
from .packet_ring import CodecTemplate, Packet, PacketRing
from .ring_buffer import BufferPolicy, RingBuffer
from .sources import (
    SourceError,
    SourceInfo,
    SourceKind,
    SourceSpec,
    check_stream_id,
    classify,
    open_reader,
    probe,
    stream_ids_for,
)

__all__ = [
    "ERROR_STATES", "BufferPolicy", "Capture", "CaptureMode", "CaptureProcess", "CaptureThread", "CodecTemplate",
    "Frame", "FrameAllocator", "Packet", "PacketRing", "ReconnectPolicy", "RingBuffer", "SourceError", "SourceInfo",
    "SourceKind", "SourceSpec", "StatusChange", "StreamManager", "StreamStatus", "buffer_for", "check_stream_id",
    "classify", "open_reader", "probe", "stream_ids_for",
]
