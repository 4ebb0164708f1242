"""Tracking: Kalman-filter multi-object tracking per stream, with a confirmed/ended lifecycle.

Knows nothing of streams or detectors; it takes boxes, scores, classes and categories as arrays.
"""

from trackers.kalman import KalmanBoxFilter, KalmanParams, cxcywh_to_xyxy, xyxy_to_cxcywh
from trackers.tracker import TrackArrays, Tracker, TrackerConfig, TrackerStep, TrackView

__all__ = [
    "KalmanBoxFilter",
    "KalmanParams",
    "TrackArrays",
    "Tracker",
    "TrackerConfig",
    "TrackerStep",
    "TrackView",
    "cxcywh_to_xyxy",
    "xyxy_to_cxcywh",
]
