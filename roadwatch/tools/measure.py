"""What `roadwatch bench` samples while a run goes: host and GPU memory, GPU utilisation, and when batches
came out of the pipeline."""

from __future__ import annotations

import resource
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


def _rss_mb() -> float:
    """Resident memory now of this process and its children (capture processes), from /proc (Linux); this
    process's peak from getrusage elsewhere."""
    try:
        children = [
            pid for task in Path("/proc/self/task").iterdir() for pid in (task / "children").read_text().split()
        ]
        return sum(_vm_rss_kb(Path("/proc") / pid / "status") for pid in ["self", *children]) / 1024
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _vm_rss_kb(status: Path) -> int:
    try:
        for line in status.read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:  # a child that has just ended
        pass
    return 0


class ResourceSampler:
    """Once a second, in a thread: host memory (RSS), and with CUDA the GPU's utilisation (nvidia-smi) and
    torch's allocated GPU memory. Growth is judged after a warm-up, since decoders and buffers fill first."""

    def __init__(self, device: str, interval_s: float = 1.0) -> None:
        self.cuda = device.startswith("cuda")
        self.interval_s = interval_s
        self.rss: list[tuple[float, float]] = []
        self.gpu_mb: list[tuple[float, float]] = []
        self.utilisation: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._nvidia_smi = self.cuda

    def __enter__(self) -> ResourceSampler:
        self._t0 = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *_) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            t = time.monotonic() - self._t0
            self.rss.append((t, _rss_mb()))
            if self.cuda:
                self.gpu_mb.append((t, gpu_mb("cuda")))
            if self._nvidia_smi:
                try:
                    out = subprocess.run(
                        ["nvidia-smi", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits"],
                        capture_output=True,
                        text=True,
                        timeout=5,
                    )
                    self.utilisation.append(float(out.stdout.split()[0]))
                except (OSError, ValueError, IndexError, subprocess.SubprocessError):
                    self._nvidia_smi = False

    def mean_utilisation(self) -> float | None:
        return round(float(np.mean(self.utilisation)), 1) if self.utilisation else None

    @staticmethod
    def trend(samples: list[tuple[float, float]], warm_up_share: float = 0.2) -> dict | None:
        """After the first `warm_up_share` of the run: the value then, at the end, and the fitted slope per minute."""
        if len(samples) < 5:
            return None
        t, v = np.array(samples).T
        keep = t >= t[-1] * warm_up_share
        slope = np.polyfit(t[keep], v[keep], 1)[0] * 60 if keep.sum() >= 3 else 0.0
        return {
            "after_warm_up": round(float(v[keep][0]), 1),
            "end": round(float(v[-1]), 1),
            "max": round(float(v.max()), 1),
            "growth_per_min": round(float(slope), 2),
        }


@dataclass
class BatchClock:
    """When batches came out of the pipeline (its `on_batch`), so a file run's steady rate can be told from its
    start-up (opening every source, decoding the first frames) and shut-down, which weigh on runs of a few
    seconds (32 streams of the 268-frame clip at 2,500 frames/s take 3.4 s)."""

    started: float = field(default_factory=time.perf_counter)
    first: float | None = None
    last: float | None = None
    frames_after_first: int = 0

    def __call__(self, counts: dict[str, int]) -> None:
        now = time.perf_counter()
        if self.first is None:
            self.first = now
        else:
            self.frames_after_first += sum(counts.values())
        self.last = now

    def startup_s(self) -> float | None:
        return None if self.first is None else round(self.first - self.started, 3)

    def steady_fps(self) -> float | None:
        """Frames/s from the end of the first batch to the end of the last."""
        if self.first is None or self.last is None or self.last <= self.first:
            return None
        return round(self.frames_after_first / (self.last - self.first), 1)


def gpu_mb(device: str) -> float | None:
    if not device.startswith("cuda"):
        return None
    import torch

    return round(torch.cuda.memory_allocated() / 2**20, 1)
