"""Events over ZeroMQ: a PUB socket for the pipeline and a SUB client for other programs.

Each message is two frames, [topic, payload]. The topic is "<type>/<stream_id>" ("heartbeat/" for
heartbeats), so a subscription prefix selects by type ("track.", "zone.entered/") or by type and stream
("track.ended/cam0"). The payload is the event as msgpack (default) or UTF-8 JSON (wire.py encodes and checks it).
The publisher never blocks: a subscriber that stops reading only loses messages past its high-water mark,
and sees the loss as a jump in `seq` (heartbeats carry the last `seq` sent, so even a quiet stream reveals
it). The publisher counts each time that happens (`overflows`, reported in the heartbeat).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import msgpack
import zmq

from roadwatch.errors import UserError
from roadwatch.events.curve import secure_client, secure_server
from roadwatch.events.schema import ALL_TYPES, HEARTBEAT, Event
from roadwatch.events.wire import MAX_EVENT_BYTES, MalformedMessage, encode, read_message, topic_of

FORMATS = ("msgpack", "json")
_MORE, _LAST = int(zmq.SNDMORE | zmq.NOBLOCK), int(zmq.NOBLOCK)
LOSSY_EPISODE = 256  # events sent without the full-queue check after an overflow, before checking again


def topics_for(types: Iterable[str] | None = None, streams: Iterable[str] | None = None) -> list[str]:
    """Subscription prefixes for events whose type starts with one of `types` and whose stream is one of
    `streams` (either None: any). Stream filtering spells out every matching type, a closed set."""
    types = list(types) if types else None
    if not streams:
        return types or [""]
    wanted = [t for t in ALL_TYPES if types is None or any(t.startswith(p) for p in types)]
    return [f"{t}/{s}" for t in wanted for s in streams]


@dataclass(frozen=True)
class CurveServerKeys:
    """The publisher's (or broker's) secret key file and the folder of client public keys it accepts."""

    secret_key_file: Path
    allowed_clients_dir: Path


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
        curve: CurveServerKeys | None = None,
    ) -> None:
        if fmt not in FORMATS:
            raise UserError(f"events format '{fmt}': use one of {', '.join(FORMATS)}")
        self.endpoint = endpoint
        self.linger_ms = linger_ms
        self.format = fmt
        self.sent = 0
        self.overflows = 0  # overflow episodes: times a subscriber's queue was found full when an event was due
        self._lossy = 0  # events still to send in lossy mode in the current overflow episode
        self._context = zmq.Context()
        self._socket = self._context.socket(zmq.XPUB)
        self._socket.setsockopt(zmq.SNDHWM, send_hwm)
        self._socket.setsockopt(zmq.XPUB_NODROP, 1)
        self._authenticator = None
        try:
            if curve is not None:
                self._authenticator = secure_server(
                    self._context, self._socket, curve.secret_key_file, curve.allowed_clients_dir
                )
            if connect:
                self._socket.connect(endpoint)
            else:
                self._socket.bind(endpoint)
        except (zmq.ZMQError, UserError) as exc:
            self._close(0)
            if isinstance(exc, UserError):
                raise
            raise UserError(f"events endpoint '{endpoint}': cannot bind ({exc}); pass another --events") from exc

    def publish(self, event: Event) -> None:
        """Never blocks, never waits for a subscriber."""
        topic, payload = topic_of(event), encode(event, self.format)
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
        if not self.sent & 0xFF:
            self._drain_subscriptions()

    def _send(self, topic: bytes, payload: bytes) -> None:
        """Two sends with the flags as plain ints (send_multipart's checks cost as much as a send). Only the
        first frame can meet a full queue: a message's later frames follow where its first one went."""
        self._socket.send(topic, _MORE)
        self._socket.send(payload, _LAST)

    def _drain_subscriptions(self) -> None:
        """XPUB hands subscribe/unsubscribe messages up to the application; nobody here needs them, but
        unread they would pile up, so they are read and dropped now and then."""
        while self._socket.poll(0):
            self._socket.recv()

    def close(self) -> None:
        """Give queued messages up to `linger_ms` to leave, then release the socket."""
        self._close(self.linger_ms)

    def _close(self, linger_ms: int) -> None:
        self._socket.close(linger=linger_ms)
        if self._authenticator is not None:
            self._authenticator.stop()
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
                secure_client(sock, self.client_secret_key, self.server_public_key)
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


class Broker:
    """Fan-in: producers connect their PUB to `frontend` (XSUB), subscribers connect to `backend` (XPUB);
    pyzmq's steerable proxy forwards events one way and subscriptions the other, in a thread of its own.
    With `curve`, subscribers must be allowed. `start` binds (so a busy port is a UserError at once);
    `stop` ends the proxy through its steering socket."""

    def __init__(self, frontend: str, backend: str, curve: CurveServerKeys | None = None) -> None:
        self.frontend, self.backend, self.curve = frontend, backend, curve
        self._context = zmq.Context()
        self._thread: threading.Thread | None = None
        self._authenticator = None

    def start(self) -> Broker:
        xsub, xpub = self._context.socket(zmq.XSUB), self._context.socket(zmq.XPUB)
        control, self._steer = self._context.socket(zmq.PAIR), self._context.socket(zmq.PAIR)
        self._steer.bind(f"inproc://broker-steer-{id(self)}")
        control.connect(f"inproc://broker-steer-{id(self)}")
        try:
            if self.curve is not None:
                self._authenticator = secure_server(self._context, xpub, self.curve.secret_key_file,
                                                    self.curve.allowed_clients_dir)
            xsub.bind(self.frontend)
            xpub.bind(self.backend)
        except (zmq.ZMQError, UserError) as exc:
            for sock in (xsub, xpub, control):
                sock.close(linger=0)
            self.stop()
            if isinstance(exc, UserError):
                raise
            raise UserError(f"broker: cannot bind {self.frontend} / {self.backend} ({exc})") from exc
        self._thread = threading.Thread(target=self._proxy, args=(xsub, xpub, control), name="broker", daemon=True)
        self._thread.start()  # the sockets now belong to that thread
        return self

    @staticmethod
    def _proxy(xsub: zmq.Socket, xpub: zmq.Socket, control: zmq.Socket) -> None:
        try:
            zmq.proxy_steerable(xsub, xpub, None, control)
        except zmq.ContextTerminated:
            pass
        finally:
            for sock in (xsub, xpub, control):
                sock.close(linger=0)

    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stop(self, timeout_s: float = 5.0) -> None:
        if self._thread is not None:
            self._steer.send(b"TERMINATE")
            self._thread.join(timeout_s)
            self._thread = None
        self._steer.close(linger=0)
        if self._authenticator is not None:
            self._authenticator.stop()
        self._context.term()


class SnapshotServer:
    """A ROUTER socket answering b"SNAPSHOT" with the current LiveState (msgpack). Served from the
    pipeline's own loop (`serve`), so the state and its `seq` are always consistent."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self._context = zmq.Context()
        self._socket = self._context.socket(zmq.ROUTER)
        try:
            self._socket.bind(endpoint)
        except zmq.ZMQError as exc:
            self._socket.close(linger=0)
            self._context.term()
            raise UserError(
                f"snapshot endpoint '{endpoint}': cannot bind ({exc}); set another events.snapshot_endpoint"
            ) from exc

    def serve(self, snapshot) -> int:
        """Answer every request waiting now; `snapshot()` makes the reply. Returns how many were answered."""
        answered = 0
        while self._socket.poll(0):
            identity, *_, request = self._socket.recv_multipart()
            reply = msgpack.packb(snapshot(), use_bin_type=True) if request == b"SNAPSHOT" else b""
            self._socket.send_multipart([identity, b"", reply])
            answered += 1
        return answered

    def close(self) -> None:
        self._socket.close(linger=0)
        self._context.term()


def request_snapshot(endpoint: str, timeout_s: float = 5.0) -> dict:
    """The publisher's current state (LiveState.to_snapshot()); UserError if it does not answer in time."""
    context = zmq.Context()
    sock = context.socket(zmq.REQ)
    try:
        sock.connect(endpoint)
        sock.send(b"SNAPSHOT")
        if not sock.poll(int(timeout_s * 1000)):
            raise UserError(f"snapshot endpoint '{endpoint}': no answer within {timeout_s:g} s")
        return msgpack.unpackb(sock.recv(), raw=False)
    finally:
        sock.close(linger=0)
        context.term()


def late_join(endpoint: str, snapshot_endpoint: str, timeout_s: float | None = None):
    """Join a running publisher late: yields (LiveState, event) for each new event after the snapshot;
    the LiveState is the publisher's state as of that event. The SUB socket is connected before the
    snapshot is asked for, so no event can fall between the two."""
    from roadwatch.events.live_state import LiveState

    subscriber = Subscriber(endpoint, timeout_s=timeout_s)
    events = iter(subscriber)
    first = next(events, None)  # connects, and waits for the subscription to be live (heartbeats flow)
    state = LiveState.from_snapshot(request_snapshot(snapshot_endpoint))
    if first is not None and state.apply(first):  # applied only if newer than the snapshot
        yield state, first
    for event in events:
        if state.apply(event):
            yield state, event
