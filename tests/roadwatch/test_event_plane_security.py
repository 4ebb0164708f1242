"""The event plane against an attacker on the same network, with real sockets: CURVE on every endpoint,
subscriptions that cannot exhaust memory, snapshots that cannot hold the pipeline, key files kept private."""

from __future__ import annotations

import gc
import os
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import msgpack
import psutil
import pytest
import zmq

from roadwatch.errors import UserError
from roadwatch.events.broker import Broker
from roadwatch.events.curve import CurveClientKeys, CurveServerKeys, create_keys, secure_client
from roadwatch.events.schema import EventFactory, EventType
from roadwatch.events.snapshots import SnapshotServer, request_snapshot
from roadwatch.events.wire import encode, topic_of
from roadwatch.events.zmq_io import EventPublisher, Subscriber

from support.helpers import free_endpoint, roadwatch, wait_until


@pytest.fixture
def keys(tmp_path) -> Path:
    """server, alice (allowed subscriber), mallory (not allowed), pipeline (allowed producer); allowlists
    `allowed/` (subscribers) and `producers/`."""
    folder = tmp_path / "keys"
    for name in ("server", "alice", "mallory", "pipeline"):
        create_keys(folder, name)
    for allowlist, name in (("allowed", "alice"), ("producers", "pipeline")):
        (tmp_path / allowlist).mkdir()
        (tmp_path / allowlist / f"{name}.key").write_bytes((folder / f"{name}.key").read_bytes())
    return folder


def events(producer: str, n: int) -> list[dict]:
    factory = EventFactory(producer)
    return [factory.make(EventType.LINE_CROSSED, "cam1", i, time.time(), i / 25, track_id=1, line_id="gate",
                         direction="in", **{"class": "car"}, category="vehicle", confidence=0.9, bbox=[0, 0, 9, 9])
            for i in range(n)]


def listen(subscriber: Subscriber) -> tuple[threading.Thread, list]:
    out: list = []
    thread = threading.Thread(target=lambda: out.extend(subscriber))
    thread.start()
    return thread, out



def test_key_files_are_private_and_never_overwritten(tmp_path):
    folder = tmp_path / "keys"
    proc = roadwatch("keys", "cam", "--dir", str(folder), timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert stat.S_IMODE((folder / "cam.key_secret").stat().st_mode) == 0o600
    secret = (folder / "cam.key_secret").read_bytes()
    again = roadwatch("keys", "cam", "--dir", str(folder), timeout=60)
    assert again.returncode == 2 and "pass --force to replace it" in again.stderr
    assert (folder / "cam.key_secret").read_bytes() == secret
    assert roadwatch("keys", "cam", "--dir", str(folder), "--force", timeout=60).returncode == 0
    assert (folder / "cam.key_secret").read_bytes() != secret
    os.chmod(folder / "cam.key_secret", 0o644)
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    with pytest.raises(UserError, match="readable by group or others is refused; chmod 600"):
        EventPublisher(free_endpoint(), curve=CurveServerKeys(folder / "cam.key_secret", allowed))


def test_with_curve_the_snapshot_endpoint_answers_only_allowed_clients(tmp_path, keys):
    endpoint = free_endpoint()
    server = SnapshotServer(endpoint, CurveServerKeys(keys / "server.key_secret", tmp_path / "allowed"))
    stop = threading.Event()

    def loop() -> None:  # the pipeline's part: a snapshot when one is wanted
        while not stop.wait(0.02):
            server.serve(lambda: {"producer_id": "p", "seq": 7, "tracks": [], "streams": []})

    thread = threading.Thread(target=loop)
    thread.start()
    try:
        alice = request_snapshot(endpoint, 5.0, keys / "alice.key_secret", keys / "server.key")
        assert alice["seq"] == 7
        with pytest.raises(UserError, match="no answer"):
            request_snapshot(endpoint, 1.5, keys / "mallory.key_secret", keys / "server.key")
        with pytest.raises(UserError, match="no answer"):
            request_snapshot(endpoint, 1.5)  # plaintext
    finally:
        stop.set()
        thread.join()
        server.close()


def test_with_curve_only_allowed_producers_reach_the_broker_and_a_pipeline_connects_through_it(tmp_path, keys):
    frontend, backend = free_endpoint(), free_endpoint()
    broker = Broker(frontend, backend, CurveServerKeys(keys / "server.key_secret", tmp_path / "allowed"),
                    producers_dir=tmp_path / "producers").start()
    alice = Subscriber(backend, timeout_s=3.0, client_secret_key=keys / "alice.key_secret",
                       server_public_key=keys / "server.key")
    thread, received = listen(alice)
    pipeline = EventPublisher(frontend, connect=True,
                              curve=CurveClientKeys(keys / "pipeline.key_secret", keys / "server.key"))
    forger = EventPublisher(frontend, connect=True,
                            curve=CurveClientKeys(keys / "mallory.key_secret", keys / "server.key"))
    plain = zmq.Context.instance().socket(zmq.PUB)
    plain.connect(frontend)
    try:
        probe = EventFactory("probe")
        wait_until(lambda: pipeline.publish(probe.heartbeat(interval_s=1, fps=0, events_sent=0, streams={}))
                 or bool(received), 20, "the allowed pipeline's heartbeat to reach alice")
        forged = events("pipeline", 30)  # a spoofed producer_id, as the red team sent
        for event in forged:
            forger.publish(event)
            plain.send_multipart([topic_of(event), encode(event)])
        sent = events("real", 100)
        for event in sent:
            pipeline.publish(event)
        thread.join(20)
    finally:
        plain.close(linger=0)
        for publisher in (pipeline, forger):
            publisher.close()
        broker.stop()
    got = [e for e in received if e["type"] != "heartbeat"]
    assert got == sent  # every event of the allowed pipeline, in order, and not one forged


def rss_mb(pid: int | None = None) -> float:
    gc.collect()
    return psutil.Process(pid).memory_info().rss / 2**20


ATTACKER = """
import os, sys, zmq
endpoint, kind = sys.argv[1], sys.argv[2]
ctx = zmq.Context()
socks = []
if kind == "huge":  # one subscription of 32 MB
    s = ctx.socket(zmq.SUB); s.connect(endpoint); s.setsockopt(zmq.SUBSCRIBE, b"x" * (32 << 20)); socks.append(s)
elif kind == "many":  # 40,000 distinct subscriptions of 1 KB, from 40 sockets
    for i in range(40):
        s = ctx.socket(zmq.SUB); s.setsockopt(zmq.SNDHWM, 0); s.connect(endpoint)
        for j in range(1000):
            s.setsockopt(zmq.SUBSCRIBE, b"%05d-%03d-" % (i, j) + b"y" * 1014)
        socks.append(s)
else:  # "long": 100 topics longer than any roadwatch sends, yet within the message limit
    s = ctx.socket(zmq.SUB); s.connect(endpoint)
    for j in range(100):
        s.setsockopt(zmq.SUBSCRIBE, b"%03d" % j + b"z" * 297)
    socks.append(s)
print("sent", flush=True)
sys.stdin.read()
os._exit(0)  # no linger on what the publisher refused to take
"""


def attack(endpoint: str, kind: str) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", ATTACKER, endpoint, kind], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "sent"
    return proc


def test_huge_or_many_subscriptions_leave_publisher_and_broker_memory_flat():
    """32 MB in one subscription, then 40,000 subscriptions of 1 KB, at the pipeline's publisher and at the
    broker's subscriber side; each holds its memory within 50 MB, and a normal subscriber still gets events."""
    endpoint = free_endpoint()
    publisher = EventPublisher(endpoint)
    frontend, backend = free_endpoint(), free_endpoint()
    broker = Broker(frontend, backend).start()
    feeder = EventPublisher(frontend, connect=True)
    factory = EventFactory("p")
    before = rss_mb()
    attackers = []
    try:
        for target in (endpoint, backend):
            for kind in ("huge", "many", "long"):
                attackers.append(attack(target, kind))
                deadline = time.monotonic() + 1  # the publishers apply subscriptions as they publish
                while time.monotonic() < deadline:
                    publisher.publish(factory.heartbeat(interval_s=1, fps=0, events_sent=0, streams={}))
                    feeder.publish(factory.heartbeat(interval_s=1, fps=0, events_sent=0, streams={}))
                    time.sleep(0.01)
        grown = rss_mb() - before
        assert publisher.subscriptions.refused == 100  # the long ones; larger messages dropped their peers
        heard = Subscriber(endpoint, timeout_s=0.2)
        thread, got = listen(heard)
        wait_until(lambda: publisher.publish(factory.heartbeat(interval_s=1, fps=0, events_sent=0, streams={}))
                 or bool(got), 20, "a normal subscriber to hear the publisher")
        thread.join(10)
    finally:
        for proc in attackers:
            proc.stdin.close()
            proc.wait(20)
        feeder.close()
        publisher.close()
        broker.stop()
    assert grown < 50, f"the publisher and broker grew by {grown:.0f} MB under hostile subscriptions"


def test_a_snapshot_flood_never_holds_the_loop():
    """Three clients asking as fast as they can for 6 s while a stand-in loop does 10 ms of work per batch and
    serves snapshots: its batches keep their pace, and the clients are answered, at a bounded rate."""
    endpoint = free_endpoint()
    server = SnapshotServer(endpoint)
    stop, flooding = threading.Event(), threading.Event()
    batch_gaps: list[float] = []
    built = [0]

    def loop() -> None:
        last = time.monotonic()
        while not stop.is_set():
            busy_until = time.monotonic() + 0.01
            while time.monotonic() < busy_until:  # the loop's own work
                pass
            if server.serve(lambda: {"producer_id": "p", "seq": 1, "tracks": [], "streams": []}):
                built[0] += 1
            now = time.monotonic()
            if flooding.is_set():
                batch_gaps.append(now - last)
            last = now

    answered = [0]

    def flood() -> None:
        ctx = zmq.Context()
        sock = ctx.socket(zmq.DEALER)
        sock.connect(endpoint)
        end = time.monotonic() + 6
        while time.monotonic() < end:
            try:
                sock.send_multipart([b"", b"SNAPSHOT"], zmq.NOBLOCK)
            except zmq.Again:
                pass
            while sock.poll(0):
                reply = msgpack.unpackb(sock.recv_multipart()[-1])
                answered[0] += "error" not in reply
        sock.close(linger=0)
        ctx.term()

    worker = threading.Thread(target=loop)
    worker.start()
    flooding.set()
    flooders = [threading.Thread(target=flood) for _ in range(3)]
    for thread in flooders:
        thread.start()
    for thread in flooders:
        thread.join(30)
    stop.set()
    worker.join(10)
    server.close()
    assert answered[0] > 0
    assert max(batch_gaps) < 0.5, f"a batch waited {max(batch_gaps):.2f} s"
    assert built[0] <= len(batch_gaps) and server.answered <= 6 * server.max_per_s + 10


def test_an_allowlist_change_takes_effect_without_a_restart(tmp_path, keys):
    """A key added is let in; a key removed is cut off, its open connection included (it once kept receiving)."""
    endpoint = free_endpoint()
    publisher = EventPublisher(endpoint, curve=CurveServerKeys(keys / "server.key_secret", tmp_path / "allowed"))
    factory = EventFactory("p")
    received: dict[str, list] = {"alice": [], "mallory": []}
    stop = threading.Event()

    def read(name: str) -> None:
        ctx = zmq.Context()
        sock = ctx.socket(zmq.SUB)
        secure_client(sock, CurveClientKeys(keys / f"{name}.key_secret", keys / "server.key"))
        sock.setsockopt(zmq.SUBSCRIBE, b"")
        sock.connect(endpoint)
        while not stop.is_set():
            if sock.poll(50):
                received[name].append(msgpack.unpackb(sock.recv_multipart()[1])["seq"])
        sock.close(linger=0)
        ctx.term()

    readers = {name: threading.Thread(target=read, args=(name,)) for name in received}
    readers["alice"].start()

    def beat() -> int:
        event = factory.make(EventType.STREAM_UP, "cam1", 0, time.time(), 0.0, source="x", status="up", reason="r")
        publisher.publish(event)
        time.sleep(0.02)
        return event["seq"]

    try:
        wait_until(lambda: beat() and bool(received["alice"]), 20, "alice to hear the publisher")
        (tmp_path / "allowed" / "mallory.key").write_bytes((keys / "mallory.key").read_bytes())
        wait_until(lambda: publisher.allowlists.reloads == 1, 10, "the allowlist to be re-read")
        readers["mallory"].start()  # after the change: libzmq does not retry a connection refused once
        wait_until(lambda: beat() and bool(received["mallory"]), 20, "mallory to be let in once listed")
        (tmp_path / "allowed" / "alice.key").unlink()
        wait_until(lambda: beat() and received["mallory"][-1] > received["alice"][-1] + 50, 20,
                 "alice to be cut off while mallory goes on")
    finally:
        stop.set()
        for thread in readers.values():
            if thread.is_alive():
                thread.join(10)
        publisher.close()


def test_binding_beyond_loopback_without_curve_is_one_warning(caplog):
    port = free_endpoint().rsplit(":", 1)[1]
    with caplog.at_level("WARNING"):
        EventPublisher(f"tcp://127.0.0.1:{port}").close()
        assert not caplog.records
        EventPublisher(f"tcp://0.0.0.0:{port}").close()
    assert len(caplog.records) == 1 and "bound beyond this machine without CURVE" in caplog.records[0].getMessage()


def test_an_ipc_endpoint_never_deletes_a_file_that_is_not_a_socket(tmp_path):
    precious = tmp_path / "notes.txt"
    precious.write_text("keep me\n")
    with pytest.raises(UserError, match="exists and is not a socket; roadwatch will not delete it"):
        EventPublisher(f"ipc://{precious}")
    with pytest.raises(UserError, match="exists and is not a socket"):
        SnapshotServer(f"ipc://{precious}")
    assert precious.read_text() == "keep me\n"
    socket_path = tmp_path / "events.sock"
    first = EventPublisher(f"ipc://{socket_path}")  # a socket left by an earlier run may be replaced
    first.close()
    EventPublisher(f"ipc://{socket_path}").close()
