"""A real run publishing through a CURVE broker (`events.connect: true`): every event reaches an allowed
subscriber, encrypted both ways. Once the pipeline made itself a CURVE server when it connected, and the
broker got 0 of its events without an error."""

from __future__ import annotations

from roadwatch.events.broker import Broker
from roadwatch.events.curve import CurveClientKeys, CurveServerKeys, create_keys

from support.event_tap import EventTap
from support.helpers import free_endpoint, read_jsonl, roadwatch


def test_a_pipeline_publishes_every_event_through_a_curve_broker(tmp_path, model_path, city_clip):
    keys = tmp_path / "keys"
    for name in ("broker", "pipeline", "alice"):
        create_keys(keys, name)
    for allowlist, name in (("subscribers", "alice"), ("producers", "pipeline")):
        (tmp_path / allowlist).mkdir()
        (tmp_path / allowlist / f"{name}.key").write_bytes((keys / f"{name}.key").read_bytes())
    frontend, backend = free_endpoint(), free_endpoint()
    broker = Broker(frontend, backend, CurveServerKeys(keys / "broker.key_secret", tmp_path / "subscribers"),
                    producers_dir=tmp_path / "producers").start()
    alice = EventTap.listening(backend, CurveClientKeys(keys / "alice.key_secret", keys / "broker.key"))
    config = tmp_path / "edge.yaml"
    config.write_text(
        f"events: {{connect: true, curve_secret_key: '{keys / 'pipeline.key_secret'}', "
        f"curve_server_key: '{keys / 'broker.key'}'}}\n"
    )
    try:
        proc = roadwatch("run", "--source", str(city_clip), "--config", str(config), "--model", str(model_path),
                         "--events", frontend, "--output", str(tmp_path / "out"), "--device", "cpu", timeout=180)
        alice.stop()  # takes what is still on its way through the broker, then closes
    finally:
        broker.stop()
    received = alice.events
    assert proc.returncode == 0, proc.stderr
    logged = read_jsonl(tmp_path / "out" / "events.jsonl")
    published = [e for e in received if e["type"] != "heartbeat"]
    assert len(logged) > 10
    # The subscription reaches the pipeline a moment after it connects; from the first event heard, every one.
    first = logged.index(next(e for e in logged if e["seq"] == published[0]["seq"]))
    assert [e["seq"] for e in published] == [e["seq"] for e in logged[first:]]
    assert first < 3
