"""Which rate and gating each source gets: the defaults by kind, and a source's own settings over them."""

from __future__ import annotations

from roadwatch.config import Config
from roadwatch.pipeline.detect_plan import StreamRate
from roadwatch.pipeline.stream_setup import configured_sources, settings_by_source
from roadwatch.streams import SourceSpec


def test_live_sources_default_to_a_gated_rate_and_files_to_every_frame():
    schedule = Config().schedule
    assert StreamRate.of(schedule, live=True) == StreamRate(5.0, True)
    assert StreamRate.of(schedule, live=False) == StreamRate(None, False)
    assert StreamRate(5.0, False).scheduled and StreamRate(None, True).scheduled
    assert not StreamRate(None, False).scheduled


def test_a_sources_own_settings_win_and_find_it_by_uri_and_id():
    config = Config.model_validate({"sources": [
        {"uri": "rtsp://cam/a", "id": "door", "detect_fps": 2},
        {"uri": "file:///videos/b.mp4", "id": "b", "motion": True},
        {"uri": "rtsp://cam/c", "id": "gate", "every_frame": True, "detect_fps": 3},
    ]})
    found = settings_by_source(configured_sources(config.sources))
    door = SourceSpec.from_uri("rtsp://cam/a", "door")
    clip = SourceSpec.from_uri("file:///videos/b.mp4", "b")
    gate = SourceSpec.from_uri("rtsp://cam/c", "gate")
    assert StreamRate.of(config.schedule, door.live, found[(door.uri, "door")]) == StreamRate(2.0, True)
    assert StreamRate.of(config.schedule, clip.live, found[(clip.uri, "b")]) == StreamRate(None, True)
    assert StreamRate.of(config.schedule, gate.live, found[(gate.uri, "gate")]) == StreamRate(None, True)
    assert (door.uri, "other") not in found  # another id for the same address is another source
