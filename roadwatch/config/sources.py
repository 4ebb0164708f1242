"""Where frames come from: the sources, and how their capture reads, buffers and reconnects."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, StrictBool, StrictInt, field_validator

from roadwatch.config.base import MAX_WAIT_S, DetectFps, Section
from roadwatch.streams import ReconnectPolicy, check_stream_id

RECONNECT = ReconnectPolicy()  # the reconnect defaults live with the capture that applies them


class SourceConfig(Section):
    uri: str = Field(description="File, folder or glob, camera index, or rtsp/http URL")
    id: str | None = Field(None, description="Stream id carried by frames and events; derived from the uri if unset")
    detect_fps: DetectFps | None = Field(
        None, description="This source's detections a second; unset: the `schedule` default for its kind")
    every_frame: StrictBool = Field(False, description="Detect every frame of this source (overrides detect_fps)")
    motion: StrictBool | None = Field(
        None, description="Gate this source's detections on motion; unset: the `schedule` default for its kind")

    @field_validator("uri", mode="before")
    @classmethod
    def _camera_index_as_text(cls, value):
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @field_validator("id")
    @classmethod
    def _id_names_files(cls, value: str | None) -> str | None:
        if value is not None:
            check_stream_id(value)
        return value


class StreamsConfig(Section):
    live_buffer: StrictInt = Field(4, ge=1, description="Frames held per live source; older ones are dropped")
    file_buffer: StrictInt = Field(64, ge=1,
        description="Frames read ahead per file source; the reader waits when full")
    open_timeout_s: float = Field(RECONNECT.open_timeout_s, ge=0.001, le=MAX_WAIT_S,
        description="Longest wait to open a stream URL")
    stall_timeout_s: float = Field(
        RECONNECT.stall_timeout_s, ge=0.001, le=MAX_WAIT_S,
        description="A live source with no frame for this long is reconnected")
    reconnect_base_s: float = Field(
        RECONNECT.base_s, gt=0, le=MAX_WAIT_S, description="First reconnect delay; doubles per failed attempt")
    reconnect_cap_s: float = Field(RECONNECT.cap_s, gt=0, le=MAX_WAIT_S,
        description="Longest reconnect delay (before jitter)")
    max_retries: StrictInt | None = Field(
        RECONNECT.max_retries, ge=0, description="Failed reconnects before a live source is given up; null: never")
    decode_threads: StrictInt = Field(
        0, ge=0, description="FFmpeg decoder threads per stream; 0: FFmpeg's choice (about one per core)"
    )
    max_open_files: StrictInt = Field(
        16, ge=1, description="Files decoded at once; the next starts as one ends (live sources always run)"
    )
    capture: Literal["auto", "thread", "process"] = Field(
        "auto", description="Decode each source in a thread of this process, or in a process of its own (frames "
        "cross through shared memory); auto: URLs in a process each (an open that hangs holds only its own "
        "process: OpenCV opens one stream at a time per process), files, folders and cameras in threads"
    )
    max_image_pixels: StrictInt = Field(
        50_000_000, ge=1, description="Image folders: an image whose header claims more pixels is skipped (with a "
        "warning) before it is decoded")
    rtsp_transport: Literal["auto", "tcp", "udp"] = Field(
        "auto", description="RTSP over TCP or UDP; auto: TCP, then UDP when the server refuses TCP (said in the "
        "stream.up reason)"
    )

    def reconnect_policy(self) -> ReconnectPolicy:
        return ReconnectPolicy(
            base_s=self.reconnect_base_s,
            cap_s=self.reconnect_cap_s,
            open_timeout_s=self.open_timeout_s,
            stall_timeout_s=self.stall_timeout_s,
            max_retries=self.max_retries,
            rtsp_transport=self.rtsp_transport,
            max_image_pixels=self.max_image_pixels,
        )
