"""Which parts of a frame to run the network on, at the scale a full-frame detection would see them.

A region is cut from the frame and letterboxed at `scale = imgsz / longest side`, the full frame's own
scale, so an object looks to the network as it would in a full-frame pass and its box maps back by adding
the region's corner. Region sides are whole multiples of `quantum` model pixels (two strides), so the
letterbox needs no padding and regions of the same size, from any camera, share a forward pass.
"""

from __future__ import annotations

import numpy as np

EDGE_PX = 2.0  # a box this close to a region edge that is not the frame's may be an object cut in two


def frame_scale(height: int, width: int, imgsz: int) -> float:
    """The scale at which a full-frame detection sees this frame."""
    return imgsz / max(height, width)


def plan_regions(
    boxes: np.ndarray, height: int, width: int, imgsz: int, stride: int = 32, pad: float = 0.25,
    min_side: int = 128, quantum: int | None = None,
) -> np.ndarray:
    """(R, 4) int xyxy regions (frame pixels) covering `boxes` (motion and predicted tracks), each padded by
    `pad` of its size plus a stride, at least `min_side` model pixels a side, sides snapped to `quantum`
    model pixels, clipped into the frame; overlapping regions are merged until none overlaps, so an object
    lies in one region, not across two."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    if not len(boxes):
        return np.zeros((0, 4), dtype=np.int64)
    scale = frame_scale(height, width, imgsz)
    unit = (quantum or 2 * stride) / scale  # frame pixels per quantum
    size = boxes[:, 2:] - boxes[:, :2]
    grown = np.column_stack([boxes[:, :2] - size * pad - stride / scale, boxes[:, 2:] + size * pad + stride / scale])
    regions = [_fit(b, height, width, min_side / scale, unit) for b in grown]
    merged = True
    while merged and len(regions) > 1:
        merged = False
        for i in range(len(regions)):
            for j in range(i + 1, len(regions)):
                if _overlap(regions[i], regions[j]):
                    a, b = regions[i], regions[j]
                    union = np.array([min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])])
                    regions[i] = _fit(union, height, width, min_side / scale, unit)
                    del regions[j]
                    merged = True
                    break
            if merged:
                break
    return np.array(regions, dtype=np.int64).reshape(-1, 4)


def region_area(regions: np.ndarray) -> float:
    """Total area of non-overlapping regions, in frame pixels."""
    regions = np.asarray(regions, dtype=np.float64).reshape(-1, 4)
    return float(((regions[:, 2] - regions[:, 0]) * (regions[:, 3] - regions[:, 1])).sum())


def cut_at_inner_edge(xyxy: np.ndarray, region: np.ndarray, height: int, width: int) -> np.ndarray:
    """True for boxes touching a side of `region` that is not the frame's own edge: the object may go on
    outside the region, and its box is then only part of it."""
    x0, y0, x1, y1 = (float(v) for v in region)
    touch = np.zeros(len(xyxy), dtype=bool)
    if x0 > 0:
        touch |= xyxy[:, 0] <= x0 + EDGE_PX
    if y0 > 0:
        touch |= xyxy[:, 1] <= y0 + EDGE_PX
    if x1 < width:
        touch |= xyxy[:, 2] >= x1 - EDGE_PX
    if y1 < height:
        touch |= xyxy[:, 3] >= y1 - EDGE_PX
    return touch


def _fit(box: np.ndarray, height: int, width: int, min_side: float, unit: float) -> list[int]:
    """`box` grown to at least `min_side`, its sides rounded up to whole units (at most the frame's side),
    centred on the box and shifted to lie inside the frame."""
    out = []
    for lo, hi, limit in ((box[0], box[2], width), (box[1], box[3], height)):
        side = max(hi - lo, min_side)
        side = min(np.ceil(side / unit) * unit, limit)
        start = min(max((lo + hi) / 2 - side / 2, 0.0), limit - side)
        out.append((round(start), round(start + side)))
    (x0, x1), (y0, y1) = out
    return [x0, y0, x1, y1]


def _overlap(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]
