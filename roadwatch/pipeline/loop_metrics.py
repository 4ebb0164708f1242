"""Distributions the loop measures as it goes, as Prometheus histograms (GET /metrics serves them).

A registry of the pipeline's own, not prometheus_client's global one: two pipelines in one process (the
tests, `roadwatch capacity`) must not share or clash over metric names. Counts (frames, events, tracks) are
not kept here: /metrics reads them from the status board, which copies them from the run's own records, so
they always equal summary.json.
"""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Histogram

from roadwatch.pipeline.detect_worker import DetectedBatch
from roadwatch.streams import Frame


class LoopMetrics:
    def __init__(self) -> None:
        self.last_batch_at: float | None = None  # time.time() the loop last finished tracking a batch's frames
        self.registry = CollectorRegistry()
        self.batch_frames = Histogram(
            "roadwatch_batch_frames", "Frames per batch taken by the detector (detected or tracked only)",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128), registry=self.registry)
        self.detect_seconds = Histogram(
            "roadwatch_detect_seconds", "Seconds the detector took per batch (forward passes, NMS, regions)",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5), registry=self.registry)
        self.latency = Histogram(
            "roadwatch_capture_to_event_seconds", "Seconds from a frame's capture to the end of its tracking and "
            "events", buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0), registry=self.registry)

    def batch(self, item: DetectedBatch) -> None:
        """A batch as it arrives from the detector."""
        if item.frames:
            self.batch_frames.observe(len(item.frames))
            self.detect_seconds.observe(item.detect_s)

    def tracked(self, frames: list[Frame]) -> None:
        """Frames whose tracking and events are done."""
        now = self.last_batch_at = time.time()
        for frame in frames:
            self.latency.observe(max(now - frame.captured_at, 0.0))
