"""Fan-in through the broker and CURVE authentication, with real ZeroMQ sockets."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

from roadwatch.events.broker import Broker
from roadwatch.events.curve import CurveServerKeys
from roadwatch.events.schema import EventFactory, EventType
from roadwatch.events.zmq_io import EventPublisher, Subscriber

from support.helpers import free_endpoint, roadwatch, spawn_roadwatch


def listen(subscriber: Subscriber) -> tuple[threading.Thread, list]:
    out: list = []
    thread = threading.Thread(target=lambda: out.extend(subscriber))
    thread.start()
    return thread, out


def publish_some(publisher: EventPublisher, producer: str, n: int = 5) -> list:
    factory = EventFactory(producer)
    events = [
        factory.make(
            EventType.STREAM_UP, f"{producer}-cam", i, time.time(), 0.0, source="x", status="up", reason="connected"
        )
        for i in range(n)
    ]
    for event in events:
        publisher.publish(event)
    return events


def test_two_producers_reach_two_subscribers_through_the_broker():
    frontend, backend = free_endpoint(), free_endpoint()
    broker = Broker(frontend, backend).start()
    listeners = [listen(Subscriber(backend, timeout_s=2.0)) for _ in range(2)]
    producers = [EventPublisher(frontend, connect=True) for _ in range(2)]
    time.sleep(1.0)  # subscriptions travel subscriber -> XPUB -> XSUB -> each producer
    sent = publish_some(producers[0], "p1") + publish_some(producers[1], "p2")
    for thread, _ in listeners:
        thread.join(15)
    for producer in producers:
        producer.close()
    broker.stop()
    assert not broker.running()
    for _, received in listeners:
        key = lambda e: (e["producer_id"], e["seq"])  # noqa: E731
        assert sorted(received, key=key) == sorted(sent, key=key)


def make_keys(folder: Path, *names: str) -> None:
    for name in names:
        proc = roadwatch("keys", name, "--dir", str(folder), timeout=60)
        assert proc.returncode == 0, proc.stderr
        assert (folder / f"{name}.key").is_file() and (folder / f"{name}.key_secret").is_file()


def test_curve_lets_an_allowed_key_in_and_nobody_else(tmp_path):
    keys, allowed = tmp_path / "keys", tmp_path / "allowed"
    make_keys(keys, "server", "alice", "mallory")
    allowed.mkdir()
    (allowed / "alice.key").write_bytes((keys / "alice.key").read_bytes())
    endpoint = free_endpoint()
    publisher = EventPublisher(endpoint, curve=CurveServerKeys(keys / "server.key_secret", allowed))
    alice = Subscriber(
        endpoint, timeout_s=2.0, client_secret_key=keys / "alice.key_secret", server_public_key=keys / "server.key"
    )
    mallory = Subscriber(
        endpoint, timeout_s=2.0, client_secret_key=keys / "mallory.key_secret", server_public_key=keys / "server.key"
    )
    plain = Subscriber(endpoint, timeout_s=2.0)
    listeners = [listen(s) for s in (alice, mallory, plain)]
    time.sleep(1.0)
    sent = publish_some(publisher, "p")
    for thread, _ in listeners:
        thread.join(15)
    publisher.close()
    (_, got_alice), (_, got_mallory), (_, got_plain) = listeners
    assert got_alice == sent
    assert got_mallory == [] and got_plain == []


def test_broker_on_a_busy_port_is_a_one_line_error():
    frontend = free_endpoint()
    first = Broker(frontend, free_endpoint()).start()
    try:
        proc = roadwatch("broker", "--frontend", frontend, "--backend", free_endpoint(), timeout=60)
    finally:
        first.stop()
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith("roadwatch: error: broker: cannot bind")


def test_broker_command_runs_until_interrupted():
    frontend, backend = free_endpoint(), free_endpoint()
    proc = spawn_roadwatch("broker", "--frontend", frontend, "--backend", backend)
    try:
        thread, received = listen(Subscriber(backend, timeout_s=2.0))
        producer = EventPublisher(frontend, connect=True)
        factory = EventFactory("p")
        deadline = time.monotonic() + 60
        while not received and time.monotonic() < deadline:  # heartbeats until the broker passes them on
            producer.publish(factory.heartbeat(interval_s=1.0, fps=0.0, events_sent=0, streams={}))
            time.sleep(0.1)
        sent = publish_some(producer, "p")
        thread.join(15)
        producer.close()
        assert received and [e for e in received if e["type"] != "heartbeat"] == sent
    finally:
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0, stderr
