"""Events benchmark: events/s from a publisher to a subscriber over loopback TCP, msgpack and JSON.

Realistic track events (every field the pipeline sends). Prints events/s received with JSON in the same
run as the unit, and payload sizes; writes bench/results/events.json.

    make bench-events
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

import zmq  # noqa: E402

from roadwatch.events.schema import EventFactory, EventType, fields_of  # noqa: E402
from roadwatch.events.wire import decode, encode  # noqa: E402
from roadwatch.events.zmq_io import EventPublisher  # noqa: E402
from roadwatch.trackers import TrackView  # noqa: E402

N = 100_000


def free_endpoint() -> str:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{s.getsockname()[1]}"


def run(fmt: str) -> tuple[float, int, int]:
    """(events/s received and decoded, events received, payload bytes) for N events."""
    endpoint = free_endpoint()
    publisher = EventPublisher(endpoint, send_hwm=N + 10, fmt=fmt)
    context = zmq.Context()
    sub = context.socket(zmq.SUB)
    sub.setsockopt(zmq.RCVHWM, N + 10)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    sub.connect(endpoint)
    factory = EventFactory("bench")
    track = TrackView(7, (312.4, 180.2, 371.9, 226.0), 0.83, 2, 0, (-4.1, -61.3), 1.0, (0.2, 0.4))
    fields = fields_of(track, (640, 360))
    events = [
        factory.track(
            EventType.TRACK_UPDATED, "cam0", i, time.time(), i / 30, fields, "vehicle", "car", zones=["near_lanes"]
        )
        for i in range(N)
    ]
    while not sub.poll(50):  # until the subscription is live
        publisher.publish(factory.heartbeat(interval_s=1.0, fps=0.0, events_sent=0, streams={}))
    while sub.poll(0):
        sub.recv_multipart()
    got = [0]

    def receive() -> None:
        while sub.poll(1000):
            _topic, payload = sub.recv_multipart()
            decode(payload)
            got[0] += 1
            if got[0] == N:
                return

    receiver = threading.Thread(target=receive)
    t0 = time.perf_counter()
    receiver.start()
    for event in events:
        publisher.publish(event)
    receiver.join()
    elapsed = time.perf_counter() - t0
    publisher.close()
    sub.close(linger=0)
    context.term()
    return got[0] / elapsed, got[0], len(encode(events[0], fmt))


def main() -> None:
    results = {fmt: run(fmt) for fmt in ("json", "msgpack")}
    unit = results["json"][0]
    print(
        f"events benchmark: {N} track events, publisher -> subscriber over loopback TCP, encode + send + receive + "
        f"decode"
    )
    print(f"{'format':<9}{'x JSON':>8}{'received':>10}{'bytes/event':>13}")
    for fmt, (rate, received, size) in results.items():
        print(f"{fmt:<9}{rate / unit:>7.2f}x{received:>10}{size:>13}")
    print(f"unit: JSON = {unit:,.0f} events/s on this machine in this run")
    out = ROOT / "bench" / "results" / "events.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {fmt: {"events_per_s": round(r), "received": n, "bytes": b} for fmt, (r, n, b) in results.items()}, indent=2
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
