"""What the detector runs and when: the model, its categories and plates, and each stream's detection schedule."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, StrictBool, StrictInt, field_validator, model_validator

from roadwatch.config.base import MAX_IMGSZ, MAX_WAIT_S, DetectFps, Fraction, Section
from roadwatch.detector.categories import DEFAULT_CATEGORIES, CategoryMap


class PlatesConfig(Section):
    """The licence-plate stage: a second model on vehicle crops; off unless `model` is set."""

    model: str | None = Field(None, description="Plate detection checkpoint; the stage is off if unset")
    imgsz: StrictInt = Field(640, ge=32, le=MAX_IMGSZ, description="Inference size for vehicle crops")
    conf: Fraction = Field(0.05, description="Plate candidates from this confidence; the most plausible is chosen "
                           "by confidence and shape (make bench-plates: 0.25 lost 14 of 16 missed European plates)")
    crop_pad: float = Field(0.1, ge=0, le=1, description="A vehicle's crop is padded by this share of its size a side")
    whole_frame_fraction: float = Field(
        0.3, gt=0, description="A vehicle this wide (share of the frame's width) is searched on the whole frame, "
        "where the model is surer of close-ups; above 1: never")
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
    formats: list[str] = Field(
        [], description="The region's plate formats, regexes of the whole plate without spaces "
        "([A-Z]{2}[0-9]{3}[A-Z]{2}); a read is fitted to the nearest (look-alikes swapped, a sticker or emblem "
        "read as a character dropped) and reads that fit outvote those that do not; [] : text as read")
    min_chars: StrictInt = Field(4, ge=1, le=16, description="A read shorter than this is no plate")
    agree_reads: StrictInt = Field(
        2, ge=1, description="plate.read once this many of a track's reads agree on the text (and again if it "
        "changes)")
    watchlist: str | None = Field(
        None, description="File of plates to watch for, one a line (`TEXT` or `TEXT,label`); re-read on SIGHUP; "
        "a track's agreed text within watchlist_max_edits of one sends plate.matched")
    watchlist_max_edits: StrictInt = Field(1, ge=0, le=3, description="Edits (Levenshtein) a plate may be off "
                                           "a watched one and still match")

    @field_validator("formats")
    @classmethod
    def _formats_compile(cls, value: list[str]) -> list[str]:
        for pattern in value:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"plate format {pattern!r} is not a regex: {exc}") from None
        return value


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
    drop_occupants: StrictBool = Field(
        True, description="Drop a person seen through a vehicle's windows (inside its box, its bottom well above "
        "the vehicle's): a driver is no pedestrian")
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
