"""Non-maximum suppression for a whole batch in one call.

Ultralytics' `non_max_suppression` loops over images in Python, one NMS call each: at 64 frames a batch
that loop costs more than the forward pass on a GPU. This keeps its exact selection rules (best class per
box, confidence strictly above the threshold, class filter after the best class is chosen, class-offset or
agnostic NMS, `max_det` per image) and runs torchvision's `batched_nms` once, with each image (and, unless
agnostic, each class) as its own group.
"""

from __future__ import annotations

import torch
from torchvision.ops import batched_nms


def batch_nms(
    prediction: torch.Tensor | list[torch.Tensor], conf: float, iou: float, classes: torch.Tensor | None = None,
    agnostic: bool = False, max_det: int = 300,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Kept detections of a (batch, 4 + classes, anchors) YOLO output.

    Returns `rows` (K, 6: x1, y1, x2, y2, score, class) and `image` (K,) the index of each row's image,
    rows of one image in decreasing score, as Ultralytics returns them.
    """
    if isinstance(prediction, (list, tuple)):  # PyTorch models also return their feature maps
        prediction = prediction[0]
    batch, channels, _ = prediction.shape
    num_classes = channels - 4
    x = prediction.transpose(1, 2)  # (batch, anchors, 4 + classes)
    score, cls = x[..., 4:].max(2)
    keep = score > conf
    if classes is not None:
        keep &= torch.isin(cls, classes)
    image, anchor = keep.nonzero(as_tuple=True)
    boxes = x[image, anchor, :4].float()
    boxes = torch.cat((boxes[:, :2] - boxes[:, 2:] / 2, boxes[:, :2] + boxes[:, 2:] / 2), 1)  # xywh -> xyxy
    score = score[image, anchor].float()
    cls = cls[image, anchor]
    groups = image if agnostic else image * num_classes + cls
    kept = batched_nms(boxes, score, groups, iou)  # decreasing score across the batch
    kept = kept[torch.argsort(image[kept], stable=True)]  # by image, still decreasing score within one
    if max_det and len(kept):
        image_of = image[kept]
        first = torch.searchsorted(image_of, image_of)  # where each row's image starts in `kept`
        kept = kept[torch.arange(len(kept), device=kept.device) - first < max_det]
    rows = torch.cat((boxes[kept], score[kept, None], cls[kept, None].float()), 1)
    return rows, image[kept]
