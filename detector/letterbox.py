"""Letterboxing a batch of frames on the inference device, exactly as Ultralytics' LetterBox does on the CPU.

Ultralytics resizes and pads every frame with OpenCV on the CPU, one at a time. On a GPU, uint8 frames are
uploaded once (straight from pinned memory when decoded there, else through a pinned staging buffer), and resizing,
padding, BGR->RGB and scaling to 0..1 run
on the GPU, one call per distinct frame size, so a batch of 64 cameras costs a handful of kernel launches.
On a CPU, OpenCV resizes into one preallocated canvas. The geometry (scale, rounding, padding) is Ultralytics'
own, so boxes map back to the same pixels as `model.predict`.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch
import torch.nn.functional as F

PAD_VALUE = 114  # Ultralytics' grey


@dataclass(frozen=True)
class Placement:
    """Where one frame of `height` x `width` sits in the network input: resized to `new_h` x `new_w`
    at (`top`, `left`) of a `canvas_h` x `canvas_w` letterbox (the size `model.predict` would use alone)."""

    height: int
    width: int
    new_h: int
    new_w: int
    top: int
    left: int
    canvas_h: int
    canvas_w: int


def placement(height: int, width: int, imgsz: int, stride: int) -> Placement:
    """Ultralytics' LetterBox(auto=True, center=True, scaleup=True) geometry for one frame, as `predict` uses it."""
    r = min(imgsz / height, imgsz / width)
    new_w, new_h = max(round(width * r), 1), max(round(height * r), 1)
    dw, dh = (imgsz - new_w) % stride, (imgsz - new_h) % stride  # minimum rectangle: pad to a stride multiple
    top, bottom = round(dh / 2 - 0.1), round(dh / 2 + 0.1)
    left, right = round(dw / 2 - 0.1), round(dw / 2 + 0.1)
    return Placement(height, width, new_h, new_w, top, left, new_h + top + bottom, new_w + left + right)


class DeviceLetterbox:
    """Turns a list of BGR uint8 frames of any sizes into one normalised RGB batch tensor on `device`.

    The batch is as large as the largest frame's letterbox; a smaller frame sits at its own letterbox
    position in the top-left corner and the rest is padding, so its boxes map back exactly as if it were
    predicted alone.
    """

    def __init__(self, imgsz: int, stride: int, device: torch.device, half: bool) -> None:
        self.imgsz = imgsz
        self.stride = stride
        self.device = device
        self.dtype = torch.float16 if half else torch.float32
        self._pinned = device.type == "cuda"
        # on a CPU OpenCV is faster; tests turn this off to check the GPU path's output on a CPU
        self.resize_with_opencv = device.type == "cpu"
        self._staging: dict[tuple[int, ...], torch.Tensor] = {}  # reused pinned host buffers, per frame-group shape

    def places(self, frames: list[np.ndarray], sizes: list[int] | None = None) -> list[Placement]:
        """Each frame's placement at `imgsz`, or at `sizes[i]` where given."""
        sizes = sizes or [self.imgsz] * len(frames)
        return [placement(f.shape[0], f.shape[1], size, self.stride) for f, size in zip(frames, sizes)]

    def __call__(
        self, frames: list[np.ndarray], places: list[Placement] | None = None
    ) -> tuple[torch.Tensor, list[Placement]]:
        """The batch tensor and each frame's placement (pass `places` when already computed)."""
        places = self.places(frames) if places is None else places
        height = max(p.canvas_h for p in places)
        width = max(p.canvas_w for p in places)
        if self.resize_with_opencv:
            return self._on_host(frames, places, height, width), places
        batch = torch.full((len(frames), 3, height, width), PAD_VALUE, dtype=self.dtype, device=self.device)
        groups: dict[Placement, list[int]] = {}  # frames of one size placed alike (regions may differ in scale)
        for i, p in enumerate(places):
            groups.setdefault(p, []).append(i)
        for p, indices in groups.items():
            h, w = p.height, p.width
            images = self._upload([frames[i] for i in indices]).permute(0, 3, 1, 2)  # (n, 3, h, w) uint8 BGR
            if (p.new_h, p.new_w) != (h, w):
                # cv2.INTER_LINEAR samples at half-pixel centres without antialiasing, as this does, and rounds
                # halves up to uint8 (round() would round them to even: a 2x downscale then moves scores by
                # 0.01); this reproduces OpenCV's image exactly at 2x and within one grey level otherwise.
                images = F.interpolate(images.float(), size=(p.new_h, p.new_w), mode="bilinear", align_corners=False)
                images = images.add_(0.5).floor_().clamp_(0, 255)
            images = images.flip(1)  # BGR -> RGB, on the smaller image
            target = batch[:, :, p.top : p.top + p.new_h, p.left : p.left + p.new_w]  # a view: writes land in batch
            if len(indices) == len(frames):
                target.copy_(images)
            else:
                target.index_copy_(0, torch.as_tensor(indices, device=self.device), images.to(self.dtype))
        return batch.div_(255), places

    def _on_host(self, frames: list[np.ndarray], places: list[Placement], height: int, width: int) -> torch.Tensor:
        """The CPU is the device: OpenCV's SIMD uint8 resize is the fastest resize there (3x torch's float
        one on a 720p frame), and it is what Ultralytics runs, so the input is identical by construction."""
        canvas = np.full((len(frames), height, width, 3), PAD_VALUE, dtype=np.uint8)
        for i, (frame, p) in enumerate(zip(frames, places)):
            resized = frame
            if (p.new_h, p.new_w) != frame.shape[:2]:
                resized = cv2.resize(frame, (p.new_w, p.new_h), interpolation=cv2.INTER_LINEAR)
            canvas[i, p.top : p.top + p.new_h, p.left : p.left + p.new_w] = resized
        batch = torch.from_numpy(canvas).permute(0, 3, 1, 2).flip(1)  # BGR HWC -> RGB CHW, channels-last in memory
        return batch.to(self.dtype).div_(255)

    def allocate_frame(self, shape: tuple[int, ...]) -> np.ndarray:
        """A uint8 host array for a decoder to write a frame into: page-locked on a GPU, so `_upload` can
        copy it to the device as it is. torch's caching host allocator takes it back, for the next frame,
        when the last reference to the frame goes (and not before a copy still reading it has finished)."""
        if not self._pinned:
            return np.empty(shape, dtype=np.uint8)
        return torch.empty(shape, dtype=torch.uint8, pin_memory=True).numpy()

    def _upload(self, frames: list[np.ndarray]) -> torch.Tensor:
        """The frames of one size on the device, as (n, h, w, 3) uint8; asynchronous copies on a GPU.

        Frames decoded into pinned memory (`allocate_frame`: the pipeline's frames) go up straight from where
        the decoder wrote them, all in one call (`torch._foreach_copy_`), so the detection thread takes the GIL
        back once for the batch's uploads rather than once per frame (see detector/traced.py for why that
        counts). Whether they are pinned is read from the first frame: a pageable one among them would still
        be copied correctly, only synchronously. Other frames are first gathered into a pinned staging buffer
        (a host copy, here in the detection thread), reused on the next call: safe because the detector reads
        its results back to the host (which waits for the device) before it letterboxes the next batch.
        """
        shape = (len(frames), *frames[0].shape)
        if not self._pinned:
            return torch.from_numpy(np.stack(frames)) if len(frames) > 1 else torch.from_numpy(frames[0])[None]
        hosts = [torch.from_numpy(frame) for frame in frames]
        if hosts[0].is_pinned():
            images = torch.empty(shape, dtype=torch.uint8, device=self.device)
            torch._foreach_copy_(list(images.unbind(0)), hosts, non_blocking=True)
            return images
        staging = self._staging.get(shape)
        if staging is None:
            staging = self._staging[shape] = torch.empty(shape, dtype=torch.uint8, pin_memory=True)
        np.stack(frames, out=staging.numpy())
        return staging.to(self.device, non_blocking=True)
