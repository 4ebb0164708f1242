"""A test's ear on a pipeline's event endpoint: a real SUB socket that keeps every event it hears."""

from __future__ import annotations

import threading
import time

import zmq

from roadwatch.events.curve import CurveClientKeys, secure_client
from roadwatch.events.wire import decode


class EventTap(threading.Thread):
    """A real SUB socket on the event endpoint, connected before the pipeline starts."""

    def __init__(self, endpoint: str, curve: CurveClientKeys | None = None) -> None:
        super().__init__(daemon=True)
        self.events: list[dict] = []
        self.topics: list[bytes] = []
        self.done = threading.Event()
        self.ready = threading.Event()
        self.endpoint = endpoint
        self.curve = curve

    @classmethod
    def listening(cls, endpoint: str, curve: CurveClientKeys | None = None) -> EventTap:
        """A tap already connected, so a pipeline started next loses none of its first events."""
        tap = cls(endpoint, curve)
        tap.start()
        tap.ready.wait(5)
        return tap

    def stop(self) -> None:
        """Once the pipeline has ended: take what is still on its way, then close."""
        self.done.set()
        self.join(10)

    def run(self) -> None:
        ctx = zmq.Context()
        sock = ctx.socket(zmq.SUB)
        if self.curve is not None:
            secure_client(sock, self.curve)
        sock.setsockopt(zmq.SUBSCRIBE, b"")
        sock.connect(self.endpoint)
        self.ready.set()
        quiet_since = None
        while True:
            if sock.poll(200):
                topic, payload = sock.recv_multipart()
                self.topics.append(topic)
                self.events.append(decode(payload))
                quiet_since = None
            elif self.done.is_set():
                quiet_since = quiet_since or time.monotonic()
                if time.monotonic() - quiet_since > 1.0:
                    break
        sock.close(linger=0)
        ctx.term()
