"""Road rules on tracks: each fires once per track, after its condition has held long enough."""

from __future__ import annotations

import numpy as np

from roadwatch.trackers import DwellRule, RoadRules, SpeedingRule, TrackFrame, WrongWayRule

NORTH = np.array([0.0, 1.0])  # the lane's direction on the ground


def frame(t: float, speeds: list[float], velocities: list[tuple[float, float]], zones: list[list[str]],
          ids: list[int] | None = None) -> TrackFrame:
    ids = ids or list(range(1, len(speeds) + 1))
    return TrackFrame(t, np.array(ids), np.array(speeds, dtype=float), np.array(velocities, dtype=float), zones, True)


def test_speeding_fires_once_after_its_frames_and_only_over_the_limit():
    rules = RoadRules([SpeedingRule("limit", 80.0, frames=3)], {})
    fired = []
    for f in range(10):
        fired += rules.update(frame(f / 10, [95.0, 70.0], [(0, 26), (0, 19)], [[], []]))
    assert [(e.track_id, e.kind) for e in fired] == [(1, "speeding")]
    assert fired[0].fields == {"speed_kmh": 95.0, "limit_kmh": 80.0}


def test_a_speed_over_the_limit_for_fewer_frames_than_asked_does_not_fire():
    rules = RoadRules([SpeedingRule("limit", 80.0, frames=3)], {})
    speeds = [90, 90, 70, 90, 90, 70, 90, 90]  # never three in a row
    assert not [e for f, s in enumerate(speeds) for e in rules.update(frame(f / 10, [s], [(0, 25)], [[]]))]


def test_only_the_mover_against_the_lane_is_wrong_way():
    rules = RoadRules([WrongWayRule("against", "north", frames=4)], {"north": NORTH})
    fired = []
    for f in range(12):
        fired += rules.update(frame(f / 10, [50.0, 50.0, 1.0], [(0.5, 13.0), (-0.5, -13.0), (0.0, -0.2)],
                                    [["north"], ["north"], ["north"]]))
    assert [(e.track_id, e.kind) for e in fired] == [(2, "wrong_way")]  # not the one standing still
    assert fired[0].fields["lane_heading_deg"] > 170
    assert rules.lane_heading(np.array([[0.0, 13.0], [0.0, -13.0]]), [["north"], []]) == [0.0, None]


def test_dwell_fires_at_its_time_within_one_frame():
    rules = RoadRules([DwellRule("no_stopping", "shoulder", seconds=2.0)], {})
    fps, entered_at = 25.0, 1.32
    fired_at = None
    for f in range(200):
        t = f / fps
        if abs(t - entered_at) < 1e-9:
            rules.entered(7, "shoulder", t)
        inside = [["shoulder"]] if t >= entered_at else [[]]
        events = rules.update(frame(t, [0.0], [(0, 0)], inside, ids=[7]))
        if events:
            assert fired_at is None, "dwell fired twice"
            fired_at = t
    assert fired_at is not None and 0 <= fired_at - (entered_at + 2.0) < 1 / fps + 1e-9


def test_a_track_that_leaves_the_zone_before_its_time_does_not_dwell():
    rules = RoadRules([DwellRule("loiter", "kerb", seconds=1.0)], {})
    rules.entered(3, "kerb", 0.0)
    rules.exited(3, "kerb")
    assert not rules.update(frame(5.0, [0.0], [(0, 0)], [[]], ids=[3]))


def test_occupancy_reports_every_period_with_counts_and_the_queue_behind_the_zone_end():
    from roadwatch.trackers import OccupancyRule

    # a lane 0..40 m long, traffic going +y (its downstream end at y = 40); three cars stopped at y = 38, 31, 24
    # and one moving at y = 10; a pedestrian (category 1) standing in it
    zone = np.array([[0.0, 0.0], [3.5, 0.0], [3.5, 40.0], [0.0, 40.0]])
    rules = RoadRules([OccupancyRule("q", "lane", seconds=2.0)], {"lane": NORTH}, {"lane": zone})
    positions = np.array([[1.7, 38.0], [1.7, 31.0], [1.7, 24.0], [1.7, 10.0], [3.0, 30.0]])
    reports = []
    for f in range(126):  # 5 s at 25 frames/s
        frame = TrackFrame(f / 25, np.arange(1, 6), np.array([0.5, 1.0, 2.0, 40.0, 0.0]), np.zeros((5, 2)),
                           [["lane"]] * 5, True, np.array([0, 0, 0, 0, 1]), positions)
        reports += [(f / 25, r) for r in rules.reports(frame)]
    assert [t for t, _ in reports] == [0.0, 2.0, 4.0]
    report = reports[0][1]
    assert report.counts == {0: 4, 1: 1}
    assert report.queued == 4  # the three cars and the pedestrian are slower than 5 km/h
    assert report.queue_m == 16.0  # from the lane's end at 40 m back to the last stopped one at 24 m


def test_occupancy_on_an_uncalibrated_camera_counts_but_has_no_queue():
    from roadwatch.trackers import OccupancyRule

    rules = RoadRules([OccupancyRule("q", "lane", seconds=1.0)], {"lane": np.array([0.0, -1.0])})
    frame = TrackFrame(0.0, np.array([1, 2]), np.array([0.0, 0.0]), np.zeros((2, 2)), [["lane"], []], False,
                       np.array([0, 0]), None)
    (report,) = rules.reports(frame)
    assert report.counts == {0: 1} and report.queued == 0 and report.queue_m is None
