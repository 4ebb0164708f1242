"""Batched YOLO detection with class names mapped to roadwatch categories."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import supervision as sv

from detector.categories import CategoryMap

os.environ.setdefault("YOLO_VERBOSE", "False")  # Ultralytics logs every call otherwise; set before its import


class ModelError(Exception):
    """The model cannot be loaded or run; the message is one line a user can act on."""


def resolve_device(device: str) -> str:
    """'auto' means the first CUDA GPU when there is one, else the CPU."""
    import torch

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
    if path.is_file():
        try:
            return YOLO(str(path))
        except Exception as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelError(f"model '{model}': cannot load it as a YOLO model ({reason})") from exc
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
    """Runs an Ultralytics YOLO model on a batch of frames of any sizes.

    Returns one `supervision.Detections` per frame in the frame's own pixel coordinates, carrying
    `data["class_name"]`, `data["category"]` and `data["category_id"]` (the category's index in
    `category_names`); classes outside every category are never returned.
    """

    def __init__(
        self,
        model: str,
        categories: CategoryMap,
        device: str = "auto",
        imgsz: int = 640,
        conf: float = 0.25,
        iou: float = 0.7,
        half: bool = False,
        agnostic_nms: bool = True,
    ) -> None:
        self.device = resolve_device(device)
        self.agnostic_nms = agnostic_nms
        self.model = load_yolo(model)
        self.names: dict[int, str] = dict(self.model.names)
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
        self.imgsz = imgsz
        self.conf = conf
        self.iou = iou
        self.half = half and self.device != "cpu"

    def detect(self, images: list[np.ndarray]) -> list[sv.Detections]:
        if not images:
            return []
        results = self.model.predict(
            images,
            imgsz=self.imgsz,
            conf=self.conf,
            iou=self.iou,
            device=self.device,
            half=self.half,
            classes=self.class_ids,
            agnostic_nms=self.agnostic_nms,
            verbose=False,
        )
        names = np.array(self.category_names)
        out = []
        for result in results:
            detections = sv.Detections.from_ultralytics(result)
            category_index = self._category_of_class[detections.class_id]
            detections.data["category_id"] = category_index
            detections.data["category"] = names[category_index] if len(detections) else np.array([], dtype=str)
            out.append(detections)
        return out
