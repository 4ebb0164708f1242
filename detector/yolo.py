"""Batched YOLO detection with class names mapped to roadwatch categories."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import supervision as sv
import torch

from .backends import BackendError, prepare_weights, set_openvino_precision
from .categories import CategoryMap
from .errors import ModelError, first_line
from .filters import DetectionFilter, ExclusionMask
from .letterbox import DeviceLetterbox, Placement
from .nms import batch_nms
from .traced import trace_network

os.environ.setdefault("YOLO_VERBOSE", "False")  # Ultralytics logs every call otherwise; set before its import


def resolve_device(device: str) -> str:
    """'auto' means the first CUDA GPU when there is one, else the CPU."""
    if device == "auto":
        device = "cuda:0" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ModelError(f"device '{device}': CUDA is not available on this machine; use --device cpu")
    if device == "cpu":
        # torch counts physical cores; on small VMs that is half the vCPUs (1 of 2 here), and using all of
        # them measured 53 -> 28 ms/frame for yolov8n at 640 on a 2-vCPU machine.
        torch.set_num_threads(max(torch.get_num_threads(), os.cpu_count() or 1))
    return device


def load_yolo(model: str):
    """Load a local checkpoint, or an official Ultralytics name (downloaded by Ultralytics where online).

    Anything else is refused before Ultralytics gets a chance to try a download that cannot succeed.
    """
    from ultralytics import YOLO
    from ultralytics.utils.downloads import GITHUB_ASSETS_NAMES

    path = Path(model)
    if path.is_file() or (path.is_dir() and path.name.endswith("_openvino_model")):  # OpenVINO's export: a folder
        try:
            return YOLO(str(path))
        except Exception as exc:
            raise ModelError(f"model '{model}': cannot load it as a YOLO model ({first_line(exc)})") from exc
    if path.name == model and model in GITHUB_ASSETS_NAMES:
        try:
            return YOLO(model)
        except Exception as exc:
            raise ModelError(
                f"model '{model}' is not on this machine and could not be downloaded (offline?); "
                "pass --model PATH to a local checkpoint"
            ) from exc
    raise ModelError(
        f"model '{model}' not found: pass --model a path to a YOLO checkpoint or an official name such as yolo11n.pt"
    )


class YoloDetector:
    """Runs a YOLO model on a batch of frames of any sizes: one upload, one forward, one NMS per batch.

    Detections equal Ultralytics' `model.predict` on each frame alone (same letterbox geometry, same
    selection rules; see letterbox.py and nms.py). Returns one `supervision.Detections` per frame in the
    frame's own pixel coordinates, carrying `data["class_name"]`, `data["category"]` and
    `data["category_id"]` (the category's index in `category_names`); classes outside every category are
    never returned. `categories` may instead name one category that every class of the model belongs to.
    Per-category thresholds, a minimum box size and exclusion masks then cut (filters.py).
    """

    def __init__(
        self, model: str, categories: CategoryMap | str, device: str = "auto", imgsz: int = 640, conf: float = 0.25,
        iou: float = 0.7, half: bool = False, agnostic_nms: bool = True, max_det: int = 300,
        category_conf: dict[str, float] | None = None, min_size_px: float = 0.0, backend: str = "pytorch",
        max_batch: int = 64, trace: bool = True, drop_occupants: bool = True,
    ) -> None:
        from ultralytics.nn.autobackend import AutoBackend
        from ultralytics.utils.checks import check_imgsz

        self.device = resolve_device(device)
        self.agnostic_nms = agnostic_nms
        self.half = half and self.device != "cpu"
        yolo = load_yolo(model)  # validates the name, downloads official ones where online
        weights = yolo.model  # the network for a checkpoint; the file's path for an already exported model
        if backend != "pytorch" and isinstance(weights, torch.nn.Module):
            try:
                weights = prepare_weights(yolo.ckpt_path or model, backend, self.device, imgsz, self.half, max_batch)
            except BackendError as exc:
                raise ModelError(f"model '{model}': {exc}") from exc
        try:
            self.backend = AutoBackend(
                weights, device=torch.device(self.device), fp16=self.half, fuse=True, verbose=False
            )
        except Exception as exc:
            raise ModelError(f"model '{model}': cannot run it on {self.device} ({first_line(exc)})") from exc
        self.backend.eval()
        resolve_device(self.device)  # Ultralytics' loaders reset torch's CPU threads to cpu_count - 1
        self.names: dict[int, str] = dict(self.backend.names)
        if isinstance(categories, str):  # a single-purpose model (plates): every class is that category
            categories = CategoryMap({categories: list(self.names.values())})
        self.category_names = categories.names
        class_to_category = categories.class_ids(self.names)
        if not class_to_category:
            raise ModelError(
                f"model '{model}': none of its classes ({', '.join(list(self.names.values())[:5])}, ...) "
                "is in any configured category; check `categories` in the config"
            )
        self.class_ids = sorted(class_to_category)
        # class id -> category index, as a lookup table so mapping a batch is one numpy indexing op
        self._category_of_class = np.full(max(self.names) + 1, -1, dtype=np.int64)
        for class_id, category in class_to_category.items():
            self._category_of_class[class_id] = self.category_names.index(category)
        # lookup tables, so naming a frame's detections is two numpy indexing ops
        self._class_names = np.array([self.names.get(i, str(i)) for i in range(max(self.names) + 1)], dtype=str)
        self._category_names = np.array(self.category_names, dtype=str)
        self.conf = conf
        self.iou = iou
        self.max_det = max_det
        self.filters = DetectionFilter(self.category_names, conf, category_conf, min_size_px, drop_occupants)
        stride = int(self.backend.stride)
        self.imgsz = check_imgsz(imgsz, stride=stride, min_dim=1, max_dim=1)
        self.letterbox = DeviceLetterbox(self.imgsz, stride, torch.device(self.device), self.backend.fp16)
        self._classes = torch.as_tensor(self.class_ids, device=self.device)
        self.forward_pass = self.backend  # eager unless traced; an export runs in its own runtime
        if self.backend.format == "openvino":
            try:
                precision = set_openvino_precision(self.backend, str(weights), reduced=half)
            except AttributeError as exc:  # Ultralytics keeps the compiled model elsewhere than it did
                raise ModelError(
                    f"model '{model}': backend 'openvino': cannot set its precision with this "
                    f"Ultralytics ({first_line(exc)}); use backend pytorch"
                ) from exc
            self.forward_mode = f"openvino runtime, {precision}"
        elif self.backend.format != "pt":
            self.forward_mode = f"{self.backend.format} runtime"
        elif not trace:
            self.forward_mode = "eager: tracing is off"
        else:
            dtype = torch.float16 if self.backend.fp16 else torch.float32
            traced, self.forward_mode = trace_network(
                self.backend.model, torch.device(self.device), dtype, stride, self.imgsz
            )
            self.forward_pass = traced or self.backend
            if traced is None:
                logging.getLogger(__name__).warning("model '%s' runs %s", model, self.forward_mode)

    def allocate_frame(self, shape: tuple[int, ...]) -> np.ndarray:
        """An array for a decoder to write a frame into, such that `detect` uploads it fastest (pinned on a
        GPU, see DeviceLetterbox.allocate_frame); ordinary numpy memory on a CPU."""
        return self.letterbox.allocate_frame(shape)

    def detect(
        self, images: list[np.ndarray], masks: list[ExclusionMask | None] | None = None,
        sizes: list[int] | None = None,
    ) -> list[sv.Detections]:
        """Detections for each image; `masks[i]`, when given, drops detections centred in its excluded regions.
        `sizes[i]` letterboxes image i to that longest side instead of `imgsz` (a region of a frame, at the
        frame's own scale: regions.py)."""
        if not images:
            return []
        xyxy, rows, image = self._infer(images, sizes)
        counts = np.bincount(image, minlength=len(images))
        out = []
        for i, (start, end) in enumerate(zip(np.r_[0, np.cumsum(counts)[:-1]], np.cumsum(counts))):
            detections = self._detections(xyxy[start:end], rows[start:end, 0], rows[start:end, 1].astype(int))
            out.append(self.filters(detections, images[i].shape, masks[i] if masks else None))
        return out

    def _infer(self, images: list[np.ndarray], sizes: list[int] | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Boxes (frame pixels), (score, class) rows and image index of every kept detection, by image.

        Frames whose letterboxes have the same shape (every 16:9 camera at any resolution shares one) go
        through one forward; a batch mixing aspect ratios runs one forward per letterbox shape, because
        extra padding around a frame shifts the network's scores and would break parity with `predict`.
        """
        places = self.letterbox.places(images, sizes)
        shapes: dict[tuple[int, int], list[int]] = {}
        for i, p in enumerate(places):
            shapes.setdefault((p.canvas_h, p.canvas_w), []).append(i)
        parts = []
        with torch.inference_mode():
            for indices in shapes.values():
                batch, _ = self.letterbox([images[i] for i in indices], [places[i] for i in indices])
                # NMS keeps all a category might want (its lowest threshold); the per-category filter then cuts
                rows, image = batch_nms(
                    self.forward_pass(batch), self.filters.lowest, self.iou, self._classes, self.agnostic_nms,
                    self.max_det,
                )
                xyxy = to_frame_coordinates(rows[:, :4], image, [places[i] for i in indices])
                parts.append((xyxy, rows[:, 4:], torch.as_tensor(indices, device=image.device)[image]))
            xyxy, rows, image = (torch.cat(column).cpu().numpy() for column in zip(*parts))
        order = np.argsort(image, kind="stable")
        return xyxy[order], rows[order], image[order]

    def _detections(self, xyxy: np.ndarray, confidence: np.ndarray, class_id: np.ndarray) -> sv.Detections:
        category_id = self._category_of_class[class_id]
        return sv.Detections(
            xyxy=xyxy.astype(np.float32),
            confidence=confidence.astype(np.float32),
            class_id=class_id,
            data={
                "class_name": self._class_names[class_id],
                "category": self._category_names[category_id],
                "category_id": category_id,
            },
        )


def to_frame_coordinates(xyxy: torch.Tensor, image: torch.Tensor, places: list[Placement]) -> torch.Tensor:
    """Boxes from letterbox pixels back to each frame's pixels, clipped to the frame, as Ultralytics' scale_boxes."""
    geometry = torch.tensor(
        [[p.left, p.top, p.new_w / p.width, p.new_h / p.height, p.width, p.height] for p in places],
        dtype=torch.float32, device=xyxy.device,
    )[image]
    offset, gain, size = geometry[:, 0:2].repeat(1, 2), geometry[:, 2:4].repeat(1, 2), geometry[:, 4:6].repeat(1, 2)
    return torch.minimum((xyxy - offset) / gain, size).clamp_(min=0)
