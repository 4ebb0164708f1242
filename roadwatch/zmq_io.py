"""Events over ZeroMQ: a PUB socket for the pipeline and a SUB iterator for clients.

Each message is two frames, [topic, payload]: the topic is "<type>/<stream_id>" so a subscriber can
filter by type prefix ("track.", "track.ended/"), and the payload is the event as UTF-8 JSON.
PUB never blocks: a subscriber that stops reading only loses messages past its high-water mark.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence

import zmq

from roadwatch.errors import UserError
from roadwatch.events import Event


def topic_of(event: Event) -> bytes:
    return f"{event['type']}/{event['stream_id']}".encode()


def encode(event: Event) -> bytes:
    return json.dumps(event, separators=(",", ":")).encode()


class EventPublisher:
    """Binds a PUB socket and publishes events; counts what it could not queue."""

    def __init__(self, endpoint: str, send_hwm: int = 10000, linger_ms: int = 2000) -> None:
        self.endpoint = endpoint
        self.linger_ms = linger_ms
        self.dropped = 0
        self.sent = 0
        self._context = zmq.Context()
        self._socket = self._context.socket(zmq.PUB)
        self._socket.setsockopt(zmq.SNDHWM, send_hwm)
        try:
            self._socket.bind(endpoint)
        except zmq.ZMQError as exc:
            self._socket.close(linger=0)
            self._context.term()
            raise UserError(f"events endpoint '{endpoint}': cannot bind ({exc}); pass another --events") from exc

    def publish(self, event: Event) -> None:
        try:
            self._socket.send_multipart([topic_of(event), encode(event)], flags=zmq.NOBLOCK)
            self.sent += 1
        except zmq.Again:
            self.dropped += 1

    def close(self) -> None:
        """Give queued messages up to `linger_ms` to leave, then release the socket."""
        self._socket.close(linger=self.linger_ms)
        self._context.term()


def iter_events(
    endpoint: str, topics: Sequence[str] = ("",), timeout_s: float | None = None
) -> Iterator[Event]:
    """Connect a SUB socket and yield decoded events; stops after `timeout_s` seconds with nothing received."""
    context = zmq.Context()
    sock = context.socket(zmq.SUB)
    try:
        for topic in topics:
            sock.setsockopt(zmq.SUBSCRIBE, topic.encode())
        sock.connect(endpoint)
        timeout_ms = None if timeout_s is None else int(timeout_s * 1000)
        while True:
            if not sock.poll(timeout_ms):
                return
            _topic, payload = sock.recv_multipart()
            yield json.loads(payload)
    finally:
        sock.close(linger=0)
        context.term()
