"""The published event schema, and the ZeroMQ client's filters, formats and gap detection."""

import json
import threading
import time

import numpy as np
import pytest
from jsonschema import Draft202012Validator

from roadwatch.events.schema import EventFactory, EventType, fields_of, track_fields
from roadwatch.events.wire import decode, encode
from roadwatch.events.zmq_io import EventPublisher, Subscriber, topics_for
from roadwatch.trackers import TrackArrays, TrackView

from support.helpers import SCHEMA, free_endpoint

TRACK = TrackView(3, (10.0, 20.0, 50.0, 80.0), 0.9, 2, 0, (12.0, -3.0), 1.5, (0.0, 0.0))


def track_event(factory: EventFactory, type_=EventType.TRACK_STARTED, stream="cam0", **extra):
    return factory.track(type_, stream, 7, time.time(), 0.28, fields_of(TRACK, (640, 360)), "vehicle", "car", **extra)


def test_schema_passes_ajv_in_strict_mode():
    """Strict consumers compile the schema with Ajv's strict mode: a `required` naming properties its own schema
    object does not define once failed it (strictRequired)."""
    import os
    import shutil
    import subprocess
    from pathlib import Path

    ajv = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "roadwatch-tests" / "ajv" / "node_modules"
    if shutil.which("node") is None or not (ajv / "ajv").is_dir():
        pytest.skip(f"needs node and ajv 8 in {ajv} (tests/support/install_test_packages.sh installs them from npm)")
    script = Path(__file__).parents[1] / "support" / "ajv_strict.js"
    proc = subprocess.run(["node", str(script), str(SCHEMA)], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "NODE_PATH": str(ajv)})
    assert proc.stdout.strip() == "ok", proc.stdout + proc.stderr


def test_schema_is_a_2020_12_schema_and_has_teeth():
    schema = json.loads(SCHEMA.read_text())
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)
    validator = Draft202012Validator(schema)
    good = track_event(EventFactory("p"))
    assert validator.is_valid(good)
    for broken in (
        {**good, "type": "track.exploded"},
        {k: v for k, v in good.items() if k != "track_id"},
        {**good, "bbox": [1, 2, 3]},
        {**good, "type": "track.ended"},  # ended needs a reason
        {**good, "type": "line.crossed", "line_id": "l", "direction": "sideways"},
    ):
        assert not validator.is_valid(broken)
    speeding = track_event(EventFactory("p"), EventType.RULE_SPEEDING, rule_id="limit", speed_kmh=91.5, limit_kmh=80)
    dwell = track_event(EventFactory("p"), EventType.ZONE_DWELL, rule_id="kerb", zone_id="kerb", dwell_s=30.04,
                        limit_s=30)
    wrong = track_event(EventFactory("p"), EventType.RULE_WRONG_WAY, rule_id="w", zone_id="north",
                        lane_heading_deg=176.0, speed_kmh=40.0)
    assert all(validator.is_valid(e) for e in (speeding, dwell, wrong))
    for broken in (
        {k: v for k, v in speeding.items() if k != "limit_kmh"},
        {k: v for k, v in dwell.items() if k != "rule_id"},
        {**wrong, "lane_heading_deg": 200.0},
        {**good, "speed_kmh": -3.0},
    ):
        assert not validator.is_valid(broken)


def test_track_fields_for_many_tracks_equal_each_track_computed_alone():
    """The pipeline rounds and predicts a frame's tracks as arrays; each must equal the scalar definition."""
    rng = np.random.default_rng(5)
    n = 200
    corner = rng.uniform(0, 1200, (n, 2))
    arrays = TrackArrays(
        track_id=np.arange(1, n + 1), xyxy=np.hstack([corner, corner + rng.uniform(2, 300, (n, 2))]),
        confidence=rng.uniform(0.1, 1, n), class_id=rng.integers(0, 9, n), category=rng.integers(0, 3, n),
        velocity=np.where(rng.random((n, 2)) < 0.1, 0.0, rng.normal(0, 80, (n, 2))), last_seen=rng.uniform(0, 9, n),
        size_velocity=rng.normal(0, 20, (n, 2)),
    )
    fields = track_fields(arrays, (1280, 720), horizon_s=1.5)
    assert list(fields) == list(range(1, n + 1))

    def close(got, want, digits):  # numpy and Python may round a value lying on a half differently
        assert np.allclose(got, want, rtol=0, atol=10.0**-digits * 1.01), (got, want)

    for view in arrays.views():
        f = fields[view.track_id]
        assert f["track_id"] == view.track_id and f["predicted_in_s"] == 1.5
        close(f["confidence"], view.confidence, 4)
        close(f["bbox"], view.xyxy, 2)
        close(f["bbox_norm"], np.array(view.xyxy) / [1280, 720, 1280, 720], 5)
        close(f["velocity"], view.velocity, 2)
        close(f["speed_px_s"], view.speed, 2)
        close(f["heading_deg"], view.heading_deg, 1)
        close(f["predicted_bbox"], view.predicted_xyxy(1.5), 2)
        assert all(type(v) is float for v in f["bbox"] + f["predicted_bbox"] + [f["confidence"], f["speed_px_s"]])
    assert fields_of(arrays.views()[7], (1280, 720), 1.5) == fields[8]


def test_event_ids_are_unique_32_hex_digits_heartbeats_included():
    factories = [EventFactory("p"), EventFactory("p")]  # one producer id, restarted: ids still differ
    ids = [f.make(EventType.STREAM_UP, "cam0", 0, 0.0, 0.0)["event_id"] for f in factories for _ in range(500)]
    ids += [f.heartbeat()["event_id"] for f in factories for _ in range(50)]
    assert len(set(ids)) == len(ids)
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids)


def test_msgpack_and_json_payloads_decode_to_the_same_event():
    event = track_event(EventFactory("p"))
    assert decode(encode(event, "msgpack")) == decode(encode(event, "json")) == event
    assert len(encode(event, "msgpack")) < len(encode(event, "json"))


def test_topics_for_types_and_streams():
    assert topics_for() == [""]
    assert topics_for(["track."]) == ["track."]
    assert set(topics_for(["zone."], ["cam1"])) == {
        "zone.entered/cam1", "zone.exited/cam1", "zone.dwell/cam1", "zone.occupancy/cam1"}
    assert "heartbeat/cam1" not in topics_for(["track."], ["cam1"])


def collect(subscriber: Subscriber, out: list, ready: threading.Event) -> None:
    ready.set()
    out.extend(subscriber)


@pytest.mark.parametrize("fmt", ["msgpack", "json"])
def test_subscriber_filters_by_type_and_stream_over_real_sockets(fmt):
    endpoint = free_endpoint()
    publisher = EventPublisher(endpoint, fmt=fmt)
    factory = EventFactory("p")
    subscribers = {
        "all": Subscriber(endpoint, timeout_s=1.5),
        "ended_cam1": Subscriber(endpoint, types=["track.ended"], streams=["cam1"], timeout_s=1.5),
        "zones": Subscriber(endpoint, types=["zone."], timeout_s=1.5),
    }
    received = {name: [] for name in subscribers}
    threads = []
    for name, subscriber in subscribers.items():
        ready = threading.Event()
        threads.append(threading.Thread(target=collect, args=(subscriber, received[name], ready)))
        threads[-1].start()
        ready.wait()
    time.sleep(0.5)
    sent = []
    for i in range(30):
        type_ = [EventType.TRACK_ENDED, EventType.ZONE_ENTERED, EventType.TRACK_UPDATED][i % 3]
        extra = (
            {"reason": "lost"}
            if type_ is EventType.TRACK_ENDED
            else {"zone_id": "z"}
            if type_ is EventType.ZONE_ENTERED
            else {}
        )
        sent.append(track_event(factory, type_, f"cam{i % 2}", **extra))
        publisher.publish(sent[-1])
    for thread in threads:
        thread.join(10)
    publisher.close()
    assert received["all"] == sent and subscribers["all"].gaps == []
    assert received["ended_cam1"] == [e for e in sent if e["type"] == "track.ended" and e["stream_id"] == "cam1"]
    assert received["zones"] == [e for e in sent if e["type"].startswith("zone.")]


def test_subscriber_reports_the_events_it_missed():
    endpoint = free_endpoint()
    publisher = EventPublisher(endpoint)
    factory = EventFactory("p")
    subscriber = Subscriber(endpoint, timeout_s=1.5)
    out, ready = [], threading.Event()
    thread = threading.Thread(target=collect, args=(subscriber, out, ready))
    thread.start()
    ready.wait()
    time.sleep(0.5)
    publisher.publish(track_event(factory))  # seq 1
    for _ in range(3):
        track_event(factory)  # seq 2..4 made but never sent: as if dropped on the way
    publisher.publish(track_event(factory))  # seq 5
    track_event(factory)  # seq 6 lost too; the next heartbeat says so
    publisher.publish(factory.heartbeat(interval_s=1.0, fps=0.0, events_sent=2, streams={}))
    thread.join(10)
    publisher.close()
    assert [e["seq"] for e in out] == [1, 5, 6]
    assert [(g.first_missing, g.last_missing) for g in subscriber.gaps] == [(2, 4), (6, 6)]
