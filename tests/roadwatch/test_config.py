from pathlib import Path

import pytest

from roadwatch.config import Config, load_config
from roadwatch.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def test_bundled_default_config_is_valid():
    cfg = load_config(ROOT / "configs" / "default.yaml")
    assert cfg.detector.categories["vehicle"] == ["car", "truck", "bus", "motorcycle", "bicycle"]
    assert cfg.events.endpoint == "tcp://127.0.0.1:5556"


def test_bundled_default_config_lists_every_key_with_its_default():
    import yaml

    def keys(value, prefix=""):
        if isinstance(value, dict) and prefix not in ("detector.categories", "detector.category_conf"):
            return {k for name, v in value.items() for k in keys(v, f"{prefix}.{name}".lstrip("."))} | {prefix}
        return {prefix}

    written = yaml.safe_load((ROOT / "configs" / "default.yaml").read_text())
    assert load_config(ROOT / "configs" / "default.yaml").model_dump() == Config().model_dump()
    assert keys(written) == keys(Config().model_dump())


def test_sources_may_be_plain_strings(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("sources: [a.mp4, {uri: '0', id: door}]\n")
    cfg = load_config(p)
    assert [(s.uri, s.id) for s in cfg.sources] == [("a.mp4", None), ("0", "door")]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("detector: [unclosed\n", "not valid YAML at line"),
        ("detector:\n  conf: high\n", "detector.conf: Input should be a valid number"),
        ("detector:\n  confidence: 0.5\n", "detector.confidence: Extra inputs are not permitted"),
        ("tracker:\n  max_age_s: -1\n", "tracker.max_age_s: Input should be greater than 0"),
        ("- just\n- a list\n", "the top level must be a mapping"),
        ("detector:\n  categories: {a: [car], b: [car]}\n", "class 'car' is in both 'a' and 'b'"),
        (
            "detector:\n  backend: tflite\n",
            "detector.backend: Input should be 'pytorch', 'onnx', 'openvino' or 'tensorrt'",
        ),
        ("detector:\n  category_conf: {vehicles: 0.5}\n", "category_conf names unknown categories: vehicles"),
        (
            "detector:\n  plates: {every_n_frames: 0}\n",
            "detector.plates.every_n_frames: Input should be greater than or equal to 1",
        ),
        ("masks:\n  - {id: m, polygon: [[0, 0], [1, 1]]}\n", "masks.0.polygon: List should have at least 3 items"),
        ("output: {keep_segments: 3}\n", "keep_segments deletes old segments: set segment_s too"),
        ("output: {segment_s: 0.5}\n", "output.segment_s: Input should be greater than or equal to 1"),
    ],
)
def test_malformed_config_gives_one_line_saying_where(tmp_path, text, expected):
    p = tmp_path / "bad.yaml"
    p.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(p)
    message = str(info.value)
    assert expected in message
    assert "\n" not in message and str(p) in message


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match="no such file"):
        load_config(tmp_path / "nope.yaml")


def test_empty_file_means_defaults(tmp_path):
    p = tmp_path / "empty.yaml"
    p.write_text("")
    assert load_config(p) == Config()
