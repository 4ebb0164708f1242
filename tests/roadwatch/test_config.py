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
    p.write_text("sources: [a.mp4, {uri: '0', id: door}, 1, {uri: 2}]\n")
    cfg = load_config(p)
    assert [(s.uri, s.id) for s in cfg.sources] == [("a.mp4", None), ("0", "door"), ("1", None), ("2", None)]


def test_ids_from_file_names_never_leave_the_output_folder():
    from roadwatch.streams import stream_ids_for

    ids = stream_ids_for(["/v/...mp4", "/v/..mp4", "/v/.hidden.mp4", "/v/a b.mp4"])
    assert ids == ["src0", "src1", "hidden", "a_b"]


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
        # found by outside testing: each was a traceback, or worse, before it was a line here
        ("a: " + "[" * 100_000 + "]" * 100_000 + "\n", "nested too deeply to be a roadwatch config"),
        ("detector: {max_wait_ms: 1e300}\n", "detector.max_wait_ms: Input should be less than or equal to 60000"),
        ("detector: {imgsz: 100000000}\n", "detector.imgsz: Input should be less than or equal to 8192"),
        ("detector: {imgsz: 1e8}\n", "detector.imgsz: Input should be a valid integer"),
        ("detector: {max_batch: true}\n", "detector.max_batch: Input should be a valid integer"),
        ("tracker: {prediction_horizon_s: 1e308}\n", "tracker.prediction_horizon_s: Input should be less than"),
        ("streams: {open_timeout_s: 0.0001}\n", "streams.open_timeout_s: Input should be greater than or equal"),
        ("streams: {stall_timeout_s: 1e300}\n", "streams.stall_timeout_s: Input should be less than or equal"),
        ("sources: [{uri: a.mp4, id: 'a/b'}]\n", "sources.0.id: Value error, stream id 'a/b': ids name files"),
        ("sources: [{uri: a.mp4, id: '..'}]\n", "stream id '..': ids name files"),
        ("sources: [{uri: a.mp4, id: \"a\\nb\"}]\n", "stream id 'a\\nb': ids name files"),
        ("sources: [{uri: a.mp4, id: \"a\\0b\"}]\n", "stream id 'a\\x00b': ids name files"),
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


def test_http_tokens_come_from_the_environment_and_must_be_long_and_differ(monkeypatch):
    from roadwatch.config import HttpConfig

    monkeypatch.setenv("ROADWATCH_HTTP_TOKEN", "admin-from-env-0123456789")
    monkeypatch.setenv("ROADWATCH_HTTP_READ_TOKEN", "read-from-env-0123456789")
    settings = HttpConfig(listen="0.0.0.0:8080")
    assert settings.token == "admin-from-env-0123456789" and settings.read_token == "read-from-env-0123456789"
    settings.check_exposure()  # a token is set: any address may be used
    assert not settings.open_access
    monkeypatch.setenv("ROADWATCH_HTTP_TOKEN", "short")
    with pytest.raises(ValueError, match="at least 16 characters"):
        HttpConfig()
    monkeypatch.setenv("ROADWATCH_HTTP_TOKEN", "read-from-env-0123456789")
    with pytest.raises(ValueError, match="must differ"):
        HttpConfig()


def test_a_bad_http_section_is_a_one_line_error_naming_the_key(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("http: {listen: 'localhost'}\n")
    with pytest.raises(ConfigError, match=r"http.listen: .*HOST:PORT"):
        load_config(path)


ROAD = (
    "zones:\n  - {id: north, polygon: [[0, 300], [640, 300], [640, 360], [0, 360]],\n"
    "     direction: [[320, 360], [320, 300]]}\n"
    "  - {id: kerb, polygon: [[0, 0], [10, 0], [10, 10]]}\n"
)
CALIBRATION = "calibration:\n  - {image: [[100, 700], [1180, 700], [700, 200], [580, 200]], ground: %s}\n"


@pytest.mark.parametrize("text, says", [
    (CALIBRATION % "[[0, 0], [10, 0], [10, 60], [0, 60], [5, 5]]", "calibration.0: Value error, 4 image points but 5 "
                                                                     "ground points"),
    (CALIBRATION % "[[0, 0], [1000, 0], [1000, 6000], [0, 6000]]", "calibration.0: Value error, ground points span "
                                                                     "6000: give metres"),
    (CALIBRATION % "[[0, 0], [0, 10], [0, 20], [0, 30]]", "calibration.0: Value error, the ground points lie on "
                                                            "one line"),
    (ROAD + "rules:\n  - {id: r, type: dwell, zone: south, seconds: 5}\n", "rules.0.zone: no zone 'south' among zones"),
    (ROAD + "rules:\n  - {id: r, type: wrong_way, zone: kerb}\n", "rules.0.zone: a wrong_way rule needs zone 'kerb' to "
                                                              "have a direction"),
    (ROAD + "rules:\n  - {id: r, type: speeding}\n", "rules.0: Value error, a speeding rule needs limit_kmh"),
    (ROAD + "rules:\n  - {id: r, type: speeding, limit_kmh: 80000}\n", "rules.0.limit_kmh: Input should be less than"),
    (ROAD + "rules:\n  - {id: r, type: dwell, zone: kerb, seconds: 5, limit_kmh: 50}\n", "limit_kmh is for speeding"),
    (ROAD + "lines:\n  - {id: l, start: [0, 0], end: [9, 9], zone: lane9}\n", "lines.0.zone: no zone 'lane9'"),
    ("zones:\n  - {id: z, polygon: [[0, 0], [9, 0], [9, 9]], streams: [a]}\n"
     "lines:\n  - {id: l, start: [0, 0], end: [9, 9], zone: z}\n", "lines.0.zone: zone 'z' is not on every stream"),
])
def test_bad_road_analytics_are_one_line_errors_naming_the_key(tmp_path, text, says):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert says in str(error.value) and "\n" not in str(error.value), str(error.value)


def test_road_analytics_that_make_sense_load(tmp_path):
    path = tmp_path / "c.yaml"
    rules = "rules:\n  - {id: fast, type: speeding, limit_kmh: 50}\n  - {id: back, type: wrong_way, zone: north}\n"
    path.write_text(ROAD + CALIBRATION % "[[0, 0], [10, 0], [10, 60], [0, 60]]" + rules)
    cfg = load_config(path)
    assert [r.rule().rule_id for r in cfg.rules] == ["fast", "back"]
    assert cfg.calibration[0].plane().to_ground([[640, 700]]).round(3).tolist() == [[5.0, 0.0]]
