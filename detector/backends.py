"""Which runtime executes the network: PyTorch (default), ONNX Runtime, or TensorRT, through Ultralytics' export.

An exported model is written once beside the checkpoint (or beside a copy in ~/.cache/roadwatch when that
folder is read-only) and reused while it is newer than the checkpoint. Exports are dynamic in batch and size, so a
batch of any number of frames at the letterbox shape `predict` uses runs without padding to a fixed shape.
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

BACKENDS = ("pytorch", "onnx", "tensorrt")
_SUFFIX = {"onnx": ".onnx", "tensorrt": ".engine"}
_NEEDS = {"onnx": ("onnxruntime", "pip install 'roadwatch[onnx]'"), "tensorrt": ("tensorrt", "pip install tensorrt (NVIDIA GPUs only)")}


class BackendError(Exception):
    """The backend cannot be used here; the message says why in one line."""


def backend_available(backend: str) -> str | None:
    """None when `backend` can run here, else the reason it cannot."""
    if backend not in BACKENDS:
        return f"backend '{backend}': use one of {', '.join(BACKENDS)}"
    if backend == "pytorch":
        return None
    package, how = _NEEDS[backend]
    if importlib.util.find_spec(package) is None:
        return f"backend '{backend}' needs the {package} package: {how}"
    return None


def prepare_weights(model: str, backend: str, device: str, imgsz: int, half: bool, max_batch: int) -> str:
    """The file to load for `backend`: the checkpoint itself for PyTorch, else its export (made if missing or stale)."""
    reason = backend_available(backend)
    if reason:
        raise BackendError(reason)
    if backend == "pytorch" or Path(model).suffix in (".onnx", ".engine"):
        return model
    if backend == "tensorrt" and not device.startswith("cuda"):
        raise BackendError("backend 'tensorrt' runs on an NVIDIA GPU only; use --device cuda or another backend")
    source = Path(model)
    if not source.is_file():
        raise BackendError(f"backend '{backend}': export needs a local checkpoint, '{model}' is not a file")
    source = _writable_copy(source)
    target = source.with_suffix(_SUFFIX[backend])  # where Ultralytics writes it
    if target.is_file() and target.stat().st_mtime >= source.stat().st_mtime:
        return str(target)
    from ultralytics import YOLO

    options = dict(format="onnx" if backend == "onnx" else "engine", dynamic=True, imgsz=imgsz, device=device, verbose=False)
    if backend == "tensorrt":
        options.update(half=half, batch=max_batch)
    try:
        exported = YOLO(str(source)).export(**options)
    except Exception as exc:
        text = str(exc).strip().splitlines()
        raise BackendError(f"backend '{backend}': export of '{model}' failed ({text[0] if text else type(exc).__name__})") from exc
    return str(exported)


def _writable_copy(source: Path) -> Path:
    """The checkpoint where its export can be written: where it is, or a copy in ~/.cache/roadwatch."""
    probe = source.parent / f".roadwatch-write-test-{source.stem}"
    try:
        probe.touch()
        probe.unlink()
        return source
    except OSError:  # a read-only model folder
        cache = Path.home() / ".cache" / "roadwatch"
        cache.mkdir(parents=True, exist_ok=True)
        copy = cache / source.name
        if not copy.is_file() or copy.stat().st_mtime < source.stat().st_mtime:
            shutil.copy2(source, copy)
        return copy
