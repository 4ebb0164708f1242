"""What a stream gets from the config: its zones, lines and exclusion mask, its ground plane and road rules,
and a configured source's own settings; the source list a reload asks for."""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np

from roadwatch.config import Config, SourceConfig
from roadwatch.detector.filters import ExclusionMask
from roadwatch.streams import SourceSpec, stream_ids_for
from roadwatch.trackers import GroundMotion, GroundPlane, Line, RoadRules, Zone, ZoneLineMonitor

log = logging.getLogger(__name__)


def _applies(item, stream_id: str) -> bool:
    """A zone, line or mask of the config applies to every stream, or to those it names."""
    return item.streams is None or stream_id in item.streams


def zones_for(config: Config, stream_id: str) -> ZoneLineMonitor:
    return ZoneLineMonitor(
        [Zone(z.id, tuple(z.polygon)) for z in config.zones if _applies(z, stream_id)],
        [Line(x.id, x.start, x.end, x.zone) for x in config.lines if _applies(x, stream_id)],
        config.tracker.zone_min_frames,
    )


def road_analytics(config: Config, stream_id: str) -> dict:
    """The stream's ground motion (a calibrated camera) and road rules, as StreamState fields (`ground`, `rules`);
    none for a stream with neither. A lane's direction is taken on the ground where the camera is calibrated."""
    calibration = next((c for c in config.calibration if _applies(c, stream_id)), None)
    plane = calibration.plane() if calibration is not None else None
    rules = [r for r in config.rules if _applies(r, stream_id)]
    for r in rules:
        if r.type == "speeding" and plane is None:
            log.warning("rule '%s' (speeding) will not fire on stream '%s': it has no calibration", r.id, stream_id)
    lanes = {z.id: lane_direction(z.direction, plane) for z in config.zones if z.direction and _applies(z, stream_id)}
    ground_zones = {}
    if plane is not None:
        ground_zones = {z.id: plane.to_ground(np.array(z.polygon, dtype=np.float64)) for z in config.zones
                        if _applies(z, stream_id)}
    fields: dict = {}
    if plane is not None:
        fields["ground"] = GroundMotion(plane)
    if rules or lanes:
        fields["rules"] = RoadRules([r.rule() for r in rules], lanes, ground_zones)
    return fields


def lane_direction(points, plane: GroundPlane | None) -> np.ndarray:
    """A lane's direction of travel from its two image points: on the ground (metres) if calibrated, else pixels."""
    image = np.asarray(points, dtype=np.float64).reshape(2, 2)
    if plane is not None:
        ground = plane.to_ground(image)
        if np.isfinite(ground).all():
            return ground[1] - ground[0]
    return image[1] - image[0]


def configured_sources(sources: list[SourceConfig]) -> list[tuple[SourceSpec, SourceConfig]]:
    """A config's `sources` as specs, with the ids the list gives them, each beside its own settings
    (detect_fps, every_frame, motion)."""
    ids = stream_ids_for([s.uri for s in sources], [s.id for s in sources])
    return [(SourceSpec.from_uri(s.uri, sid), s) for s, sid in zip(sources, ids)]


def settings_by_source(sources: list[tuple[SourceSpec, SourceConfig]]) -> dict[tuple[str, str], SourceConfig]:
    """Configured sources' own settings by (uri, stream id): a stream started from that uri under that id finds
    them."""
    return {(spec.uri, spec.stream_id): settings for spec, settings in sources}


def mask_for(config: Config, stream_id: str) -> ExclusionMask | None:
    polygons = [np.array(m.polygon) for m in config.masks if _applies(m, stream_id)]
    return ExclusionMask(polygons) if polygons else None


def wanted_sources(hook: Callable[[], list[SourceConfig]] | None) -> list[tuple[SourceSpec, SourceConfig]] | None:
    """The source list a reload asks for, with each source's settings; None (logged) when there is no hook
    or it fails."""
    if hook is None:
        return None
    try:
        return configured_sources(hook())
    except Exception as exc:  # a bad edit must not stop the sources that are running
        log.error("reload ignored: %s", exc)
        return None
