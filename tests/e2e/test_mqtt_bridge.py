"""The MQTT bridge with real parts: a real pipeline publishing on ZeroMQ (the real detector, a live replay camera),
`roadwatch mqtt` in its own process, Debian's mosquitto as the broker (killed and restarted), and a paho client
subscribed to everything as Home Assistant would be."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time

import paho.mqtt.client as mqtt
import pytest

from roadwatch.config import Config
from roadwatch.events.zmq_io import EventPublisher
from roadwatch.pipeline import Pipeline
from roadwatch.streams import SourceSpec

from support.helpers import CITY, ROOT, free_endpoint, require, wait_until
from support.mosquitto import Mosquitto
from support.running import Running


@pytest.fixture(scope="module")
def detector(model_path):
    from roadwatch.detector import DEFAULT_CATEGORIES, CategoryMap
    from roadwatch.detector.yolo import YoloDetector

    return YoloDetector(str(model_path), CategoryMap(DEFAULT_CATEGORIES), device="cpu", imgsz=320)


class Listener:
    """Subscribed to every topic; reconnects (and subscribes again) when the broker comes back."""

    def __init__(self, port: int) -> None:
        self.messages: list[tuple[str, bytes, bool, float]] = []  # topic, payload, retained, when received
        self._lock = threading.Lock()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        self.client.on_connect = lambda c, *_: c.subscribe("#", qos=1)
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(0.2, 1)
        self.client.connect_async("127.0.0.1", port)
        self.client.loop_start()

    def _on_message(self, client, userdata, message) -> None:
        with self._lock:
            self.messages.append((message.topic, message.payload, message.retain, time.monotonic()))

    def since(self, t: float = 0.0) -> list[tuple[str, bytes, bool, float]]:
        with self._lock:
            return [m for m in self.messages if m[3] >= t]

    def last(self, topic: str) -> str | None:
        found = [m[1].decode() for m in self.since() if m[0] == topic]
        return found[-1] if found else None

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def test_the_bridge_publishes_events_state_and_discovery_and_survives_a_broker_restart(tmp_path, detector):
    broker = Mosquitto(tmp_path)
    broker.start()
    endpoint = free_endpoint()
    publisher = EventPublisher(endpoint)
    cfg = Config.model_validate({
        "output": {"dir": str(tmp_path), "video": False}, "events": {"heartbeat_s": 0.5},
        "zones": [{"id": "road", "polygon": [[0, 150], [640, 150], [640, 360], [0, 360]]}],
        "lines": [{"id": "across", "start": [150, 200], "end": [470, 200]}],  # bench/counts_bench.py's line
    })
    pipeline = Pipeline(cfg, [SourceSpec.from_uri(f"replay:{require(CITY)}", "cam")], {}, detector, publisher,
                        tmp_path)
    bridge = subprocess.Popen(
        [sys.executable, "-m", "roadwatch", "mqtt", "--endpoint", endpoint, "--broker", broker.url, "--queue", "5"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    listener = Listener(broker.port)
    running = Running(pipeline)
    try:
        topics = lambda since=0.0: {m[0] for m in listener.since(since)}  # noqa: E731
        wait_until(lambda: "roadwatch/cam/track.started" in topics(), 60, "a track.started event over MQTT")
        started = json.loads(next(m[1] for m in listener.since() if m[0] == "roadwatch/cam/track.started"))
        assert started["type"] == "track.started" and started["stream_id"] == "cam"
        assert listener.last("roadwatch/bridge/status") == "online"
        wait_until(lambda: listener.last("roadwatch/cam/status") == "up", 10, "the camera's retained status")
        assert listener.last("roadwatch/cam/objects/vehicle") is not None
        config = json.loads(listener.last("homeassistant/sensor/roadwatch_cam_objects_vehicle/config"))
        assert config["state_topic"] == "roadwatch/cam/objects/vehicle"
        assert config["availability_topic"] == "roadwatch/bridge/status"
        assert config["device"]["identifiers"] == ["roadwatch_cam"]
        assert "homeassistant/sensor/roadwatch_cam_status/config" in topics()
        wait_until(lambda: int(listener.last("roadwatch/cam/zone/road") or 0) > 0, 30, "objects counted in the zone")
        assert "homeassistant/sensor/roadwatch_cam_zone_road/config" in topics()
        crossings = lambda: [t for t in topics() if t.startswith("roadwatch/cam/line/across/")]  # noqa: E731
        wait_until(crossings, 60, "a line crossing counted")
        assert int(listener.last(crossings()[0])) >= 1
        assert f"homeassistant/sensor/roadwatch_cam_line_across_{crossings()[0].rsplit('/', 1)[1]}/config" in topics()

        def frames_in(seconds: float) -> float:
            before = pipeline.streams["cam"].frames
            time.sleep(seconds)  # a rate is measured over a span of time: this sleep is the span
            return (pipeline.streams["cam"].frames - before) / seconds

        rate_with_broker = frames_in(2.0)
        broker.kill()
        rate_without = frames_in(3.0)  # events keep coming: more than the bridge's queue of 5
        assert bridge.poll() is None, f"the bridge died with the broker: {bridge.stderr.read()}"
        assert rate_without > 0.8 * rate_with_broker, "the pipeline slowed while the broker was away"

        restarted = time.monotonic()
        broker.start()  # empty: persistence is off, so every retained message must be published again
        wait_until(lambda: "roadwatch/cam/track.updated" in topics(restarted)
                   or "roadwatch/cam/track.started" in topics(restarted), 60, "events again after the restart")
        again = topics(restarted)
        assert {"roadwatch/bridge/status", "roadwatch/cam/status",
                "homeassistant/sensor/roadwatch_cam_objects_vehicle/config"} <= again
        wait_until(lambda: int(listener.last("roadwatch/bridge/dropped") or 0) > 0, 10, "the dropped count")
        assert bridge.poll() is None
    finally:
        running.end()
        publisher.close()
        bridge.terminate()
        out, err = bridge.communicate(timeout=30)
        listener.close()
        broker.kill()
    assert bridge.returncode == 0, err
    assert "lost the MQTT broker" in err and "connected to MQTT broker" in err


@pytest.mark.parametrize("args, says", [
    (["--broker", "ftp://host"], "give mqtt://HOST[:PORT]"),
    (["--broker", "mqtt://host:99999"], "the port must be a number"),
    (["--prefix", "road#watch"], "no '+', '#'"),
])
def test_bad_bridge_settings_are_one_line_errors(args, says):
    run = subprocess.run([sys.executable, "-m", "roadwatch", "mqtt", *args], capture_output=True, text=True,
                         timeout=60, cwd=ROOT)
    assert run.returncode == 2
    assert run.stderr.count("\n") == 1 and says in run.stderr, run.stderr
