"""The network traced into one TorchScript call: same detections as the eager pass, no Python per layer, and
eager (with the reason) for a network whose trace would not hold."""

from __future__ import annotations

import sys

import cv2
import numpy as np
import pytest
import torch

from roadwatch.detector import DEFAULT_CATEGORIES, CategoryMap
from roadwatch.detector.traced import trace_network
from roadwatch.detector.yolo import YoloDetector

from support.helpers import HIGHWAY, VIDEOS, require


@pytest.fixture(scope="module")
def detectors(model_path):
    traced = YoloDetector(str(model_path), CategoryMap(DEFAULT_CATEGORIES), device="cpu")
    eager = YoloDetector(str(model_path), CategoryMap(DEFAULT_CATEGORIES), device="cpu", trace=False)
    return traced, eager


def first_frames(path, count: int) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(require(path)))
    frames = [cap.read()[1] for _ in range(count)]
    cap.release()
    return frames


def python_calls(function, *args) -> int:
    """How many Python functions run while `function(*args)` does: each layer of an eager pass is one or more."""
    calls = 0

    def count(frame, event, arg) -> None:
        nonlocal calls
        calls += event == "call"

    sys.setprofile(count)
    try:
        function(*args)
    finally:
        sys.setprofile(None)
    return calls


def test_a_pytorch_checkpoint_runs_traced_and_detects_exactly_what_the_eager_pass_does(detectors):
    traced, eager = detectors
    assert traced.forward_mode == "traced" and eager.forward_mode.startswith("eager")
    highway = first_frames(HIGHWAY, 5)  # 1280x720
    city = first_frames(VIDEOS / "fixedcam_citystreet_cars_bus_640x360.mp4", 3)
    # batch sizes and letterbox shapes the trace never saw: 1 frame, 5, and a batch mixing two frame sizes
    for batch in ([highway[0]], highway, [*city, highway[1]]):
        ours, reference = traced.detect(batch), eager.detect(batch)
        assert sum(len(d) for d in reference) > 0
        for a, b in zip(ours, reference):
            np.testing.assert_allclose(a.xyxy, b.xyxy, atol=1e-3)
            np.testing.assert_allclose(a.confidence, b.confidence, atol=1e-5)
            np.testing.assert_array_equal(a.class_id, b.class_id)


def test_the_traced_forward_pass_runs_no_python_per_layer(detectors):
    """What keeps the detection thread off the GIL while tracking runs: one call, not one per layer."""
    traced, eager = detectors
    batch = torch.zeros(2, 3, 384, 640)
    with torch.inference_mode():
        eager_calls = python_calls(eager.forward_pass, batch)
        traced_calls = python_calls(traced.forward_pass, batch)
    assert eager_calls > 300, eager_calls  # yolov8n: every module's forward, and more
    assert traced_calls < 30  # the call itself and its context manager, whatever the depth of the network


def test_a_head_that_cached_its_anchors_is_still_traced_for_every_shape(model_path):
    """A Detect head keeps the anchors of the last shape it saw; a plain trace would bake those in."""
    from ultralytics import YOLO
    from ultralytics.nn.autobackend import AutoBackend

    network = AutoBackend(
        YOLO(str(model_path)).model, device=torch.device("cpu"), fuse=True, verbose=False
    ).model.eval()
    with torch.inference_mode():
        network(torch.zeros(2, 3, 64, 96))  # the shape trace_network traces with: anchors cached for it
    traced, mode = trace_network(network, torch.device("cpu"), torch.float32, 32, 320)
    assert mode == "traced"
    x = torch.rand(3, 3, 192, 320)
    with torch.inference_mode():
        torch.testing.assert_close(traced(x), network(x)[0])


class BakesItsBatchSize(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(int(x.shape[0]), -1)  # int() turns the traced size into a constant


class ReturnsADict(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> dict:
        return {"boxes": x, "maps": [x, x]}


def test_a_network_whose_trace_would_not_hold_runs_eagerly_and_says_why():
    cpu = torch.device("cpu")
    traced, mode = trace_network(BakesItsBatchSize(), cpu, torch.float32, 32, 64)
    assert traced is None and mode.startswith("eager: the traced network") and "another batch size" in mode
    traced, mode = trace_network(ReturnsADict(), cpu, torch.float32, 32, 64)
    assert traced is None and mode.startswith("eager: the network could not be traced (")
