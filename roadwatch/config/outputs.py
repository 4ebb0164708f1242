"""Where results go: the ZeroMQ event stream and the run's files."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, StrictBool, StrictInt, model_validator

from roadwatch.config.base import MAX_WAIT_S, Section


class EventsConfig(Section):
    endpoint: str = Field("tcp://127.0.0.1:5556", description="ZeroMQ PUB endpoint the pipeline binds")
    send_hwm: StrictInt = Field(10000, ge=1, description="Messages queued per subscriber before new ones are dropped")
    linger_ms: StrictInt = Field(2000, ge=0, le=600_000,
        description="How long queued events may take to leave at shutdown")
    format: Literal["msgpack", "json"] = Field("msgpack", description="Payload encoding on ZeroMQ")
    heartbeat_s: float = Field(1.0, gt=0, le=MAX_WAIT_S, description="Seconds between heartbeats on ZeroMQ")
    connect: StrictBool = Field(False, description="Connect to a broker's frontend at `endpoint` instead of binding it")
    snapshot_endpoint: str | None = Field(
        None, description="ROUTER endpoint serving the current state to late joiners; off if unset"
    )
    curve_secret_key: str | None = Field(
        None, description="CURVE: this pipeline's NAME.key_secret file; encryption on for the events and snapshot "
        "sockets"
    )
    curve_allowed_clients: str | None = Field(
        None, description="CURVE: folder of the client public keys allowed in (re-read when it changes)")
    curve_server_key: str | None = Field(
        None, description="CURVE with connect: true: the broker's public NAME.key")

    @model_validator(mode="after")
    def _curve_keys_that_go_together(self) -> EventsConfig:
        if self.curve_secret_key is None:
            if self.curve_allowed_clients is not None or self.curve_server_key is not None:
                raise ValueError("CURVE needs curve_secret_key (this pipeline's NAME.key_secret) too")
            return self
        if self.connect and self.curve_server_key is None:
            raise ValueError("connect: true with CURVE needs curve_server_key, the broker's public NAME.key")
        if not self.connect and self.curve_allowed_clients is None:
            raise ValueError("CURVE needs curve_allowed_clients, the folder of the public keys allowed in")
        if self.connect and self.snapshot_endpoint and self.curve_allowed_clients is None:
            raise ValueError("with CURVE, the snapshot endpoint needs curve_allowed_clients too: it is never "
                             "served in plaintext")
        return self

    def curve(self):
        """For the events socket: CURVE server keys (bound), client keys (connected to a broker), or None (off)."""
        from roadwatch.events.curve import CurveClientKeys

        if self.curve_secret_key is None:
            return None
        if self.connect:
            return CurveClientKeys(Path(self.curve_secret_key), Path(self.curve_server_key))
        return self.snapshot_curve()

    def snapshot_curve(self):
        """For the snapshot socket, always bound: CURVE server keys, or None (off)."""
        from roadwatch.events.curve import CurveServerKeys

        if self.curve_secret_key is None:
            return None
        return CurveServerKeys(Path(self.curve_secret_key), Path(self.curve_allowed_clients))


class RetainConfig(Section):
    """How much evidence (snapshots) a run keeps: older files, then the oldest beyond the size, are deleted."""

    days: float | None = Field(None, gt=0, le=36500, description="Delete evidence older than this; null: no limit")
    max_gb: float | None = Field(None, gt=0, le=1e6, description="Keep at most this much, oldest deleted first; "
                                 "null: no limit")


ClipTrigger = Literal["track.started", "zone.entered", "line.crossed", "plate.read", "rule.speeding",
                      "rule.wrong_way", "zone.dwell"]


class ClipsConfig(Section):
    """Event clips cut from a camera's own packets (no re-encode): the camera URL is then read through PyAV, in a
    thread, with a ring of its packets beside decoding."""

    enabled: StrictBool = Field(False, description="Write a clip around the events below, for camera URLs")
    triggers: list[ClipTrigger] = Field(
        ["track.started"], min_length=1, description="Events that start (or extend) a clip; track.started is a "
        "track confirmed")
    categories: list[str] | None = Field(
        None, description="Only track events of these categories trigger a clip; null: every category")
    pre_capture_s: float = Field(5.0, ge=0, le=60, description="A clip starts this long before its first trigger "
                                 "(at the keyframe at or before)")
    post_capture_s: float = Field(5.0, ge=0, le=300, description="A clip ends this long after its last trigger")
    max_clip_s: float = Field(300.0, ge=1, le=3600, description="A clip longer than this is closed; a trigger "
                              "after it starts the next")
    ring_mb: float = Field(64.0, gt=0, le=4096, description="Most packet memory kept per camera (whole groups of "
                           "pictures beyond it are dropped from the front)")
    streams: list[str] | None = Field(None, description="Stream ids that get clips; null: every camera URL")


class OutputConfig(Section):
    dir: str = Field("runs/latest", description="Folder for events.jsonl, summary.json and annotated video")
    video: StrictBool = Field(True, description="Write the annotated video")
    codec: str = Field("h264", min_length=4, max_length=4, description="h264: H.264 in MP4 through PyAV, which "
                       "browsers play; any other FourCC (mp4v...) through OpenCV's writer")
    segment_s: float | None = Field(
        None, ge=1, description="run: a new events file and annotated video every this many seconds, on its "
        "multiples of UTC time (3600: on the hour), named by their start; null: one of each for the whole run")
    retain: RetainConfig = Field(default_factory=RetainConfig)
    clips: ClipsConfig = Field(default_factory=ClipsConfig)
    snapshots: StrictBool | None = Field(
        None, description="Each track's best picture (crop and whole frame) saved when it ends, its paths in "
        "track.ended; null: on for analyze, off for run (set output.retain before turning it on 24/7)")
    keep_segments: StrictInt | None = Field(
        None, ge=1, description="With segment_s: keep the newest this many of each, delete older ones; null: keep all")

    @model_validator(mode="after")
    def _keep_needs_segments(self) -> OutputConfig:
        if self.keep_segments is not None and self.segment_s is None:
            raise ValueError("keep_segments deletes old segments: set segment_s too, or leave keep_segments null")
        return self
