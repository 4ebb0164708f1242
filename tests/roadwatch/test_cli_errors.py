"""Every bad input a user can make: exit status 2 and one line saying what to fix, never a traceback."""

import os
import subprocess
import sys

import pytest

from support.helpers import ROOT, roadwatch


def assert_one_line_error(proc, expected):
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("roadwatch: error: ")
    assert expected in lines[0]


def test_missing_file(tmp_path):
    proc = roadwatch("run", "--source", str(tmp_path / "missing.mp4"), "--output", str(tmp_path / "out"))
    assert_one_line_error(proc, "no such file; check the path given to --source")


@pytest.mark.parametrize("command", ["run --source", "analyze"])
def test_a_bad_source_or_config_is_reported_before_torch_is_imported(tmp_path, command):
    """The error comes in well under a second, not after the 2-3 s that torch and Ultralytics take to load."""
    bad_config = tmp_path / "bad.yaml"
    bad_config.write_text("detector:\n  imgsz: big\n")
    code = (
        "import sys\n"
        "from roadwatch.cli import app\n"
        "try:\n"
        "    app(sys.argv[1:])\n"
        "except SystemExit as exc:\n"
        "    print('exit', exc.code, 'torch imported:', 'torch' in sys.modules)\n"
    )
    missing = str(tmp_path / "missing.mp4")
    for args in ([*command.split(), missing], ["run", "--config", str(bad_config)]):
        proc = subprocess.run(
            [sys.executable, "-c", code, *args, "--output", str(tmp_path / "o")], capture_output=True, text=True,
            timeout=60, cwd=ROOT,
        )
        assert proc.stdout.strip() == "exit 2 torch imported: False", proc.stdout + proc.stderr
        assert proc.stderr.splitlines()[-1].startswith("roadwatch: error: ")


def test_file_that_is_not_a_video(tmp_path):
    bogus = tmp_path / "holiday.mp4"
    bogus.write_bytes(os.urandom(4096))
    proc = roadwatch("run", "--source", str(bogus), "--output", str(tmp_path / "out"))
    assert_one_line_error(proc, "not a video file, or corrupt")


def test_unknown_model(tmp_path, city_clip):
    proc = roadwatch(
        "run", "--source", str(city_clip), "--model", "yolo_nonexistent.pt", "--output", str(tmp_path / "o")
    )
    assert_one_line_error(proc, "model 'yolo_nonexistent.pt' not found: pass --model")


def test_malformed_config(tmp_path, city_clip):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("detector:\n  imgsz: big\n")
    proc = roadwatch("run", "--source", str(city_clip), "--config", str(cfg))
    assert_one_line_error(proc, "detector.imgsz: Input should be a valid integer")


def test_cuda_requested_on_a_machine_without_it(tmp_path, city_clip, model_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    proc = roadwatch(
        "run", "--source", str(city_clip), "--model", str(model_path), "--device", "cuda", "--output",
        str(tmp_path / "o"),
    )
    assert_one_line_error(proc, "CUDA is not available on this machine; use --device cpu")


def test_capacity_with_an_unknown_backend_or_one_the_device_cannot_run(tmp_path, city_clip, model_path):
    common = ("capacity", "--clip", str(city_clip), "--model", str(model_path), "--out", str(tmp_path / "c.json"))
    assert_one_line_error(roadwatch(*common, "--backend", "tflite"), "--backend 'tflite': use one of pytorch")
    import torch

    if not torch.cuda.is_available():
        proc = roadwatch(*common, "--backend", "openvino", "--device", "cuda")
        assert_one_line_error(proc, "CUDA is not available on this machine; use --device cpu")
    assert not (tmp_path / "c.json").exists()


def test_no_input_offline_names_source(tmp_path):
    from roadwatch.sample import _online

    if _online():
        pytest.skip("online: roadwatch would download supervision's sample video instead")
    proc = roadwatch("run", "--output", str(tmp_path / "o"), env={**os.environ, "HOME": str(tmp_path)})
    assert_one_line_error(proc, "no input given: pass --source")


def test_help_lists_both_commands():
    proc = roadwatch("--help")
    assert proc.returncode == 0
    assert "run" in proc.stdout and "subscribe" in proc.stdout
