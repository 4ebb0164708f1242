"""GET /metrics: the status board's counts in Prometheus' text format, beside the loop's histograms.

Counts are read from the board's latest posting at scrape time (a custom collector, as prometheus_client
recommends for values another component already keeps), so they are the very numbers summary.json holds:
the run's summary for event, track, zone and line counts; each stream's own report for frames, drops and
reconnects (a removed stream keeps its last numbers, from the summary).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from roadwatch.pipeline.status_board import BoardPost, StatusBoard

STREAM_COUNTERS = {  # summary entry key -> (metric name, help)
    "frames": ("roadwatch_frames_processed", "Frames tracked (detected or predicted)"),
    "detected": ("roadwatch_frames_detected", "Frames that went through the detector"),
    "dropped": ("roadwatch_frames_dropped", "Frames a live source's buffer dropped (oldest first)"),
    "reconnects": ("roadwatch_stream_reconnects", "Times a live source was reopened"),
    "frames_read": ("roadwatch_frames_read", "Frames decoded by the capture"),
}


def _stream_entries(post: BoardPost) -> dict[str, dict]:
    """Every stream of the run: the summary's entry (final numbers for removed and finished ones), overlaid with
    the live report of those running."""
    entries = {sid: dict(entry) for sid, entry in post.counts.get("streams", {}).items()}
    for sid, report in post.streams.items():
        entries.setdefault(sid, {}).update(report)
    return entries


class BoardCollector(Collector):
    def __init__(self, board: StatusBoard) -> None:
        self.board = board

    def collect(self) -> Iterator[Metric]:
        post = self.board.current()
        entries = _stream_entries(post)
        for key, (name, doc) in STREAM_COUNTERS.items():
            family = CounterMetricFamily(name, doc, labels=["stream"])
            for sid, entry in entries.items():
                if key in entry:
                    family.add_metric([sid], entry[key])
            yield family
        up = GaugeMetricFamily("roadwatch_stream_up", "1 while the stream's capture is up, else 0", labels=["stream"])
        depth = GaugeMetricFamily("roadwatch_stream_buffer_depth", "Frames waiting in the stream's ring buffer",
                                  labels=["stream"])
        fps = GaugeMetricFamily("roadwatch_stream_fps", "Frames tracked per second, over the last second",
                                labels=["stream"])
        for sid, entry in entries.items():
            up.add_metric([sid], 1.0 if entry.get("status") == "up" else 0.0)
            if sid in post.streams:
                depth.add_metric([sid], entry["buffer_depth"])
                fps.add_metric([sid], entry["fps"])
        yield from (up, depth, fps)
        yield from self._counts(post)

    @staticmethod
    def _counts(post: BoardPost) -> Iterator[Metric]:
        counts = post.counts
        events = CounterMetricFamily("roadwatch_events", "Events emitted, by type (as summary.json)", labels=["type"])
        for kind, n in counts.get("events", {}).items():
            events.add_metric([kind], n)
        tracks = CounterMetricFamily("roadwatch_tracks", "Tracks confirmed, by category", labels=["category"])
        for category, n in counts.get("tracks", {}).items():
            tracks.add_metric([category], n)
        zones = CounterMetricFamily("roadwatch_zone_events", "Zone entries and exits", labels=["zone", "kind"])
        for zone, by_kind in counts.get("zones", {}).items():
            for kind, n in by_kind.items():
                zones.add_metric([zone, kind], n)
        lines = CounterMetricFamily("roadwatch_line_crossings", "Line crossings, by direction and the track's class",
                                    labels=["line", "direction", "class"])
        for line, by_direction in counts.get("line_classes", {}).items():
            for direction, by_class in by_direction.items():
                for class_name, n in by_class.items():
                    lines.add_metric([line, direction, class_name], n)
        od = CounterMetricFamily("roadwatch_zone_flows",
                                 "Tracks by the first and the last zone they entered (counted as they end)",
                                 labels=["origin", "destination"])
        for origin, to in counts.get("od", {}).items():
            for destination, n in to.items():
                od.add_metric([origin, destination], n)
        active = GaugeMetricFamily("roadwatch_active_tracks", "Tracks active now", labels=["stream", "category"])
        for sid, stream_tracks in post.tracks.items():
            for category, n in Counter(str(e.get("category")) for e in stream_tracks).items():
                active.add_metric([sid, category], n)
        sent = CounterMetricFamily("roadwatch_events_published", "Events and heartbeats sent on ZeroMQ")
        sent.add_metric([], post.publisher.get("sent", 0))
        overflows = CounterMetricFamily("roadwatch_subscriber_overflows",
                                        "Times a ZeroMQ subscriber's queue was found full (events dropped for it)")
        overflows.add_metric([], post.publisher.get("overflows", 0))
        yield from (events, tracks, zones, lines, od, active, sent, overflows)


def metrics_text(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)
