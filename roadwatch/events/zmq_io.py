"""Events over ZeroMQ: a PUB socket for the pipeline and a SUB client for other programs.

Each message is two frames, [topic, payload]. The topic is "<type>/<stream_id>" ("heartbeat/" for
heartbeats), so a subscription prefix selects by type ("track.", "zone.entered/") or by type and stream
("track.ended/cam0"). The payload is the event as msgpack (default) or UTF-8 JSON (wire.py encodes and checks it).
The publisher never blocks: a subscriber that stops reading only loses messages past its high-water mark,
and sees the loss as a jump in `seq` (heartbeats carry the last `seq` sent, so even a quiet stream reveals
it). The publisher counts each time that happens (`overflows`, reported in the heartbeat).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import zmq

from roadwatch.errors import UserError
from roadwatch.events.curve import (
    Allowlists,
    CurveClientKeys,
    CurveServerKeys,
    rebind,
    secure_client,
    secure_server,
)
from roadwatch.events.endpoints import check_bind
from roadwatch.events.schema import ALL_TYPES, HEARTBEAT, Event
from roadwatch.events.subscriptions import SubscriptionGate
from roadwatch.events.wire import MAX_EVENT_BYTES, MalformedMessage, encode, read_message, topic_of

FORMATS = ("msgpack", "json")
_MORE, _LAST = int(zmq.SNDMORE | zmq.NOBLOCK), int(zmq.NOBLOCK)
LOSSY_EPISODE = 256  # events sent without the full-queue check after an overflow, before checking again
SUBSCRIPTIONS_EVERY_S = 0.01  # how often a publish also applies the subscriptions waiting (a clock read otherwise)


def topics_for(types: Iterable[str] | None = None, streams: Iterable[str] | None = None) -> list[str]:
    """Subscription prefixes for events whose type starts with one of `types` and whose stream is one of
    `streams` (either None: any). Stream filtering spells out every matching type, a closed set."""
    types = list(types) if types else None
    if not streams:
        return types or [""]
    wanted = [t for t in ALL_TYPES if types is None or any(t.startswith(p) for p in types)]
    return [f"{t}/{s}" for t in wanted for s in streams]


class EventPublisher:
    """Publishes events: bound at `endpoint` (subscribers connect to it), or connected to a broker's
    frontend with `connect=True`; optionally CURVE-encrypted with an allowlist of clients.

    An XPUB socket, which is a PUB socket that can also say when a subscriber's queue is full: with
    XPUB_NODROP a send to a full queue fails (EAGAIN) instead of being dropped silently. The publisher then
    counts an overflow and sends the event again in PUB's lossy mode, so every other subscriber still gets
    it and the full one loses it, exactly as with PUB. The next `LOSSY_EPISODE` events go out in lossy mode
    at once (a queue found full stays full while its reader is away), then the check is made again, so
    `overflows` counts episodes of loss, not lost events; each subscriber sees the exact count as gaps in `seq`.
    """

    def __init__(
        self,
        endpoint: str,
        send_hwm: int = 10000,
        linger_ms: int = 2000,
        fmt: str = "msgpack",
        connect: bool = False,
        curve: CurveServerKeys | CurveClientKeys | None = None,
    ) -> None:
        if fmt not in FORMATS:
            raise UserError(f"events format '{fmt}': use one of {', '.join(FORMATS)}")
        self.endpoint = endpoint
        self.linger_ms = linger_ms
        self.format = fmt
        self.sent = 0
        self.overflows = 0  # overflow episodes: times a subscriber's queue was found full when an event was due
        self._lossy = 0  # events still to send in lossy mode in the current overflow episode
        self._revoked = False  # set by the allowlist watcher: drop every connection at the next publish
        self._connect = connect
        self._context = zmq.Context()
        self._socket = self._context.socket(zmq.XPUB)
        self._socket.setsockopt(zmq.SNDHWM, send_hwm)
        self._socket.setsockopt(zmq.XPUB_NODROP, 1)
        self.subscriptions = SubscriptionGate(self._socket)
        self._next_take = 0.0  # when waiting subscriptions are next applied (monotonic)
        self.allowlists: Allowlists | None = None
        try:
            if connect and isinstance(curve, CurveServerKeys):
                raise UserError("events: to connect to a broker with CURVE, set curve_server_key (the broker's "
                                "public NAME.key) beside curve_secret_key")
            if isinstance(curve, CurveClientKeys):
                secure_client(self._socket, curve)
            elif curve is not None:
                self.allowlists = Allowlists(self._context)
                secure_server(self.allowlists, self._socket, curve, "events", on_revoked=self._revoke)
            if connect:
                self._socket.connect(endpoint)
            else:
                check_bind(endpoint, curve is not None, "events endpoint")
                self._socket.bind(endpoint)
        except (zmq.ZMQError, UserError) as exc:
            self._close(0)
            if isinstance(exc, UserError):
                raise
            raise UserError(f"events endpoint '{endpoint}': cannot bind ({exc}); pass another --events") from exc

    def _revoke(self) -> None:
        self._revoked = True

    def _drop_connections(self) -> None:
        """A key left the allowlist: every connection is dropped (the socket unbound and bound again, in this,
        the socket's own thread); allowed clients reconnect at once, the revoked one is refused by ZAP."""
        self._revoked = False
        rebind(self._socket, self.endpoint)

    def publish(self, event: Event) -> None:
        """Never blocks, never waits for a subscriber."""
        topic, payload = topic_of(event), encode(event, self.format)
        if self._revoked:
            self._drop_connections()
        now = time.monotonic()
        if now >= self._next_take:  # subscriptions are applied here, in the socket's thread (manual mode)
            self._next_take = now + SUBSCRIPTIONS_EVERY_S
            self.subscriptions.take_waiting()
        if self._lossy:  # within an overflow episode: sent in PUB's lossy mode, without a failed try first
            self._lossy -= 1
            if not self._lossy:
                self._socket.setsockopt(zmq.XPUB_NODROP, 1)  # the episode's end: the next send checks again
        try:
            self._send(topic, payload)
        except zmq.Again:  # a subscriber's queue is full: count it, then let ZeroMQ drop it for that one only
            self.overflows += 1
            self._socket.setsockopt(zmq.XPUB_NODROP, 0)
            # A full queue stays full while its reader is away: the next events go straight to lossy mode, or
            # each would pay a failed send and two option changes (a fifth of the pipeline's work after
            # detection, measured with a subscriber that never reads).
            self._lossy = LOSSY_EPISODE
            try:
                self._send(topic, payload)
            except zmq.Again:
                return
        self.sent += 1

    def _send(self, topic: bytes, payload: bytes) -> None:
        """Two sends with the flags as plain ints (send_multipart's checks cost as much as a send). Only the
        first frame can meet a full queue: a message's later frames follow where its first one went."""
        self._socket.send(topic, _MORE)
        self._socket.send(payload, _LAST)

    def close(self) -> None:
        """Give queued messages up to `linger_ms` to leave, then release the socket."""
        self._close(self.linger_ms)

    def _close(self, linger_ms: int) -> None:
        self._socket.close(linger=linger_ms)
        if self.allowlists is not None:
            self.allowlists.stop()
        self._context.term()


@dataclass
class Gap:
    producer_id: str
    first_missing: int
    last_missing: int


@dataclass
class Subscriber:
    """Iterate decoded events from a publisher, optionally filtered by type prefix and stream.

    With no filter, every `seq` jump (seen on any event, heartbeats included) is recorded in `gaps`: the
    events a slow or late reader missed. Filtered subscriptions skip seq numbers by design, so they do
    not record gaps. A message that is not an event is skipped and counted in `malformed` by kind
    (wire.py), and `on_malformed` hears of it; it never ends the iteration. Streams match whole ids (the
    topic prefix "track.started/cam1" also lets "cam10" through, which is dropped here).
    """

    endpoint: str
    types: Sequence[str] | None = None
    streams: Sequence[str] | None = None
    timeout_s: float | None = None  # stop after this long without a message
    topics: Sequence[str] | None = None  # raw topic prefixes, instead of types and streams
    client_secret_key: Path | None = None  # CURVE: this client's NAME.key_secret...
    server_public_key: Path | None = None  # ...and the publisher's NAME.key
    max_message_bytes: int = MAX_EVENT_BYTES  # larger payloads are skipped as "too large"
    on_malformed: Callable[[MalformedMessage], None] | None = None
    gaps: list[Gap] = field(default_factory=list)
    malformed: Counter[str] = field(default_factory=Counter)

    def __iter__(self) -> Iterator[Event]:
        context = zmq.Context()
        sock = context.socket(zmq.SUB)
        # libzmq drops a connection whose message is larger still, before it is held in memory
        sock.setsockopt(zmq.MAXMSGSIZE, 4 * self.max_message_bytes)
        track_gaps = not self.types and not self.streams and not self.topics
        streams = set(self.streams) if self.streams and not self.topics else None
        last: dict[str, int] = {}
        try:
            if self.client_secret_key is not None:
                secure_client(sock, CurveClientKeys(self.client_secret_key, self.server_public_key))
            for topic in self.topics or topics_for(self.types, self.streams):
                sock.setsockopt(zmq.SUBSCRIBE, topic.encode())
            sock.connect(self.endpoint)
            timeout_ms = None if self.timeout_s is None else int(self.timeout_s * 1000)
            while True:
                if not sock.poll(timeout_ms):
                    return
                try:
                    event = read_message(sock.recv_multipart(), self.max_message_bytes)
                except MalformedMessage as bad:
                    self.malformed[bad.kind] += 1
                    if self.on_malformed is not None:
                        self.on_malformed(bad)
                    continue
                if streams is not None and event.get("stream_id") not in streams:
                    continue
                if track_gaps:
                    self._check(event, last)
                yield event
        finally:
            sock.close(linger=0)
            context.term()

    def _check(self, event: Event, last: dict[str, int]) -> None:
        producer, seq = event["producer_id"], event["seq"]
        expected = last.get(producer)
        newest = seq if event["type"] == HEARTBEAT else seq - 1  # a heartbeat repeats the last seq sent
        if expected is not None and newest > expected:
            self.gaps.append(Gap(producer, expected + 1, newest))
        if expected is None or seq > expected:
            last[producer] = seq


def iter_events(endpoint: str, topics: Sequence[str] = ("",), timeout_s: float | None = None) -> Iterator[Event]:
    """Raw topic prefixes in, decoded events out (Subscriber filters by type and stream)."""
    yield from Subscriber(endpoint, timeout_s=timeout_s, topics=list(topics))
