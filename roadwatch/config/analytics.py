"""Road analytics in real units: each camera's ground-plane calibration, and the road rules checked on its tracks."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, StrictInt, model_validator

from roadwatch.config.base import MAX_WAIT_S, Point, Section
from roadwatch.trackers import (
    DwellRule,
    GroundPlane,
    GroundPlaneError,
    OccupancyRule,
    Rule,
    SpeedingRule,
    WrongWayRule,
)

MAX_GROUND_EXTENT_M = 2000.0  # calibration points further apart than this are not metres (centimetres? feet?)


class CalibrationConfig(Section):
    """Four or more points of the road: where each is in the picture (pixels) and on the road (metres, any
    origin, x across and y along the road, say). Check it with `roadwatch calibrate`."""

    streams: list[str] | None = Field(None, description="Stream ids it applies to; all streams if unset")
    image: list[Point] = Field(min_length=4, description="The points in the picture, pixels")
    ground: list[Point] = Field(min_length=4, description="The same points on the road, metres, in the same order")

    @model_validator(mode="after")
    def _a_plane_in_metres(self) -> CalibrationConfig:
        xs = [p[0] for p in self.ground]
        ys = [p[1] for p in self.ground]
        extent = max(max(xs) - min(xs), max(ys) - min(ys))
        if extent > MAX_GROUND_EXTENT_M:
            raise ValueError(f"ground points span {extent:g}: give metres (at most {MAX_GROUND_EXTENT_M:g} apart)")
        if extent < 1.0:
            raise ValueError(f"ground points span {extent:g}: give metres (at least 1 apart)")
        try:
            self.plane()
        except GroundPlaneError as exc:
            raise ValueError(str(exc)) from None
        return self

    def plane(self) -> GroundPlane:
        return GroundPlane.fit(self.image, self.ground)


class RuleConfig(Section):
    """One rule. `speeding`: over `limit_kmh` for `frames` frames (a calibrated camera; in `zone` if given);
    `wrong_way`: against `zone`'s direction for `frames` frames; `dwell`: inside `zone` for `seconds`;
    `occupancy`: a report of what `zone` holds every `seconds` (tracks per category, the queue along its lane)."""

    id: str = Field(min_length=1, description="Rule id carried by its events")
    type: Literal["speeding", "wrong_way", "dwell", "occupancy"]
    streams: list[str] | None = Field(None, description="Stream ids it applies to; all streams if unset")
    zone: str | None = Field(None, description="Zone it applies in (wrong_way and dwell need one)")
    limit_kmh: float | None = Field(None, gt=0, le=400, description="speeding: the limit, km/h")
    frames: StrictInt = Field(5, ge=1, le=1000, description="speeding, wrong_way: frames in a row before it fires")
    seconds: float | None = Field(None, gt=0, le=MAX_WAIT_S,
                                  description="dwell: longest stay in the zone; occupancy: a report this often")
    queue_kmh: float = Field(5.0, ge=0, le=100, description="occupancy: tracks slower than this are queued")
    min_angle_deg: float = Field(120.0, ge=90, le=180,
                                 description="wrong_way: heading at least this far from the lane's direction")
    min_speed: float = Field(5.0, ge=0, description="wrong_way: slower counts as standing (km/h calibrated, "
                             "else pixels/s)")

    @model_validator(mode="after")
    def _fields_of_its_type(self) -> RuleConfig:
        needs = {"speeding": ["limit_kmh"], "wrong_way": ["zone"], "dwell": ["zone", "seconds"],
                 "occupancy": ["zone", "seconds"]}[self.type]
        missing = [name for name in needs if getattr(self, name) is None]
        if missing:
            raise ValueError(f"a {self.type} rule needs {' and '.join(missing)}")
        if self.type != "speeding" and self.limit_kmh is not None:
            raise ValueError("limit_kmh is for speeding rules")
        if self.type not in ("dwell", "occupancy") and self.seconds is not None:
            raise ValueError("seconds is for dwell and occupancy rules")
        return self

    def rule(self) -> Rule:
        if self.type == "speeding":
            return SpeedingRule(self.id, self.limit_kmh, self.frames, self.zone)
        if self.type == "wrong_way":
            return WrongWayRule(self.id, self.zone, self.frames, self.min_angle_deg, self.min_speed)
        if self.type == "occupancy":
            return OccupancyRule(self.id, self.zone, self.seconds, self.queue_kmh)
        return DwellRule(self.id, self.zone, self.seconds)
