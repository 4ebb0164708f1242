"""Road rules on confirmed tracks, per stream: speeding, driving against a lane's direction, staying in a zone
too long; and periodic reports of what a zone holds (tracks per category, the queue along its lane). Each
per-track rule fires once per track and rule (a car that keeps speeding is one event, not one a frame), after
the condition has held for `frames` consecutive frames (a noisy speed for one frame is not an offence).

Speeds come in km/h (a calibrated camera, ground_motion.py); directions are compared on the ground when the
camera is calibrated and in the image otherwise (the sign of travel along a lane survives perspective).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class SpeedingRule:
    rule_id: str
    limit_kmh: float
    frames: int = 5
    zone_id: str | None = None  # only inside this zone; anywhere if None


@dataclass(frozen=True)
class WrongWayRule:
    rule_id: str
    zone_id: str  # a zone with a lane direction
    frames: int = 5
    min_angle_deg: float = 120.0  # heading this far or more from the lane's direction is against it
    min_speed: float = 5.0  # km/h on a calibrated camera, else pixels/s: a car standing still goes no way


@dataclass(frozen=True)
class DwellRule:
    rule_id: str
    zone_id: str
    seconds: float


@dataclass(frozen=True)
class OccupancyRule:
    rule_id: str
    zone_id: str
    seconds: float  # a report this often
    queue_kmh: float = 5.0  # tracks slower than this in the zone are queued (a calibrated camera)


Rule = SpeedingRule | WrongWayRule | DwellRule | OccupancyRule


@dataclass(frozen=True)
class OccupancyReport:
    rule_id: str
    zone_id: str
    counts: dict[int, int]  # category id -> tracks in the zone
    queued: int  # of them, slower than the rule's queue_kmh (0 on an uncalibrated camera: no speeds)
    queue_m: float | None  # along the lane, from the zone's downstream end to the furthest queued track


def queue_length(lane: np.ndarray, zone: np.ndarray, queued_at: np.ndarray) -> float:
    """Metres along `lane` (a ground direction) from the zone's downstream end (its polygon's furthest point that
    way) back to the furthest-upstream of the queued tracks' ground points; 0 with none queued."""
    if not len(queued_at):
        return 0.0
    way = lane / np.linalg.norm(lane)
    return float(max(0.0, (zone @ way).max() - (queued_at @ way).min()))


@dataclass(frozen=True)
class RuleEvent:
    track_id: int
    rule_id: str
    kind: str  # "speeding", "wrong_way", "dwell"
    fields: dict = field(default_factory=dict)


def angle_to(vectors: np.ndarray, direction: np.ndarray) -> np.ndarray:
    """(N,) degrees between each vector and `direction`, 0 to 180; NaN for a zero vector."""
    norms = np.linalg.norm(vectors, axis=1) * np.linalg.norm(direction)
    with np.errstate(invalid="ignore", divide="ignore"):
        cos = (vectors @ direction) / norms
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


@dataclass
class TrackFrame:
    """What the rules need of one frame's visible tracks."""

    t: float
    track_ids: np.ndarray  # (N,)
    speed: np.ndarray  # (N,) km/h when calibrated, else pixels/s
    velocity: np.ndarray  # (N, 2) ground m/s when calibrated, else image px/s
    zones: list[list[str]]  # the zones each track is in
    calibrated: bool
    categories: np.ndarray | None = None  # (N,) category ids (occupancy reports)
    positions: np.ndarray | None = None  # (N, 2) ground metres, NaN where unknown (queue lengths)


class RoadRules:
    def __init__(self, rules: list[Rule], lanes: dict[str, np.ndarray],
                 ground_zones: dict[str, np.ndarray] | None = None) -> None:
        """`lanes`: zone id -> its direction of travel, in the same space as the velocities given;
        `ground_zones`: zone id -> its polygon on the ground (a calibrated camera: queue lengths)."""
        self.rules = [r for r in rules if not isinstance(r, OccupancyRule)]
        self.occupancy = [r for r in rules if isinstance(r, OccupancyRule)]
        self.lanes = {zone: np.asarray(d, dtype=np.float64) for zone, d in lanes.items()}
        self.ground_zones = {zone: np.asarray(p, dtype=np.float64) for zone, p in (ground_zones or {}).items()}
        self._reported: dict[str, float] = {}  # occupancy rule -> media time of its last report
        self._streak: dict[tuple[int, str], int] = {}
        self._fired: set[tuple[int, str]] = set()
        self._entered: dict[tuple[int, str], float] = {}  # (track, zone) -> media time it entered

    def entered(self, track_id: int, zone_id: str, t: float) -> None:
        self._entered[(track_id, zone_id)] = t

    def exited(self, track_id: int, zone_id: str) -> None:
        self._entered.pop((track_id, zone_id), None)

    def lane_heading(self, velocity: np.ndarray, zones: list[list[str]]) -> list[float | None]:
        """Degrees between each track's heading and the lane it is in (0: with the traffic, 180: against);
        None outside every lane or standing still."""
        out: list[float | None] = []
        for v, inside in zip(velocity, zones):
            lane = next((self.lanes[z] for z in inside if z in self.lanes), None)
            angle = float(angle_to(v[None], lane)[0]) if lane is not None else math.nan
            out.append(None if math.isnan(angle) else round(angle, 1))
        return out

    def update(self, frame: TrackFrame) -> list[RuleEvent]:
        events: list[RuleEvent] = []
        for k, track_id in enumerate(frame.track_ids.tolist()):
            for rule in self.rules:
                key = (track_id, rule.rule_id)
                if key in self._fired:
                    continue
                held, fields = self._holds(rule, frame, k, track_id)
                if isinstance(rule, DwellRule):  # a time, not a streak of frames
                    if held:
                        self._fired.add(key)
                        events.append(RuleEvent(track_id, rule.rule_id, "dwell", fields))
                    continue
                streak = self._streak.get(key, 0) + 1 if held else 0
                self._streak[key] = streak
                if streak >= rule.frames:
                    self._fired.add(key)
                    kind = "speeding" if isinstance(rule, SpeedingRule) else "wrong_way"
                    events.append(RuleEvent(track_id, rule.rule_id, kind, fields))
        return events

    def reports(self, frame: TrackFrame) -> list[OccupancyReport]:
        """The occupancy reports due at this frame: the first at a stream's first frame, then every `seconds`."""
        out = []
        for rule in self.occupancy:
            last = self._reported.get(rule.rule_id)
            if last is not None and frame.t - last < rule.seconds:
                continue
            self._reported[rule.rule_id] = frame.t
            inside = np.array([rule.zone_id in zones for zones in frame.zones], dtype=bool).reshape(-1)
            categories = frame.categories if frame.categories is not None else np.zeros(len(inside), dtype=np.int64)
            counts = {int(c): int(n) for c, n in zip(*np.unique(categories[inside], return_counts=True))}
            queued = inside & (frame.speed < rule.queue_kmh) if frame.calibrated else np.zeros_like(inside)
            queue_m = None
            lane, zone = self.lanes.get(rule.zone_id), self.ground_zones.get(rule.zone_id)
            if frame.calibrated and lane is not None and zone is not None and frame.positions is not None:
                at = frame.positions[queued]
                queue_m = round(queue_length(lane, zone, at[np.isfinite(at).all(axis=1)]), 1)
            out.append(OccupancyReport(rule.rule_id, rule.zone_id, counts, int(queued.sum()), queue_m))
        return out

    def forget(self, track_id: int) -> None:
        for table in (self._streak, self._entered):
            for key in [key for key in table if key[0] == track_id]:
                del table[key]
        self._fired = {key for key in self._fired if key[0] != track_id}

    def _holds(self, rule: Rule, frame: TrackFrame, k: int, track_id: int) -> tuple[bool, dict]:
        inside = frame.zones[k]
        if isinstance(rule, SpeedingRule):
            speed = frame.speed[k]
            ok = frame.calibrated and (rule.zone_id is None or rule.zone_id in inside) and speed > rule.limit_kmh
            return bool(ok), {"speed_kmh": round(float(speed), 1), "limit_kmh": rule.limit_kmh}
        if isinstance(rule, WrongWayRule):
            if rule.zone_id not in inside or not frame.speed[k] >= rule.min_speed:
                return False, {}
            angle = float(angle_to(frame.velocity[k][None], self.lanes[rule.zone_id])[0])
            return angle >= rule.min_angle_deg, {"zone_id": rule.zone_id, "lane_heading_deg": round(angle, 1)}
        since = self._entered.get((track_id, rule.zone_id))
        if since is None or frame.t - since < rule.seconds:
            return False, {}
        return True, {"zone_id": rule.zone_id, "dwell_s": round(frame.t - since, 3), "limit_s": rule.seconds}
