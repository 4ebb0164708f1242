"""A frame's road analytics for one stream: each track's speed on the road (a calibrated camera), its heading
relative to the lane it is in, the road rules it broke in this frame, and the zone reports due."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from roadwatch.pipeline.stream_state import StreamState
from roadwatch.trackers import OccupancyReport, RuleEvent, TrackArrays, TrackFrame, ZoneEvent

KMH_PER_MS = 3.6
SETTLED_MS = 3.0  # a track's speed is used once its standard deviation is under this (about 11 km/h)
# a box whose bottom is this close to the frame's (share of its height) is cut by it: its bottom is not where the
# vehicle touches the road (detectors stop such boxes a few pixels short of the edge)
EDGE_SHARE = 0.015


@dataclass
class RoadStep:
    extra: dict[int, dict[str, Any]] = field(default_factory=dict)  # track id -> fields its events add
    rule_events: list[RuleEvent] = field(default_factory=list)
    reports: list[OccupancyReport] = field(default_factory=list)


def road_step(
    t: float, state: StreamState, tracks: TrackArrays, zone_events: list[ZoneEvent], frame_height: int
) -> RoadStep:
    """Per visible track, the fields its events add (`speed_kmh`, `lane_heading_deg`), and the rule events of
    this frame. The ground filter is fed only the tracks matched to a detection now (`last_seen` is `t`; a
    predicted box is no measurement) whose box is not cut by the bottom of the frame; a speed is used, in events
    and rules, once the filter is sure of it (a new track starts at rest)."""
    if state.ground is None and state.rules is None:
        return RoadStep()
    ids = tracks.track_id
    if state.ground is not None:
        measured = (tracks.last_seen == t) & (tracks.xyxy[:, 3] < frame_height * (1 - EDGE_SHARE))
        state.ground.update(t, ids[measured], tracks.xyxy[measured])
        velocity = state.ground.velocity(ids)
        speed = np.linalg.norm(velocity, axis=1) * KMH_PER_MS
        speed[~(state.ground.velocity_std(ids) < SETTLED_MS)] = np.nan  # not yet sure: no speed, no rule on it
    else:
        velocity = tracks.velocity
        speed = np.linalg.norm(velocity, axis=1)
    extra: dict[int, dict[str, Any]] = {i: {} for i in ids.tolist()}
    if state.ground is not None:
        for i, kmh in zip(ids.tolist(), speed.tolist()):
            if np.isfinite(kmh):
                extra[i]["speed_kmh"] = round(kmh, 1)
    if state.rules is None:
        return RoadStep(extra)
    for ze in zone_events:
        if ze.entered:
            state.rules.entered(ze.track_id, ze.zone_id, t)
        else:
            state.rules.exited(ze.track_id, ze.zone_id)
    zones = [state.zones.zones_of(i) for i in ids.tolist()]
    for i, heading in zip(ids.tolist(), state.rules.lane_heading(velocity, zones)):
        if heading is not None:
            extra[i]["lane_heading_deg"] = heading
    positions = state.ground.position(ids) if state.ground is not None else None
    frame = TrackFrame(t, ids, speed, velocity, zones, state.ground is not None, tracks.category, positions)
    return RoadStep(extra, state.rules.update(frame), state.rules.reports(frame))


def forget_track(state: StreamState, track_id: int) -> None:
    """A track ended: its ground filter and rule state go."""
    if state.ground is not None:
        state.ground.forget(track_id)
    if state.rules is not None:
        state.rules.forget(track_id)
