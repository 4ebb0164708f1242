"""The detector with the real YOLO model on real images: parity with Ultralytics' predict, categories, filters."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import supervision as sv
import torch

from roadwatch.detector import DEFAULT_CATEGORIES, CategoryMap, ModelError
from roadwatch.detector.filters import ExclusionMask
from roadwatch.detector.yolo import YoloDetector, load_yolo

from support.helpers import CITY, VIDEOS, require

# Real clips of three resolutions and two aspect ratios (16:9 at 1280x720 and 640x360, one AVI).
PARITY_CLIPS = [
    "fixedcam_highway_cars_1280x720.mp4", "fixedcam_citystreet_cars_bus_640x360.mp4", "pedestrians_street_1280x720.mp4",
    "dashcam_b_640x360.mp4", "crowd_overhead_1280x720_truncated.avi",
]
SCORE_TOLERANCE = 0.01


@pytest.fixture(scope="module")
def detector(model_path):
    """Compared with Ultralytics' predict, which has no occupant filter: that one is off here (test_filters.py)."""
    return YoloDetector(str(model_path), CategoryMap(DEFAULT_CATEGORIES), device="cpu", drop_occupants=False)


@pytest.fixture(scope="module")
def reference(model_path):
    """A separate Ultralytics model: the reference our detections must equal."""
    from ultralytics import YOLO

    return YOLO(str(model_path))


@pytest.fixture(scope="module")
def bus():
    from ultralytics import ASSETS

    return cv2.imread(str(ASSETS / "bus.jpg"))


def frames_of(path, every: int, count: int) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(require(path)))
    frames, index = [], 0
    while len(frames) < count:
        ok, image = cap.read()
        if not ok:
            break
        if index % every == 0:
            frames.append(image)
        index += 1
    cap.release()
    return frames


@pytest.fixture(scope="module")
def clip_frames() -> list[np.ndarray]:
    return [f for name in PARITY_CLIPS for f in frames_of(VIDEOS / name, every=37, count=3)]


def predict(
    reference, detector: YoloDetector, image: np.ndarray, device: str = "cpu", half: bool = False
) -> sv.Detections:
    result = reference.predict(
        image, conf=detector.conf, iou=detector.iou, classes=detector.class_ids, agnostic_nms=detector.agnostic_nms,
        device=device, half=half, verbose=False,
    )[0]
    return sv.Detections.from_ultralytics(result)


def assert_same_detections(ours: sv.Detections, ref: sv.Detections, conf: float) -> None:
    """Every box of each side has a partner on the other: IoU >= 0.99, same class, score within 0.01.

    A box without a partner is allowed only when its score is within the tolerance of the threshold,
    where a 0.01 score difference legitimately moves it across.
    """
    for a, b in ((ours, ref), (ref, ours)):
        iou = sv.box_iou_batch(a.xyxy, b.xyxy) if len(a) and len(b) else np.zeros((len(a), len(b)))
        for i in range(len(a)):
            partner = (
                (iou[i] >= 0.99)
                & (b.class_id == a.class_id[i])
                & (np.abs(b.confidence - a.confidence[i]) <= SCORE_TOLERANCE)
            )
            if not partner.any():
                assert a.confidence[i] <= conf + SCORE_TOLERANCE, (
                    f"box {a.xyxy[i].round(1)} class {a.class_id[i]} score {a.confidence[i]:.3f} has no partner"
                )


def test_one_batch_of_real_clips_equals_predict_frame_by_frame(detector, reference, clip_frames, bus):
    frames = [bus, *clip_frames]
    assert len(frames) >= 12 and len({f.shape for f in frames}) >= 3
    ours = detector.detect(frames)
    assert len(ours) == len(frames)
    total = 0
    for image, detections in zip(frames, ours):
        assert_same_detections(detections, predict(reference, detector, image), detector.conf)
        total += len(detections)
    assert total > 50  # the clips are busy roads: a parity test on empty frames would prove nothing


def test_class_aware_nms_also_equals_predict(model_path, reference, clip_frames):
    detector = YoloDetector(str(model_path), CategoryMap(DEFAULT_CATEGORIES), device="cpu", agnostic_nms=False,
                            drop_occupants=False)
    frames = clip_frames[::3]
    for image, detections in zip(frames, detector.detect(frames)):
        assert_same_detections(detections, predict(reference, detector, image), detector.conf)


def test_a_frame_gets_the_same_boxes_alone_and_in_any_batch(detector, clip_frames, bus):
    alone = detector.detect([bus])[0]
    mixed = detector.detect([clip_frames[0], bus, clip_frames[4]])[1]
    assert len(alone) > 0
    assert np.allclose(alone.xyxy, mixed.xyxy, atol=1e-3)
    assert np.array_equal(alone.class_id, mixed.class_id)


def test_classes_map_to_categories_and_others_are_dropped(detector, bus):
    (d,) = detector.detect([bus])
    pairs = set(zip(d.data["class_name"], d.data["category"]))
    assert ("bus", "vehicle") in pairs
    assert ("person", "pedestrian") in pairs
    allowed = {name for names in DEFAULT_CATEGORIES.values() for name in names}
    assert set(d.data["class_name"]) <= allowed
    assert [detector.category_names[i] for i in d.data["category_id"]] == list(d.data["category"])


def test_boxes_stay_inside_each_frame(detector, clip_frames, bus):
    for image, d in zip([bus, *clip_frames], detector.detect([bus, *clip_frames])):
        h, w = image.shape[:2]
        assert (d.xyxy >= 0).all() and (d.xyxy[:, [0, 2]] <= w).all() and (d.xyxy[:, [1, 3]] <= h).all()


def test_per_category_threshold_cuts_only_that_category(model_path, clip_frames):
    frames = clip_frames[:6]
    plain = YoloDetector(str(model_path), CategoryMap(DEFAULT_CATEGORIES), device="cpu")
    strict = YoloDetector(
        str(model_path), CategoryMap(DEFAULT_CATEGORIES), device="cpu",
        category_conf={"vehicle": 0.6, "pedestrian": 0.1},
    )
    for a, b in zip(plain.detect(frames), strict.detect(frames)):
        vehicles_a = a[(a.data["category"] == "vehicle") & (a.confidence > 0.6)]
        assert np.array_equal(np.sort(b[b.data["category"] == "vehicle"].confidence), np.sort(vehicles_a.confidence))
        people_b = b[b.data["category"] == "pedestrian"]
        assert people_b.confidence.min(initial=1) > 0.1
        assert len(people_b) >= (a.data["category"] == "pedestrian").sum()  # a lower threshold only adds
    assert sum(((d.data["category"] == "pedestrian") & (d.confidence <= 0.25)).sum() for d in strict.detect(frames)) > 0


def test_minimum_box_size(model_path, clip_frames):
    small = YoloDetector(str(model_path), CategoryMap(DEFAULT_CATEGORIES), device="cpu", min_size_px=30)
    plain = YoloDetector(str(model_path), CategoryMap(DEFAULT_CATEGORIES), device="cpu")
    dropped = 0
    for a, b in zip(plain.detect(clip_frames[:6]), small.detect(clip_frames[:6])):
        wh = b.xyxy[:, 2:] - b.xyxy[:, :2]
        assert (wh >= 30).all()
        dropped += len(a) - len(b)
    assert dropped > 0


def test_exclusion_mask_drops_detections_centred_inside(detector):
    cap = cv2.VideoCapture(str(require(CITY)))
    city = cap.read()[1]
    cap.release()
    (all_,) = detector.detect([city])
    h, w = city.shape[:2]
    left_half = ExclusionMask([np.array([[0, 0], [w / 2, 0], [w / 2, h], [0, h]])])
    (masked,) = detector.detect([city], masks=[left_half])
    centres = (all_.xyxy[:, 0] + all_.xyxy[:, 2]) / 2
    assert (centres < w / 2).any() and (centres >= w / 2).any()
    assert len(masked) == (centres >= w / 2).sum()
    assert ((masked.xyxy[:, 0] + masked.xyxy[:, 2]) / 2 >= w / 2).all()


def test_unknown_category_in_thresholds_is_refused(model_path):
    with pytest.raises(ValueError, match="unknown categories: vehicles"):
        YoloDetector(str(model_path), CategoryMap(DEFAULT_CATEGORIES), device="cpu", category_conf={"vehicles": 0.5})


def test_unknown_model_is_refused_without_a_download_attempt():
    with pytest.raises(ModelError, match="not found: pass --model"):
        load_yolo("no_such_model.pt")


def test_a_file_that_is_not_a_model(tmp_path):
    fake = tmp_path / "broken.pt"
    fake.write_bytes(b"not a checkpoint" * 64)
    with pytest.raises(ModelError, match="cannot load it as a YOLO model"):
        load_yolo(str(fake))


def test_categories_that_match_no_model_class(model_path):
    with pytest.raises(ModelError, match="none of its classes"):
        YoloDetector(str(model_path), CategoryMap({"boats": ["submarine"]}), device="cpu")


def test_the_gpu_letterbox_path_gives_ultralytics_input(detector, clip_frames, bus):
    """The torch resize (what runs on a GPU), run here on the CPU, against OpenCV's, which Ultralytics uses:
    identical for 16:9 frames (2x downscale, or none), within one grey level for bus.jpg's odd scale
    (about 9 % of its pixels differ by one level; the detections still match, next test)."""
    from roadwatch.detector.letterbox import DeviceLetterbox

    opencv = DeviceLetterbox(detector.imgsz, 32, torch.device("cpu"), half=False)
    torch_path = DeviceLetterbox(detector.imgsz, 32, torch.device("cpu"), half=False)
    torch_path.resize_with_opencv = False
    frames = [clip_frames[0], clip_frames[3], bus]  # 1280x720, 640x360, 1080x810
    a, places_a = opencv(frames)
    b, places_b = torch_path(frames)
    assert places_a == places_b and a.shape == b.shape
    difference = (a - b).abs() * 255
    assert difference[:2].max() == 0
    assert difference[2].max() <= 1.001  # OpenCV's 11-bit fixed-point weights against float weights


def test_detections_through_the_gpu_letterbox_path_equal_predict(model_path, reference, clip_frames, bus):
    detector = YoloDetector(str(model_path), CategoryMap(DEFAULT_CATEGORIES), device="cpu")
    detector.letterbox.resize_with_opencv = False
    frames = [bus, *clip_frames[::2]]
    for image, detections in zip(frames, detector.detect(frames)):
        assert_same_detections(detections, predict(reference, detector, image), detector.conf)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (run it on the device tool's machine)")
@pytest.mark.parametrize("half", [False, True])
def test_on_cuda_detections_equal_predict_and_frames_in_pinned_memory_change_nothing(
    model_path, reference, clip_frames, bus, half
):
    """The CUDA path (upload, letterbox and NMS on the GPU) against Ultralytics' predict on the same GPU, and
    frames decoded into pinned memory (uploaded one by one, no staging copy) against ordinary arrays."""
    detector = YoloDetector(str(model_path), CategoryMap(DEFAULT_CATEGORIES), device="cuda", half=half)
    frames = [bus, *clip_frames[::2]]  # three frame sizes: three upload groups, two letterbox shapes
    pinned_frames = []
    for frame in frames:
        pinned_frame = detector.allocate_frame(frame.shape)
        pinned_frame[...] = frame
        pinned_frames.append(pinned_frame)
    assert torch.from_numpy(pinned_frames[0]).is_pinned()
    plain, pinned = detector.detect(frames), detector.detect(pinned_frames)
    for a, b in zip(plain, pinned):
        np.testing.assert_array_equal(a.xyxy, b.xyxy)
        np.testing.assert_array_equal(a.confidence, b.confidence)
    for image, detections in zip(frames, plain):
        assert_same_detections(
            detections, predict(reference, detector, image, device="cuda:0", half=half), detector.conf
        )


@pytest.fixture
def checkpoint_copy(model_path, tmp_path) -> Path:
    """The model in a folder of the test's own: an export is written beside its checkpoint."""
    import shutil

    return Path(shutil.copy(model_path, tmp_path / "yolov8n_coco.pt"))


@pytest.mark.parametrize(
    "backend, package, export, mode",
    [
        ("onnx", "onnxruntime", "yolov8n_coco.onnx", "onnx runtime"),  # not traced: its own runtime
        ("openvino", "openvino", "yolov8n_coco_openvino_model", "openvino runtime, f32"),
    ],
)
def test_an_exported_backend_is_made_once_and_equals_predict(
    checkpoint_copy, reference, clip_frames, backend, package, export, mode
):
    pytest.importorskip(package, reason=f"the {backend} backend needs the {backend} extra (make installs it)")
    detector = YoloDetector(
        str(checkpoint_copy), CategoryMap(DEFAULT_CATEGORIES), device="cpu", backend=backend, half=False,
        drop_occupants=False,
    )
    assert detector.backend.format == backend and detector.forward_mode == mode
    exported = checkpoint_copy.with_name(export)
    made_at = exported.stat().st_mtime
    frames = [*clip_frames[::3], clip_frames[0][:300, :500]]  # a batch of several sizes and letterbox shapes
    for image, detections in zip(frames, detector.detect(frames)):
        assert_same_detections(detections, predict(reference, detector, image), detector.conf)
    YoloDetector(str(checkpoint_copy), CategoryMap(DEFAULT_CATEGORIES), device="cpu", backend=backend)
    assert exported.stat().st_mtime == made_at  # reused, not exported again


def test_openvino_with_half_runs_bf16_where_the_cpu_has_it_and_stays_close_to_predict(
    checkpoint_copy, reference, clip_frames
):
    pytest.importorskip("openvino", reason="the OpenVINO backend needs the openvino extra (make installs it)")
    detector = YoloDetector(
        str(checkpoint_copy), CategoryMap(DEFAULT_CATEGORIES), device="cpu", backend="openvino", half=True,
        drop_occupants=False,
    )
    flags = set(Path("/proc/cpuinfo").read_text().split()) if Path("/proc/cpuinfo").exists() else set()
    native_bf16 = bool(flags & {"avx512_bf16", "amx_bf16"})
    assert detector.forward_mode == f"openvino runtime, {'bf16' if native_bf16 else 'f32'}"
    matched = 0
    for image, ours in zip(clip_frames, detector.detect(clip_frames)):
        ref = predict(reference, detector, image)
        confident = ref[ref.confidence >= 0.5]  # bf16 moves scores by hundredths: judge the clear detections
        iou = (
            sv.box_iou_batch(confident.xyxy, ours.xyxy)
            if len(confident) and len(ours)
            else np.zeros((len(confident), 0))
        )
        for i in range(len(confident)):
            assert ((iou[i] >= 0.8) & (ours.class_id == confident.class_id[i])).any(), f"box {confident.xyxy[i]} lost"
            matched += 1
    assert matched > 20


def test_tensorrt_without_its_package_or_a_gpu_is_one_clear_error(model_path):
    import importlib.util

    if importlib.util.find_spec("tensorrt") is not None and torch.cuda.is_available():
        pytest.skip("TensorRT and a GPU are present here: the error path cannot be reached")
    with pytest.raises(ModelError, match="tensorrt") as error:
        YoloDetector(str(model_path), CategoryMap(DEFAULT_CATEGORIES), device="cpu", backend="tensorrt")
    assert "\n" not in str(error.value)
