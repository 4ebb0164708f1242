"""Tracking: Kalman-filter multi-object tracking per stream, with a confirmed/ended lifecycle.

Knows nothing of streams or detectors; it takes boxes, scores, classes and categories as arrays.
"""

from .camera_motion import CameraMotionEstimator
from .ground import GroundPlane, GroundPlaneError
from .ground_motion import GroundMotion
from .kalman import KalmanBoxFilter, KalmanParams, cxcywh_to_xyxy, xyxy_to_cxcywh
from .road_rules import (
    DwellRule,
    OccupancyReport,
    OccupancyRule,
    RoadRules,
    Rule,
    RuleEvent,
    SpeedingRule,
    TrackFrame,
    WrongWayRule,
)
from .tracker import MultiStreamTracker, TrackArrays, Tracker, TrackerConfig, TrackerStep, TrackView, predict_xyxy
from .zones import Line, LineEvent, Zone, ZoneEvent, ZoneLineMonitor

__all__ = [
    "CameraMotionEstimator", "DwellRule", "GroundMotion", "GroundPlane", "GroundPlaneError", "KalmanBoxFilter",
    "KalmanParams", "Line", "LineEvent", "MultiStreamTracker", "OccupancyReport", "OccupancyRule", "RoadRules",
    "Rule", "RuleEvent", "SpeedingRule", "TrackArrays", "TrackFrame", "TrackView", "Tracker", "TrackerConfig",
    "TrackerStep", "WrongWayRule", "Zone", "ZoneEvent", "ZoneLineMonitor", "cxcywh_to_xyxy", "predict_xyxy",
    "xyxy_to_cxcywh",
]
