"""Configuration: one YAML file validated by pydantic, with CLI flags layered on top."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    ValidationError,
    field_validator,
    model_validator,
)

from roadwatch.detector.categories import DEFAULT_CATEGORIES, CategoryMap
from roadwatch.errors import ConfigError
from roadwatch.streams import ReconnectPolicy, check_stream_id
from roadwatch.trackers import TrackerConfig

Fraction = Annotated[float, Field(ge=0.0, le=1.0)]
# Upper bounds where a huge number is a typo that would fail later, far from its cause: 1e300 ms as a
# timeout overflows a thread wait, an imgsz of 1e8 asks the detector for petabytes.
MAX_WAIT_S = 24 * 3600.0
MAX_IMGSZ = 8192
RECONNECT = ReconnectPolicy()  # the reconnect defaults live with the capture that applies them


class Section(BaseModel):
    """A config section: unknown keys are errors, so a typo never silently does nothing."""

    model_config = ConfigDict(extra="forbid")


DetectFps = Annotated[float, Field(gt=0, le=1000)]


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


class PlatesConfig(Section):
    """The licence-plate stage: a second model on vehicle crops; off unless `model` is set."""

    model: str | None = Field(None, description="Plate detection checkpoint; the stage is off if unset")
    imgsz: StrictInt = Field(640, ge=32, le=MAX_IMGSZ, description="Inference size for vehicle crops")
    conf: Fraction = Field(0.25, description="Minimum plate detection confidence")
    min_vehicle_px: StrictInt = Field(
        96, ge=1, description="Vehicles narrower than this (pixels) are not searched: too few pixels to read"
    )
    every_n_frames: StrictInt = Field(
        5, ge=1, description="Search a vehicle track's box at most once per this many of its frames"
    )
    max_area_fraction: Fraction = Field(
        0.25, description="A plate box larger than this share of its vehicle box is rejected"
    )
    ocr: StrictBool = Field(False, description="Read the plate text (needs the `ocr` extra: rapidocr-onnxruntime)")
    ocr_min_confidence: Fraction = Field(0.5, description="Text readings below this score count as unread")


class DetectorConfig(Section):
    model: str = Field("yolo11n.pt", description="Checkpoint path or official Ultralytics model name")
    device: str = Field("auto", description="auto, cpu, cuda or cuda:N")
    imgsz: StrictInt = Field(640, ge=32, le=MAX_IMGSZ, description="Inference size (longest side)")
    conf: Fraction = Field(0.25, description="Minimum detection confidence")
    iou: Fraction = Field(0.7, description="NMS IoU threshold")
    half: StrictBool = Field(
        True, description="Reduced precision where the device has it: fp16 on CUDA; bf16 with backend openvino on "
        "CPUs with native bf16"
    )
    backend: Literal["pytorch", "onnx", "openvino", "tensorrt"] = Field(
        "pytorch", description="Runtime: PyTorch, or an Ultralytics export run by ONNX Runtime, OpenVINO (CPU) or "
        "TensorRT (made once, beside the model)"
    )
    trace: StrictBool = Field(
        True, description="Run the PyTorch network as one TorchScript call: the forward pass then holds the GIL "
        "twice per batch, not once per layer"
    )
    agnostic_nms: StrictBool = Field(
        True, description="NMS across classes: one box per object even if it looks like both car and truck"
    )
    max_batch: StrictInt = Field(8, ge=1, le=1024, description="Most frames per forward pass")
    category_conf: dict[str, Fraction] = Field(
        default_factory=dict, description="Per-category minimum confidence; others use `conf`"
    )
    min_box_px: float = Field(0.0, ge=0, le=MAX_IMGSZ,
        description="Detections narrower or shorter than this (pixels) are dropped")
    plates: PlatesConfig = Field(default_factory=PlatesConfig)
    max_wait_ms: float = Field(20.0, ge=0, le=60_000, description="Longest wait to fill a batch after its first frame")
    overlap: StrictBool | None = Field(
        None, description="Detect the next batch in a thread while this one is tracked; null: on with CUDA only"
    )
    categories: dict[str, list[str]] = Field(
        default_factory=lambda: {k: list(v) for k, v in DEFAULT_CATEGORIES.items()},
        description="roadwatch category -> model class names; classes in no category are ignored",
    )

    @field_validator("categories")
    @classmethod
    def _one_category_per_class(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        CategoryMap(value)  # raises ValueError on a class listed twice
        return value

    @model_validator(mode="after")
    def _thresholds_name_known_categories(self) -> DetectorConfig:
        unknown = sorted(set(self.category_conf) - set(self.categories))
        if unknown:
            raise ValueError(f"category_conf names unknown categories: {', '.join(unknown)}")
        return self


class ScheduleConfig(Section):
    """When and where the detector looks at each stream. Between detections the tracker predicts every frame,
    so tracks, events and videos stay smooth; see docs/performance.md for what each setting costs and buys."""

    live_detect_fps: DetectFps | None = Field(
        5.0, description="Detections a second per live source (cameras, RTSP/HTTP); null: every frame. 5 holds "
        "several 720p30 cameras on 2 CPU cores; a new object waits up to 1/rate for its first detection")
    file_detect_fps: DetectFps | None = Field(
        None, description="Detections a second per file or folder; null: every frame (footage analysis: accuracy "
        "first)")
    live_motion: StrictBool = Field(
        True, description="Live sources: detect only where the picture moved or a track is (regions), and not at "
        "all when nothing moves and nothing is tracked")
    file_motion: StrictBool = Field(False, description="Files: the same motion gating (off: every detection is "
        "on the whole frame)")
    full_frame_s: float = Field(
        5.0, gt=0, le=MAX_WAIT_S, description="With motion gating, a whole-frame detection at least this often, "
        "so objects that stand still are found too")
    max_region_share: Fraction = Field(
        0.5, description="When a frame's regions would cover more than this share of it, the whole frame is "
        "detected instead (about as cheap, and nothing is cut)")
    motion_threshold: StrictInt = Field(
        25, ge=1, le=255, description="Grey levels of change that count as motion (higher: less sensitive to "
        "noise, rain, lighting)")
    motion_min_area: Fraction = Field(
        0.0004, description="Least share of the frame a moving blob must cover (leaves, compression noise)")


_T = TrackerConfig()  # the tracker's own defaults, so the two never drift apart


class TrackerSettings(Section):
    min_hits: StrictInt = Field(_T.min_hits, ge=1,
        description="Matches in a row before a track is confirmed (and started)")
    max_age_s: float = Field(_T.max_age_s, gt=0, le=MAX_WAIT_S,
        description="Seconds a confirmed track may go unseen before it ends")
    iou_threshold: Fraction = Field(
        _T.iou_threshold, description="Least IoU between prediction and confident detection"
    )
    high_confidence: Fraction = Field(_T.high_confidence, description="Detections this confident are matched first")
    low_confidence: Fraction = Field(
        _T.low_confidence, description="Weaker detections are ignored; between the two, they only continue tracks"
    )
    low_iou_threshold: Fraction = Field(
        _T.low_iou_threshold, description="Least IoU for a weak detection to continue a track"
    )
    new_track_confidence: Fraction = Field(
        _T.new_track_confidence, description="Least confidence for a detection to start a track"
    )
    update_interval_s: float = Field(1.0, ge=0, le=MAX_WAIT_S, description="track.updated at most this often per track")
    zone_min_frames: StrictInt = Field(
        3, ge=1, description="Frames a track must hold a new zone state or line side before it counts"
    )
    prediction_horizon_s: float = Field(1.0, ge=0, le=60, description="How far ahead events' predicted_bbox looks")
    camera_motion: StrictBool = Field(False, description="Compensate camera motion (moving cameras, dashcams)")

    def tracker_config(self) -> TrackerConfig:
        return TrackerConfig(
            min_hits=self.min_hits,
            max_age_s=self.max_age_s,
            iou_threshold=self.iou_threshold,
            high_confidence=self.high_confidence,
            low_confidence=self.low_confidence,
            low_iou_threshold=self.low_iou_threshold,
            new_track_confidence=self.new_track_confidence,
        )


Point = tuple[float, float]


class ZoneConfig(Section):
    id: str = Field(description="Zone id carried by zone events")
    polygon: list[Point] = Field(min_length=3, description="Corners in pixels, in order")
    streams: list[str] | None = Field(None, description="Stream ids it applies to; all streams if unset")


class LineConfig(Section):
    id: str = Field(description="Line id carried by line.crossed events")
    start: Point
    end: Point
    streams: list[str] | None = Field(None, description="Stream ids it applies to; all streams if unset")


class MaskConfig(Section):
    id: str = Field(description="Name of the excluded region (for the reader of the config)")
    polygon: list[Point] = Field(
        min_length=3, description="Corners in pixels, in order; detections centred inside are dropped"
    )
    streams: list[str] | None = Field(None, description="Stream ids it applies to; all streams if unset")


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


class OutputConfig(Section):
    dir: str = Field("runs/latest", description="Folder for events.jsonl, summary.json and annotated video")
    video: StrictBool = Field(True, description="Write the annotated video")
    codec: str = Field("mp4v", min_length=4, max_length=4, description="FourCC of the annotated video")
    segment_s: float | None = Field(
        None, ge=1, description="run: a new events file and annotated video every this many seconds, on its "
        "multiples of UTC time (3600: on the hour), named by their start; null: one of each for the whole run")
    keep_segments: StrictInt | None = Field(
        None, ge=1, description="With segment_s: keep the newest this many of each, delete older ones; null: keep all")

    @model_validator(mode="after")
    def _keep_needs_segments(self) -> OutputConfig:
        if self.keep_segments is not None and self.segment_s is None:
            raise ValueError("keep_segments deletes old segments: set segment_s too, or leave keep_segments null")
        return self


class Config(Section):
    sources: list[SourceConfig] = Field(default_factory=list)
    streams: StreamsConfig = Field(default_factory=StreamsConfig)
    detector: DetectorConfig = Field(default_factory=DetectorConfig)
    tracker: TrackerSettings = Field(default_factory=TrackerSettings)
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)
    events: EventsConfig = Field(default_factory=EventsConfig)
    output: OutputConfig = Field(default_factory=OutputConfig)
    zones: list[ZoneConfig] = Field(default_factory=list)
    lines: list[LineConfig] = Field(default_factory=list)
    masks: list[MaskConfig] = Field(default_factory=list)

    @field_validator("sources", mode="before")
    @classmethod
    def _plain_strings_are_uris(cls, value):
        if isinstance(value, list):
            return [{"uri": item} if isinstance(item, (str, int)) else item for item in value]
        return value


def load_config(path: str | Path | None) -> Config:
    """Read and validate a config file; every failure is a ConfigError with a one-line message."""
    if path is None:
        return Config()
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config '{path}': no such file; pass --config PATH to a YAML file")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except RecursionError:
        raise ConfigError(f"config '{path}': nested too deeply to be a roadwatch config") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "syntax error"
        raise ConfigError(f"config '{path}': not valid YAML{where}: {problem}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config '{path}': cannot read it ({exc})") from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"config '{path}': the top level must be a mapping of sections, not {type(data).__name__}")
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "(top level)"
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise ConfigError(f"config '{path}': {where}: {first['msg']}{more}") from exc
