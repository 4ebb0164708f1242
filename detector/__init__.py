"""Detection: batches frames and runs the YOLO model, mapping classes to roadwatch categories.

Knows nothing of streams or trackers; `roadwatch` wires them. The package itself imports only its light
parts, so that reading a config or reporting a bad source does not wait seconds for torch and Ultralytics:
the detector is `detector.yolo.YoloDetector` (with `load_yolo`, `resolve_device`), the filters are in
`detector.filters`.
"""

from .batcher import Batcher
from .categories import DEFAULT_CATEGORIES, CategoryMap
from .errors import ModelError

__all__ = ["Batcher", "CategoryMap", "DEFAULT_CATEGORIES", "ModelError"]
