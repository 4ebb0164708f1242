"""Detection on parts of frames: the regions of many frames (any cameras) in one batch, boxes mapped back.

A frame planned for regions (regions.py) has each region cut out and letterboxed at the frame's own scale;
regions of the same size share a forward pass with each other and with whole frames of the same letterbox.
Boxes come back in the region's pixels and are moved by its corner. A box that touches a region's inner
edge may be part of an object cut in two: that frame is detected again whole in a second pass, so an object
is never reported as two pieces (regions are padded around what moved, so this is rare).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import supervision as sv

from .filters import ExclusionMask
from .regions import cut_at_inner_edge, frame_scale
from .yolo import YoloDetector


@dataclass
class RegionPass:
    """What a call cost: images through the network (whole frames, regions) and frames detected again whole."""

    frames: int = 0
    regions: int = 0
    redone: int = 0


def detect_planned(
    detector: YoloDetector, images: list[np.ndarray], regions: list[np.ndarray | None],
    masks: list[ExclusionMask | None] | None = None,
) -> tuple[list[sv.Detections], RegionPass]:
    """Detections of each image in frame pixels: the whole image where `regions[i]` is None, else only inside
    its (R, 4) int xyxy regions."""
    masks = masks or [None] * len(images)
    crops: list[np.ndarray] = []
    sizes: list[int] = []
    owner: list[int] = []
    corner: list[tuple[int, int]] = []
    cost = RegionPass()
    stride = detector.letterbox.stride  # a letterbox's long side is a whole number of strides
    for i, (image, planned) in enumerate(zip(images, regions)):
        h, w = image.shape[:2]
        if planned is None:
            crops.append(image)
            sizes.append(detector.imgsz)
            owner.append(i)
            corner.append((0, 0))
            cost.frames += 1
            continue
        scale = frame_scale(h, w, detector.imgsz)
        for x0, y0, x1, y1 in np.asarray(planned, dtype=np.int64).reshape(-1, 4).tolist():
            crops.append(np.ascontiguousarray(image[y0:y1, x0:x1]))
            sizes.append(max(1, int(np.ceil(max(x1 - x0, y1 - y0) * scale / stride))) * stride)
            owner.append(i)
            corner.append((x0, y0))
            cost.regions += 1
    found = detector.detect(crops, sizes=sizes)
    parts: list[list[sv.Detections]] = [[] for _ in images]
    redo: set[int] = set()
    for k, dets in enumerate(found):
        i = owner[k]
        if regions[i] is None:
            parts[i].append(dets)
            continue
        if len(dets):
            x0, y0 = corner[k]
            dets.xyxy = dets.xyxy + np.array([x0, y0, x0, y0], dtype=dets.xyxy.dtype)
            region = np.array([x0, y0, x0 + crops[k].shape[1], y0 + crops[k].shape[0]])
            if cut_at_inner_edge(dets.xyxy, region, *images[i].shape[:2]).any():
                redo.add(i)
        parts[i].append(dets)
    out = []
    for i, image in enumerate(images):
        merged = sv.Detections.merge(parts[i]) if len(parts[i]) > 1 else parts[i][0]
        out.append(detector.filters(merged, image.shape, masks[i]))
    if redo:
        order = sorted(redo)
        again = detector.detect([images[i] for i in order], masks=[masks[i] for i in order])
        for i, dets in zip(order, again):
            out[i] = dets
        cost.redone = len(order)
    return out, cost
