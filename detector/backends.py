"""Which runtime executes the network: PyTorch (default), ONNX Runtime, OpenVINO (CPUs) or TensorRT (NVIDIA
GPUs), through Ultralytics' export.

An exported model is written once beside the checkpoint (or beside a copy in ~/.cache/roadwatch when that
folder is read-only) and reused while it is newer than the checkpoint. Exports are dynamic in batch and size, so a
batch of any number of frames at the letterbox shape `predict` uses runs without padding to a fixed shape.
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

BACKENDS = ("pytorch", "onnx", "openvino", "tensorrt")
_FORMAT = {"onnx": "onnx", "openvino": "openvino", "tensorrt": "engine"}  # Ultralytics' export format names
_NEEDS = {
    "onnx": ("onnxruntime", "pip install 'roadwatch[onnx]'"),
    "openvino": ("openvino", "pip install 'roadwatch[openvino]'"),
    "tensorrt": ("tensorrt", "pip install tensorrt (NVIDIA GPUs only)"),
}


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
    if (
        backend == "pytorch"
        or Path(model).suffix in (".onnx", ".engine")
        or Path(model).name.endswith("_openvino_model")
    ):
        return model
    if backend == "tensorrt" and not device.startswith("cuda"):
        raise BackendError("backend 'tensorrt' runs on an NVIDIA GPU only; use --device cuda or another backend")
    if backend == "openvino" and device != "cpu":
        raise BackendError("backend 'openvino' runs on the CPU here; use --device cpu, or backend pytorch on a GPU")
    source = Path(model)
    if not source.is_file():
        raise BackendError(f"backend '{backend}': export needs a local checkpoint, '{model}' is not a file")
    source = _writable_copy(source)
    target = exported_path(source, backend)
    if target.exists() and target.stat().st_mtime >= source.stat().st_mtime:
        return str(target)
    from ultralytics import YOLO

    options = dict(format=_FORMAT[backend], dynamic=True, imgsz=imgsz, device=device, verbose=False)
    if backend == "tensorrt":
        options.update(half=half, batch=max_batch)
    try:
        exported = YOLO(str(source)).export(**options)
    except Exception as exc:
        text = str(exc).strip().splitlines()
        raise BackendError(
            f"backend '{backend}': export of '{model}' failed ({text[0] if text else type(exc).__name__})"
        ) from exc
    return str(exported)


def set_openvino_precision(backend, export: str, reduced: bool) -> str:
    """The precision an OpenVINO model (loaded by Ultralytics' AutoBackend) runs at, set here: OpenVINO's own
    choice, bf16 on CPUs with native bf16 (as Ultralytics' predict on the export does: about 1.6x faster here,
    scores a few hundredths off), when `reduced`; else f32, whose detections equal the PyTorch model's."""
    import openvino as ov

    compiled = backend.backend.ov_compiled_model
    if not reduced:
        core = ov.Core()
        xml = export if export.endswith(".xml") else str(next(Path(export).glob("*.xml")))
        config = {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": ov.Type.f32}
        compiled = backend.backend.ov_compiled_model = core.compile_model(core.read_model(xml), "CPU", config)
    return compiled.get_property("INFERENCE_PRECISION_HINT").get_type_name()  # "f32", "bf16"


def exported_path(checkpoint: Path, backend: str) -> Path:
    """Where Ultralytics writes `checkpoint`'s export for `backend` (OpenVINO's is a folder)."""
    if backend == "openvino":
        return checkpoint.with_name(f"{checkpoint.stem}_openvino_model")
    return checkpoint.with_suffix({"onnx": ".onnx", "tensorrt": ".engine"}[backend])


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
