"""Detection: batches frames and runs the YOLO model, mapping classes to roadwatch categories.

Knows nothing of streams or trackers; `roadwatch` wires it to them.
"""

from detector.batcher import Batcher
from detector.categories import DEFAULT_CATEGORIES, CategoryMap
from detector.filters import DetectionFilter, ExclusionMask
from detector.yolo import ModelError, YoloDetector, load_yolo, resolve_device

__all__ = [
    "Batcher",
    "CategoryMap",
    "DEFAULT_CATEGORIES",
    "DetectionFilter",
    "ExclusionMask",
    "ModelError",
    "YoloDetector",
    "load_yolo",
    "resolve_device",
]
