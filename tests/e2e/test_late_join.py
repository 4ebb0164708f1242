"""A subscriber that joins late rebuilds the same live state as one that was there from the start."""

from __future__ import annotations

import signal
import threading
import time

import pytest

from roadwatch.events.live_state import LiveState
from roadwatch.events.snapshots import late_join, request_snapshot
from roadwatch.events.zmq_io import Subscriber

from support.helpers import (
    CITY,
    assert_valid_events,
    free_endpoint,
    require,
    spawn_roadwatch,
    spawned,
    stop,
    wait_until,
)


def test_late_subscriber_reconstructs_the_active_tracks(tmp_path, model_path):
    endpoint, snapshot_endpoint = free_endpoint(), free_endpoint()
    config = tmp_path / "late.yaml"
    config.write_text(f"events: {{snapshot_endpoint: '{snapshot_endpoint}'}}\n")
    early_events: list[dict] = []
    read_until: list[int] = []  # the late subscriber's seq, once known: the early one reads up to it

    def read_early() -> None:
        # a long idle timeout: on a loaded machine the model can take seconds to load before the first
        # event; once running, a heartbeat (carrying the last seq) comes every second
        for event in Subscriber(endpoint, timeout_s=60.0):
            early_events.append(event)
            if read_until and event["seq"] >= read_until[0]:
                return

    early = threading.Thread(target=read_early)
    early.start()
    time.sleep(0.3)
    proc = spawn_roadwatch(
        "run", "--source", str(require(CITY)), "--model", str(model_path), "--config", str(config), "--events",
        endpoint, "--device", "cpu", "--output", str(tmp_path / "out"),
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and sum(e["type"] == "track.started" for e in early_events) < 3:
            time.sleep(0.2)
        late_seq, late_active, applied = 0, set(), 0
        stop_at = time.monotonic() + 4.0
        for state, _event in late_join(endpoint, snapshot_endpoint, timeout_s=5.0):
            late_seq, late_active = state.seq, state.active_tracks()
            applied += 1
            if time.monotonic() > stop_at:
                break
        read_until.append(late_seq)
        early.join(30)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)
        early.join(30)
    assert not early.is_alive(), "the early subscriber never reached the late one's seq"
    assert proc.returncode == 0
    assert applied > 0 and late_active, "the late subscriber saw live tracks and newer events"
    state_events = [e for e in early_events if e["type"] != "heartbeat"]
    assert [e["seq"] for e in state_events] == list(range(1, len(state_events) + 1))  # the early one missed nothing
    early_view = LiveState()
    for event in state_events:
        if event["seq"] <= late_seq:
            early_view.apply(event)
    assert early_view.seq == late_seq
    assert early_view.active_tracks() == late_active
    assert_valid_events(early_events)


def test_snapshot_endpoint_that_nobody_serves_is_a_clear_error():
    from roadwatch.errors import UserError

    with pytest.raises(UserError, match="no answer within 0.5 s"):
        request_snapshot(free_endpoint(), timeout_s=0.5)


def test_a_snapshot_flood_leaves_the_pipeline_its_pace_and_heartbeats(tmp_path, model_path):
    """Four clients asking for snapshots as fast as the socket lets them, for 8 s, against a live camera run:
    once, one `serve()` answered a 25 s flood inside the loop (no heartbeat for 24.5 s, one frame)."""
    import statistics

    import zmq

    from support.event_tap import EventTap

    endpoint, snapshot_endpoint = free_endpoint(), free_endpoint()
    config = tmp_path / "flood.yaml"
    config.write_text(
        f"sources:\n  - {{uri: 'replay:{require(CITY)}', id: cam}}\ndetector: {{imgsz: 320}}\n"
        f"events: {{snapshot_endpoint: '{snapshot_endpoint}', heartbeat_s: 0.5}}\n"
    )
    tap = EventTap.listening(endpoint)
    beats = lambda: [e for e in tap.events if e["type"] == "heartbeat"]  # noqa: E731
    answered = [0]

    def flood(until: float) -> None:
        """Requests as fast as the socket takes them, in bursts: a few thousand a second in all, while the
        flooders themselves stay light (on 2 cores, a busy-looping flooder would slow the pipeline by itself)."""
        ctx = zmq.Context()
        sock = ctx.socket(zmq.DEALER)
        sock.connect(snapshot_endpoint)
        while time.monotonic() < until:
            for _ in range(50):
                try:
                    sock.send_multipart([b"", b"SNAPSHOT"], zmq.NOBLOCK)
                except zmq.Again:  # every queue on the way is full: the server reads at its own pace
                    break
            while sock.poll(0):
                sock.recv_multipart()
                answered[0] += 1
            time.sleep(0.01)
        sock.close(linger=0)
        ctx.term()

    try:
        with spawned("run", "--config", str(config), "--model", str(model_path), "--events", endpoint, "--device",
                     "cpu", "--output", str(tmp_path / "out")) as proc:
            wait_until(lambda: len(beats()) >= 12, 120, "6 s of steady running")
            before = [b["fps"] for b in beats()[-6:]]
            start = time.time()
            until = time.monotonic() + 8
            flooders = [threading.Thread(target=flood, args=(until,)) for _ in range(4)]
            for thread in flooders:
                thread.start()
            for thread in flooders:
                thread.join(30)
            during = [b for b in beats() if b["ts"] >= start]
            stop(proc)
    finally:
        tap.stop()
    assert proc.returncode == 0
    assert answered[0] > 0
    times = [start] + [b["ts"] for b in during]
    assert len(during) >= 12 and max(b - a for a, b in zip(times, times[1:])) < 2.0, "a heartbeat came late"
    assert statistics.median(b["fps"] for b in during) >= 0.8 * statistics.median(before), (before, during)
