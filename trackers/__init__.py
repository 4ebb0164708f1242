"""Tracking: Kalman-filter multi-object tracking per stream, with a confirmed/ended lifecycle.

Knows nothing of streams or detectors; it takes boxes, scores, classes and categories as arrays.
"""

from .camera_motion import CameraMotionEstimator
from .kalman import KalmanBoxFilter, KalmanParams, cxcywh_to_xyxy, xyxy_to_cxcywh
from .tracker import MultiStreamTracker, TrackArrays, Tracker, TrackerConfig, TrackerStep, TrackView, predict_xyxy
from .zones import Line, LineEvent, Zone, ZoneEvent, ZoneLineMonitor

__all__ = [
    "CameraMotionEstimator", "KalmanBoxFilter", "KalmanParams", "TrackArrays", "Line", "LineEvent",
    "MultiStreamTracker", "Tracker", "TrackerConfig", "TrackerStep", "TrackView", "Zone", "ZoneEvent",
    "ZoneLineMonitor", "cxcywh_to_xyxy", "predict_xyxy", "xyxy_to_cxcywh",
]
