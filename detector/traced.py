"""The network's forward pass as one TorchScript call, so that it holds the GIL twice per batch, not once per layer.

Run eagerly, a YOLO forward pass is one Python call per layer (about 250 for yolov8n), and each takes the GIL
back after its kernel is queued or computed. Beside a thread running Python (the pipeline's tracking thread,
while detection runs in its own thread on a GPU) every one of those calls can wait for that thread's next
switch: bench/gil_bench.py measured yolov8n at 320 px, one torch thread, 15.7 ms alone and 762 ms beside a
Python thread eagerly, against 14.4 and 26.6 ms traced. Traced once, the whole pass runs in TorchScript's
interpreter, which releases the GIL for its duration.

Three choices keep the trace equal to the eager pass for every batch the detector runs:
- the Detect head recomputes its anchors inside the graph (its `dynamic` flag, set while tracing only), so
  one trace serves every batch size and letterbox shape instead of baking in the example's anchors;
- it runs without TorchScript's optimising executor (`optimized_execution(False)`, per call, thread-local),
  so it launches the same kernels as the eager pass, with no shape-specialised re-profiling or fusion each
  time a new batch size arrives (live batches vary in size);
- before use it is checked against the eager pass on a batch of another size and shape; a model that cannot
  be traced, or whose trace differs, runs eagerly and the reason is kept for the log and the benchmarks.

`torch.jit` is deprecated upstream (FutureWarning in torch 2.x) but still shipped and supported; the
replacements (`torch.compile`, `torch.export` with AOTInductor) compile for minutes and run a Python wrapper
per call. On a GPU, capturing the pass as a CUDA graph would also remove the per-kernel launch cost; it
needs a GPU to be built and tested.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import torch

from .errors import first_line

# The parity criterion of the detector's tests (a box within IoU 0.99, a score within 0.01): a trace whose
# outputs stay within 1 % of the eager pass's cannot move a detection past it.
_TOLERANCE = 1e-2


class TracedForward:
    """Calls a traced network without TorchScript's optimising executor (see the module docstring)."""

    def __init__(self, traced: torch.jit.ScriptModule) -> None:
        self.traced = traced

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        with torch.jit.optimized_execution(False):
            return self.traced(batch)


class _FirstOutput(torch.nn.Module):
    """The network's predictions alone: in eval mode a YOLO head also returns its raw maps, which tracing
    cannot return (a dict) and which NMS never reads."""

    def __init__(self, network: torch.nn.Module) -> None:
        super().__init__()
        self.network = network

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        out = self.network(batch)
        return out[0] if isinstance(out, (list, tuple)) else out


def trace_network(
    network: torch.nn.Module, device: torch.device, dtype: torch.dtype, stride: int, imgsz: int
) -> tuple[Callable[[torch.Tensor], torch.Tensor] | None, str]:
    """(traced forward, "traced"), or (None, the reason it runs eagerly)."""
    head = network.model[-1] if isinstance(getattr(network, "model", None), torch.nn.Sequential) else None
    dynamic = getattr(head, "dynamic", None)
    wrapped = _FirstOutput(network).eval()
    generator = torch.Generator().manual_seed(0)
    example = torch.rand(2, 3, 2 * stride, 3 * stride, generator=generator).to(device, dtype)
    # the check: another batch size and the 16:9 letterbox shape of `imgsz`, as a 720p camera's frames
    check_h = max(stride, (imgsz * 9 // 16 + stride - 1) // stride * stride)
    check = torch.rand(3, 3, check_h, imgsz, generator=generator).to(device, dtype)
    try:
        if head is not None and dynamic is not None:
            head.dynamic = True
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch.jit's deprecation and tracer warnings
            traced = TracedForward(torch.jit.trace(wrapped, example, check_trace=False))
    except Exception as exc:  # noqa: BLE001 - any failure means: run it eagerly, and say why
        return None, f"eager: the network could not be traced ({first_line(exc)})"
    finally:
        if head is not None and dynamic is not None:
            head.dynamic = dynamic
    try:
        with torch.inference_mode():
            expected, got = wrapped(check), traced(check)
    except Exception as exc:  # noqa: BLE001
        return None, f"eager: the traced network fails on another batch size or shape ({first_line(exc)})"
    if expected.shape != got.shape or not torch.allclose(
        got.float(), expected.float(), rtol=_TOLERANCE, atol=_TOLERANCE
    ):
        return None, "eager: the traced network's outputs differ from the eager pass's on another batch size or shape"
    return traced, "traced"
