"""What a stream gets from the config: its zones, lines and exclusion mask, and a configured source's own
settings; the source list a reload asks for."""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np

from roadwatch.config import Config, SourceConfig
from roadwatch.detector.filters import ExclusionMask
from roadwatch.streams import SourceSpec, stream_ids_for
from roadwatch.trackers import Line, Zone, ZoneLineMonitor

log = logging.getLogger(__name__)


def _applies(item, stream_id: str) -> bool:
    """A zone, line or mask of the config applies to every stream, or to those it names."""
    return item.streams is None or stream_id in item.streams


def zones_for(config: Config, stream_id: str) -> ZoneLineMonitor:
    return ZoneLineMonitor(
        [Zone(z.id, tuple(z.polygon)) for z in config.zones if _applies(z, stream_id)],
        [Line(x.id, x.start, x.end) for x in config.lines if _applies(x, stream_id)],
        config.tracker.zone_min_frames,
    )


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
