"""Detection, on a GPU in its own thread one batch ahead of tracking.

The pipeline thread tracks, publishes and writes (Python, holding the GIL) while this thread waits on the
GPU (which needs no GIL while it computes). With the two overlapped, a batch costs max(detect, track)
rather than their sum. The queue between them holds two batches, so frames never
pile up here: when tracking is the slower side, the worker waits and the ring buffers do the dropping
(live) or the waiting (files), as before.
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass, field

import supervision as sv

from roadwatch.detector import Batcher
from roadwatch.detector.region_detect import RegionPass, detect_planned
from roadwatch.detector.yolo import YoloDetector
from roadwatch.pipeline.detect_plan import DetectPlanner
from roadwatch.streams import Frame

END = "end"  # stop was set: the worker takes no more batches
_NOTHING = sv.Detections.empty()  # a frame that went through no detector


@dataclass
class DetectedBatch:
    """Frames with their detections, and the streams that had ended by the time the batch was taken:
    none of their frames is left outside this batch or an earlier one, so they can be finished after it."""

    frames: list[Frame]
    detections: list[sv.Detections]
    ended: list[str] = field(default_factory=list)
    detected: list[bool] = field(default_factory=list)  # per frame: went through the network (else: predicted)
    cost: RegionPass = field(default_factory=RegionPass)  # images through the network: whole frames, regions
    collect_s: float = 0.0  # spent waiting for frames to fill it (the batcher): high when decoding is the bottleneck
    detect_s: float = 0.0
    # CPU time the detecting thread itself used for it (torch's own CPU worker threads not counted): on a GPU,
    # `detect_s` minus this is that thread waiting, for the device or for the GIL
    detect_cpu_s: float = 0.0


class DetectionWorker:
    """Batcher -> detector, either in its own thread one batch ahead (`threaded`) or inline in the caller's
    thread, behind the same `get`.

    Threaded pays on a GPU, where the forward pass leaves the CPU free for tracking. On a CPU the forward
    already uses every core, and running it beside the tracking thread measured slower (the two contend
    for the cores and the GIL: 33 -> 29 frames/s end to end on 2 cores), so there it runs inline.
    """

    def __init__(
        self,
        batcher: Batcher[Frame],
        detector: YoloDetector,
        planner: DetectPlanner,
        overlap: bool | None = None,
        depth: int = 2,
    ) -> None:
        self.batcher = batcher
        self.detector = detector
        self.planner = planner
        self.threaded = detector.device.startswith("cuda") if overlap is None else overlap  # see the class doc
        self.stop = threading.Event()
        self._out: queue.Queue[DetectedBatch | str | BaseException] = queue.Queue(maxsize=depth)
        self._thread = threading.Thread(target=self._run, name="detect", daemon=True) if self.threaded else None

    def start(self) -> None:
        if self._thread is not None:
            self._thread.start()

    def close(self, timeout: float = 10.0) -> None:
        """Stop taking batches; waits for a forward pass in progress to end."""
        self.stop.set()
        if self._thread is not None and self._thread.is_alive():
            self._thread.join(timeout)

    def get(self, timeout: float) -> DetectedBatch | str | None:
        """The next batch (empty after `timeout` without frames, or at once when every buffer is exhausted),
        END once stopped, or None if a threaded worker had nothing within `timeout`; re-raises the worker
        thread's error."""
        if self._thread is None:
            return self._step(idle_s=timeout)
        try:
            item = self._out.get(timeout=timeout)
        except queue.Empty:
            return None
        if isinstance(item, BaseException):
            raise item
        return item

    def _step(self, idle_s: float) -> DetectedBatch | str:
        t0 = time.perf_counter()
        frames = self.batcher.next_batch(self.stop, idle_s=idle_s)
        if frames is None:
            if self.stop.is_set():
                return END
            frames = []  # every buffer exhausted: the pipeline's roster of sources decides whether the run is over
        ended = self.batcher.exhausted_keys()  # after the poll: their last frames are in hand
        t1, cpu = time.perf_counter(), time.thread_time()
        plans = [self.planner.plan(frame) for frame in frames]
        todo = [i for i, plan in enumerate(plans) if plan.detect]
        detections = [_NOTHING] * len(frames)
        cost = RegionPass()
        if todo:
            found, cost = detect_planned(
                self.detector, [frames[i].image for i in todo], [plans[i].regions for i in todo],
                [self.planner.mask_of(frames[i].stream_id) for i in todo],
            )
            for i, dets in zip(todo, found):
                detections[i] = dets
        return DetectedBatch(frames, detections, ended, [plan.detect for plan in plans], cost, t1 - t0,
                             time.perf_counter() - t1, time.thread_time() - cpu)

    def _run(self) -> None:
        try:
            while not self.stop.is_set():
                item = self._step(idle_s=0.1)
                self._put(item)
                if item == END:
                    return
            self._put(END)
        except BaseException as exc:  # handed to the pipeline thread, which raises it there
            self._put(exc)

    def _put(self, item) -> None:
        while True:
            try:
                self._out.put(item, timeout=0.1)
                return
            except queue.Full:
                if self.stop.is_set():
                    return
