"""The tracker's settings and the geometry tracks are checked against (zones, lines) or never detected in (masks)."""

from __future__ import annotations

from pydantic import Field, StrictBool, StrictInt

from roadwatch.config.base import MAX_WAIT_S, Fraction, Point, Section
from roadwatch.trackers import TrackerConfig

_T = TrackerConfig()  # the tracker's own defaults, so the two never drift apart


class TrackerSettings(Section):
    min_hits: StrictInt = Field(_T.min_hits, ge=1,
        description="Matches in a row before a track is confirmed (and started)")
    max_age_s: float = Field(_T.max_age_s, gt=0, le=MAX_WAIT_S,
        description="Seconds a confirmed track may go unseen before it ends")
    iou_threshold: Fraction = Field(
        _T.iou_threshold, description="Least IoU between prediction and confident detection"
    )
    high_confidence: Fraction = Field(_T.high_confidence, description="Detections this confident are matched first")
    low_confidence: Fraction = Field(
        _T.low_confidence, description="Weaker detections are ignored; between the two, they only continue tracks"
    )
    low_iou_threshold: Fraction = Field(
        _T.low_iou_threshold, description="Least IoU for a weak detection to continue a track"
    )
    new_track_confidence: Fraction = Field(
        _T.new_track_confidence, description="Least confidence for a detection to start a track"
    )
    update_interval_s: float = Field(1.0, ge=0, le=MAX_WAIT_S, description="track.updated at most this often per track")
    zone_min_frames: StrictInt = Field(
        3, ge=1, description="Frames a track must hold a new zone state or line side before it counts"
    )
    prediction_horizon_s: float = Field(1.0, ge=0, le=60, description="How far ahead events' predicted_bbox looks")
    camera_motion: StrictBool = Field(False, description="Compensate camera motion (moving cameras, dashcams)")

    def tracker_config(self) -> TrackerConfig:
        return TrackerConfig(
            min_hits=self.min_hits,
            max_age_s=self.max_age_s,
            iou_threshold=self.iou_threshold,
            high_confidence=self.high_confidence,
            low_confidence=self.low_confidence,
            low_iou_threshold=self.low_iou_threshold,
            new_track_confidence=self.new_track_confidence,
        )



class ZoneConfig(Section):
    id: str = Field(description="Zone id carried by zone events")
    polygon: list[Point] = Field(min_length=3, description="Corners in pixels, in order")
    streams: list[str] | None = Field(None, description="Stream ids it applies to; all streams if unset")
    direction: list[Point] | None = Field(
        None, min_length=2, max_length=2, description="A lane's direction of travel: two points in pixels, from "
        "where traffic comes to where it goes (wrong_way rules, heading relative to the lane)")


class LineConfig(Section):
    id: str = Field(description="Line id carried by line.crossed events")
    start: Point
    end: Point
    streams: list[str] | None = Field(None, description="Stream ids it applies to; all streams if unset")
    zone: str | None = Field(None, description="Count only tracks inside this zone when they cross (a lane)")


class MaskConfig(Section):
    id: str = Field(description="Name of the excluded region (for the reader of the config)")
    polygon: list[Point] = Field(
        min_length=3, description="Corners in pixels, in order; detections centred inside are dropped"
    )
    streams: list[str] | None = Field(None, description="Stream ids it applies to; all streams if unset")
