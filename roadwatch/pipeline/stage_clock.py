"""Where the pipeline's time goes, stage by stage: for `roadwatch bench` and profiling, not for the run."""

from __future__ import annotations

import time

from roadwatch.pipeline.detect_worker import DetectedBatch


class StageClock:
    """Seconds per stage of the loop (wait, collect, detect, track_and_publish, plates, housekeeping), and how
    full the detector's batches were."""

    def __init__(self) -> None:
        self.stage_s: dict[str, float] = {}
        self.batches = 0  # batches detected, and the frames in them
        self.batched_frames = 0
        self.detect_cpu_s = 0.0  # of `detect`, the CPU time of the thread that ran it (DetectedBatch.detect_cpu_s)
        self.whole_frames = 0  # images through the network: whole frames, regions, frames detected again whole
        self.regions = 0
        self.redone = 0

    def lap(self, stage: str, since: float) -> float:
        """Add the time since `since` to `stage`; returns now, the start of the next stage."""
        now = time.perf_counter()
        self.stage_s[stage] = self.stage_s.get(stage, 0.0) + now - since
        return now

    def count_batch(self, item: DetectedBatch, threaded: bool) -> None:
        """The detection side's share of a batch: `collect` (waiting for frames) and `detect`, timed where
        detection runs; threaded, they overlap this thread's stages, inline they are part of its wait."""
        for stage, seconds in (("collect", item.collect_s), ("detect", item.detect_s)):
            self.stage_s[stage] = self.stage_s.get(stage, 0.0) + seconds
            if not threaded:
                self.stage_s["wait"] -= seconds
        self.detect_cpu_s += item.detect_cpu_s
        self.whole_frames += item.cost.frames
        self.regions += item.cost.regions
        self.redone += item.cost.redone
        if item.frames:
            self.batches += 1
            self.batched_frames += len(item.frames)
