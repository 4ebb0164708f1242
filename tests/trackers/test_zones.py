"""Zone and line events: debounced, directional, never double-counted under flicker."""

import numpy as np

from roadwatch.trackers.zones import Line, LineEvent, Zone, ZoneEvent, ZoneLineMonitor

SQUARE = Zone("square", ((100, 100), (200, 100), (200, 200), (100, 200)))
ROAD_LINE = Line("stop_line", (0, 150), (400, 150))  # drawn left to right: "in" means moving down


def box_at(x, bottom, w=20, h=40):
    """A box whose anchor (bottom centre) is at (x, bottom)."""
    return [x - w / 2, bottom - h, x + w / 2, bottom]


def feed(monitor, path, track_id=1):
    zone_events, line_events = [], []
    for x, y in path:
        z, l = monitor.update(np.array([track_id]), np.array([box_at(x, y)]))
        zone_events += z
        line_events += l
    return zone_events, line_events


def test_entering_and_leaving_a_zone_each_count_once_after_debounce():
    monitor = ZoneLineMonitor(zones=[SQUARE], min_frames=3)
    outside, inside = (50, 150), (150, 150)
    z, _ = feed(monitor, [outside] * 4 + [inside] * 2)
    assert z == []  # two frames inside are not enough
    z, _ = feed(monitor, [inside] * 5)
    assert z == [ZoneEvent(1, "square", True)]
    z, _ = feed(monitor, [outside, inside, outside, inside] + [outside] * 3)
    assert z == [ZoneEvent(1, "square", False)]
    assert monitor.zones_of(1) == []


def test_a_track_first_seen_inside_enters_and_exits_when_it_ends():
    monitor = ZoneLineMonitor(zones=[SQUARE], min_frames=2)
    z, _ = feed(monitor, [(150, 150)] * 2, track_id=7)
    assert z == [ZoneEvent(7, "square", True)]
    assert monitor.forget(7) == [ZoneEvent(7, "square", False)]
    assert monitor.forget(7) == []


def test_a_box_flickering_across_a_line_counts_once():
    monitor = ZoneLineMonitor(lines=[ROAD_LINE], min_frames=3)
    above, below = (200, 140), (200, 160)
    flicker = [above, below] * 6
    _, l = feed(monitor, [above] * 3 + flicker + [below] * 3 + [below, above, below] * 4)
    assert l == [LineEvent(1, "stop_line", "in")]


def test_flicker_that_settles_back_on_the_same_side_counts_nothing():
    monitor = ZoneLineMonitor(lines=[ROAD_LINE], min_frames=3)
    above, below = (200, 140), (200, 160)
    _, l = feed(monitor, [above] * 3 + [below, below, above] * 5 + [above] * 3)
    assert l == []


def test_direction_and_segment_extent():
    monitor = ZoneLineMonitor(lines=[ROAD_LINE], min_frames=2)
    _, l = feed(monitor, [(200, 100 + 10 * k) for k in range(10)], track_id=1)  # moving down
    assert l == [LineEvent(1, "stop_line", "in")]
    _, l = feed(monitor, [(200, 200 - 10 * k) for k in range(10)], track_id=2)  # moving up
    assert l == [LineEvent(2, "stop_line", "out")]
    _, l = feed(monitor, [(600, 100 + 10 * k) for k in range(10)], track_id=3)  # beyond the line's end
    assert l == []


def test_several_tracks_and_zones_at_once():
    other = Zone("other", ((300, 0), (400, 0), (400, 100), (300, 100)))
    monitor = ZoneLineMonitor(zones=[SQUARE, other], min_frames=1)
    z, _ = monitor.update(np.array([1, 2, 3]), np.array([box_at(150, 150), box_at(350, 50), box_at(0, 0)]))
    assert sorted((e.track_id, e.zone_id) for e in z) == [(1, "square"), (2, "other")]
